//! The disputes bridge's rows: one per dispute with when it reached each stage, keyed by its ticket (mail
//! finds a dispute through the thread it joined), the Message-IDs of its messages (what retention holds),
//! and the escalations sent about it (one per stage, ever). Writes run inside a caller's
//! transaction, so a stage reached and its audit event (written by the caller) commit together. The rules
//! (what moves a dispute on, when to escalate) belong to `records::disputes`; this only stores and reads.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::verdicts::placeholders;
use super::{Store, Tx};

/// A dispute as stored; times in ms since the epoch, 0 for a stage not reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRow {
    pub id: i64,
    /// Its first message's Message-ID, without angle brackets.
    pub message_id: String,
    /// `bucket` or `filing`.
    pub origin: String,
    pub ticket: String,
    pub case_number: String,
    pub received_ms: i64,
    pub forwarded_ms: i64,
    /// `outbox` or `person`.
    pub forwarded_by: String,
    pub on_list_ms: i64,
    pub acknowledged_ms: i64,
    /// `arbitration` or `case-number`.
    pub acknowledged_by: String,
    /// The stages it was escalated in (`received`, `forwarded`, `on-list`).
    pub escalated: Vec<String>,
}

/// A dispute to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute<'a> {
    pub message_id: &'a str,
    pub origin: &'a str,
    pub ticket: &'a str,
    pub received_ms: i64,
}

/// A stage column a dispute reaches once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeMark {
    Forwarded,
    OnList,
    Acknowledged,
}

const COLUMNS: &str = "id, message_id, origin, ticket, case_number, received_ms, forwarded_ms, \
                       forwarded_by, on_list_ms, acknowledged_ms, acknowledged_by";

fn decode(row: &AnyRow) -> Result<DisputeRow, sqlx::Error> {
    Ok(DisputeRow {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        origin: row.try_get("origin")?,
        ticket: row.try_get("ticket")?,
        case_number: row.try_get("case_number")?,
        received_ms: row.try_get("received_ms")?,
        forwarded_ms: row.try_get("forwarded_ms")?,
        forwarded_by: row.try_get("forwarded_by")?,
        on_list_ms: row.try_get("on_list_ms")?,
        acknowledged_ms: row.try_get("acknowledged_ms")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        escalated: Vec::new(),
    })
}

impl Store {
    /// Records a dispute unless one with the same first Message-ID exists, and files that Message-ID
    /// under it; returns its id and whether it is new.
    pub async fn dispute_insert_in(tx: &mut Tx, d: &NewDispute<'_>) -> Result<(i64, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO disputes (message_id, origin, ticket, received_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(d.message_id)
        .bind(d.origin)
        .bind(d.ticket)
        .bind(d.received_ms)
        .execute(&mut **tx)
        .await
        .context("record a dispute")?
        .rows_affected()
            > 0;
        let id: i64 = sqlx::query_scalar("SELECT id FROM disputes WHERE message_id = $1")
            .bind(d.message_id)
            .fetch_one(&mut **tx)
            .await
            .context("read the dispute back")?;
        Self::dispute_add_messages_in(tx, id, &[d.message_id.to_owned()], d.received_ms).await?;
        Ok((id, inserted))
    }

    /// Files `ids` (Message-IDs without angle brackets) under dispute `id`; known ones are left alone.
    pub async fn dispute_add_messages_in(
        tx: &mut Tx,
        id: i64,
        ids: &[String],
        seen_ms: i64,
    ) -> Result<()> {
        for message_id in ids.iter().filter(|m| !m.is_empty()) {
            sqlx::query(
                "INSERT INTO dispute_messages (message_id, dispute_id, seen_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (message_id, dispute_id) DO NOTHING",
            )
            .bind(message_id)
            .bind(id)
            .bind(seen_ms)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("file a message under dispute {id}"))?;
        }
        Ok(())
    }

    /// The disputes keyed by one of `tickets`, and those whose first message is one of `firsts`
    /// (Message-IDs without angle brackets), by id, read in `tx` with one statement per list (and per
    /// `store::threads::CHUNK` values); without their escalations.
    pub async fn disputes_reached_in(
        tx: &mut Tx,
        tickets: &[String],
        firsts: &[String],
    ) -> Result<Vec<DisputeRow>> {
        let mut found: BTreeMap<i64, DisputeRow> = BTreeMap::new();
        for (column, values) in [("ticket", tickets), ("message_id", firsts)] {
            let sql = format!("SELECT {COLUMNS} FROM disputes WHERE {column} IN ({{}})");
            for row in super::rows_among(tx, &sql, values, "disputes").await? {
                let d = decode(&row).context("decode a dispute")?;
                found.insert(d.id, d);
            }
        }
        Ok(found.into_values().collect())
    }

    /// Marks dispute `id` as having reached `mark` at `at_ms` (by `by`) unless it already had; returns
    /// whether it changed.
    pub async fn dispute_mark_in(
        tx: &mut Tx,
        id: i64,
        mark: DisputeMark,
        at_ms: i64,
        by: &str,
    ) -> Result<bool> {
        let q = match mark {
            DisputeMark::Forwarded => sqlx::query(
                "UPDATE disputes SET forwarded_ms = $1, forwarded_by = $2 \
                 WHERE id = $3 AND forwarded_ms = 0",
            )
            .bind(at_ms)
            .bind(by),
            DisputeMark::OnList => {
                sqlx::query("UPDATE disputes SET on_list_ms = $1 WHERE id = $2 AND on_list_ms = 0")
                    .bind(at_ms)
            }
            DisputeMark::Acknowledged => sqlx::query(
                "UPDATE disputes SET acknowledged_ms = $1, acknowledged_by = $2 \
                 WHERE id = $3 AND acknowledged_ms = 0",
            )
            .bind(at_ms)
            .bind(by),
        };
        let changed = q
            .bind(id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("move dispute {id} on"))?
            .rows_affected();
        Ok(changed > 0)
    }

    /// Records the case number of dispute `id` unless it has one; returns whether it changed.
    pub async fn dispute_set_case_in(tx: &mut Tx, id: i64, case: &str) -> Result<bool> {
        let changed =
            sqlx::query("UPDATE disputes SET case_number = $1 WHERE id = $2 AND case_number = ''")
                .bind(case)
                .bind(id)
                .execute(&mut **tx)
                .await
                .with_context(|| format!("record the case number of dispute {id}"))?
                .rows_affected();
        Ok(changed > 0)
    }

    /// Records the support ticket of dispute `id` unless it has one.
    pub async fn dispute_set_ticket_in(tx: &mut Tx, id: i64, ticket: &str) -> Result<bool> {
        let changed = sqlx::query("UPDATE disputes SET ticket = $1 WHERE id = $2 AND ticket = ''")
            .bind(ticket)
            .bind(id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("record the ticket of dispute {id}"))?
            .rows_affected();
        Ok(changed > 0)
    }

    /// Records the escalation of dispute `id` in `stage` unless there was one; returns whether this is
    /// the first.
    pub async fn dispute_escalate_in(
        tx: &mut Tx,
        id: i64,
        stage: &str,
        at_ms: i64,
        outbox_id: i64,
    ) -> Result<bool> {
        let changed = sqlx::query(
            "INSERT INTO dispute_escalations (dispute_id, stage, at_ms, outbox_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (dispute_id, stage) DO NOTHING",
        )
        .bind(id)
        .bind(stage)
        .bind(at_ms)
        .bind(outbox_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record the escalation of dispute {id}"))?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Every dispute received before `until_ms` (all with `i64::MAX`), with its escalations, oldest
    /// first; `open_only` leaves out the acknowledged ones.
    pub async fn disputes(&self, until_ms: i64, open_only: bool) -> Result<Vec<DisputeRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM disputes WHERE received_ms < $1 {} ORDER BY received_ms, id",
            if open_only {
                "AND acknowledged_ms = 0"
            } else {
                ""
            }
        );
        let rows = sqlx::query(&sql)
            .bind(until_ms)
            .fetch_all(self.pool())
            .await
            .context("read disputes")?;
        let mut out: Vec<DisputeRow> = rows
            .iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode disputes")?;
        let escalations = sqlx::query(
            "SELECT dispute_id, stage FROM dispute_escalations ORDER BY dispute_id, at_ms",
        )
        .fetch_all(self.pool())
        .await
        .context("read dispute escalations")?;
        let mut by_dispute: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for row in &escalations {
            let id: i64 = row.try_get("dispute_id").context("decode an escalation")?;
            let stage: String = row.try_get("stage").context("decode an escalation")?;
            by_dispute.entry(id).or_default().push(stage);
        }
        for d in &mut out {
            d.escalated = by_dispute.remove(&d.id).unwrap_or_default();
        }
        Ok(out)
    }

    /// Of `ids` (Message-IDs without angle brackets): those filed under any dispute, and those filed
    /// under a dispute that is still open or carries a case number (the retention holds' question).
    pub async fn dispute_holds_among(
        &self,
        ids: &[String],
    ) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let (mut known, mut held) = (BTreeSet::new(), BTreeSet::new());
        for chunk in ids.chunks(400) {
            let sql = format!(
                "SELECT m.message_id, d.acknowledged_ms, d.case_number FROM dispute_messages m \
                 JOIN disputes d ON d.id = m.dispute_id WHERE m.message_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(self.pool()).await.context("look up disputes")? {
                let id: String = row.try_get("message_id").context("decode")?;
                let acknowledged: i64 = row.try_get("acknowledged_ms").context("decode")?;
                let case: String = row.try_get("case_number").context("decode")?;
                if acknowledged == 0 || !case.is_empty() {
                    held.insert(id.clone());
                }
                known.insert(id);
            }
        }
        Ok((known, held))
    }
}

#[cfg(test)]
#[path = "disputes_tests.rs"]
mod tests;
