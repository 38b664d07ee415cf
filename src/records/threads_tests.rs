//! The threading rules on both stores: what opens a ticket, what joins one (References, ticket number,
//! case number), what is the team's, and that an acknowledgement is recorded as automatic; a fetch
//! batch recorded at once threads its messages as recording them one by one would.

use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone as _, Utc};

use super::*;
use crate::actions::{Plan, Target};
use crate::classify::Verdict;
use crate::mailbox::Key;
use crate::message::{Message, sha256_hex};
use crate::outbox::harvest::Harvest;
use crate::store::testing::backend_tests;
use crate::store::{NewPerson, OUTBOX, RECEIVED};

const MAILBOX: &str = "imap://support@example.org/INBOX";

fn threads() -> Result<Threads> {
    let from = "Support <support@example.org>".parse()?;
    Ok(Threads::for_team(
        MAILBOX,
        from,
        vec!["Quarantine".into(), "Trash".into()],
    ))
}

fn at(minute: u32) -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 11, 29, 9, minute, 0)
        .single()
        .context("time")
}

/// A classified message sorted into `bucket`, as the worker hands it over.
fn item(raw: &str, bucket: &str) -> Result<Classified> {
    let raw = raw.replace('\n', "\r\n");
    let msg = Message::parse(raw.as_bytes(), 0)?;
    let info = msg.info().clone();
    Ok(Classified {
        key: Key {
            uid: 1,
            name: String::new(),
        },
        digest: sha256_hex(raw.as_bytes()),
        plan: Plan {
            target: Target::Move(bucket.to_owned()),
            copies: Vec::new(),
            flags: Vec::new(),
            had: Vec::new(),
        },
        verdict: Verdict::default(),
        mentions: mentions(raw.as_bytes(), info.subject.as_deref()),
        info,
        envelope: None,
        raw: None,
        harvest: Harvest::Nothing,
    })
}

async fn record(store: &Store, raw: &str, bucket: &str, minute: u32) -> Result<Option<Joined>> {
    let mut tx = store.begin().await?;
    let joined = threads()?
        .record_in(&mut tx, &item(raw, bucket)?, 0, at(minute)?)
        .await?;
    tx.commit().await?;
    Ok(joined)
}

fn opened(ticket: &str) -> Option<Joined> {
    Some(Joined {
        ticket: ticket.to_owned(),
        new: true,
    })
}

fn joined(ticket: &str) -> Option<Joined> {
    Some(Joined {
        ticket: ticket.to_owned(),
        new: false,
    })
}

/// Guards against: a reply opening a second ticket, or a number in the text or a case number not
/// finding the thread.
async fn mail_joins_by_references_ticket_number_and_case_number(store: Store) -> Result<()> {
    let first = "From: Ann <ann@example.net>\nMessage-ID: <q1@example.net>\nSubject: help\n\n\
                 My certificate, case a20261101.3 mentioned.\n";
    assert_eq!(
        record(&store, first, "Support", 0).await?,
        opened("s20261129.001")
    );
    let reply = "From: Ann <ann@example.net>\nMessage-ID: <q2@example.net>\n\
                 References: <x0@example.net> <q1@example.net>\nSubject: Re: help\n\nmore\n";
    assert_eq!(
        record(&store, reply, "Support", 5).await?,
        joined("s20261129.001")
    );
    let by_number = "From: Bob <bob@example.net>\nMessage-ID: <q3@example.net>\n\
                     Subject: about my ticket\n\nSee S20261129.001, please.\n";
    assert_eq!(
        record(&store, by_number, "Support", 6).await?,
        joined("s20261129.001")
    );
    // The number in a base64 body is found once decoded.
    let by_case = "From: arbitration@example.org\nMessage-ID: <c1@example.org>\nSubject: case\n\
                   Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n\
                   Q2FzZSBhMjAyNjExMDEuMyBpcyBvcGVu\n";
    assert_eq!(
        record(&store, by_case, "Support", 7).await?,
        joined("s20261129.001")
    );
    // An unknown ticket number is a new thread.
    let stranger = "From: Cy <cy@example.net>\nMessage-ID: <q4@example.net>\n\
                    Subject: s20250101.009\n\nhello\n";
    assert_eq!(
        record(&store, stranger, "Support", 8).await?,
        opened("s20261129.002")
    );
    let thread = store.thread_messages("s20261129.001").await?;
    let ids: Vec<&str> = thread.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "q1@example.net",
            "q2@example.net",
            "q3@example.net",
            "c1@example.org"
        ]
    );
    assert_eq!(thread[1].seen_ms, at(5)?.timestamp_millis());
    assert_eq!(thread[0].folder, "Support");
    assert_eq!(thread[0].sender, "ann@example.net");
    assert_eq!(
        ticket_of_message_id(&store, "<x0@example.net>").await?,
        Some("s20261129.001".to_owned())
    );
    assert_eq!(
        ticket_of_case(&store, "A20261101.3").await?,
        Some("s20261129.001".to_owned())
    );
    let ids = thread_ids(&store, "s20261129.001").await?;
    assert!(ids.contains("x0@example.net") && ids.contains("c1@example.org"));
    Ok(())
}

/// Guards against: junk, bounces, lists or auto-replies opening tickets (or getting acknowledged).
async fn junk_and_automatic_mail_open_no_ticket(store: Store) -> Result<()> {
    let plain = "From: Ann <ann@example.net>\nMessage-ID: <j1@example.net>\nSubject: hi\n\nx\n";
    assert_eq!(record(&store, plain, "Junk", 0).await?, None);
    assert_eq!(record(&store, plain, "Lists/Bounces", 0).await?, None);
    assert_eq!(record(&store, plain, "Quarantine", 0).await?, None);
    let auto = "From: Ann <ann@example.net>\nMessage-ID: <j2@example.net>\n\
                Auto-Submitted: auto-replied\nSubject: Away\n\nx\n";
    assert_eq!(record(&store, auto, "Support", 1).await?, None);
    let list = "From: Ann <ann@example.net>\nMessage-ID: <j3@example.net>\n\
                List-Id: <news.example.net>\nSubject: news\n\nx\n";
    assert_eq!(record(&store, list, "Support", 2).await?, None);
    let bounce = "From: MAILER-DAEMON@example.net\nReturn-Path: <>\nMessage-ID: <j4@example.net>\n\
                  Subject: Undelivered\n\nx\n";
    assert_eq!(record(&store, bounce, "Support", 3).await?, None);
    assert_eq!(store.peek_ticket("20261129").await?, 1, "no number taken");
    // Automatic mail that names a thread joins it, recorded as automatic.
    let first = "From: Ann <ann@example.net>\nMessage-ID: <t1@example.net>\nSubject: hi\n\nx\n";
    assert_eq!(
        record(&store, first, "Support", 4).await?,
        opened("s20261129.001")
    );
    let list_copy = "From: Ann <ann@example.net>\nMessage-ID: <t1@example.net>\n\
                     List-Id: <disputes.example.org>\nSubject: hi\n\nx\n";
    assert_eq!(
        record(&store, list_copy, "Support", 5).await?,
        joined("s20261129.001")
    );
    let thread = store.thread_messages("s20261129.001").await?;
    assert_eq!(
        thread.iter().map(|m| m.automatic).collect::<Vec<_>>(),
        [false, true]
    );
    Ok(())
}

/// Guards against: a member's or the team's own mail not counted as the team's, a retired member's
/// counted, and an acknowledgement not recorded in its thread as automatic.
async fn the_teams_mail_is_marked_and_an_ack_is_automatic(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let member = Store::team_insert_person_in(
        &mut tx,
        &NewPerson {
            name: "Mia",
            alias: "",
            tz: "",
            addresses: &["mia@example.com".to_owned()],
            roles: &["triage"],
            since_ms: 0,
            created_ms: 0,
        },
    )
    .await?;
    tx.commit().await?;
    let first = "From: Ann <ann@example.net>\nMessage-ID: <m1@example.net>\nSubject: hi\n\nx\n";
    record(&store, first, "Support", 0).await?;
    let mut tx = store.begin().await?;
    note_queued_in(
        &mut tx,
        "s20261129.001",
        "<ack1@example.org>",
        "support@example.org",
        true,
        at(0)?,
    )
    .await?;
    tx.commit().await?;
    let answer = "From: Mia <MIA@example.com>\nMessage-ID: <m2@example.com>\n\
                  In-Reply-To: <m1@example.net>\nSubject: Re: hi\n\nok\n";
    record(&store, answer, "Support", 30).await?;
    let ours = "From: Support <support@example.org>\nMessage-ID: <m3@example.org>\n\
                In-Reply-To: <m2@example.com>\nSubject: Re: hi\n\nok\n";
    record(&store, ours, "Support", 31).await?;
    // The team's own new thread (a filing sent to the watched mailbox) opens a ticket marked so.
    let filing = "From: Support <support@example.org>\nMessage-ID: <f1@example.org>\n\
                  Subject: Dispute\n\nfiling\n";
    assert_eq!(
        record(&store, filing, "Disputes", 32).await?,
        opened("s20261129.002")
    );
    let thread = store.thread_messages("s20261129.001").await?;
    let rows: Vec<(&str, bool, i64, bool)> = thread
        .iter()
        .map(|m| (m.origin.as_str(), m.from_team, m.member_id, m.automatic))
        .collect();
    assert_eq!(
        rows,
        [
            (RECEIVED, false, 0, false),
            (OUTBOX, true, 0, true),
            (RECEIVED, true, member, false),
            (RECEIVED, true, 0, false),
        ]
    );
    assert!(
        store
            .ticket("s20261129.002")
            .await?
            .context("filing")?
            .opened_by_team
    );
    let mut tx = store.begin().await?;
    assert_eq!(
        joined_in(&mut tx, "<m2@example.com>").await?,
        joined("s20261129.001")
    );
    assert_eq!(
        joined_in(&mut tx, "m1@example.net").await?,
        opened("s20261129.001")
    );
    assert_eq!(joined_in(&mut tx, "nobody@example.net").await?, None);
    Ok(())
}

/// Records `raws` (each sorted into Support) as the worker records one fetch batch, in one transaction,
/// with verdicts 1, 2, ...; an acknowledgement `ack-N@example.org` is queued for each ticket opened.
async fn record_batch(store: &Store, raws: &[&str], minute: u32) -> Result<Vec<Option<Joined>>> {
    let items: Vec<Classified> = raws
        .iter()
        .map(|raw| item(raw, "Support"))
        .collect::<Result<_>>()?;
    let threads = threads()?;
    let mut tx = store.begin().await?;
    let mut batch = threads.batch_in(&mut tx, &items, at(minute)?).await?;
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let joined = batch.record_in(&mut tx, item, n as i64 + 1).await?;
        if let Some(j) = joined.as_ref().filter(|j| j.new) {
            batch.note_queued(
                &j.ticket,
                &format!("<ack-{n}@example.org>"),
                "support@example.org",
                true,
            );
        }
        out.push(joined);
    }
    batch.finish_in(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}

fn thread_of(rows: &[ThreadMessageRow]) -> Vec<(&str, &str, i64)> {
    rows.iter()
        .map(|m| (m.message_id.as_str(), m.origin.as_str(), m.verdict_id))
        .collect()
}

/// Guards against: a batch's second message of a new thread opening a ticket of its own (the first's
/// keys not yet written), a reply in the same batch as its original missing it, a number or case
/// number named by a later message of the batch not found, an acknowledgement recorded out of its
/// place, or a member's reply in the batch not noted as the first.
async fn a_batch_threads_its_messages_as_one_by_one(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let member = Store::team_insert_person_in(
        &mut tx,
        &NewPerson {
            name: "Mia",
            alias: "",
            tz: "",
            addresses: &["mia@example.com".to_owned()],
            roles: &["triage"],
            since_ms: 0,
            created_ms: 0,
        },
    )
    .await?;
    tx.commit().await?;
    let raws = [
        "From: Ann <ann@example.net>\nMessage-ID: <b1@example.net>\nSubject: help\n\n\
         case a20261101.7\n",
        "From: Ann <ann@example.net>\nMessage-ID: <b2@example.net>\nIn-Reply-To: <b1@example.net>\n\
         Subject: Re: help\n\nmore\n",
        "From: Bob <bob@example.net>\nMessage-ID: <b3@example.net>\nSubject: other\n\nhello\n",
        "From: Mia <mia@example.com>\nMessage-ID: <b4@example.com>\nReferences: <b2@example.net>\n\
         Subject: Re: help\n\nanswer\n",
        "From: Cy <cy@example.net>\nMessage-ID: <b5@example.net>\nSubject: s20261129.002\n\nsee\n",
        "From: arb@example.org\nMessage-ID: <b6@example.org>\nSubject: case a20261101.7\n\nopen\n",
        "From: Dee <dee@example.net>\nMessage-ID: <b7@example.net>\nSubject: third\n\nhi\n",
    ];
    let found = record_batch(&store, &raws, 10).await?;
    assert_eq!(
        found,
        [
            opened("s20261129.001"),
            joined("s20261129.001"),
            opened("s20261129.002"),
            joined("s20261129.001"),
            joined("s20261129.002"),
            joined("s20261129.001"),
            opened("s20261129.003"),
        ]
    );
    assert_eq!(
        thread_of(&store.thread_messages("s20261129.001").await?),
        [
            ("b1@example.net", RECEIVED, 1),
            ("ack-0@example.org", OUTBOX, 0),
            ("b2@example.net", RECEIVED, 2),
            ("b4@example.com", RECEIVED, 4),
            ("b6@example.org", RECEIVED, 6),
        ]
    );
    let thread = store.thread_messages("s20261129.001").await?;
    let reply = &thread[3];
    assert_eq!((reply.from_team, reply.member_id), (true, member));
    let ticket = store.ticket("s20261129.001").await?.context("ticket")?;
    assert_eq!(
        (ticket.first_reply_ms, ticket.first_reply_id),
        (at(10)?.timestamp_millis(), reply.id),
        "the member's reply in the batch is the first"
    );
    assert_eq!(
        ticket_of_message_id(&store, "ack-2@example.org")
            .await?
            .as_deref(),
        Some("s20261129.002")
    );
    assert_eq!(store.peek_ticket("20261129").await?, 4);
    Ok(())
}

/// Guards against: ticket numbers repeated or skipped across batches and beside a number taken
/// elsewhere (`send ack`), or a key stored before the batch losing to one the batch added.
async fn ticket_numbers_run_on_across_batches(store: Store) -> Result<()> {
    let first = [
        "From: Ann <ann@example.net>\nMessage-ID: <n1@example.net>\nSubject: a\n\nx\n",
        "From: Bob <bob@example.net>\nMessage-ID: <n2@example.net>\nSubject: b\n\nx\n",
    ];
    assert_eq!(
        record_batch(&store, &first, 0).await?,
        [opened("s20261129.001"), opened("s20261129.002")]
    );
    let mut tx = store.begin().await?;
    assert_eq!(Store::next_ticket_in(&mut tx, "20261129").await?, 3);
    tx.commit().await?;
    let second = [
        // Opens .004 and takes <u@example.net> after .001 took <n1@...>.
        "From: Cy <cy@example.net>\nMessage-ID: <n3@example.net>\nReferences: <u@example.net>\n\
         Subject: c\n\nx\n",
        // Names <u@...> (this batch's .004) and <n1@...> (stored, .001): the stored key is older.
        "From: Cy <cy@example.net>\nMessage-ID: <n4@example.net>\n\
         References: <u@example.net> <n1@example.net>\nSubject: d\n\nx\n",
        "From: Dee <dee@example.net>\nMessage-ID: <n5@example.net>\nSubject: e\n\nx\n",
    ];
    assert_eq!(
        record_batch(&store, &second, 5).await?,
        [
            opened("s20261129.004"),
            joined("s20261129.001"),
            opened("s20261129.005")
        ]
    );
    assert_eq!(store.peek_ticket("20261129").await?, 6);
    // The next day starts again at 1, in a batch of one.
    let next_day = Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 1, 0)
        .single()
        .context("time")?;
    let raw = "From: Eve <eve@example.net>\nMessage-ID: <n6@example.net>\nSubject: f\n\nx\n";
    let mut tx = store.begin().await?;
    let found = threads()?
        .record_in(&mut tx, &item(raw, "Support")?, 9, next_day)
        .await?;
    tx.commit().await?;
    assert_eq!(found, opened("s20261130.001"));
    Ok(())
}

backend_tests!(
    mail_joins_by_references_ticket_number_and_case_number,
    junk_and_automatic_mail_open_no_ticket,
    the_teams_mail_is_marked_and_an_ack_is_automatic,
    a_batch_threads_its_messages_as_one_by_one,
    ticket_numbers_run_on_across_batches,
);

#[test]
fn ticket_numbers_are_recognised_alone() {
    assert!(is_ticket_number("s20261129.004"));
    assert!(is_ticket_number(" S20261129.004 "));
    assert!(!is_ticket_number("s20261129.004 s20261129.005"));
    assert!(!is_ticket_number("a20261129.4"));
    assert!(!is_ticket_number("ticket s20261129.004"));
}

#[test]
fn numbers_are_found_in_encoded_text_too() {
    let qp = b"Subject: hi\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: QUOTED-PRINTABLE\r\n\r\n\
Your ticket is s2026=\r\n1129.004 and the case a20261101.3=2E\r\n";
    let found: Vec<String> = mentions(qp, Some("hi")).into_iter().collect();
    assert_eq!(found, ["a20261101.3", "s20261129.004"]);
    let plain = b"Subject: s20261129.005\r\n\r\nnothing encoded\r\n";
    let found: Vec<String> = mentions(plain, Some("s20261129.005")).into_iter().collect();
    assert_eq!(found, ["s20261129.005"]);
}
