//! The rules' reach (which folders, which limit) and hold targets as the command line gives them.

use std::collections::BTreeSet;

use anyhow::Result;

use super::{HoldTarget, rule_for, rules::folder_rules};
use crate::config::Config;
use crate::records::buckets::KnownBuckets;
use crate::store::HoldKind;

fn load(retention: &str) -> Result<(tempfile::TempDir, Config)> {
    let dir = tempfile::tempdir()?;
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let file = dir.path().join("triaged.toml");
    std::fs::write(
        &file,
        format!(
            "[mailbox]\nurl = \"maildir:mail\"\n[rules]\nscript = \"{}/support.sieve\"\n\
             [outbox]\nfrom = \"Support <support@example.org>\"\n{retention}",
            rules.display()
        ),
    )?;
    let config = Config::load(&file)?;
    Ok((dir, config))
}

#[test]
fn own_rules_then_patterns_then_the_default() -> Result<()> {
    let (_dir, config) = load(
        "[retention.buckets]\nJunk = \"30d\"\n\"Lists/${list}\" = \"90d\"\ninbox = \"1y\"\n\
         default = \"2y\"\n",
    )?;
    let r = &config.retention;
    let days = |d: u64| std::time::Duration::from_secs(d * 86_400);
    assert_eq!(rule_for(r, "Junk"), Some(("Junk".to_owned(), days(30))));
    assert_eq!(
        rule_for(r, "Lists/announce"),
        Some(("Lists/${list}".to_owned(), days(90)))
    );
    assert_eq!(rule_for(r, "INBOX"), Some(("inbox".to_owned(), days(365))));
    assert_eq!(
        rule_for(r, "Triage"),
        Some(("default".to_owned(), days(730)))
    );
    let (_dir, bare) = load("[retention.buckets]\nJunk = \"30d\"\n")?;
    assert_eq!(rule_for(&bare.retention, "Triage"), None);
    Ok(())
}

/// Guards against: purging a folder that is no bucket (Sent, a person's own), or missing one a rule
/// names.
#[test]
fn only_bucket_folders_with_a_rule_are_reached() -> Result<()> {
    let (_dir, config) = load(
        "[retention.buckets]\nJunk = \"30d\"\nBounces = \"60d\"\n\"Lists/${list}\" = \"90d\"\n",
    )?;
    let known = KnownBuckets::from_config(&config)?;
    let existing: BTreeSet<String> = ["INBOX", "Junk", "Sent", "Triage", "Lists/announce", "Mine"]
        .map(str::to_owned)
        .into();
    let reached = folder_rules(&config, &known, &existing);
    let names: Vec<(&str, bool)> = reached
        .iter()
        .map(|r| (r.folder.as_str(), r.exists))
        .collect();
    assert_eq!(
        names,
        [("Bounces", false), ("Junk", true), ("Lists/announce", true)]
    );
    assert_eq!(reached[1].label(), "Junk=30d");
    let (_dir, all) = load("[retention.buckets]\ndefault = \"2y\"\n")?;
    let known = KnownBuckets::from_config(&all)?;
    let reached = folder_rules(&all, &known, &existing);
    let names: Vec<&str> = reached.iter().map(|r| r.folder.as_str()).collect();
    assert_eq!(names, ["INBOX", "Junk", "Lists/announce", "Triage"]);
    assert!(reached[0].watched && !reached[1].watched);
    Ok(())
}

#[test]
fn hold_targets_are_checked() {
    assert_eq!(
        HoldTarget::parse(HoldKind::MessageId, " <a@example.org> "),
        Some(HoldTarget::MessageId("a@example.org".to_owned()))
    );
    assert_eq!(HoldTarget::parse(HoldKind::MessageId, "<>"), None);
    assert_eq!(HoldTarget::parse(HoldKind::MessageId, "a b@x"), None);
    assert_eq!(
        HoldTarget::parse(HoldKind::Ticket, "S20261129.004"),
        Some(HoldTarget::Ticket("s20261129.004".to_owned()))
    );
    assert_eq!(HoldTarget::parse(HoldKind::Ticket, "s20261329.004"), None);
    assert_eq!(
        HoldTarget::parse(HoldKind::Ticket, "ticket s20261129.004"),
        None
    );
    assert_eq!(HoldTarget::parse(HoldKind::Ticket, "a20261129.4"), None);
}

/// A store with three disputes as the bridge records them: one open, one acknowledged without a case
/// number (closed), one acknowledged with a case number.
async fn disputes_recorded(store: &crate::store::Store) -> Result<()> {
    use crate::store::{DisputeMark, NewDispute, Store};
    let mut tx = store.begin().await?;
    for (id, ack, case) in [
        ("open@x", false, ""),
        ("closed@x", true, ""),
        ("cased@x", true, "a20261130.2"),
    ] {
        let (d, _) = Store::dispute_insert_in(
            &mut tx,
            &NewDispute {
                message_id: id,
                origin: "bucket",
                ticket: "",
                received_ms: 1,
            },
        )
        .await?;
        if ack {
            Store::dispute_mark_in(&mut tx, d, DisputeMark::Acknowledged, 2, "arbitration").await?;
        }
        if !case.is_empty() {
            Store::dispute_set_case_in(&mut tx, d, case).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn facts(id: &str, refs: &[&str]) -> super::scan::Facts {
    super::scan::Facts {
        message_id: id.to_owned(),
        digest: format!("digest-{id}"),
        refs: refs.iter().map(|r| (*r).to_owned()).collect(),
        ..super::scan::Facts::default()
    }
}

/// Guards against: a closed dispute's mail kept for ever for being in the disputes folder, an open
/// dispute's reply purged, a dispute with a case number released, or mail the bridge never filed
/// (sorted before it kept records) losing the hold its folder gave it.
async fn holds_ask_the_dispute_records(store: crate::store::Store) -> Result<()> {
    disputes_recorded(&store).await?;
    let (_dir, config) = load("[disputes]\nbuckets = [\"Support/Disputes\"]\n")?;
    let batch = [
        facts("open@x", &[]),
        facts("reply@x", &["open@x"]),
        facts("closed@x", &[]),
        facts("cased@x", &[]),
        facts("unknown@x", &[]),
    ];
    let refs: Vec<&super::scan::Facts> = batch.iter().collect();
    let held = super::holds::check(&store, &config, "Support/Disputes", &refs).await?;
    let held: Vec<bool> = held.iter().map(Option::is_some).collect();
    assert_eq!(held, [true, true, false, true, true]);
    let elsewhere = super::holds::check(&store, &config, "Triage", &refs[..3]).await?;
    let elsewhere: Vec<bool> = elsewhere.iter().map(Option::is_some).collect();
    assert_eq!(elsewhere, [true, true, false]);
    Ok(())
}

crate::store::testing::backend_tests!(holds_ask_the_dispute_records);
