//! One verdict per message: what the rules decided and what the mailbox must do, recorded before the
//! mailbox is touched and marked applied afterwards (DESIGN invariants 1 and 2). A message is known by
//! `(mailbox, uidvalidity, uid)`, and also by its Message-ID and content digest so a UIDVALIDITY change
//! or a restart never classifies it twice.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, Tx};

/// Verdict states: recorded (the mailbox not yet changed) and applied (the mailbox matches the plan).
pub const RECORDED: &str = "recorded";
pub const APPLIED: &str = "applied";

/// A verdict to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVerdict<'a> {
    pub mailbox: &'a str,
    pub uidvalidity: i64,
    /// The message's UID; `None` lets the store assign the next one (Maildir).
    pub uid: Option<i64>,
    /// Maildir unique name; empty for IMAP.
    pub name: &'a str,
    pub message_id: &'a str,
    /// sha256 of the raw message, hex.
    pub digest: &'a str,
    /// Where the message goes, for counts: the target folder, `INBOX` when kept.
    pub bucket: &'a str,
    /// The mailbox operations, as JSON (see `actions::Plan`).
    pub plan: &'a str,
    /// The verdict's error, empty when the rules reached a decision.
    pub error: &'a str,
    pub created_ms: i64,
}

/// A recorded verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRow {
    pub id: i64,
    pub uidvalidity: i64,
    pub uid: i64,
    pub name: String,
    pub message_id: String,
    pub digest: String,
    pub bucket: String,
    pub plan: String,
    pub state: String,
    pub error: String,
    /// Failed attempts to apply the plan.
    pub attempts: i64,
    pub next_retry_ms: i64,
}

const COLUMNS: &str = "id, uidvalidity, uid, name, message_id, digest, bucket, plan, state, error, \
                       attempts, next_retry_ms";

fn decode(row: &AnyRow) -> Result<VerdictRow, sqlx::Error> {
    Ok(VerdictRow {
        id: row.try_get("id")?,
        uidvalidity: row.try_get("uidvalidity")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        message_id: row.try_get("message_id")?,
        digest: row.try_get("digest")?,
        bucket: row.try_get("bucket")?,
        plan: row.try_get("plan")?,
        state: row.try_get("state")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        next_retry_ms: row.try_get("next_retry_ms")?,
    })
}

/// `$first, $first+1, ...` for an IN list of `n` values.
/// Verdict rows per INSERT: 11 parameters each, well under every backend's limit.
const VERDICT_ROWS: usize = 500;

pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Records a verdict inside the caller's transaction; returns its id and UID.
    pub async fn record_verdict_in(tx: &mut Tx, v: &NewVerdict<'_>) -> Result<(i64, i64)> {
        let recorded = Store::record_verdicts_in(tx, std::slice::from_ref(v)).await?;
        recorded.into_iter().next().context("no verdict recorded")
    }

    /// Records a batch of verdicts (all of one mailbox and UIDVALIDITY) inside the caller's
    /// transaction, a few hundred rows per statement; returns each one's id and UID, in order. Verdicts
    /// without a UID (Maildir) get the next ones after the highest recorded.
    pub async fn record_verdicts_in(
        tx: &mut Tx,
        batch: &[NewVerdict<'_>],
    ) -> Result<Vec<(i64, i64)>> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let mut next: Option<i64> = None;
        let mut uids = Vec::with_capacity(batch.len());
        for v in batch {
            let uid = match v.uid {
                Some(uid) => uid,
                None => {
                    let n = match next {
                        Some(n) => n,
                        None => {
                            let max: Option<i64> = sqlx::query_scalar(
                                "SELECT MAX(uid) FROM verdicts WHERE mailbox = $1 AND uidvalidity = $2",
                            )
                            .bind(first.mailbox)
                            .bind(first.uidvalidity)
                            .fetch_one(&mut **tx)
                            .await
                            .context("assign uids")?;
                            max.unwrap_or(0) + 1
                        }
                    };
                    next = Some(n + 1);
                    n
                }
            };
            uids.push(uid);
        }
        let mut ids: BTreeMap<i64, i64> = BTreeMap::new();
        let rows: Vec<(usize, &NewVerdict<'_>)> = batch.iter().enumerate().collect();
        for chunk in rows.chunks(VERDICT_ROWS) {
            let values = super::value_rows(tx, chunk.len(), 11);
            let sql = format!(
                "INSERT INTO verdicts (mailbox, uidvalidity, uid, name, message_id, digest, bucket, \
                 plan, state, error, created_ms) VALUES {} RETURNING id, uid",
                values
            );
            let mut query = sqlx::query(&sql);
            for &(i, v) in chunk {
                query = query
                    .bind(v.mailbox)
                    .bind(v.uidvalidity)
                    .bind(uids[i])
                    .bind(v.name)
                    .bind(v.message_id)
                    .bind(v.digest)
                    .bind(v.bucket)
                    .bind(v.plan)
                    .bind(RECORDED)
                    .bind(v.error)
                    .bind(v.created_ms);
            }
            for row in query
                .fetch_all(&mut **tx)
                .await
                .with_context(|| format!("record {} verdicts of {}", chunk.len(), first.mailbox))?
            {
                ids.insert(row.try_get("uid")?, row.try_get("id")?);
            }
        }
        uids.iter()
            .map(|uid| {
                ids.get(uid)
                    .map(|id| (*id, *uid))
                    .with_context(|| format!("no id came back for uid {uid}"))
            })
            .collect()
    }

    /// Which of `values` already appear in `column` (digest, name or message_id) for `mailbox`.
    async fn known(
        &self,
        column: &str,
        mailbox: &str,
        values: &[String],
    ) -> Result<BTreeSet<String>> {
        let mut found = BTreeSet::new();
        for chunk in values.chunks(500) {
            let sql = format!(
                "SELECT {column} FROM verdicts WHERE mailbox = $1 AND {column} IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(mailbox);
            for v in chunk {
                query = query.bind(v);
            }
            let rows = query
                .fetch_all(self.pool())
                .await
                .with_context(|| format!("look up known {column}s of {mailbox}"))?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// The digests among `digests` that already have a verdict in `mailbox`.
    pub async fn known_digests(
        &self,
        mailbox: &str,
        digests: &[String],
    ) -> Result<BTreeSet<String>> {
        self.known("digest", mailbox, digests).await
    }

    /// The Maildir names among `names` that already have a verdict in `mailbox`.
    pub async fn known_names(&self, mailbox: &str, names: &[String]) -> Result<BTreeSet<String>> {
        self.known("name", mailbox, names).await
    }

    /// The Message-IDs among `ids` that belong to messages already seen in `mailbox` (threading).
    pub async fn known_message_ids(
        &self,
        mailbox: &str,
        ids: &[String],
    ) -> Result<BTreeSet<String>> {
        self.known("message_id", mailbox, ids).await
    }

    /// Marks verdicts applied: the mailbox now matches their plans.
    pub async fn mark_applied(&self, ids: &[i64], now_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        Store::mark_applied_in(&mut tx, ids, now_ms).await?;
        tx.commit().await.context("commit verdicts applied")
    }

    /// [`Store::mark_applied`] inside `tx` (the worker's, which checks its lease there first).
    pub async fn mark_applied_in(tx: &mut Tx, ids: &[i64], now_ms: i64) -> Result<()> {
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE verdicts SET state = $1, applied_ms = $2 WHERE id IN ({})",
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(APPLIED).bind(now_ms);
            for id in chunk {
                query = query.bind(*id);
            }
            query
                .execute(&mut **tx)
                .await
                .context("mark verdicts applied")?;
        }
        Ok(())
    }

    /// Counts a failed attempt to apply verdict `id` and schedules the next; returns the attempts so far.
    pub async fn record_apply_failure(
        &self,
        id: i64,
        error: &str,
        next_retry_ms: i64,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "UPDATE verdicts SET attempts = attempts + 1, error = $1, next_retry_ms = $2 \
             WHERE id = $3 RETURNING attempts",
        )
        .bind(error)
        .bind(next_retry_ms)
        .bind(id)
        .fetch_one(self.pool())
        .await
        .with_context(|| format!("record apply failure of verdict {id}"))
    }

    /// Replaces a verdict's plan (a plan that could not be applied is sent to quarantine instead).
    pub async fn replace_plan(&self, id: i64, bucket: &str, plan: &str) -> Result<()> {
        sqlx::query("UPDATE verdicts SET bucket = $1, plan = $2, next_retry_ms = 0 WHERE id = $3")
            .bind(bucket)
            .bind(plan)
            .bind(id)
            .execute(self.pool())
            .await
            .with_context(|| format!("replace plan of verdict {id}"))?;
        Ok(())
    }

    /// Verdicts of `mailbox` recorded but not yet applied whose retry time has come, oldest first.
    pub async fn unapplied(&self, mailbox: &str, now_ms: i64) -> Result<Vec<VerdictRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verdicts WHERE mailbox = $1 AND state = $2 AND next_retry_ms <= $3 \
             ORDER BY id"
        ))
        .bind(mailbox)
        .bind(RECORDED)
        .bind(now_ms)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read unapplied verdicts of {mailbox}"))?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode verdicts")
    }

    /// Every verdict of `mailbox`, oldest first.
    pub async fn verdicts(&self, mailbox: &str) -> Result<Vec<VerdictRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verdicts WHERE mailbox = $1 ORDER BY id"
        ))
        .bind(mailbox)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read verdicts of {mailbox}"))?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode verdicts")
    }

    /// Messages per bucket recorded since `since_ms` in `mailbox`.
    pub async fn bucket_counts(
        &self,
        mailbox: &str,
        since_ms: i64,
    ) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT bucket, COUNT(*) AS n FROM verdicts WHERE mailbox = $1 AND created_ms >= $2 \
             GROUP BY bucket",
        )
        .bind(mailbox)
        .bind(since_ms)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("count buckets of {mailbox}"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("bucket")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("decode bucket counts")
    }

    /// Verdicts of `mailbox` not yet applied, and those with an error.
    pub async fn verdict_backlog(&self, mailbox: &str) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(CASE WHEN state = $2 THEN 1 END) AS unapplied, \
             COUNT(CASE WHEN error <> '' THEN 1 END) AS errors \
             FROM verdicts WHERE mailbox = $1",
        )
        .bind(mailbox)
        .bind(RECORDED)
        .fetch_one(self.pool())
        .await
        .with_context(|| format!("count unapplied verdicts of {mailbox}"))?;
        Ok((row.try_get("unapplied")?, row.try_get("errors")?))
    }
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
