//! triaged's own records under `[retention] records`: verdict rows older than the limit are cut down to a
//! content-free key once their message has left the watched folder (moved by its plan, or, for kept mail,
//! no longer found there), and the bodies of outbox mail no longer waiting to be sent are emptied. The
//! key keeps a message triaged has seen from being sorted and acknowledged again should it come back;
//! audit events stay. A dry run counts what would go.
//!
//! Asks the mailbox whether kept mail is still there; the SQL is `store`'s.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Run;
use crate::mailbox::{Key, Source};
use crate::store::{NewEvent, Pruned};

/// What a run did (or would do) to triaged's own records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsReport {
    /// `[retention] records`.
    pub limit: Duration,
    /// Records from before this are pruned.
    pub cutoff: DateTime<Utc>,
    /// Pruned, or (dry run) prunable.
    pub pruned: Pruned,
}

impl Run<'_> {
    pub(super) async fn records(&self, source: &mut Source) -> Result<RecordsReport> {
        let limit = self.config.retention.records;
        let cutoff = chrono::Duration::from_std(limit)
            .ok()
            .and_then(|d| self.at.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let cutoff_ms = cutoff.timestamp_millis();
        let gone = self.kept_and_gone(source, cutoff_ms).await?;
        let pruned = if self.opts.apply {
            let label = super::rules::limit_text(limit);
            let detail = format!("older than {}", cutoff.format("%Y-%m-%d %H:%M UTC"));
            let event = NewEvent {
                at_ms: self.clock.now_ms(),
                actor: self.opts.actor,
                subject: "retention:records",
                action: "records-pruned",
                reason: &format!("retention:records={label}"),
                detail: &detail,
            };
            self.store
                .prune_records(&self.mailbox, cutoff_ms, &gone, &event)
                .await?
        } else {
            self.store
                .prunable_records(&self.mailbox, cutoff_ms, &gone)
                .await?
        };
        Ok(RecordsReport {
            limit,
            cutoff,
            pruned,
        })
    }

    /// The verdicts older than the cutoff that kept their message in the watched folder, where it is no
    /// longer found. After a UIDVALIDITY change the old UIDs say nothing: those rows stay.
    async fn kept_and_gone(&self, source: &mut Source, cutoff_ms: i64) -> Result<Vec<i64>> {
        let kept = self
            .store
            .kept_verdicts_before(&self.mailbox, cutoff_ms)
            .await?;
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        let watched = crate::mailbox::folder_name(&self.config.mailbox.source);
        let Some(uidvalidity) = source.open_folder(&watched, false).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<_> = kept
            .iter()
            .filter(|k| k.uidvalidity == uidvalidity)
            .collect();
        let keys: Vec<Key> = rows
            .iter()
            .map(|k| Key {
                uid: k.uid,
                name: k.name.clone(),
            })
            .collect();
        let present = source.present(&keys).await?;
        Ok(rows
            .iter()
            .zip(&keys)
            .filter(|(_, key)| !present.contains(key))
            .map(|(row, _)| row.id)
            .collect())
    }
}
