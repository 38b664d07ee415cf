//! Outbox tests without servers: composing (injection, PGP/MIME structure, holding), the retry schedule
//! against a manual clock, and the file transport's exactly-one file.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use openpgp::cert::CertBuilder;
use openpgp::serialize::Serialize as _;
use sequoia_openpgp as openpgp;

use super::*;
use tokio_util::sync::CancellationToken;

use crate::config::{OpenPgpConfig, SmtpSecurity, Transport};
use crate::store::RecipientState;
use lettre::message::Mailbox;

use crate::templates::{Encrypt, Templates, UnsafeValue};

fn start() -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("date"))
}

fn config(transport: Transport) -> Result<OutboxConfig> {
    Ok(OutboxConfig {
        transport,
        user: None,
        password: None,
        ca_file: None,
        from: "Support <support@example.org>".parse()?,
        templates_dir: None,
        retry: vec![Duration::from_secs(60), Duration::from_secs(300)],
        give_up_after: Duration::from_secs(3600),
        schemes: vec![crate::config::Scheme::Smime, crate::config::Scheme::OpenPgp],
    })
}

fn mail() -> Result<RenderedMail> {
    let templates = Templates::load(None)?;
    let mut mail = templates
        .render_samples()?
        .into_iter()
        .find(|m| m.template == "welcome-triage")
        .ok_or_else(|| anyhow::anyhow!("no sample"))?;
    mail.to = vec!["Santa Claus <presents@example.org>".parse()?];
    Ok(mail)
}

/// A team key and a keyring holding one recipient's certificate, generated with sequoia.
fn keys(dir: &Path) -> Result<OpenPgpConfig> {
    let (team, _) =
        CertBuilder::general_purpose(Some("Support <support@example.org>")).generate()?;
    let (santa, _) =
        CertBuilder::general_purpose(Some("Santa <presents@example.org>")).generate()?;
    let key_file = dir.join("team.key");
    team.as_tsk()
        .serialize(&mut std::fs::File::create(&key_file)?)?;
    let keyring = dir.join("keyring.pgp");
    santa.serialize(&mut std::fs::File::create(&keyring)?)?;
    Ok(OpenPgpConfig {
        key_file,
        passphrase: None,
        keyring: Some(keyring),
    })
}

fn outbox(transport: Transport, pgp: Option<&OpenPgpConfig>) -> Result<Outbox> {
    Ok(Outbox {
        config: config(transport)?,
        pgp: pgp.map(Pgp::load).transpose()?.map(Arc::new),
        smime: None,
    })
}

fn file_transport(dir: &Path) -> Transport {
    Transport::File {
        dir: dir.join("out"),
    }
}

#[test]
fn a_plain_mail_has_fixed_id_date_and_parsed_addresses() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let composed = ob.compose(&mail()?, "<fixed.1@example.org>", start()?)?;
    let text = String::from_utf8(composed.raw)?;
    assert!(
        text.contains("Message-ID: <fixed.1@example.org>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n"),
        "{text}"
    );
    assert!(
        text.contains("To: \"Santa Claus\" <presents@example.org>\r\n"),
        "{text}"
    );
    assert!(
        !text.contains("Auto-Submitted"),
        "a welcome pack is written by a person"
    );
    assert!(text.split("\r\n").all(|l| l.len() <= 998), "line length");
    assert_eq!(composed.recipients.len(), 1);
    Ok(())
}

#[test]
fn header_injection_is_refused_from_every_field() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let mut bad_subject = mail()?;
    bad_subject.subject = "Hi\r\nBcc: victim@example.net".to_owned();
    let mut bad_name = mail()?;
    bad_name.to = vec![Mailbox::new(
        Some("Eve\r\nBcc: victim@example.net".to_owned()),
        "eve@example.net".parse()?,
    )];
    let mut bad_header = mail()?;
    bad_header
        .headers
        .insert("X-Note".to_owned(), "a\nBcc: victim@example.net".to_owned());
    let mut bad_ref = mail()?;
    bad_ref.in_reply_to = Some("<a@b>\r\nBcc: victim@example.net".to_owned());
    for m in [bad_subject, bad_name, bad_header, bad_ref] {
        let err = ob
            .compose(&m, "<x@example.org>", start()?)
            .err()
            .ok_or_else(|| anyhow::anyhow!("composed"))?;
        assert!(err.chain().any(|e| e.is::<UnsafeValue>()), "{err:#}");
    }
    Ok(())
}

#[test]
fn a_signed_mail_is_rfc3156_multipart_signed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pgp = keys(dir.path())?;
    let ob = outbox(file_transport(dir.path()), Some(&pgp))?;
    let mut m = mail()?;
    m.encrypt = Encrypt::Never;
    let composed = ob.compose(&m, "<s@example.org>", start()?)?;
    let text = String::from_utf8(composed.raw)?;
    assert!(composed.signed && !composed.encrypted);
    assert!(text.contains("Content-Type: multipart/signed;"), "{text}");
    assert!(text.contains("application/pgp-signature"), "{text}");
    assert!(
        text.contains("micalg=\"pgp-sha256\"") || text.contains("micalg=pgp-sha256"),
        "{text}"
    );
    assert!(text.contains("-----BEGIN PGP SIGNATURE-----"), "{text}");
    Ok(())
}

#[test]
fn encryption_follows_the_policy_and_never_sends_in_clear() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pgp = keys(dir.path())?;
    let ob = outbox(file_transport(dir.path()), Some(&pgp))?;
    let mut m = mail()?;
    m.encrypt = Encrypt::IfKey;
    let with_key = ob.compose(&m, "<e1@example.org>", start()?)?;
    let text = String::from_utf8(with_key.raw.clone())?;
    assert!(
        with_key.encrypted && text.contains("multipart/encrypted"),
        "{text}"
    );
    assert!(text.contains("Version: 1") && text.contains("-----BEGIN PGP MESSAGE-----"));
    assert!(
        !text.contains("Welcome to the Support team"),
        "body in clear"
    );
    m.to = vec!["Nobody <nokey@example.org>".parse()?];
    let without = ob.compose(&m, "<e2@example.org>", start()?)?;
    assert!(
        !without.encrypted && without.signed,
        "if-key without a key: signed only"
    );
    m.encrypt = Encrypt::Always;
    let held = ob.compose(&m, "<e3@example.org>", start()?)?;
    assert!(held.raw.is_empty());
    assert!(
        held.hold_error
            .is_some_and(|e| e.contains("nokey@example.org"))
    );
    let no_pgp =
        outbox(file_transport(dir.path()), None)?.compose(&m, "<e4@example.org>", start()?)?;
    assert!(no_pgp.raw.is_empty() && no_pgp.hold_error.is_some());
    Ok(())
}

#[test]
fn the_retry_schedule_repeats_its_last_delay() {
    let retry = [Duration::from_secs(60), Duration::from_secs(300)];
    assert_eq!(next_attempt_at(&retry, 1, 0), 60_000);
    assert_eq!(next_attempt_at(&retry, 2, 0), 300_000);
    assert_eq!(next_attempt_at(&retry, 7, 1_000), 301_000);
}

/// A loopback port nothing listens on: connections are refused, a transient failure.
fn closed_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[tokio::test]
async fn transient_failures_follow_the_schedule_then_give_up() -> Result<()> {
    let (_dir, store) = crate::store::testing::sqlite().await?;
    let transport = Transport::Smtp {
        security: SmtpSecurity::Plaintext,
        host: "127.0.0.1".to_owned(),
        port: closed_port()?,
    };
    let ob = outbox(transport, None)?;
    let clock = Clock::manual(start()?);
    let queued = ob.enqueue(&store, &mail()?, "test", &clock).await?;
    let report = flush(&store, ob.config(), &clock, false, &Flusher::own()).await?;
    assert_eq!((report.attempted, report.retrying), (1, 1), "{report:?}");
    let r = &store.outbox_recipients(queued.id).await?[0];
    assert_eq!(r.state, RecipientState::Queued);
    assert_eq!(r.next_attempt_at_ms, clock.now_ms() + 60_000);
    assert!(!r.last_error.is_empty());
    assert_eq!(
        flush(&store, ob.config(), &clock, false, &Flusher::own())
            .await?
            .attempted,
        0,
        "not due yet"
    );
    clock.advance(Duration::from_secs(60));
    flush(&store, ob.config(), &clock, false, &Flusher::own()).await?;
    let r = &store.outbox_recipients(queued.id).await?[0];
    assert_eq!(
        (r.attempts, r.next_attempt_at_ms),
        (2, clock.now_ms() + 300_000)
    );
    clock.advance(Duration::from_secs(3600));
    let report = flush(&store, ob.config(), &clock, false, &Flusher::own()).await?;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].2.contains("gave up after 2 attempts"),
        "{report:?}"
    );
    assert_eq!(
        store.outbox_recipients(queued.id).await?[0].state,
        RecipientState::Failed
    );
    Ok(())
}

#[tokio::test]
async fn the_file_transport_writes_one_file_per_mail_even_when_retried() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::manual(start()?);
    let mut m = mail()?;
    m.cc = vec!["Team Leader <stl@example.org>".parse()?];
    let queued = ob.enqueue(&store, &m, "test", &clock).await?;
    let report = flush(&store, ob.config(), &clock, false, &Flusher::own()).await?;
    assert_eq!(report.sent, 2);
    let path = dir.path().join("out").join(format!("{}.eml", queued.id));
    assert_eq!(
        std::fs::read(&path)?,
        queued.raw,
        "the stored bytes, byte for byte"
    );
    store
        .requeue_outbox_mail(queued.id, None, i64::MAX, clock.now_ms())
        .await?;
    let files = std::fs::read_dir(dir.path().join("out"))?.count();
    assert_eq!(files, 1);
    Ok(())
}

#[tokio::test]
async fn an_always_encrypted_mail_without_a_key_is_held_and_never_sent() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::manual(start()?);
    let mut m = mail()?;
    m.encrypt = Encrypt::Always;
    let queued = ob.enqueue(&store, &m, "test", &clock).await?;
    assert!(queued.held.is_some());
    let report = flush(&store, ob.config(), &clock, true, &Flusher::own()).await?;
    assert_eq!(report.attempted, 0);
    assert!(!dir.path().join("out").exists(), "nothing written");
    let r = &store.outbox_recipients(queued.id).await?[0];
    assert_eq!(r.state, RecipientState::Held);
    Ok(())
}

/// Guards against: `outbox flush` (or `run --once`) sending a recipient that a live worker's attempt
/// holds, and leaving its own worker row live after it ended.
#[tokio::test]
async fn a_flush_leaves_what_a_live_worker_holds_and_stops_its_own_row() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::manual(start()?);
    let queued = ob.enqueue(&store, &mail()?, "test", &clock).await?;
    store.register_worker("run-1", ("h", ""), 1, 60_000).await?;
    let r = store.outbox_recipients(queued.id).await?.remove(0);
    let now = clock.now_ms();
    assert!(
        store
            .claim_recipient(r.id, "run-1", 0, now + 60_000, now)
            .await?
    );
    let report = flush(&store, ob.config(), &clock, true, &Flusher::own()).await?;
    assert_eq!(report.attempted, 0, "{report:?}");
    assert!(!dir.path().join("out").exists(), "nothing written");
    store.stop_worker("run-1").await?;
    let report = flush(&store, ob.config(), &clock, true, &Flusher::own()).await?;
    assert_eq!((report.attempted, report.sent), (1, 1), "{report:?}");
    let (workers, now) = store.workers().await?;
    let own: Vec<_> = workers
        .iter()
        .filter(|w| w.id.starts_with("flush-"))
        .collect();
    assert_eq!(own.len(), 2, "{workers:?}");
    assert!(own.iter().all(|w| !w.live_at(now)), "{own:?}");
    Ok(())
}

#[tokio::test]
async fn a_raw_redirect_is_delivered_byte_for_byte() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::manual(start()?);
    let raw =
        b"From: a@example.net\r\nSubject: original\r\nMessage-ID: <orig@example.net>\r\n\r\nhi\r\n";
    let to: Vec<Address> = vec!["se@example.org".parse()?];
    let mut tx = store.begin().await?;
    let queued = ob
        .enqueue_raw_in(
            &mut tx,
            &RawMail {
                label: "redirect",
                message_id: "<orig@example.net>",
                subject: "original",
                envelope_from: None,
                recipients: &to,
                raw,
            },
            "test",
            clock.now(),
        )
        .await?;
    tx.commit().await?;
    assert_eq!(
        flush(&store, ob.config(), &clock, false, &Flusher::own())
            .await?
            .sent,
        1
    );
    let written = std::fs::read(dir.path().join("out").join(format!("{}.eml", queued.id)))?;
    assert_eq!(written, raw);
    Ok(())
}

#[tokio::test]
async fn an_automatic_reply_is_guarded_threaded_and_once_per_period() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::manual(start()?);
    let raw = b"From: Alice <alice@example.net>\r\nMessage-ID: <q1@example.net>\r\nSubject: Re: help\r\n\r\nhi\r\n";
    let msg = crate::message::Message::parse(raw.as_slice(), 0)?;
    let msg = msg.info();
    let templates = Templates::load(None)?;
    let period = Duration::from_secs(86_400);
    let mut tx = store.begin().await?;
    let first = ob
        .acknowledge_in(
            &mut tx,
            &templates,
            msg,
            period,
            "s20261128.001",
            "test",
            clock.now(),
        )
        .await?;
    tx.commit().await?;
    let AutoReply::Queued { queued, ticket } = first else {
        anyhow::bail!("declined: {first:?}");
    };
    assert_eq!(ticket, "s20261128.001");
    let text = String::from_utf8(queued.raw)?;
    assert!(text.contains("Auto-Submitted: auto-replied\r\n"), "{text}");
    assert!(text.contains("In-Reply-To: <q1@example.net>\r\n"), "{text}");
    assert!(
        text.contains("Subject: Re: help [s20261128.001]\r\n"),
        "{text}"
    );
    let vacation = templates.render_samples()?.remove(0);
    let mut tx = store.begin().await?;
    let second = ob
        .auto_reply_in(&mut tx, msg, vacation.clone(), period, "test", clock.now())
        .await?;
    assert!(
        matches!(second, AutoReply::Declined(Decline::AlreadyAnswered { .. })),
        "{second:?}"
    );
    drop(tx);
    clock.advance(period);
    let mut tx = store.begin().await?;
    let third = ob
        .auto_reply_in(&mut tx, msg, vacation, period, "test", clock.now())
        .await?;
    assert!(
        matches!(third, AutoReply::Queued { .. }),
        "a new period: {third:?}"
    );
    Ok(())
}

/// Guards against: two workers acknowledging two mails from one sender at the same moment both
/// answering (RFC 3834, once per period). The second transaction waits for the first and, once that
/// one committed, is declined; on both stores.
#[tokio::test]
async fn two_workers_acknowledging_one_sender_at_once_send_one_reply() -> Result<()> {
    let (dir, sqlite) = crate::store::testing::sqlite().await?;
    let postgres = crate::store::testing::postgres().await?;
    for store in [sqlite, postgres] {
        let ob = outbox(file_transport(dir.path()), None)?;
        let now = start()?;
        let period = Duration::from_secs(86_400);
        let info = |n: u32| -> Result<crate::message::MessageInfo> {
            let raw = format!(
                "From: Alice <alice@example.net>\r\nMessage-ID: <race{n}@example.net>\r\n\
                 Subject: help {n}\r\n\r\nhi\r\n"
            );
            Ok(crate::message::Message::parse(raw.as_bytes(), 0)?
                .info()
                .clone())
        };
        let (first_msg, second_msg) = (info(1)?, info(2)?);
        let templates = Templates::load(None)?;
        let mut first = store.begin().await?;
        let a = ob
            .acknowledge_in(&mut first, &templates, &first_msg, period, "s1", "w1", now)
            .await?;
        assert!(matches!(a, AutoReply::Queued { .. }), "{a:?}");
        let (s, o) = (store.clone(), ob.clone());
        let mut second = tokio::spawn(async move {
            let templates = Templates::load(None)?;
            let mut tx = s.begin().await?;
            let reply = o
                .acknowledge_in(&mut tx, &templates, &second_msg, period, "s2", "w2", now)
                .await?;
            tx.commit().await?;
            anyhow::Ok(reply)
        });
        let early = tokio::time::timeout(Duration::from_millis(300), &mut second).await;
        assert!(early.is_err(), "the second worker did not wait: {early:?}");
        first.commit().await?;
        let b = second.await??;
        assert!(
            matches!(b, AutoReply::Declined(Decline::AlreadyAnswered { .. })),
            "{b:?}"
        );
        assert_eq!(store.outbox_mails(10).await?.len(), 1, "one reply queued");
    }
    Ok(())
}

#[tokio::test]
async fn the_sender_loop_delivers_new_mail_and_stops_when_cancelled() -> Result<()> {
    let (dir, store) = crate::store::testing::sqlite().await?;
    let ob = outbox(file_transport(dir.path()), None)?;
    let clock = Clock::system();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_sender(
        store.clone(),
        ob.config().clone(),
        clock.clone(),
        cancel.clone(),
        Flusher::own(),
    ));
    let queued = ob.enqueue(&store, &mail()?, "test", &clock).await?;
    let path = dir.path().join("out").join(format!("{}.eml", queued.id));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the loop did not send within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await???;
    assert_eq!(
        store.outbox_recipients(queued.id).await?[0].state,
        RecipientState::Sent
    );
    Ok(())
}
