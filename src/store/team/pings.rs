//! Aliveness pings: one row per ping mail, found again by its Message-ID when a reply names it, and the
//! person's `last_seen` moved forward when one does.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::{Store, Tx};

/// A ping as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRow {
    pub id: i64,
    pub person_id: i64,
    pub outbox_id: i64,
    /// The ping's Message-ID without angle brackets.
    pub message_id: String,
    pub address: String,
    pub sent_ms: i64,
    /// 0 until a reply is seen.
    pub answered_ms: i64,
    /// The Message-ID of the reply that answered it.
    pub answered_by: String,
}

/// A ping to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPing<'a> {
    pub person_id: i64,
    pub outbox_id: i64,
    pub message_id: &'a str,
    pub address: &'a str,
    pub sent_ms: i64,
}

/// A ping a reply names, with its person's primary address (the audit subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingMatch {
    pub ping: PingRow,
    pub primary: String,
}

const COLUMNS: &str = "p.id, p.person_id, p.outbox_id, p.message_id, p.address, p.sent_ms, \
                       p.answered_ms, p.answered_by";

fn decode(row: &AnyRow) -> Result<PingRow, sqlx::Error> {
    Ok(PingRow {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        outbox_id: row.try_get("outbox_id")?,
        message_id: row.try_get("message_id")?,
        address: row.try_get("address")?,
        sent_ms: row.try_get("sent_ms")?,
        answered_ms: row.try_get("answered_ms")?,
        answered_by: row.try_get("answered_by")?,
    })
}

/// The latest ping of one person (`only` > 0) or of everyone.
pub(super) async fn latest_in(tx: &mut Tx, only: i64) -> Result<Vec<PingRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM team_pings p WHERE ($1 = 0 OR p.person_id = $1) \
         AND p.id = (SELECT MAX(q.id) FROM team_pings q WHERE q.person_id = p.person_id) \
         ORDER BY p.person_id"
    );
    let rows = sqlx::query(&sql)
        .bind(only)
        .fetch_all(&mut **tx)
        .await
        .context("read pings")?;
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .context("decode pings")
}

impl Store {
    /// Records a ping queued in the same transaction.
    pub async fn team_insert_ping_in(tx: &mut Tx, ping: &NewPing<'_>) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO team_pings (person_id, outbox_id, message_id, address, sent_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(ping.person_id)
        .bind(ping.outbox_id)
        .bind(ping.message_id)
        .bind(ping.address)
        .bind(ping.sent_ms)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("record ping {}", ping.message_id))
    }

    /// The pings whose Message-IDs (without angle brackets) are among `ids`.
    pub async fn team_pings_named_in(tx: &mut Tx, ids: &[String]) -> Result<Vec<PingMatch>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {COLUMNS}, a.address AS primary_address FROM team_pings p \
                 JOIN team_addresses a ON a.person_id = p.person_id AND a.position = 0 \
                 WHERE p.message_id IN ({list}) ORDER BY p.id"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .context("look up pings by Message-ID")?;
            for row in &rows {
                found.push(PingMatch {
                    ping: decode(row).context("decode ping")?,
                    primary: row.try_get("primary_address").context("decode ping")?,
                });
            }
        }
        Ok(found)
    }

    /// Marks ping `id` answered by the reply `reply_id`, and its person seen at `now_ms` (never moving
    /// `last_seen` back).
    pub async fn team_answer_ping_in(
        tx: &mut Tx,
        id: i64,
        person_id: i64,
        reply_id: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE team_pings SET answered_ms = $1, answered_by = $2 WHERE id = $3")
            .bind(now_ms)
            .bind(reply_id)
            .bind(id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("mark ping {id} answered"))?;
        sqlx::query(
            "UPDATE team_people SET last_seen_ms = CASE WHEN last_seen_ms < $1 THEN $1 \
             ELSE last_seen_ms END WHERE id = $2",
        )
        .bind(now_ms)
        .bind(person_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("mark person {person_id} seen"))?;
        Ok(())
    }
}
