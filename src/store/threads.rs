//! Support tickets and their threads: `tickets`, `thread_messages` and `thread_keys` (the Message-IDs
//! and case numbers later mail is matched on). The rules (what opens a ticket, what joins one, what
//! counts as a reply) belong to `records::threads`; this only stores and reads. Writes during the
//! worker's pass run inside the verdict's transaction (`*_in`). A fetch batch is read (the roster, the
//! keys and tickets it names, the ticket counter) and written (tickets, messages, keys) with one
//! statement each, a list of values per statement, up to [`CHUNK`] values a statement.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::verdicts::placeholders;
use super::{Store, Tx};

/// Where a thread's message was found.
pub const RECEIVED: &str = "received";
pub const SENT_FOLDER: &str = "sent-folder";
pub const OUTBOX: &str = "outbox";

/// What a key in `thread_keys` is.
pub const KEY_MESSAGE_ID: &str = "message-id";
pub const KEY_CASE: &str = "case";

/// Bound values per statement of the batch reads and writes: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535), and large enough for a fetch batch's keys in one statement.
pub const CHUNK: usize = 16_000;

/// A key of `thread_keys` as stored: `id` orders which ticket took it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadKeyRow {
    pub id: i64,
    /// [`KEY_MESSAGE_ID`] or [`KEY_CASE`].
    pub kind: String,
    pub key: String,
    pub ticket: String,
}

/// A key to add: `(kind, ticket, key)`.
pub type NewThreadKey<'a> = (&'a str, &'a str, &'a str);

/// A ticket as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket<'a> {
    pub ticket: &'a str,
    pub mailbox: &'a str,
    pub bucket: &'a str,
    pub opened_ms: i64,
    pub opened_by_team: bool,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    pub ticket: String,
    pub mailbox: String,
    pub bucket: String,
    pub opened_ms: i64,
    pub opened_by_team: bool,
    /// When the first reply that counts was seen; 0 while none.
    pub first_reply_ms: i64,
    /// The `thread_messages` row of that reply; 0 while none.
    pub first_reply_id: i64,
    /// When the ticket was logged past its target with no reply; 0 while not.
    pub breach_ms: i64,
}

/// One message of a thread, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewThreadMessage<'a> {
    pub ticket: &'a str,
    /// Without angle brackets; empty when it has none.
    pub message_id: &'a str,
    pub folder: &'a str,
    /// [`RECEIVED`], [`SENT_FOLDER`] or [`OUTBOX`].
    pub origin: &'a str,
    pub seen_ms: i64,
    /// Its Date header; 0 when it has none.
    pub date_ms: i64,
    /// The From address, lowercased.
    pub sender: &'a str,
    pub from_team: bool,
    /// The roster member who sent it (`team_people.id`); 0 when none.
    pub member_id: i64,
    pub automatic: bool,
    /// The verdict of a received message; 0 otherwise.
    pub verdict_id: i64,
}

/// A thread message as stored, with the member's primary address when a member sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMessageRow {
    pub id: i64,
    pub ticket: String,
    pub message_id: String,
    pub folder: String,
    pub origin: String,
    pub seen_ms: i64,
    pub date_ms: i64,
    pub sender: String,
    pub from_team: bool,
    pub member_id: i64,
    pub automatic: bool,
    pub verdict_id: i64,
}

pub(super) fn decode_ticket(row: &AnyRow) -> Result<TicketRow, sqlx::Error> {
    Ok(TicketRow {
        ticket: row.try_get("ticket")?,
        mailbox: row.try_get("mailbox")?,
        bucket: row.try_get("bucket")?,
        opened_ms: row.try_get("opened_ms")?,
        opened_by_team: row.try_get::<i64, _>("opened_by_team")? != 0,
        first_reply_ms: row.try_get("first_reply_ms")?,
        first_reply_id: row.try_get("first_reply_id")?,
        breach_ms: row.try_get("breach_ms")?,
    })
}

fn decode_message(row: &AnyRow) -> Result<ThreadMessageRow, sqlx::Error> {
    Ok(ThreadMessageRow {
        id: row.try_get("id")?,
        ticket: row.try_get("ticket")?,
        message_id: row.try_get("message_id")?,
        folder: row.try_get("folder")?,
        origin: row.try_get("origin")?,
        seen_ms: row.try_get("seen_ms")?,
        date_ms: row.try_get("date_ms")?,
        sender: row.try_get("sender")?,
        from_team: row.try_get::<i64, _>("from_team")? != 0,
        member_id: row.try_get("member_id")?,
        automatic: row.try_get::<i64, _>("automatic")? != 0,
        verdict_id: row.try_get("verdict_id")?,
    })
}

const TICKET_COLUMNS: &str =
    "ticket, mailbox, bucket, opened_ms, opened_by_team, first_reply_ms, first_reply_id, breach_ms";
const MESSAGE_COLUMNS: &str = "id, ticket, message_id, folder, origin, seen_ms, date_ms, sender, \
     from_team, member_id, automatic, verdict_id";

impl Store {
    /// Opens a ticket inside the caller's transaction.
    pub async fn open_ticket_in(tx: &mut Tx, t: &NewTicket<'_>) -> Result<()> {
        Store::open_tickets_in(tx, std::slice::from_ref(t)).await
    }

    /// Records one message of a thread; returns its row id.
    pub async fn add_thread_message_in(tx: &mut Tx, m: &NewThreadMessage<'_>) -> Result<i64> {
        let ids = Store::add_thread_messages_in(tx, std::slice::from_ref(m)).await?;
        ids.into_iter()
            .next()
            .with_context(|| format!("record a message of ticket {}", m.ticket))
    }

    /// Adds keys (`kind` [`KEY_MESSAGE_ID`] or [`KEY_CASE`]) later mail joins `ticket` by; a key the
    /// ticket already has is left as it is.
    pub async fn add_thread_keys_in(
        tx: &mut Tx,
        ticket: &str,
        kind: &str,
        keys: &BTreeSet<String>,
    ) -> Result<()> {
        let keys: Vec<&String> = keys.iter().filter(|k| !k.is_empty()).collect();
        // One statement per chunk: the worker adds a thread's keys for every message it records.
        for chunk in keys.chunks(200) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, $2, ${})", i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO thread_keys (kind, ticket, key) VALUES {} \
                 ON CONFLICT (kind, key, ticket) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(kind).bind(ticket);
            for key in chunk {
                q = q.bind(key.as_str());
            }
            q.execute(&mut **tx)
                .await
                .with_context(|| format!("record the {kind} keys of ticket {ticket}"))?;
        }
        Ok(())
    }

    /// The ticket that first took one of `keys` of `kind`, read in `tx`.
    pub async fn ticket_by_keys_in(
        tx: &mut Tx,
        kind: &str,
        keys: &[String],
    ) -> Result<Option<String>> {
        let mut best: Option<(i64, String)> = None;
        for chunk in keys.chunks(400) {
            let sql = format!(
                "SELECT id, ticket FROM thread_keys WHERE kind = $1 AND key IN ({}) \
                 ORDER BY id LIMIT 1",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(kind);
            for key in chunk {
                q = q.bind(key);
            }
            if let Some(row) = q
                .fetch_optional(&mut **tx)
                .await
                .with_context(|| format!("look up a thread by {kind}"))?
            {
                let found: (i64, String) = (row.try_get("id")?, row.try_get("ticket")?);
                if best.as_ref().is_none_or(|b| found.0 < b.0) {
                    best = Some(found);
                }
            }
        }
        Ok(best.map(|(_, t)| t))
    }

    /// Opens `tickets` in one statement per [`CHUNK`], in their order, inside the caller's transaction.
    pub async fn open_tickets_in(tx: &mut Tx, tickets: &[NewTicket<'_>]) -> Result<()> {
        for chunk in tickets.chunks(CHUNK / 5) {
            let values = super::value_rows(tx, chunk.len(), 5);
            let sql = format!(
                "INSERT INTO tickets (ticket, mailbox, bucket, opened_ms, opened_by_team) VALUES {}",
                values
            );
            let mut q = sqlx::query(&sql);
            for t in chunk {
                q = q
                    .bind(t.ticket)
                    .bind(t.mailbox)
                    .bind(t.bucket)
                    .bind(t.opened_ms)
                    .bind(i64::from(t.opened_by_team));
            }
            q.execute(&mut **tx)
                .await
                .with_context(|| format!("open {} ticket(s)", chunk.len()))?;
        }
        Ok(())
    }

    /// Records `messages` in one statement per [`CHUNK`], in their order; returns their row ids, in the
    /// same order.
    pub async fn add_thread_messages_in(
        tx: &mut Tx,
        messages: &[NewThreadMessage<'_>],
    ) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(CHUNK / 11) {
            let values = super::value_rows(tx, chunk.len(), 11);
            let sql = format!(
                "INSERT INTO thread_messages (ticket, message_id, folder, origin, seen_ms, date_ms, \
                 sender, from_team, member_id, automatic, verdict_id) VALUES {} RETURNING id",
                values
            );
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for m in chunk {
                q = q
                    .bind(m.ticket)
                    .bind(m.message_id)
                    .bind(m.folder)
                    .bind(m.origin)
                    .bind(m.seen_ms)
                    .bind(m.date_ms)
                    .bind(m.sender)
                    .bind(i64::from(m.from_team))
                    .bind(m.member_id)
                    .bind(i64::from(m.automatic))
                    .bind(m.verdict_id);
            }
            let mut ids = q
                .fetch_all(&mut **tx)
                .await
                .with_context(|| format!("record {} thread message(s)", chunk.len()))?;
            // Neither backend promises RETURNING's order, but both number the rows of one INSERT in
            // the order of its VALUES (SQLite's AUTOINCREMENT, PostgreSQL's sequence), so the ids
            // sorted are the rows in order.
            ids.sort_unstable();
            if ids.len() != chunk.len() {
                anyhow::bail!(
                    "recorded {} thread message(s), {} ids returned",
                    chunk.len(),
                    ids.len()
                );
            }
            out.extend(ids);
        }
        Ok(out)
    }

    /// Adds `keys` in one statement per [`CHUNK`], in their order (so the first to take a key keeps the
    /// lowest id); a key a ticket already has is left as it is.
    pub async fn add_thread_key_rows_in(tx: &mut Tx, keys: &[NewThreadKey<'_>]) -> Result<()> {
        for chunk in keys.chunks(CHUNK / 3) {
            let values = super::value_rows(tx, chunk.len(), 3);
            let sql = format!(
                "INSERT INTO thread_keys (kind, ticket, key) VALUES {} \
                 ON CONFLICT (kind, key, ticket) DO NOTHING",
                values
            );
            let mut q = sqlx::query(&sql);
            for (kind, ticket, key) in chunk {
                q = q.bind(*kind).bind(*ticket).bind(*key);
            }
            q.execute(&mut **tx)
                .await
                .with_context(|| format!("record {} thread key(s)", chunk.len()))?;
        }
        Ok(())
    }

    /// Every stored key among `keys` (of either kind, each ticket that took it), read in `tx` in one
    /// statement per [`CHUNK`].
    pub async fn thread_keys_among_in(tx: &mut Tx, keys: &[String]) -> Result<Vec<ThreadKeyRow>> {
        let rows = super::rows_among(
            tx,
            "SELECT id, kind, key, ticket FROM thread_keys WHERE key IN ({})",
            keys,
            "a batch's thread keys",
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ThreadKeyRow {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    key: row.try_get("key")?,
                    ticket: row.try_get("ticket")?,
                })
            })
            .collect()
    }

    /// Which of `tickets` (ticket numbers) exist, with when each was opened, read in `tx`.
    pub async fn tickets_opened_among_in(
        tx: &mut Tx,
        tickets: &[String],
    ) -> Result<BTreeMap<String, i64>> {
        let rows = super::rows_among(
            tx,
            "SELECT ticket, opened_ms FROM tickets WHERE ticket IN ({})",
            tickets,
            "a batch's ticket numbers",
        )
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("ticket")?, row.try_get("opened_ms")?)))
            .collect()
    }

    /// The day's ticket counter (`YYYYMMDD`), held for the rest of `tx` so that no other transaction
    /// takes numbers before [`Store::take_ticket_numbers_in`]: the last number handed out, 0 for none.
    pub async fn hold_ticket_counter_in(tx: &mut Tx, day: &str) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, last) VALUES ($1, 0) \
             ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last RETURNING last",
        )
        .bind(day)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("hold the ticket counter of {day}"))
    }

    /// Takes the next `n` ticket numbers of `day` at once; returns the first of them.
    pub async fn take_ticket_numbers_in(tx: &mut Tx, day: &str, n: i64) -> Result<i64> {
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, last) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + $2 RETURNING last",
        )
        .bind(day)
        .bind(n)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("allocate {n} ticket number(s) for {day}"))?;
        Ok(last - n + 1)
    }

    /// The first of `tickets` (ticket numbers) that exists, read in `tx`.
    pub async fn existing_ticket_in(tx: &mut Tx, tickets: &[String]) -> Result<Option<String>> {
        if tickets.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT ticket FROM tickets WHERE ticket IN ({}) ORDER BY opened_ms, ticket LIMIT 1",
            placeholders(1, tickets.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for t in tickets {
            q = q.bind(t);
        }
        q.fetch_optional(&mut **tx)
            .await
            .context("look up ticket numbers")
    }

    /// The active roster member an address (any case) belongs to, read in `tx`.
    pub async fn active_member_in(tx: &mut Tx, address: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT p.id FROM team_addresses a JOIN team_people p ON p.id = a.person_id \
             WHERE a.address = $1 AND p.state = 'active'",
        )
        .bind(address.to_lowercase())
        .fetch_optional(&mut **tx)
        .await
        .with_context(|| format!("look up the member of {address}"))
    }

    /// Every active roster member's addresses (lowercased, as stored) and their ids, read in `tx`: the
    /// worker's batch reads the roster once instead of [`Store::active_member_in`] per message.
    pub async fn active_members_in(tx: &mut Tx) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT a.address, p.id FROM team_addresses a JOIN team_people p ON p.id = a.person_id \
             WHERE p.state = 'active'",
        )
        .fetch_all(&mut **tx)
        .await
        .context("read the active roster")?;
        rows.iter()
            .map(|row| Ok((row.try_get("address")?, row.try_get("id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("decode the active roster")
    }

    /// The thread message with Message-ID `id` (without angle brackets), oldest first, read in `tx`.
    pub async fn thread_message_by_id_in(
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ThreadMessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM thread_messages WHERE message_id = $1 ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .with_context(|| format!("look up the thread of <{id}>"))?;
        row.as_ref()
            .map(decode_message)
            .transpose()
            .context("decode thread message")
    }

    /// The first message of `ticket`'s thread, read in `tx`.
    pub async fn first_thread_message_in(tx: &mut Tx, ticket: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(id) FROM thread_messages WHERE ticket = $1")
            .bind(ticket)
            .fetch_one(&mut **tx)
            .await
            .with_context(|| format!("read the first message of ticket {ticket}"))
    }

    /// One ticket.
    pub async fn ticket(&self, ticket: &str) -> Result<Option<TicketRow>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket = $1");
        let row = sqlx::query(&sql)
            .bind(ticket)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("read ticket {ticket}"))?;
        row.as_ref()
            .map(decode_ticket)
            .transpose()
            .context("decode ticket")
    }

    /// The messages of `ticket`'s thread, in the order they were seen.
    pub async fn thread_messages(&self, ticket: &str) -> Result<Vec<ThreadMessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM thread_messages WHERE ticket = $1 ORDER BY seen_ms, id"
        );
        let rows = sqlx::query(&sql)
            .bind(ticket)
            .fetch_all(self.pool())
            .await
            .with_context(|| format!("read the thread of ticket {ticket}"))?;
        rows.iter()
            .map(decode_message)
            .collect::<Result<_, _>>()
            .context("decode thread messages")
    }

    /// Every Message-ID `ticket`'s thread has or answers (without angle brackets).
    pub async fn thread_ids(&self, ticket: &str) -> Result<BTreeSet<String>> {
        let mut ids: BTreeSet<String> = sqlx::query_scalar::<_, String>(
            "SELECT key FROM thread_keys WHERE ticket = $1 AND kind = $2",
        )
        .bind(ticket)
        .bind(KEY_MESSAGE_ID)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the Message-IDs of ticket {ticket}"))?
        .into_iter()
        .collect();
        let own: Vec<String> = sqlx::query_scalar(
            "SELECT message_id FROM thread_messages WHERE ticket = $1 AND message_id <> ''",
        )
        .bind(ticket)
        .fetch_all(self.pool())
        .await
        .with_context(|| format!("read the messages of ticket {ticket}"))?;
        ids.extend(own);
        Ok(ids)
    }

    /// The ticket whose thread has or answers Message-ID `id` (without angle brackets).
    pub async fn ticket_of_message_id(&self, id: &str) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        Store::ticket_by_keys_in(&mut tx, KEY_MESSAGE_ID, &[id.to_owned()]).await
    }

    /// The ticket whose thread carried arbitration case number `case` (lower case) first.
    pub async fn ticket_of_case(&self, case: &str) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        Store::ticket_by_keys_in(&mut tx, KEY_CASE, &[case.to_owned()]).await
    }
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod tests;
