//! Second chances for quarantined messages. Classification is deterministic: the same bytes through the
//! same rules and limits give the same error (sieve-rs counts instructions, not time), so retrying on a
//! timer alone would only burn CPU. A quarantined message is therefore re-classified only when the rules
//! fingerprint (script, includes, `cpu_limit`, `max_message_size`) differs from the one that failed it —
//! the team fixed a rule or raised a limit — at most [`MAX_RECLASSIFY`] times, and never sooner than
//! the backoff after its previous attempt (1, 5, 25, 125 minutes), so rules edited in a hurry cannot
//! make a hot loop. A message that gets a verdict at last is released: the new verdict and the mail it
//! causes commit in one transaction (state `releasing`), then it is unflagged and moved out; a crash in
//! between finishes the move on the next pass. After the last attempt it stays, flagged, `given-up`.
//! Writes no SQL itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::backoff::retry_delay_ms;
use super::lease::Fence;
use super::sort::Sorter;
use super::summary::Summary;
use crate::actions::{Classified, Plan, Target};
use crate::clock::Clock;
use crate::config::RulesConfig;
use crate::mailbox::{Fetched, Key, Source, Step};
use crate::message::sha256_hex;
use crate::metrics::MailboxMetrics;
use crate::store::{
    GIVEN_UP, GONE, HELD, NewEvent, QuarantineFailure, QuarantineRow, RELEASED, RELEASING, Store,
};

/// Re-classifications of one quarantined message before it is left for a person.
pub const MAX_RECLASSIFY: i64 = 5;

/// The flag quarantine sets, removed on release.
pub const QUARANTINE_FLAG: &str = "\\Flagged";

/// A digest of everything that decides a verdict besides the message: the script, every script in the
/// include and global directories, and the limits. Files are read once at start, as the rules are.
pub fn rules_fingerprint(cfg: &RulesConfig) -> Result<String> {
    let mut h = Sha256::new();
    let script = std::fs::read(&cfg.script)
        .with_context(|| format!("read rules {}", cfg.script.display()))?;
    h.update(&script);
    // The global directory counts only when it is a directory of its own, so that a config without
    // `global_dir` keeps its fingerprint.
    let mut files = sieve_files(&cfg.include_dir);
    if cfg.global_dir != cfg.include_dir {
        files.extend(sieve_files(&cfg.global_dir));
    }
    for path in files {
        let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        h.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        h.update([0]);
        h.update(&bytes);
    }
    h.update(format!("cpu_limit={};max={}", cfg.cpu_limit, cfg.max_message_size).as_bytes());
    Ok(sha256_hex(&h.finalize()))
}

fn sieve_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sieve"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The quarantine of one watched folder, and what re-classifying its messages needs.
pub(super) struct Quarantine {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) metrics: Arc<MailboxMetrics>,
    /// The lease this mailbox is watched under: the release's transaction checks it.
    pub(super) fence: Fence,
    pub(super) sorter: Sorter,
    /// What a released message's verdict causes (thread, mail, dispute), in the release's transaction.
    pub(super) caused: Arc<super::caused::Caused>,
    /// The mailbox's identity in the store.
    pub(super) mailbox: String,
    /// The watched folder, where `keep` sends a released message back to.
    pub(super) folder: String,
    /// The quarantine folder's name.
    pub(super) quarantine_folder: String,
    /// Fingerprint of the current rules and limits.
    pub(super) rules_digest: String,
    /// Messages fetched at a time while looking for quarantined ones.
    pub(super) batch: usize,
}

impl Quarantine {
    /// Finishes releases interrupted by a crash and re-classifies the quarantined messages that are due.
    pub(super) async fn revisit(&self, source: &mut Source, summary: &mut Summary) -> Result<()> {
        let now = self.clock.now_ms();
        let rows = self
            .store
            .quarantine_due(&self.mailbox, &self.rules_digest, now, MAX_RECLASSIFY)
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let folder = self.quarantine_folder.clone();
        let result = if source.enter(&folder).await? {
            self.revisit_in(source, &rows, summary).await
        } else {
            self.mark_gone(&rows).await
        };
        source.leave().await?;
        result
    }

    async fn revisit_in(
        &self,
        source: &mut Source,
        rows: &[QuarantineRow],
        summary: &mut Summary,
    ) -> Result<()> {
        let wanted: BTreeMap<&str, &QuarantineRow> =
            rows.iter().map(|r| (r.digest.as_str(), r)).collect();
        let mut found: Vec<(&QuarantineRow, Fetched)> = Vec::new();
        let keys = source.pending(0).await?;
        for chunk in keys.chunks(self.batch) {
            for f in source.fetch(chunk).await? {
                if let Some(row) = wanted.get(sha256_hex(&f.raw).as_str()) {
                    found.push((row, f));
                }
            }
        }
        let present: BTreeSet<i64> = found.iter().map(|(r, _)| r.verdict_id).collect();
        let missing: Vec<QuarantineRow> = rows
            .iter()
            .filter(|r| !present.contains(&r.verdict_id))
            .cloned()
            .collect();
        self.mark_gone(&missing).await?;
        for (row, fetched) in found {
            if row.state == RELEASING {
                let plan: Plan = serde_json::from_str(&row.plan).context("read release plan")?;
                self.finish_release(source, row, key_of(&fetched), &plan)
                    .await?;
                summary.released += 1;
            } else {
                self.reclassify(source, row, fetched, summary).await?;
            }
        }
        Ok(())
    }

    async fn mark_gone(&self, rows: &[QuarantineRow]) -> Result<()> {
        for row in rows {
            tracing::warn!(
                verdict = row.verdict_id,
                "quarantined message no longer in the quarantine folder"
            );
            let now = self.clock.now_ms();
            let state = if row.state == RELEASING {
                RELEASED
            } else {
                GONE
            };
            self.store
                .quarantine_state(row.verdict_id, state, now)
                .await?;
        }
        Ok(())
    }

    /// Classifies a quarantined message again with the current rules: released, or held for longer.
    async fn reclassify(
        &self,
        source: &mut Source,
        row: &QuarantineRow,
        mut fetched: Fetched,
        summary: &mut Summary,
    ) -> Result<()> {
        // The release takes quarantine's own flag off first; it is not among the flags the message
        // brings to its copies.
        fetched
            .flags
            .retain(|f| !f.eq_ignore_ascii_case(QUARANTINE_FLAG));
        let folders = Arc::new(source.folders()?);
        let mut classified = self
            .sorter
            .classify(vec![fetched], folders)
            .await?
            .pop()
            .context("classify a quarantined message")?;
        let attempts = row.attempts + 1;
        if let Some(error) = &classified.verdict.error {
            let now = self.clock.now_ms();
            let state = if attempts >= MAX_RECLASSIFY {
                GIVEN_UP
            } else {
                HELD
            };
            let text = format!("{}: {}", error.reason, error.detail);
            tracing::warn!(verdict = row.verdict_id, attempts, reason = %error.reason, state, "still no verdict for a quarantined message");
            let failure = QuarantineFailure {
                reason: &error.reason,
                error: &text,
                rules: &self.rules_digest,
                attempts,
                not_before_ms: now + retry_delay_ms(attempts),
                state,
            };
            return self
                .store
                .quarantine_failed(row.verdict_id, &failure, now)
                .await;
        }
        // `keep` from quarantine means the watched folder, where the message came from; the pass over
        // it then finds the digest known and leaves it there.
        if classified.plan.target == Target::Keep {
            classified.plan.target = Target::Move(self.folder.clone());
        }
        self.commit_release(row, &classified, attempts).await?;
        crate::failpoint::hit("after-release-commit");
        let plan = classified.plan.clone();
        self.finish_release(source, row, classified.key, &plan)
            .await?;
        let bucket = plan.bucket().to_owned();
        self.metrics.sorted(&bucket);
        *summary.buckets.entry(bucket).or_default() += 1;
        summary.released += 1;
        Ok(())
    }

    /// The new verdict, the release and the mail the verdict causes, in one transaction.
    async fn commit_release(
        &self,
        row: &QuarantineRow,
        item: &Classified,
        attempts: i64,
    ) -> Result<()> {
        let now = self.clock.now();
        let plan = serde_json::to_string(&item.plan).context("serialise plan")?;
        let mut tx = self.store.begin().await?;
        self.fence.check_in(&mut tx).await?;
        let bucket = item.plan.bucket();
        let now_ms = now.timestamp_millis();
        Store::quarantine_release_in(&mut tx, row.verdict_id, bucket, &plan, attempts, now_ms)
            .await?;
        let subject = format!("message:{}", row.message_id);
        let detail = format!("to {bucket} after {attempts} re-classification(s)");
        Store::record_event_in(
            &mut tx,
            &NewEvent {
                at_ms: now_ms,
                actor: "worker",
                subject: &subject,
                action: "released",
                reason: "rules changed",
                detail: &detail,
            },
        )
        .await?;
        self.caused
            .record_in(&mut tx, item, row.verdict_id, now)
            .await?;
        tx.commit().await.context("commit release from quarantine")
    }

    async fn finish_release(
        &self,
        source: &mut Source,
        row: &QuarantineRow,
        key: Key,
        plan: &Plan,
    ) -> Result<()> {
        let mut steps = vec![Step::Unflag(vec![QUARANTINE_FLAG.to_owned()])];
        steps.extend(plan.steps());
        self.fence.check().await?;
        source
            .apply(&[(key, steps)])
            .await
            .with_context(|| format!("release verdict {} from quarantine", row.verdict_id))?;
        tracing::info!(verdict = row.verdict_id, bucket = %plan.bucket(), "released from quarantine");
        self.store
            .quarantine_state(row.verdict_id, RELEASED, self.clock.now_ms())
            .await
    }
}

fn key_of(f: &Fetched) -> Key {
    Key {
        uid: f.uid,
        name: f.name.clone(),
    }
}
