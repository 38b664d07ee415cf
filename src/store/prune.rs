//! Pruning triaged's own records under `[retention] records`: a verdict row older than the limit whose
//! message has left the watched folder is cut down to a content-free key, and the bodies of outbox mail
//! no longer waiting to be sent are emptied. Audit events are never touched (they hold no content).
//!
//! The key a pruned verdict keeps is what the worker uses to know a message it has seen: the mailbox,
//! UIDVALIDITY, UID, Maildir name and the content digest, with the bucket and the day it was sorted for
//! the counts. The Message-ID, the plan and the error go. Decides nothing: the caller says which kept
//! messages are gone from the watched folder.

use anyhow::{Context, Result};
use sqlx::Row;

use super::verdicts::placeholders;
use super::{APPLIED, HELD, NewEvent, RELEASING, Store, Tx};

/// The state of a verdict cut down to its key.
pub const PRUNED: &str = "pruned";

/// The bucket of a verdict that kept its message in the watched folder (`actions::Plan::bucket`).
const KEPT_BUCKET: &str = "INBOX";

/// What pruning removes (or would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub verdicts: u64,
    pub outbox_bodies: u64,
}

/// A verdict that kept its message in the watched folder: whether it is still there decides whether the
/// row may be pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptVerdict {
    pub id: i64,
    pub uidvalidity: i64,
    pub uid: i64,
    pub name: String,
}

/// Verdicts of `$1` older than `$2`, carried out, that moved their message out of the watched folder,
/// and whose message is not waiting in quarantine.
const MOVED: &str = "mailbox = $1 AND created_ms < $2 AND state = $3 AND bucket <> $4 \
     AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.verdict_id = verdicts.id \
     AND q.state IN ($5, $6))";

/// Outbox mails older than `$1` with a body left and no recipient still queued or held.
const SETTLED: &str = "created_at_ms < $1 AND (length(raw) > 0 OR source <> '') \
     AND NOT EXISTS (SELECT 1 FROM outbox_recipients r WHERE r.mail_id = outbox_mails.id \
     AND r.state IN ('queued', 'held'))";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Verdicts of `mailbox` older than `cutoff_ms` that kept their message in the watched folder.
    pub async fn kept_verdicts_before(
        &self,
        mailbox: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<KeptVerdict>> {
        let rows = sqlx::query(
            "SELECT id, uidvalidity, uid, name FROM verdicts WHERE mailbox = $1 AND created_ms < $2 \
             AND state = $3 AND bucket = $4 ORDER BY id",
        )
        .bind(mailbox)
        .bind(cutoff_ms)
        .bind(APPLIED)
        .bind(KEPT_BUCKET)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the kept verdicts of {mailbox}"))?;
        rows.iter()
            .map(|r| {
                Ok(KeptVerdict {
                    id: r.try_get("id")?,
                    uidvalidity: r.try_get("uidvalidity")?,
                    uid: r.try_get("uid")?,
                    name: r.try_get("name")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode kept verdicts")
    }

    /// What [`Store::prune_records`] would remove, without removing it.
    pub async fn prunable_records(
        &self,
        mailbox: &str,
        cutoff_ms: i64,
        gone: &[i64],
    ) -> Result<Pruned> {
        let moved: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM verdicts WHERE {MOVED}"))
                .bind(mailbox)
                .bind(cutoff_ms)
                .bind(APPLIED)
                .bind(KEPT_BUCKET)
                .bind(HELD)
                .bind(RELEASING)
                .fetch_one(self.pool())
                .await
                .context("count prunable verdicts")?;
        let bodies: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM outbox_mails WHERE {SETTLED}"
        ))
        .bind(cutoff_ms)
        .fetch_one(self.pool())
        .await
        .context("count prunable outbox bodies")?;
        Ok(Pruned {
            verdicts: count(moved) + gone.len() as u64,
            outbox_bodies: count(bodies),
        })
    }

    /// Prunes, in one transaction with a `records-pruned` event: the verdicts of `mailbox` older than
    /// `cutoff_ms` that moved their message away, the kept ones in `gone` (no longer in the watched
    /// folder), and the bodies of settled outbox mail older than `cutoff_ms`.
    pub async fn prune_records(
        &self,
        mailbox: &str,
        cutoff_ms: i64,
        gone: &[i64],
        event: &NewEvent<'_>,
    ) -> Result<Pruned> {
        let mut tx = self.begin().await?;
        let blank = "SET message_id = '', plan = '', error = '', state = $7";
        let moved = sqlx::query(&format!("UPDATE verdicts {blank} WHERE {MOVED}"))
            .bind(mailbox)
            .bind(cutoff_ms)
            .bind(APPLIED)
            .bind(KEPT_BUCKET)
            .bind(HELD)
            .bind(RELEASING)
            .bind(PRUNED)
            .execute(&mut *tx)
            .await
            .context("prune verdicts")?
            .rows_affected();
        let kept = prune_gone_in(&mut tx, gone, cutoff_ms).await?;
        let bodies = sqlx::query(&format!(
            "UPDATE outbox_mails SET raw = $2, source = '' WHERE {SETTLED}"
        ))
        .bind(cutoff_ms)
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await
        .context("prune outbox bodies")?
        .rows_affected();
        let pruned = Pruned {
            verdicts: moved + kept,
            outbox_bodies: bodies,
        };
        let detail = format!(
            "{} verdict row(s), {} outbox bod(ies); {}",
            pruned.verdicts, pruned.outbox_bodies, event.detail
        );
        Self::record_event_in(
            &mut tx,
            &NewEvent {
                detail: &detail,
                ..event.clone()
            },
        )
        .await?;
        tx.commit().await.context("commit pruning")?;
        Ok(pruned)
    }
}

/// Prunes the kept verdicts in `ids` (their message is gone from the watched folder).
async fn prune_gone_in(tx: &mut Tx, ids: &[i64], cutoff_ms: i64) -> Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(500) {
        let sql = format!(
            "UPDATE verdicts SET message_id = '', plan = '', error = '', state = $1 \
             WHERE state = $2 AND created_ms < $3 AND id IN ({})",
            placeholders(4, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(PRUNED).bind(APPLIED).bind(cutoff_ms);
        for id in chunk {
            q = q.bind(*id);
        }
        n += q
            .execute(&mut **tx)
            .await
            .context("prune kept verdicts")?
            .rows_affected();
    }
    Ok(n)
}
