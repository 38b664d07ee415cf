//! The bridge over one fetch batch, on both stores: mail finds its dispute through the thread it joined,
//! including a dispute the batch's earlier mail received or gave its ticket, as it would had each
//! message been recorded on its own; a filing's copy finds its dispute by its Message-ID.

use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone as _, Utc};

use super::Batch;
use crate::actions::{Classified, Plan, Target};
use crate::classify::Verdict;
use crate::config::Config;
use crate::mailbox::Key;
use crate::message::{Message, sha256_hex};
use crate::outbox::Outbox;
use crate::outbox::harvest::Harvest;
use crate::records::threads::mentions;
use crate::store::testing::backend_tests;
use crate::store::{NewDispute, Store};

fn config(dir: &Path) -> Result<Config> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/support.sieve");
    let path = dir.join("triaged.toml");
    std::fs::write(
        &path,
        format!(
            "[mailbox]\nurl = \"maildir:mail\"\n[rules]\nscript = \"{}\"\n[outbox]\n\
             transport = \"file:out\"\nfrom = \"Support <support@example.org>\"\n\
             [disputes]\naddress = \"support@example.org\"\n\
             claimant = \"Team Leader <stl@example.org>\"\nbuckets = [\"Disputes\"]\n",
            rules.display()
        ),
    )?;
    Ok(Config::load(&path)?)
}

fn at() -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .context("time")
}

fn item(raw: &str, bucket: &str) -> Result<Classified> {
    let raw = raw.replace('\n', "\r\n");
    let info = Message::parse(raw.as_bytes(), 0)?.info().clone();
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

/// A batch: (message, bucket, the ticket it joined in the thread records). A dispute, its forward, junk
/// naming it, Arbitration's reply with a case number, mail naming only that case; a filing's team copy
/// and a reply in its thread.
const BATCH: [(&str, &str, Option<&str>); 7] = [
    (
        "From: Ann <ann@example.net>\nMessage-ID: <d1@example.net>\nSubject: dispute\n\nmine\n",
        "Disputes",
        Some("s20261130.001"),
    ),
    (
        "From: Bo <bo@example.org>\nMessage-ID: <f1@example.org>\nReferences: <d1@example.net>\n\
         Subject: Fwd: dispute\n\nforwarded\n",
        "Support",
        Some("s20261130.001"),
    ),
    (
        "From: Spam <spam@example.net>\nMessage-ID: <j1@example.net>\n\
         References: <d1@example.net>\nSubject: case a20261130.9\n\nbuy\n",
        "Junk",
        None,
    ),
    (
        "From: Arb <arb@example.org>\nMessage-ID: <c1@example.org>\nReferences: <f1@example.org>\n\
         Subject: opened a20261130.4\n\ncase\n",
        "Support",
        Some("s20261130.001"),
    ),
    (
        "From: Dee <dee@example.net>\nMessage-ID: <x1@example.net>\nSubject: a20261130.4\n\nthat\n",
        "Disputes",
        Some("s20261130.001"),
    ),
    (
        "From: Support <support@example.org>\nMessage-ID: <e1@example.org>\nSubject: filing\n\nabc\n",
        "Support",
        Some("s20261130.002"),
    ),
    (
        "From: Arb <arb@example.org>\nMessage-ID: <e2@example.org>\nSubject: Re: filing\n\n\
         case a20261130.5\n",
        "Support",
        Some("s20261130.002"),
    ),
];

/// Guards against: mail of a batch missing a dispute received earlier in the same batch or the ticket
/// it was given there, a filing's copy not finding its dispute, mail outside any thread moving a dispute,
/// or a second dispute opened for mail of the first's thread.
async fn mail_finds_its_dispute_through_the_thread_it_joined(store: Store) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path())?;
    let outbox = Outbox::new(&config)?;
    let mut tx = store.begin().await?;
    let (filing, _) = Store::dispute_insert_in(
        &mut tx,
        &NewDispute {
            message_id: "e1@example.org",
            origin: "filing",
            ticket: "",
            received_ms: 0,
        },
    )
    .await?;
    tx.commit().await?;
    let items: Vec<(Classified, Option<&str>)> = BATCH
        .iter()
        .map(|(raw, bucket, ticket)| Ok((item(raw, bucket)?, *ticket)))
        .collect::<Result<_>>()?;
    let classified: Vec<Classified> = items.iter().map(|(i, _)| i.clone()).collect();
    let mut tx = store.begin().await?;
    let mut bridge = Batch::read_in(&mut tx, &config.disputes, &classified, &[]).await?;
    for (item, ticket) in &items {
        bridge
            .observe_in(&mut tx, &config.disputes, &outbox, item, *ticket, at()?)
            .await?;
    }
    tx.commit().await?;
    let all = store.disputes(i64::MAX, false).await?;
    let rows: Vec<String> = all
        .iter()
        .map(|d| {
            let by = (&d.forwarded_by, &d.acknowledged_by);
            format!("{} {} {} {by:?}", d.message_id, d.ticket, d.case_number)
        })
        .collect();
    assert_eq!(
        rows,
        [
            r#"e1@example.org s20261130.002 a20261130.5 ("", "case-number")"#,
            r#"d1@example.net s20261130.001 a20261130.4 ("person", "case-number")"#,
        ]
    );
    assert_eq!(all[0].id, filing);
    let ids: Vec<String> = ["d1.net", "f1.org", "j1.net", "c1.org", "x1.net", "e2.org"]
        .iter()
        .map(|id| id.replace('.', "@example."))
        .collect();
    let (known, _) = store.dispute_holds_among(&ids).await?;
    assert_eq!(
        known.into_iter().collect::<Vec<_>>(),
        [
            "c1@example.org",
            "d1@example.net",
            "e2@example.org",
            "f1@example.org",
            "x1@example.net"
        ],
        "the thread's messages are filed for the holds, the junk is not"
    );
    Ok(())
}

/// Guards against: a batch not reading a dispute keyed by a ticket its mail can join, or reading one it
/// cannot reach.
async fn a_batch_reads_the_disputes_of_the_tickets_it_can_join(store: Store) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path())?;
    let mut tx = store.begin().await?;
    for (first, ticket) in [
        ("d1@example.net", "s20261130.001"),
        ("e1@example.org", "s20261130.002"),
    ] {
        Store::dispute_insert_in(
            &mut tx,
            &NewDispute {
                message_id: first,
                origin: "bucket",
                ticket,
                received_ms: 0,
            },
        )
        .await?;
    }
    tx.commit().await?;
    let late = item(
        "From: Arb <arb@example.org>\nMessage-ID: <z1@example.org>\nSubject: closed\n\nbye\n",
        "Support",
    )?;
    let mut tx = store.begin().await?;
    let reachable = ["s20261130.001".to_owned()];
    let bridge = Batch::read_in(
        &mut tx,
        &config.disputes,
        std::slice::from_ref(&late),
        &reachable,
    )
    .await?;
    assert_eq!(
        bridge
            .matching(Some("s20261130.001"), "z1@example.org")
            .len(),
        1
    );
    assert!(
        bridge
            .matching(Some("s20261130.002"), "z1@example.org")
            .is_empty()
    );
    assert!(
        bridge.matching(None, "e1@example.org").is_empty(),
        "not read"
    );
    Ok(())
}

backend_tests!(
    mail_finds_its_dispute_through_the_thread_it_joined,
    a_batch_reads_the_disputes_of_the_tickets_it_can_join,
);
