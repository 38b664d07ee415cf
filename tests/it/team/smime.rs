//! Members' certificates learnt by the worker, end to end on SQLite and PostgreSQL: signed messages made
//! by `openssl cms` (never by triaged) are delivered over LMTP into the watched INBOX of the real
//! Dovecot and sorted by `triaged run --once`. One from an address not on the roster, one chaining to
//! an unknown CA and one with a tampered body are sorted as any mail and record nothing, with their
//! reasons logged; the member's valid one records the certificate and ticks `start/smime-cert`, and the
//! next mail to them is encrypted to that certificate. Close to its expiry `team list` says so. An
//! OpenPGP key attached to a member's PGP/MIME-signed mail (signed by `gpg`) is learnt the same way.

use anyhow::{Context as _, Result, ensure};

use std::time::{Duration, Instant};

use super::env::{Env, free_port, http_get};
use crate::it::outbox::pgp::GpgHome;
use crate::it::outbox::pki::{Ca, Issued, Validity, openssl_decrypt, openssl_ok};
use crate::it::support::{Backend, deliver_lmtp};

const MEMBER: &str = "rudolph@test.example";

const CONTENT: &[u8] = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n\
Hello support, this is my certificate.\r\n";

/// `[smime]` with the team's identity and `ca` as the trust roots for members' certificates.
fn smime_section(ca: &Ca, team: &Issued) -> String {
    format!(
        "[smime]\ncert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\n",
        team.cert.display(),
        team.key.display(),
        ca.cert.display()
    )
}

async fn certificates(env: &Env) -> Result<Vec<(String, String, String)>> {
    env.store
        .rows("SELECT scheme, fingerprint, source FROM team_certificates ORDER BY id")
        .await
}

async fn smime_item(env: &Env) -> Result<Vec<(String, String)>> {
    env.store
        .rows(
            "SELECT state, done_by FROM team_checklist_items \
             WHERE checklist = 'start' AND item = 'smime-cert'",
        )
        .await
}

/// The SHA-256 fingerprint of a PEM certificate, as triaged writes it (uppercase hex, no colons).
fn fingerprint(work: &std::path::Path, cert: &Issued) -> Result<String> {
    let out = openssl_ok(
        work,
        &[
            "x509",
            "-in",
            &cert.cert.display().to_string(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    )?;
    let text = String::from_utf8(out)?;
    let hex = text.split('=').nth(1).context("fingerprint")?;
    Ok(hex.trim().replace(':', "").to_uppercase())
}

/// Done when: a test member sends a signed message into the watched mailbox, triaged records the
/// certificate and ticks the checklist item, and the next mail to them is encrypted to it; signed mail
/// from an address not on the roster, chaining to an unknown CA, or with a tampered body records nothing.
async fn signed_mail_from_a_member_teaches_their_certificate(backend: Backend) -> Result<()> {
    let ca = Ca::new("Members CA")?;
    let team = ca.issue("team", "support@test.example", Validity::Current)?;
    let member = ca.issue("rudolph", MEMBER, Validity::Current)?;
    let port = free_port()?;
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let env = Env::imap(backend, "learn", &[&smime_section(&ca, &team), &metrics]).await?;
    let inbox = env.user.as_ref().context("imap env")?;
    env.ok(&[
        "team",
        "add",
        &format!("Rudolph <{MEMBER}>"),
        "--role",
        "triage",
    ])
    .await?;

    let stranger = ca.issue("grinch", "grinch@test.example", Validity::Current)?;
    let not_member = ca.sign_mail(&stranger, "Grinch <grinch@test.example>", CONTENT, false)?;
    let other_ca = Ca::new("Unknown CA")?;
    let foreign = other_ca.issue("rudolph", MEMBER, Validity::Current)?;
    let unknown_ca = ca_mail(&other_ca, &foreign)?;
    let good = ca.sign_mail(&member, &format!("Rudolph <{MEMBER}>"), CONTENT, false)?;
    let tampered = String::from_utf8(good.clone())?.replace("my certificate.", "my certificate!");
    for raw in [&not_member, &unknown_ca, &tampered.into_bytes()] {
        deliver_lmtp(inbox, raw).await?;
    }
    let out = env.run(&["run", "--once"]).await?;
    ensure!(out.code == Some(0), "run --once: {}", out.all());
    ensure!(certificates(&env).await?.is_empty(), "nothing recorded");
    ensure!(
        smime_item(&env).await? == [("open".to_owned(), String::new())],
        "{:?}",
        smime_item(&env).await?
    );
    for reason in ["reason=\"untrusted\"", "reason=\"bad-signature\""] {
        ensure!(
            out.stderr.contains(reason),
            "{reason} not logged: {}",
            out.all()
        );
    }
    ensure!(
        !out.stderr.contains("Hello support"),
        "no body in the log: {}",
        out.stderr
    );
    let buckets: Vec<(String,)> = env.store.rows("SELECT bucket FROM verdicts").await?;
    ensure!(buckets.len() == 3, "{buckets:?}");
    ensure!(
        buckets
            .iter()
            .all(|(b,)| !b.to_lowercase().contains("quarantine")),
        "sorted as any mail, not quarantined: {buckets:?}"
    );

    deliver_lmtp(inbox, &good).await?;
    env.ok(&["run", "--once"]).await?;
    let work = tempfile::tempdir()?;
    let fp = fingerprint(work.path(), &member)?;
    ensure!(
        certificates(&env).await? == [("smime".to_owned(), fp.clone(), "harvested".to_owned())],
        "{:?}",
        certificates(&env).await?
    );
    ensure!(
        smime_item(&env).await? == [("done".to_owned(), "triaged".to_owned())],
        "{:?}",
        smime_item(&env).await?
    );
    let shown = env.ok(&["team", "show", "rudolph"]).await?;
    ensure!(shown.contains(&fp), "team show: {shown}");

    next_mail_is_encrypted_to(&env, &member).await?;
    let list = env.ok(&["team", "list"]).await?;
    ensure!(
        !list.contains("certificate:"),
        "not near expiry yet: {list}"
    );
    let later = env.run_at(&["team", "list"], Some("340d")).await?;
    ensure!(
        later
            .stdout
            .contains(&format!("certificate: Rudolph: smime {fp} expires")),
        "{}",
        later.all()
    );
    expiring_gauge(&env, port).await
}

/// `triaged run` with the clock 340 days on serves `triaged_team_certificates_expiring 1`.
async fn expiring_gauge(env: &Env, port: u16) -> Result<()> {
    let mut child = env
        .command(&["run"], Some("340d"))
        .spawn()
        .context("start triaged run")?;
    let start = Instant::now();
    let text = loop {
        if let Ok(text) = http_get(port, "/metrics").await
            && text.contains("triaged_team_certificates_expiring")
        {
            break text;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.start_kill().ok();
            anyhow::bail!("no team gauges on /metrics within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.start_kill().ok();
    ensure!(
        text.lines()
            .any(|l| l == "triaged_team_certificates_expiring 1"),
        "{text}"
    );
    Ok(())
}

/// A signed message from the member's address with a certificate of a CA triaged does not trust.
fn ca_mail(other: &Ca, foreign: &Issued) -> Result<Vec<u8>> {
    other.sign_mail(foreign, &format!("Rudolph <{MEMBER}>"), CONTENT, false)
}

/// `send welcome --role triage --to TO`: the message it queued, as the outbox holds it.
async fn queued_welcome(env: &Env, to: &str) -> Result<Vec<u8>> {
    let out = env
        .ok(&["send", "welcome", "--role", "triage", "--to", to])
        .await?;
    let id: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix("queued outbox "))
        .and_then(|l| l.split_whitespace().next())
        .context("queued line")?
        .parse()?;
    let store = env.store.open().await?;
    let raw = store.outbox_raw(id).await?;
    store.close().await;
    Ok(raw)
}

/// `send welcome` to the member now goes out S/MIME enveloped-data that their key decrypts.
async fn next_mail_is_encrypted_to(env: &Env, member: &Issued) -> Result<()> {
    let raw = queued_welcome(env, &format!("Rudolph <{MEMBER}>")).await?;
    let text = String::from_utf8_lossy(&raw);
    ensure!(
        text.contains("application/pkcs7-mime") && text.contains("enveloped-data"),
        "not encrypted: {}",
        text.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let work = tempfile::tempdir()?;
    let inner = openssl_decrypt(work.path(), &raw, member)?;
    ensure!(
        String::from_utf8_lossy(&inner).contains("application/pkcs7-signature"),
        "signed, then encrypted"
    );
    Ok(())
}

crate::both_stores!(signed_mail_from_a_member_teaches_their_certificate);

/// An OpenPGP key attached to a member's PGP/MIME-signed mail (signed by `gpg`) is stored beside them,
/// records no S/MIME fact, and the next mail to them is encrypted to it; the same mail with its text
/// altered after signing teaches nothing.
async fn a_key_attached_to_a_members_signed_mail_is_learnt(backend: Backend) -> Result<()> {
    const COMET: &str = "comet@test.example";
    let team = GpgHome::new()?;
    team.generate("Support <support@test.example>", "team secret")?;
    let keys = tempfile::tempdir()?;
    let key_file = keys.path().join("team.asc");
    std::fs::write(
        &key_file,
        team.ok(&[
            "--passphrase",
            "team secret",
            "--armor",
            "--export-secret-keys",
            "support@test.example",
        ])?,
    )?;
    let passphrase = keys.path().join("passphrase");
    std::fs::write(&passphrase, "team secret")?;
    let section = format!(
        "[openpgp]\nkey_file = \"{}\"\npassphrase_file = \"{}\"\n",
        key_file.display(),
        passphrase.display()
    );
    let env = Env::imap(backend, "learn-pgp", &[&section]).await?;
    let inbox = env.user.as_ref().context("imap env")?;
    env.ok(&[
        "team",
        "add",
        &format!("Comet <{COMET}>"),
        "--role",
        "triage",
    ])
    .await?;
    let member = GpgHome::new()?;
    member.generate(&format!("Comet <{COMET}>"), "")?;
    let mail = member.signed_with_key(&format!("Comet <{COMET}>"), COMET, "My key is attached.")?;
    let tampered =
        String::from_utf8(mail.clone())?.replace("My key is attached.", "My key is attacked.");
    deliver_lmtp(inbox, tampered.as_bytes()).await?;
    env.ok(&["run", "--once"]).await?;
    ensure!(
        certificates(&env).await?.is_empty(),
        "a tampered mail teaches nothing"
    );

    deliver_lmtp(inbox, &mail).await?;
    env.ok(&["run", "--once"]).await?;
    let colons = String::from_utf8(member.ok(&["--with-colons", "--fingerprint", COMET])?)?;
    let fp = colons
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .context("fingerprint")?
        .to_owned();
    ensure!(
        certificates(&env).await? == [("openpgp".to_owned(), fp, "harvested".to_owned())],
        "{:?}",
        certificates(&env).await?
    );
    ensure!(
        smime_item(&env).await? == [("open".to_owned(), String::new())],
        "a key is not an S/MIME certificate"
    );

    let raw = queued_welcome(&env, &format!("Comet <{COMET}>")).await?;
    let text = String::from_utf8(raw)?;
    ensure!(
        text.contains("multipart/encrypted") && text.contains("application/pgp-encrypted"),
        "not encrypted: {}",
        text.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let armor = text
        .find("-----BEGIN PGP MESSAGE-----")
        .and_then(|start| {
            let end = text[start..].find("-----END PGP MESSAGE-----")? + start + 25;
            Some(text[start..end].to_owned())
        })
        .context("no PGP message")?;
    let work = tempfile::tempdir()?;
    let file = work.path().join("welcome.asc");
    std::fs::write(&file, armor)?;
    let plain = member.ok(&["--passphrase", "", "--decrypt", &file.display().to_string()])?;
    ensure!(
        String::from_utf8_lossy(&plain).contains("Content-Type"),
        "decrypts to a MIME entity"
    );
    Ok(())
}

crate::both_stores!(a_key_attached_to_a_members_signed_mail_is_learnt);
