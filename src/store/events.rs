//! The audit trail (DESIGN invariant 6): who or what did which action on which subject, when and why.
//!
//! Rows are only ever inserted; both backends refuse UPDATE and DELETE on the table.

use anyhow::{Context, Result};
use sqlx::Row;

use super::{Store, Tx};

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent<'a> {
    /// When it happened, milliseconds since the Unix epoch (from the program's clock).
    pub at_ms: i64,
    /// Who or what acted: `cli`, `worker`, `rule:support.sieve:12`.
    pub actor: &'a str,
    /// What it acted on: `message:<id>`, `person:<address>`, `outbox:<id>`.
    pub subject: &'a str,
    /// What happened: `classified`, `moved`, `queued`, `role-changed`.
    pub action: &'a str,
    /// Why: the Sieve rule, the CLI command.
    pub reason: &'a str,
    /// Anything else worth keeping, short; never a message body or a secret.
    pub detail: &'a str,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub subject: String,
    pub action: String,
    pub reason: String,
    pub detail: String,
}

const INSERT: &str = "INSERT INTO events (at_ms, actor, subject, action, reason, detail) \
                      VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

impl Store {
    /// Records one event in its own transaction.
    pub async fn record_event(&self, event: &NewEvent<'_>) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = Self::record_event_in(&mut tx, event).await?;
        tx.commit().await.context("commit event")?;
        Ok(id)
    }

    /// Records one event inside a caller's transaction, so it commits with the change it describes.
    pub async fn record_event_in(tx: &mut Tx, event: &NewEvent<'_>) -> Result<i64> {
        sqlx::query_scalar(INSERT)
            .bind(event.at_ms)
            .bind(event.actor)
            .bind(event.subject)
            .bind(event.action)
            .bind(event.reason)
            .bind(event.detail)
            .fetch_one(&mut **tx)
            .await
            .with_context(|| format!("record event {} on {}", event.action, event.subject))
    }

    /// Records a batch of events inside the caller's transaction, a few hundred rows per statement.
    pub async fn record_events_in(tx: &mut Tx, events: &[NewEvent<'_>]) -> Result<()> {
        for chunk in events.chunks(500) {
            let values = super::value_rows(tx, chunk.len(), 6);
            let sql = format!(
                "INSERT INTO events (at_ms, actor, subject, action, reason, detail) VALUES {}",
                values
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.at_ms)
                    .bind(e.actor)
                    .bind(e.subject)
                    .bind(e.action)
                    .bind(e.reason)
                    .bind(e.detail);
            }
            query
                .execute(&mut **tx)
                .await
                .with_context(|| format!("record {} events", chunk.len()))?;
        }
        Ok(())
    }

    /// The events about `subject`, oldest first; all events when `subject` is `None`.
    pub async fn events(&self, subject: Option<&str>, limit: i64) -> Result<Vec<Event>> {
        let rows = match subject {
            Some(s) => sqlx::query(
                "SELECT id, at_ms, actor, subject, action, reason, detail FROM events \
                 WHERE subject = $1 ORDER BY id LIMIT $2",
            )
            .bind(s)
            .bind(limit),
            None => sqlx::query(
                "SELECT id, at_ms, actor, subject, action, reason, detail FROM events \
                 ORDER BY id LIMIT $1",
            )
            .bind(limit),
        }
        .fetch_all(self.pool())
        .await
        .context("read events")?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get("id")?,
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    subject: r.try_get("subject")?,
                    action: r.try_get("action")?,
                    reason: r.try_get("reason")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode events")
    }
}
