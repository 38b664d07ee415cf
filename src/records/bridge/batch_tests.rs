//! The bridge over one fetch batch, on both stores: mail of the batch finds a dispute the batch's
//! earlier mail received, filed itself under, or gave a ticket or case number, as it would had each
//! message been recorded on its own.

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
use crate::store::Store;
use crate::store::testing::backend_tests;

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

/// Guards against: mail of a batch missing a dispute received earlier in the same batch, or the ticket
/// or case number it was given there, or a second dispute opened for it.
async fn mail_finds_what_its_batch_did_to_a_dispute(store: Store) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path())?;
    let outbox = Outbox::new(&config)?;
    let batch = [
        (
            "From: Ann <ann@example.net>\nMessage-ID: <d1@example.net>\nSubject: dispute\n\nmine\n",
            "Disputes",
            Some("s20261130.001"),
        ),
        (
            "From: Bo <bo@example.org>\nMessage-ID: <f1@example.org>\nReferences: <d1@example.net>\n\
             Subject: Fwd: dispute\n\nforwarded\n",
            "Support",
            None,
        ),
        (
            "From: Cy <cy@example.net>\nMessage-ID: <t1@example.net>\nSubject: about s20261130.001\n\n\
             same\n",
            "Support",
            None,
        ),
        (
            "From: Arb <arb@example.org>\nMessage-ID: <c1@example.org>\nReferences: <f1@example.org>\n\
             Subject: opened a20261130.4\n\ncase\n",
            "Support",
            None,
        ),
        (
            "From: Dee <dee@example.net>\nMessage-ID: <x1@example.net>\nSubject: a20261130.4\n\nthat\n",
            "Disputes",
            None,
        ),
    ];
    let items: Vec<(Classified, Option<&str>)> = batch
        .iter()
        .map(|(raw, bucket, ticket)| Ok((item(raw, bucket)?, *ticket)))
        .collect::<Result<_>>()?;
    let classified: Vec<Classified> = items.iter().map(|(i, _)| i.clone()).collect();
    let mut tx = store.begin().await?;
    let mut bridge = Batch::read_in(&mut tx, &config.disputes, &classified).await?;
    for (item, ticket) in &items {
        bridge
            .observe_in(&mut tx, &config.disputes, &outbox, item, *ticket, at()?)
            .await?;
    }
    tx.commit().await?;
    let all = store.disputes(i64::MAX, false).await?;
    assert_eq!(all.len(), 1, "one dispute: {all:?}");
    let d = &all[0];
    assert_eq!(
        (
            d.message_id.as_str(),
            d.ticket.as_str(),
            d.case_number.as_str(),
            d.forwarded_by.as_str(),
            d.acknowledged_by.as_str()
        ),
        (
            "d1@example.net",
            "s20261130.001",
            "a20261130.4",
            "person",
            "case-number"
        )
    );
    let ids: Vec<String> = ["d1", "f1", "t1", "c1", "x1"]
        .iter()
        .map(|n| {
            let host = if ["f1", "c1"].contains(n) {
                "example.org"
            } else {
                "example.net"
            };
            format!("{n}@{host}")
        })
        .collect();
    let (known, _) = store.dispute_holds_among(&ids).await?;
    assert_eq!(known.len(), 5, "every message filed under it: {known:?}");
    Ok(())
}

backend_tests!(mail_finds_what_its_batch_did_to_a_dispute);
