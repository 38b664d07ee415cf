//! The retention practice's SQL: manual holds, purge runs, and the purge journal that lets a run killed
//! between expunging and recording be finished by the next one; the per-bucket purge counts the team
//! report reads; and what the holds ask of the store until threads and the disputes bridge keep their own
//! records (dispute Message-IDs, a ticket's mail).
//!
//! Owns every statement on `retention_holds`, `retention_runs` and `retention_purges`. Decides nothing:
//! which message is due or held is `records::retention`'s.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::verdicts::placeholders;
use super::{Store, Tx};

/// Journal states: written before the expunge, then purged (gone from the server) or kept (still there,
/// or recorded by another entry).
pub const PLANNED: &str = "planned";
pub const PURGED: &str = "purged";
pub const KEPT: &str = "kept";

/// What a manual hold names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HoldKind {
    /// One message, by its Message-ID (without angle brackets).
    MessageId,
    /// A support ticket `sYYYYMMDD.NNN`: every message of its thread.
    Ticket,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::MessageId => "message-id",
            HoldKind::Ticket => "ticket",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "message-id" => Ok(HoldKind::MessageId),
            "ticket" => Ok(HoldKind::Ticket),
            other => anyhow::bail!("unknown hold kind {other:?}"),
        }
    }
}

/// A manual hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub id: i64,
    pub kind: HoldKind,
    pub target: String,
    pub reason: String,
    pub actor: String,
    pub created_ms: i64,
}

/// A message about to be expunged, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPurge<'a> {
    /// The account's identity in the store (`mailbox::id`).
    pub mailbox: &'a str,
    pub folder: &'a str,
    pub uidvalidity: i64,
    /// IMAP UID; 0 on a Maildir.
    pub uid: i64,
    /// Maildir unique name; empty on IMAP.
    pub name: &'a str,
    pub message_id: &'a str,
    pub digest: &'a str,
    /// The message's INTERNALDATE (its arrival in the watched folder), ms since the epoch.
    pub internal_ms: i64,
    /// It carried `\Deleted` before the run touched it (another client's), so it is never unflagged.
    pub was_deleted: bool,
}

/// A journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRow {
    pub id: i64,
    pub run_id: i64,
    pub folder: String,
    pub uidvalidity: i64,
    pub uid: i64,
    pub name: String,
    pub message_id: String,
    pub digest: String,
    pub internal_ms: i64,
    pub was_deleted: bool,
}

fn decode_purge(row: &AnyRow) -> Result<PurgeRow, sqlx::Error> {
    Ok(PurgeRow {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        folder: row.try_get("folder")?,
        uidvalidity: row.try_get("uidvalidity")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        message_id: row.try_get("message_id")?,
        digest: row.try_get("digest")?,
        internal_ms: row.try_get("internal_ms")?,
        was_deleted: row.try_get::<i64, _>("was_deleted")? != 0,
    })
}

/// How a run ended, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd<'a> {
    /// Messages past their limit and not held.
    pub due: u64,
    pub held: u64,
    pub purged: u64,
    /// `done`, `too-many`, `cancelled`, `failed`.
    pub outcome: &'a str,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Places a manual hold, with its event, in one transaction; returns its id.
    pub async fn add_hold(
        &self,
        kind: HoldKind,
        target: &str,
        reason: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO retention_holds (kind, target, reason, actor, created_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(kind.as_str())
        .bind(target)
        .bind(reason)
        .bind(actor)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("place a hold on {} {target}", kind.as_str()))?;
        let subject = format!("{}:{target}", kind.as_str());
        Self::record_event_in(
            &mut tx,
            &super::NewEvent {
                at_ms: now_ms,
                actor,
                subject: &subject,
                action: "retention-hold",
                reason,
                detail: &format!("hold {id}"),
            },
        )
        .await?;
        tx.commit().await.context("commit hold")?;
        Ok(id)
    }

    /// Releases every active hold on `target`, each with its event; returns the ids released.
    pub async fn release_holds(
        &self,
        kind: HoldKind,
        target: &str,
        reason: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE retention_holds SET released_ms = $1, release_reason = $2 \
             WHERE kind = $3 AND target = $4 AND released_ms = 0 RETURNING id",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(kind.as_str())
        .bind(target)
        .fetch_all(&mut *tx)
        .await
        .with_context(|| format!("release the holds on {} {target}", kind.as_str()))?;
        let subject = format!("{}:{target}", kind.as_str());
        for id in &ids {
            Self::record_event_in(
                &mut tx,
                &super::NewEvent {
                    at_ms: now_ms,
                    actor,
                    subject: &subject,
                    action: "retention-release",
                    reason,
                    detail: &format!("hold {id}"),
                },
            )
            .await?;
        }
        tx.commit().await.context("commit release")?;
        Ok(ids)
    }

    /// Every hold not yet released, oldest first.
    pub async fn active_holds(&self) -> Result<Vec<HoldRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, target, reason, actor, created_ms FROM retention_holds \
             WHERE released_ms = 0 ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
        .context("read retention holds")?;
        rows.iter()
            .map(|r| {
                Ok(HoldRow {
                    id: r.try_get("id")?,
                    kind: HoldKind::parse(&r.try_get::<String, _>("kind")?)?,
                    target: r.try_get("target")?,
                    reason: r.try_get("reason")?,
                    actor: r.try_get("actor")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }

    /// Records the start of an applying run; returns its id.
    pub async fn start_retention_run(&self, actor: &str, forced: bool, now_ms: i64) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO retention_runs (actor, started_ms, forced) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(actor)
        .bind(now_ms)
        .bind(i64::from(forced))
        .fetch_one(self.pool())
        .await
        .context("record the start of a retention run")
    }

    /// Records how run `id` ended.
    pub async fn finish_retention_run(&self, id: i64, end: &RunEnd<'_>, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE retention_runs SET finished_ms = $1, due = $2, held = $3, purged = $4, \
             outcome = $5 WHERE id = $6",
        )
        .bind(now_ms)
        .bind(count(end.due))
        .bind(count(end.held))
        .bind(count(end.purged))
        .bind(end.outcome)
        .bind(id)
        .execute(self.pool())
        .await
        .with_context(|| format!("record the end of retention run {id}"))?;
        Ok(())
    }

    /// When the latest applying run that went through started (`done`, or stopped at `max_per_run`):
    /// the schedule counts from it. Runs that failed, were killed or shut down do not count, so the
    /// next one comes soon.
    pub async fn last_retention_run_ms(&self) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MAX(started_ms) FROM retention_runs WHERE outcome IN ('done', 'too-many')",
        )
        .fetch_one(self.pool())
        .await
        .context("read the last retention run")
    }

    /// Writes messages about to be expunged to the journal, in one transaction; returns their ids.
    pub async fn plan_purges(
        &self,
        run_id: i64,
        purges: &[NewPurge<'_>],
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(purges.len());
        for p in purges {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO retention_purges (run_id, mailbox, folder, uidvalidity, uid, name, \
                 message_id, digest, internal_ms, was_deleted, state, planned_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(run_id)
            .bind(p.mailbox)
            .bind(p.folder)
            .bind(p.uidvalidity)
            .bind(p.uid)
            .bind(p.name)
            .bind(p.message_id)
            .bind(p.digest)
            .bind(p.internal_ms)
            .bind(i64::from(p.was_deleted))
            .bind(PLANNED)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await
            .with_context(|| format!("journal the purge of uid {} in {:?}", p.uid, p.folder))?;
            ids.push(id);
        }
        tx.commit().await.context("commit the purge journal")?;
        Ok(ids)
    }

    /// Journal entries of `mailbox` still planned: a run stopped between expunging and recording.
    pub async fn planned_purges(&self, mailbox: &str) -> Result<Vec<PurgeRow>> {
        let rows = sqlx::query(
            "SELECT id, run_id, folder, uidvalidity, uid, name, message_id, digest, internal_ms, \
             was_deleted FROM retention_purges WHERE state = $1 AND mailbox = $2 ORDER BY folder, id",
        )
        .bind(PLANNED)
        .bind(mailbox)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the planned purges of {mailbox}"))?;
        rows.iter()
            .map(decode_purge)
            .collect::<Result<_, _>>()
            .context("decode purges")
    }

    /// Marks entry `id` purged inside the caller's transaction, unless the same message was already
    /// recorded purged (then it is kept); true when this entry records the purge, so that the caller
    /// writes the message's one audit event.
    pub async fn finish_purge_in(tx: &mut Tx, id: i64, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE retention_purges SET state = $1, done_ms = $2 WHERE id = $3 AND state = $4 \
             AND NOT EXISTS (SELECT 1 FROM retention_purges p WHERE p.state = $1 \
             AND p.mailbox = retention_purges.mailbox AND p.folder = retention_purges.folder \
             AND p.uidvalidity = retention_purges.uidvalidity AND p.uid = retention_purges.uid \
             AND p.name = retention_purges.name)",
        )
        .bind(PURGED)
        .bind(now_ms)
        .bind(id)
        .bind(PLANNED)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record purge {id}"))?
        .rows_affected();
        if done == 0 {
            Self::keep_purge_in(tx, id, now_ms).await?;
        }
        Ok(done == 1)
    }

    /// Marks entry `id` kept: the message is still there, and will be looked at afresh.
    pub async fn keep_purge_in(tx: &mut Tx, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE retention_purges SET state = $1, done_ms = $2 WHERE id = $3 AND state = $4",
        )
        .bind(KEPT)
        .bind(now_ms)
        .bind(id)
        .bind(PLANNED)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record purge {id} as kept"))?;
        Ok(())
    }

    /// Messages purged per folder (bucket) with `since_ms <= done < until_ms`: the team report's rows.
    pub async fn purged_per_bucket(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT folder, COUNT(*) AS n FROM retention_purges \
             WHERE state = $1 AND done_ms >= $2 AND done_ms < $3 GROUP BY folder ORDER BY folder",
        )
        .bind(PURGED)
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(self.pool())
        .await
        .context("count purges per bucket")?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((r.try_get("folder")?, u64::try_from(n).unwrap_or(0)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode purge counts")
    }

    /// Which of `uids` (IMAP, `uidvalidity`) or `names` (Maildir) of the watched `mailbox` have a verdict
    /// that was carried out: kept mail the retention rules may purge, never mail still waiting for one.
    pub async fn sorted_among(
        &self,
        mailbox: &str,
        uidvalidity: i64,
        uids: &[i64],
        names: &[String],
    ) -> Result<(BTreeSet<i64>, BTreeSet<String>)> {
        let mut found_uids = BTreeSet::new();
        for chunk in uids.chunks(500) {
            let sql = format!(
                "SELECT uid FROM verdicts WHERE mailbox = $1 AND uidvalidity = $2 AND state <> $3 \
                 AND uid IN ({})",
                placeholders(4, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, i64>(&sql)
                .bind(mailbox)
                .bind(uidvalidity)
                .bind(super::RECORDED);
            for uid in chunk {
                q = q.bind(*uid);
            }
            found_uids.extend(
                q.fetch_all(self.pool())
                    .await
                    .context("look up sorted uids")?,
            );
        }
        let mut found_names = BTreeSet::new();
        for chunk in names.chunks(500) {
            let sql = format!(
                "SELECT name FROM verdicts WHERE mailbox = $1 AND state <> $2 AND name IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql)
                .bind(mailbox)
                .bind(super::RECORDED);
            for name in chunk {
                q = q.bind(name);
            }
            found_names.extend(
                q.fetch_all(self.pool())
                    .await
                    .context("look up sorted names")?,
            );
        }
        Ok((found_uids, found_names))
    }

    /// Which of `ids` (Message-IDs without angle brackets) are disputes as the store knows them today:
    /// messages sorted into one of `buckets`, and the ABC filings triaged sent.
    pub async fn dispute_ids_among(
        &self,
        buckets: &[String],
        ids: &[String],
    ) -> Result<BTreeSet<String>> {
        let mut found = BTreeSet::new();
        for chunk in ids.chunks(400) {
            if !buckets.is_empty() {
                let sql = format!(
                    "SELECT message_id FROM verdicts WHERE message_id IN ({}) AND bucket IN ({})",
                    placeholders(1, chunk.len()),
                    placeholders(1 + chunk.len(), buckets.len())
                );
                let mut q = sqlx::query_scalar::<_, String>(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                for b in buckets {
                    q = q.bind(b);
                }
                found.extend(q.fetch_all(self.pool()).await.context("look up disputes")?);
            }
            let sql = format!(
                "SELECT message_id FROM outbox_mails WHERE template = 'abc-filing' \
                 AND message_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for id in chunk {
                q = q.bind(format!("<{id}>"));
            }
            let filings = q.fetch_all(self.pool()).await.context("look up filings")?;
            found.extend(
                filings
                    .iter()
                    .map(|id| id.trim_matches(['<', '>']).to_owned()),
            );
        }
        Ok(found)
    }

    /// The acknowledgements that handed out `ticket`: each one's Message-ID and stored bytes (empty once
    /// pruned), from which the ticket's thread is known until threads keep their own record.
    pub async fn ticket_mails(&self, ticket: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT m.message_id, m.raw FROM auto_replies a JOIN outbox_mails m ON m.id = a.mail_id \
             WHERE a.ticket = $1 ORDER BY m.id",
        )
        .bind(ticket)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the mail of ticket {ticket}"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("message_id")?, r.try_get("raw")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("decode ticket mail")
    }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
