//! Checklist items per person: opened when a role is entered (each with its text, due time and what
//! ticks it, as the checklists file said then), ticked once, and closed when the person retires.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::{Store, Tx};

/// An item of a person's checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: i64,
    pub person_id: i64,
    /// The checklist's id (`welcome`) and title (`Welcome`).
    pub checklist: String,
    pub title: String,
    /// The item's id within the checklist (`welcome-pack`) and its text.
    pub item: String,
    pub text: String,
    /// Facts that tick the item once all are recorded, space-separated; empty for none.
    pub facts: String,
    /// What triaged does that ticks the item (`welcome-pack`); empty for none.
    pub action: String,
    pub position: i64,
    pub opened_ms: i64,
    /// 0 when the item has no due time.
    pub due_ms: i64,
    /// `open`, `done` or `closed` (its person retired first).
    pub state: String,
    pub done_ms: i64,
    /// Who ticked it: an OS user, or `triaged`.
    pub done_by: String,
    pub note: String,
}

/// An item to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem<'a> {
    pub person_id: i64,
    pub checklist: &'a str,
    pub title: &'a str,
    pub item: &'a str,
    pub text: &'a str,
    pub facts: &'a str,
    pub action: &'a str,
    pub position: i64,
    pub opened_ms: i64,
    pub due_ms: i64,
}

fn decode(row: &AnyRow) -> Result<ItemRow, sqlx::Error> {
    Ok(ItemRow {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        checklist: row.try_get("checklist")?,
        title: row.try_get("title")?,
        item: row.try_get("item")?,
        text: row.try_get("text")?,
        facts: row.try_get("facts")?,
        action: row.try_get("action")?,
        position: row.try_get("position")?,
        opened_ms: row.try_get("opened_ms")?,
        due_ms: row.try_get("due_ms")?,
        state: row.try_get("state")?,
        done_ms: row.try_get("done_ms")?,
        done_by: row.try_get("done_by")?,
        note: row.try_get("note")?,
    })
}

/// Every item of one person (`only` > 0) or of everyone, checklist by checklist in opening order.
pub(super) async fn items_in(tx: &mut Tx, only: i64) -> Result<Vec<ItemRow>> {
    let rows = sqlx::query(
        "SELECT id, person_id, checklist, title, item, text, facts, action, position, opened_ms, \
         due_ms, state, done_ms, done_by, note FROM team_checklist_items \
         WHERE ($1 = 0 OR person_id = $1) ORDER BY person_id, id",
    )
    .bind(only)
    .fetch_all(&mut **tx)
    .await
    .context("read checklist items")?;
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .context("decode checklist items")
}

impl Store {
    /// Opens an item; an item the person already has (same checklist and id) is left as it is.
    /// Returns whether it was opened now.
    pub async fn team_open_item_in(tx: &mut Tx, item: &NewItem<'_>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO team_checklist_items (person_id, checklist, title, item, text, facts, \
             action, position, opened_ms, due_ms, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open') \
             ON CONFLICT (person_id, checklist, item) DO NOTHING",
        )
        .bind(item.person_id)
        .bind(item.checklist)
        .bind(item.title)
        .bind(item.item)
        .bind(item.text)
        .bind(item.facts)
        .bind(item.action)
        .bind(item.position)
        .bind(item.opened_ms)
        .bind(item.due_ms)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("open checklist item {}/{}", item.checklist, item.item))?;
        Ok(done.rows_affected() > 0)
    }

    /// Ticks open item `id`; returns false when it was not open any more.
    pub async fn team_tick_item_in(
        tx: &mut Tx,
        id: i64,
        done_ms: i64,
        done_by: &str,
        note: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE team_checklist_items SET state = 'done', done_ms = $1, done_by = $2, note = $3 \
             WHERE id = $4 AND state = 'open'",
        )
        .bind(done_ms)
        .bind(done_by)
        .bind(note)
        .bind(id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("tick checklist item {id}"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Closes every open item of `person_id` (they retired); returns how many.
    pub async fn team_close_items_in(
        tx: &mut Tx,
        person_id: i64,
        now_ms: i64,
        note: &str,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE team_checklist_items SET state = 'closed', done_ms = $1, note = $2 \
             WHERE person_id = $3 AND state = 'open'",
        )
        .bind(now_ms)
        .bind(note)
        .bind(person_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("close the checklists of person {person_id}"))?;
        Ok(done.rows_affected())
    }
}
