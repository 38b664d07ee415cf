//! The response-time side of support tickets: first replies, breaches, the cursors of the loop that
//! reads the sent folders and the outbox, and the rows the reports are made from. The rules (what
//! counts as a reply, what is a breach) belong to `records::sla` and `records::threads`.

use anyhow::{Context, Result};
use sqlx::Row;

use super::verdicts::placeholders;
use super::{Store, TicketRow, Tx};

/// One ticket's times, for the response-time reports: `first_reply_ms` is 0 while unanswered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTimeRow {
    pub ticket: String,
    pub bucket: String,
    pub opened_ms: i64,
    pub first_reply_ms: i64,
}

/// A mail triaged queued, as the response-time loop reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMailRow {
    pub id: i64,
    pub template: String,
    pub created_ms: i64,
    /// The stored bytes; empty when held or pruned.
    pub raw: Vec<u8>,
}

impl Store {
    /// When `ticket` was opened, read in `tx`.
    pub async fn ticket_opened_in(tx: &mut Tx, ticket: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT opened_ms FROM tickets WHERE ticket = $1")
            .bind(ticket)
            .fetch_optional(&mut **tx)
            .await
            .with_context(|| format!("read when ticket {ticket} was opened"))
    }

    /// Records reply `message_row` at `reply_ms` as `ticket`'s first, unless an earlier one is known.
    pub async fn note_first_reply_in(
        tx: &mut Tx,
        ticket: &str,
        reply_ms: i64,
        message_row: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tickets SET first_reply_ms = $2, first_reply_id = $3 \
             WHERE ticket = $1 AND (first_reply_ms = 0 OR first_reply_ms > $2)",
        )
        .bind(ticket)
        .bind(reply_ms)
        .bind(message_row)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("record the first reply of ticket {ticket}"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether a thread message with Message-ID `id` was already recorded from `origin`, read in `tx`.
    pub async fn thread_message_known_in(tx: &mut Tx, id: &str, origin: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM thread_messages WHERE message_id = $1 AND origin = $2",
        )
        .bind(id)
        .bind(origin)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("look for <{id}> among thread messages"))?;
        Ok(n > 0)
    }

    /// Where the cursor `name` stands: (position, validity); (0, 0) before the first look.
    pub async fn thread_cursor(&self, name: &str) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT position, validity FROM thread_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("read cursor {name}"))?;
        match row {
            Some(r) => Ok((r.try_get("position")?, r.try_get("validity")?)),
            None => Ok((0, 0)),
        }
    }

    /// Moves the cursor `name`, inside the transaction that recorded what it passed.
    pub async fn set_thread_cursor_in(
        tx: &mut Tx,
        name: &str,
        position: i64,
        validity: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO thread_cursors (name, position, validity) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
             validity = excluded.validity",
        )
        .bind(name)
        .bind(position)
        .bind(validity)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("move cursor {name}"))?;
        Ok(())
    }

    /// Outbox mails with an id above `after`, oldest first, at most `limit`.
    pub async fn queued_mails_after(&self, after: i64, limit: i64) -> Result<Vec<QueuedMailRow>> {
        let rows = sqlx::query(
            "SELECT id, template, created_at_ms, raw FROM outbox_mails WHERE id > $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("read queued mail")?;
        rows.iter()
            .map(|r| {
                Ok(QueuedMailRow {
                    id: r.try_get("id")?,
                    template: r.try_get("template")?,
                    created_ms: r.try_get("created_at_ms")?,
                    raw: r.try_get("raw")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode queued mail")
    }

    /// Tickets opened in one of `buckets` (not by the team) with no reply yet, oldest first.
    pub async fn unanswered_tickets(&self, buckets: &[String]) -> Result<Vec<TicketRow>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT ticket, mailbox, bucket, opened_ms, opened_by_team, first_reply_ms, \
             first_reply_id, breach_ms FROM tickets WHERE first_reply_ms = 0 \
             AND opened_by_team = 0 AND bucket IN ({}) ORDER BY opened_ms, ticket",
            placeholders(1, buckets.len())
        );
        let mut q = sqlx::query(&sql);
        for b in buckets {
            q = q.bind(b);
        }
        let rows = q
            .fetch_all(self.pool())
            .await
            .context("read unanswered tickets")?;
        rows.iter()
            .map(super::threads::decode_ticket)
            .collect::<Result<_, _>>()
            .context("decode tickets")
    }

    /// Records that `ticket` was found past its target with no reply (logged once).
    pub async fn mark_breach(&self, ticket: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE tickets SET breach_ms = $2 WHERE ticket = $1 AND breach_ms = 0")
            .bind(ticket)
            .bind(now_ms)
            .execute(self.pool())
            .await
            .with_context(|| format!("record the breach of ticket {ticket}"))?;
        Ok(())
    }

    /// The times of tickets opened in `[from_ms, until_ms)` in one of `buckets`, not by the team,
    /// oldest first: what response-time figures are made from.
    pub async fn ticket_times(
        &self,
        buckets: &[String],
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<TicketTimeRow>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT ticket, bucket, opened_ms, first_reply_ms FROM tickets \
             WHERE opened_ms >= $1 AND opened_ms < $2 AND opened_by_team = 0 AND bucket IN ({}) \
             ORDER BY opened_ms, ticket",
            placeholders(3, buckets.len())
        );
        let mut q = sqlx::query(&sql).bind(from_ms).bind(until_ms);
        for b in buckets {
            q = q.bind(b);
        }
        let rows = q
            .fetch_all(self.pool())
            .await
            .context("read ticket times")?;
        rows.iter()
            .map(|r| {
                Ok(TicketTimeRow {
                    ticket: r.try_get("ticket")?,
                    bucket: r.try_get("bucket")?,
                    opened_ms: r.try_get("opened_ms")?,
                    first_reply_ms: r.try_get("first_reply_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode ticket times")
    }

    /// The team's replies seen in `[from_ms, until_ms)` in threads of tickets in `buckets`, per sender:
    /// a member by their primary address, else the address it came from; automatic mail left out.
    pub async fn replies_per_sender(
        &self,
        buckets: &[String],
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(String, i64)>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT COALESCE(a.address, m.sender) AS who, COUNT(*) AS n FROM thread_messages m \
             JOIN tickets t ON t.ticket = m.ticket \
             LEFT JOIN team_addresses a ON a.person_id = m.member_id AND a.position = 0 \
             WHERE m.from_team = 1 AND m.automatic = 0 AND t.opened_by_team = 0 \
             AND m.seen_ms >= $1 AND m.seen_ms < $2 AND t.bucket IN ({}) \
             GROUP BY COALESCE(a.address, m.sender) ORDER BY who",
            placeholders(3, buckets.len())
        );
        let mut q = sqlx::query(&sql).bind(from_ms).bind(until_ms);
        for b in buckets {
            q = q.bind(b);
        }
        let rows = q
            .fetch_all(self.pool())
            .await
            .context("count the team's replies")?;
        rows.iter()
            .map(|r| Ok((r.try_get("who")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("decode reply counts")
    }
}
