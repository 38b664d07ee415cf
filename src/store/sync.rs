//! Where each watched folder stands: its UIDVALIDITY, the highest UID whose verdict is recorded, and the
//! last error seen while syncing it. Only the worker writes these rows; `status` reads them.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, Tx};

/// The sync state of one watched mailbox (one folder of one account, or one Maildir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// The mailbox's identity (`imap://user@host:port/folder` or `maildir:/abs/path`).
    pub mailbox: String,
    /// The watched folder, for display.
    pub folder: String,
    /// The folder's UIDVALIDITY when `last_uid` was recorded (0 for Maildir).
    pub uidvalidity: i64,
    /// Every UID up to this one has a recorded verdict (or was skipped as backlog).
    pub last_uid: i64,
    /// The last sync error, empty once a sync succeeds.
    pub last_error: String,
    pub updated_ms: i64,
}

const COLUMNS: &str = "mailbox, folder, uidvalidity, last_uid, last_error, updated_ms";

fn decode(row: &AnyRow) -> Result<SyncState, sqlx::Error> {
    Ok(SyncState {
        mailbox: row.try_get("mailbox")?,
        folder: row.try_get("folder")?,
        uidvalidity: row.try_get("uidvalidity")?,
        last_uid: row.try_get("last_uid")?,
        last_error: row.try_get("last_error")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

impl Store {
    /// The state of `mailbox`, or `None` before its first attach.
    pub async fn sync_state(&self, mailbox: &str) -> Result<Option<SyncState>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM mailbox_sync WHERE mailbox = $1"
        ))
        .bind(mailbox)
        .fetch_optional(self.pool())
        .await
        .with_context(|| format!("read sync state of {mailbox}"))?;
        row.as_ref()
            .map(decode)
            .transpose()
            .context("decode sync state")
    }

    /// Every mailbox's state, by mailbox.
    pub async fn sync_states(&self) -> Result<Vec<SyncState>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM mailbox_sync ORDER BY mailbox"
        ))
        .fetch_all(self.pool())
        .await
        .context("read sync states")?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .context("decode sync states")
    }

    /// Creates or replaces the state (first attach, or a UIDVALIDITY change).
    pub async fn save_sync_state(&self, state: &SyncState) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO mailbox_sync ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (mailbox) DO UPDATE SET folder = excluded.folder, \
             uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, \
             last_error = excluded.last_error, updated_ms = excluded.updated_ms"
        ))
        .bind(&state.mailbox)
        .bind(&state.folder)
        .bind(state.uidvalidity)
        .bind(state.last_uid)
        .bind(&state.last_error)
        .bind(state.updated_ms)
        .execute(self.pool())
        .await
        .with_context(|| format!("save sync state of {}", state.mailbox))?;
        Ok(())
    }

    /// Moves `last_uid` forward inside the transaction that records the verdicts up to it; never back.
    pub async fn advance_sync_in(
        tx: &mut Tx,
        mailbox: &str,
        uidvalidity: i64,
        last_uid: i64,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE mailbox_sync SET last_uid = $1, last_error = '', updated_ms = $2 \
             WHERE mailbox = $3 AND uidvalidity = $4 AND last_uid < $1",
        )
        .bind(last_uid)
        .bind(now_ms)
        .bind(mailbox)
        .bind(uidvalidity)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("advance sync state of {mailbox} to uid {last_uid}"))?;
        Ok(())
    }

    /// Outgoing mails with a recipient still queued, for `status` and the metrics.
    pub async fn outbox_depth(&self) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT mail_id) FROM outbox_recipients WHERE state = 'queued'",
        )
        .fetch_one(self.pool())
        .await
        .context("count queued outgoing mail")
    }

    /// Records (or, with an empty `error`, clears) the last sync error of `mailbox`.
    pub async fn set_sync_error(&self, mailbox: &str, error: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE mailbox_sync SET last_error = $1, updated_ms = $2 WHERE mailbox = $3")
            .bind(error)
            .bind(now_ms)
            .bind(mailbox)
            .execute(self.pool())
            .await
            .with_context(|| format!("record sync error of {mailbox}"))?;
        Ok(())
    }
}
