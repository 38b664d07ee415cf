//! Messages held in the quarantine folder after an error verdict: why, under which rules, how many times
//! they were re-classified and when they may be tried again. The worker decides when; this only stores.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, Tx};

/// In the quarantine folder, waiting for rules that may decide it.
pub const HELD: &str = "held";
/// A new verdict is committed; the message is not yet moved out of quarantine.
pub const RELEASING: &str = "releasing";
pub const RELEASED: &str = "released";
/// Re-classified the maximum number of times; stays in quarantine for a person to look at.
pub const GIVEN_UP: &str = "given-up";
/// No longer in the quarantine folder (someone moved or deleted it).
pub const GONE: &str = "gone";

/// A quarantined message with its verdict's plan and Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub verdict_id: i64,
    pub digest: String,
    pub message_id: String,
    /// The error token of the last classification (`script-error`, `too-large`, ...).
    pub reason: String,
    /// Fingerprint of the rules that produced that error.
    pub rules: String,
    /// Re-classifications so far.
    pub attempts: i64,
    pub not_before_ms: i64,
    pub state: String,
    /// The verdict's current plan (the release plan once `releasing`).
    pub plan: String,
}

fn decode(row: &AnyRow) -> Result<QuarantineRow, sqlx::Error> {
    Ok(QuarantineRow {
        verdict_id: row.try_get("verdict_id")?,
        digest: row.try_get("digest")?,
        message_id: row.try_get("message_id")?,
        reason: row.try_get("reason")?,
        rules: row.try_get("rules")?,
        attempts: row.try_get("attempts")?,
        not_before_ms: row.try_get("not_before_ms")?,
        state: row.try_get("state")?,
        plan: row.try_get("plan")?,
    })
}

impl Store {
    /// Records that the message of verdict `verdict_id` goes to quarantine, in the verdict's transaction.
    pub async fn quarantine_in(
        tx: &mut Tx,
        verdict_id: i64,
        mailbox: &str,
        digest: &str,
        reason: &str,
        rules: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO quarantine (verdict_id, mailbox, digest, reason, rules, attempts, \
             not_before_ms, state, updated_ms) VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7)",
        )
        .bind(verdict_id)
        .bind(mailbox)
        .bind(digest)
        .bind(reason)
        .bind(rules)
        .bind(HELD)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record quarantine of verdict {verdict_id}"))?;
        Ok(())
    }

    /// What the worker must do now in `mailbox`'s quarantine: releases to finish, and held messages
    /// failed by other rules than `rules`, due by `now_ms`, with fewer than `max_attempts` attempts.
    pub async fn quarantine_due(
        &self,
        mailbox: &str,
        rules: &str,
        now_ms: i64,
        max_attempts: i64,
    ) -> Result<Vec<QuarantineRow>> {
        let rows = sqlx::query(
            "SELECT q.verdict_id, q.digest, v.message_id, q.reason, q.rules, q.attempts, \
             q.not_before_ms, q.state, v.plan FROM quarantine q JOIN verdicts v ON v.id = q.verdict_id \
             WHERE q.mailbox = $1 AND (q.state = $2 OR (q.state = $3 AND q.rules <> $4 \
             AND q.not_before_ms <= $5 AND q.attempts < $6)) ORDER BY q.verdict_id",
        )
        .bind(mailbox)
        .bind(RELEASING)
        .bind(HELD)
        .bind(rules)
        .bind(now_ms)
        .bind(max_attempts)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the quarantine of {mailbox}"))?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode quarantine rows")
    }

    /// Every quarantine row of `mailbox`, oldest first.
    pub async fn quarantined(&self, mailbox: &str) -> Result<Vec<QuarantineRow>> {
        let rows = sqlx::query(
            "SELECT q.verdict_id, q.digest, v.message_id, q.reason, q.rules, q.attempts, \
             q.not_before_ms, q.state, v.plan FROM quarantine q JOIN verdicts v ON v.id = q.verdict_id \
             WHERE q.mailbox = $1 ORDER BY q.verdict_id",
        )
        .bind(mailbox)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the quarantine of {mailbox}"))?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode quarantine rows")
    }

    /// A re-classification that failed again: the new error, under which rules, and when to try next.
    pub async fn quarantine_failed(
        &self,
        verdict_id: i64,
        failure: &QuarantineFailure<'_>,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE quarantine SET reason = $1, rules = $2, attempts = $3, not_before_ms = $4, \
             state = $5, updated_ms = $6 WHERE verdict_id = $7",
        )
        .bind(failure.reason)
        .bind(failure.rules)
        .bind(failure.attempts)
        .bind(failure.not_before_ms)
        .bind(failure.state)
        .bind(now_ms)
        .bind(verdict_id)
        .execute(self.pool())
        .await
        .with_context(|| format!("record re-classification of verdict {verdict_id}"))?;
        sqlx::query("UPDATE verdicts SET error = $1 WHERE id = $2")
            .bind(failure.error)
            .bind(verdict_id)
            .execute(self.pool())
            .await
            .with_context(|| format!("record the error of verdict {verdict_id}"))?;
        Ok(())
    }

    /// The message got a verdict at last: its plan and bucket replace the quarantine plan and the row
    /// becomes `releasing`, in the caller's transaction (with the mail the new verdict causes).
    pub async fn quarantine_release_in(
        tx: &mut Tx,
        verdict_id: i64,
        bucket: &str,
        plan: &str,
        attempts: i64,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE verdicts SET bucket = $1, plan = $2, error = '' WHERE id = $3")
            .bind(bucket)
            .bind(plan)
            .bind(verdict_id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("replace the verdict {verdict_id}"))?;
        sqlx::query(
            "UPDATE quarantine SET state = $1, attempts = $2, updated_ms = $3 WHERE verdict_id = $4",
        )
        .bind(RELEASING)
        .bind(attempts)
        .bind(now_ms)
        .bind(verdict_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("release verdict {verdict_id} from quarantine"))?;
        Ok(())
    }

    /// Sets a quarantine row's state (`released`, `gone`).
    pub async fn quarantine_state(&self, verdict_id: i64, state: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE quarantine SET state = $1, updated_ms = $2 WHERE verdict_id = $3")
            .bind(state)
            .bind(now_ms)
            .bind(verdict_id)
            .execute(self.pool())
            .await
            .with_context(|| format!("set quarantine state of verdict {verdict_id}"))?;
        Ok(())
    }

    /// Quarantine rows of `mailbox` per state, for `status`.
    pub async fn quarantine_counts(&self, mailbox: &str) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM quarantine WHERE mailbox = $1 GROUP BY state",
        )
        .bind(mailbox)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("count the quarantine of {mailbox}"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("decode quarantine counts")
    }
}

/// What a failed re-classification leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineFailure<'a> {
    pub reason: &'a str,
    /// The verdict's error text (`reason: detail`).
    pub error: &'a str,
    pub rules: &'a str,
    pub attempts: i64,
    pub not_before_ms: i64,
    /// `held`, or `given-up` once the attempts are spent.
    pub state: &'a str,
}

#[cfg(test)]
#[path = "quarantine_tests.rs"]
mod tests;
