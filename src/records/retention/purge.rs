//! Applying a run: purging one folder's due mail batch by batch, and finishing the purges of a run that
//! was killed part-way.
//!
//! Each batch: the holds are asked again; the messages are written to the purge journal; marked
//! `\Deleted`; removed by UID EXPUNGE (files removed on a Maildir); looked for again; and, in one
//! transaction, each message gone is recorded purged with its audit event. A message still there (the
//! server kept it) loses the `\Deleted` the run gave it before it is recorded kept. A crash anywhere in
//! between leaves journal entries `planned`, which the next run settles the same way before it surveys.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};
use chrono::{SecondsFormat, TimeZone as _, Utc};

use super::{FolderReport, Item, Recovered, Run, holds, rules};
use crate::mailbox::{Key, Source};
use crate::store::{NewEvent, NewPurge, PurgeRow, Store};

/// What the audit trail says of one purged message: `message:<Message-ID>` (the digest when it has
/// none), the rule, and the folder, date and run; never content or addresses.
struct Purged<'a> {
    message_id: &'a str,
    digest: &'a str,
    folder: &'a str,
    internal_ms: i64,
    rule: &'a str,
    run: String,
}

impl Purged<'_> {
    /// The audit event's subject, reason and detail.
    fn event(&self) -> (String, String, String) {
        let subject = if self.message_id.is_empty() {
            format!("message:{}", self.digest)
        } else {
            format!("message:{}", self.message_id)
        };
        let received = Utc
            .timestamp_millis_opt(self.internal_ms)
            .single()
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let detail = format!("folder {}, received {received}, {}", self.folder, self.run);
        (subject, format!("retention:{}", self.rule), detail)
    }
}

impl Run<'_> {
    /// Records `purged` (journal entry ids with what the audit trail says of each) and `kept` in one
    /// transaction; returns the entries that recorded a purge (another entry may have recorded it first).
    async fn settle(&self, purged: &[(i64, Purged<'_>)], kept: &[i64]) -> Result<BTreeSet<i64>> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        let mut recorded = BTreeSet::new();
        for (id, p) in purged {
            if !Store::finish_purge_in(&mut tx, *id, now).await? {
                continue;
            }
            let (subject, reason, detail) = p.event();
            let event = NewEvent {
                at_ms: now,
                actor: self.opts.actor,
                subject: &subject,
                action: "purged",
                reason: &reason,
                detail: &detail,
            };
            Store::record_event_in(&mut tx, &event).await?;
            recorded.insert(*id);
        }
        for id in kept {
            Store::keep_purge_in(&mut tx, *id, now).await?;
        }
        tx.commit().await.context("commit purges")?;
        Ok(recorded)
    }

    /// Purges the folder's due mail batch by batch; true when shutdown stopped it between batches
    /// (what was not reached stays in `folder.due`).
    pub(super) async fn purge_folder(
        &self,
        source: &mut Source,
        folder: &mut FolderReport,
        run_id: i64,
    ) -> Result<bool> {
        if folder.due.is_empty() {
            return Ok(false);
        }
        let name = folder.rule.folder.clone();
        let uidvalidity = source.open_folder(&name, true).await?;
        if uidvalidity != Some(folder.uidvalidity) {
            tracing::warn!(folder = %name, "folder gone or renumbered since the survey: left for the next run");
            return Ok(false);
        }
        let mut left = std::mem::take(&mut folder.due);
        while !left.is_empty() {
            if self.cancel.is_cancelled() {
                folder.due = left;
                return Ok(true);
            }
            let rest = left.split_off(left.len().min(super::PURGE_BATCH));
            let batch = std::mem::replace(&mut left, rest);
            self.purge_batch(source, folder, batch, run_id).await?;
            crate::failpoint::hit("retention-between-batches");
        }
        Ok(false)
    }

    /// One batch: holds asked again, journal, `\Deleted`, UID EXPUNGE, looked for again, recorded.
    async fn purge_batch(
        &self,
        source: &mut Source,
        folder: &mut FolderReport,
        batch: Vec<Item>,
        run_id: i64,
    ) -> Result<()> {
        let name = folder.rule.folder.clone();
        let facts: Vec<_> = batch.iter().map(|i| &i.facts).collect();
        let holds = holds::check(self.store, self.config, &name, &facts).await?;
        let mut go = Vec::new();
        for (item, hold) in batch.into_iter().zip(holds) {
            match hold {
                Some(hold) => folder.held.push((item, hold)),
                None => go.push(item),
            }
        }
        if go.is_empty() {
            return Ok(());
        }
        let ids = self.journal(folder, &go, run_id).await?;
        let keys: Vec<Key> = go.iter().map(|i| i.key.clone()).collect();
        source.mark_deleted(&keys).await?;
        crate::failpoint::hit("retention-after-flag");
        source.expunge(&keys).await?;
        crate::failpoint::hit("retention-after-expunge");
        let present = source.present(&keys).await?;
        let still: Vec<Key> = go
            .iter()
            .filter(|i| present.contains(&i.key) && !i.was_deleted)
            .map(|i| i.key.clone())
            .collect();
        source.unmark_deleted(&still).await?;
        let rule = folder.rule.label();
        let (mut purged, mut kept) = (Vec::new(), Vec::new());
        for (id, item) in ids.iter().zip(&go) {
            if present.contains(&item.key) {
                kept.push(*id);
                continue;
            }
            let p = Purged {
                message_id: &item.facts.message_id,
                digest: &item.facts.digest,
                folder: &name,
                internal_ms: item.internal_ms,
                rule: &rule,
                run: format!("run {run_id}"),
            };
            purged.push((*id, p));
        }
        let recorded = self.settle(&purged, &kept).await?;
        for (id, item) in ids.into_iter().zip(go) {
            if recorded.contains(&id) {
                folder.purged.push(item);
            } else if present.contains(&item.key) {
                tracing::warn!(folder = %name, uid = item.key.uid, name = %item.key.name, "still there after the purge: left for the next run");
                folder.due.push(item);
            } else {
                tracing::info!(folder = %name, uid = item.key.uid, "purge already recorded by another run");
            }
        }
        Ok(())
    }

    /// Writes the batch to the purge journal before the mailbox is touched; the entries' ids.
    async fn journal(&self, folder: &FolderReport, go: &[Item], run_id: i64) -> Result<Vec<i64>> {
        let planned: Vec<NewPurge<'_>> = go
            .iter()
            .map(|i| NewPurge {
                mailbox: &self.mailbox,
                folder: &folder.rule.folder,
                uidvalidity: folder.uidvalidity,
                uid: i.key.uid,
                name: &i.key.name,
                message_id: &i.facts.message_id,
                digest: &i.facts.digest,
                internal_ms: i.internal_ms,
                was_deleted: i.was_deleted,
            })
            .collect();
        self.store
            .plan_purges(run_id, &planned, self.clock.now_ms())
            .await
    }

    /// Settles the journal entries a killed run left `planned`: recorded purged when the message is gone,
    /// kept (and `\Deleted` taken off again) when it is still there. A folder gone or renumbered since
    /// cannot be told apart by UID: its entries are kept, and its messages surveyed afresh.
    pub(super) async fn recover(&self, source: &mut Source, run_id: i64) -> Result<Recovered> {
        let rows = self.store.planned_purges(&self.mailbox).await?;
        let mut by_folder: BTreeMap<String, Vec<PurgeRow>> = BTreeMap::new();
        for row in rows {
            by_folder.entry(row.folder.clone()).or_default().push(row);
        }
        let mut recovered = Recovered::default();
        for (folder, rows) in by_folder {
            let validity = source.open_folder(&folder, true).await?;
            let (same, other): (Vec<PurgeRow>, Vec<PurgeRow>) = rows
                .into_iter()
                .partition(|r| Some(r.uidvalidity) == validity);
            if !other.is_empty() {
                tracing::warn!(folder = %folder, entries = other.len(), "interrupted purges in a folder gone or renumbered: left for a fresh survey");
            }
            let keys: Vec<Key> = same.iter().map(key_of).collect();
            let present = source.present(&keys).await?;
            let still: Vec<Key> = same
                .iter()
                .filter(|r| !r.was_deleted)
                .map(key_of)
                .filter(|k| present.contains(k))
                .collect();
            source.unmark_deleted(&still).await?;
            let rule = self.rule_label(&folder);
            let mut purged = Vec::new();
            let mut kept: Vec<i64> = other.iter().map(|r| r.id).collect();
            for row in &same {
                if present.contains(&key_of(row)) {
                    kept.push(row.id);
                    continue;
                }
                purged.push((
                    row.id,
                    Purged {
                        message_id: &row.message_id,
                        digest: &row.digest,
                        folder: &folder,
                        internal_ms: row.internal_ms,
                        rule: &rule,
                        run: format!("run {}, recorded by run {run_id}", row.run_id),
                    },
                ));
            }
            recovered.purged += self.settle(&purged, &kept).await?.len() as u64;
            recovered.kept += kept.len() as u64;
        }
        if recovered != Recovered::default() {
            tracing::info!(
                purged = recovered.purged,
                kept = recovered.kept,
                "finished the purges of an interrupted retention run"
            );
        }
        Ok(recovered)
    }

    /// The rule of `folder` as it stands now, for the audit trail of a recovered purge.
    fn rule_label(&self, folder: &str) -> String {
        let watched = crate::mailbox::folder_name(&self.config.mailbox.source);
        let bucket = if folder == watched { "INBOX" } else { folder };
        rules::rule_for(&self.config.retention, bucket).map_or_else(
            || "no rule now".to_owned(),
            |(key, limit)| format!("{key}={}", rules::limit_text(limit)),
        )
    }
}

fn key_of(row: &PurgeRow) -> Key {
    Key {
        uid: row.uid,
        name: row.name.clone(),
    }
}
