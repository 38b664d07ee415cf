//! Handover rows: a handover (who hands what to whom, why, who confirmed), the state of each asset it
//! covers, and the drift the latest sync or verify found per asset. Statements run inside a caller's
//! transaction, so a change and its audit event commit together. The rules (who may confirm, what
//! counts as held, what apply does) belong to the `handover` room; this only stores and reads.

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, Tx};

/// A handover as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRow {
    pub id: i64,
    /// `asset:NAME`, `role:leader` or `retire`.
    pub scope: String,
    pub from_person: i64,
    /// 0: nobody takes over.
    pub to_person: i64,
    pub reason: String,
    pub opened_ms: i64,
    pub opened_by: String,
    /// The member who confirmed; 0 not yet.
    pub confirmed_by: i64,
    pub confirmed_os_user: String,
    pub confirmed_ms: i64,
    /// 0 while open.
    pub closed_ms: i64,
}

/// A handover to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandover<'a> {
    pub scope: &'a str,
    pub from_person: i64,
    pub to_person: i64,
    pub reason: &'a str,
    pub opened_ms: i64,
    pub opened_by: &'a str,
}

/// One asset of a handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverAssetRow {
    pub id: i64,
    pub handover_id: i64,
    pub asset: String,
    pub kind: String,
    pub critical: bool,
    /// What the incoming person gets (IMAP rights, `accept`/`hold`, empty).
    pub rights: String,
    /// `pending`, `applied`, `verified` or `failed`.
    pub state: String,
    pub error: String,
    /// When grant and revocation were first read back; 0 not yet.
    pub applied_ms: i64,
    pub updated_ms: i64,
}

/// Something granted beyond the roster's wish, as the latest sync or verify saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRow {
    pub asset: String,
    /// The folder or list.
    pub place: String,
    /// The IMAP identifier or the list member's address.
    pub identifier: String,
    pub detail: String,
    pub seen_ms: i64,
}

const HANDOVER_COLUMNS: &str = "id, scope, from_person, to_person, reason, opened_ms, opened_by, \
     confirmed_by, confirmed_os_user, confirmed_ms, closed_ms";
const ASSET_COLUMNS: &str =
    "id, handover_id, asset, kind, critical, rights, state, error, applied_ms, updated_ms";

fn handover(row: &AnyRow) -> Result<HandoverRow, sqlx::Error> {
    Ok(HandoverRow {
        id: row.try_get("id")?,
        scope: row.try_get("scope")?,
        from_person: row.try_get("from_person")?,
        to_person: row.try_get("to_person")?,
        reason: row.try_get("reason")?,
        opened_ms: row.try_get("opened_ms")?,
        opened_by: row.try_get("opened_by")?,
        confirmed_by: row.try_get("confirmed_by")?,
        confirmed_os_user: row.try_get("confirmed_os_user")?,
        confirmed_ms: row.try_get("confirmed_ms")?,
        closed_ms: row.try_get("closed_ms")?,
    })
}

fn asset(row: &AnyRow) -> Result<HandoverAssetRow, sqlx::Error> {
    let critical: i64 = row.try_get("critical")?;
    Ok(HandoverAssetRow {
        id: row.try_get("id")?,
        handover_id: row.try_get("handover_id")?,
        asset: row.try_get("asset")?,
        kind: row.try_get("kind")?,
        critical: critical != 0,
        rights: row.try_get("rights")?,
        state: row.try_get("state")?,
        error: row.try_get("error")?,
        applied_ms: row.try_get("applied_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

impl Store {
    /// Inserts a handover; returns its id.
    pub async fn handover_insert_in(tx: &mut Tx, h: &NewHandover<'_>) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO handovers (scope, from_person, to_person, reason, opened_ms, opened_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(h.scope)
        .bind(h.from_person)
        .bind(h.to_person)
        .bind(h.reason)
        .bind(h.opened_ms)
        .bind(h.opened_by)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("open handover {}", h.scope))
    }

    /// Adds an asset, pending, to handover `id`.
    pub async fn handover_insert_asset_in(
        tx: &mut Tx,
        id: i64,
        name: &str,
        kind: &str,
        critical: bool,
        rights: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO handover_assets (handover_id, asset, kind, critical, rights, state, \
             updated_ms) VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
        )
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(i64::from(critical))
        .bind(rights)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("add asset {name} to handover {id}"))?;
        Ok(())
    }

    /// Every handover (`None`) or one, oldest first.
    pub async fn handovers_in(tx: &mut Tx, only: Option<i64>) -> Result<Vec<HandoverRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {HANDOVER_COLUMNS} FROM handovers WHERE ($1 = 0 OR id = $1) ORDER BY id"
        ))
        .bind(only.unwrap_or(0))
        .fetch_all(&mut **tx)
        .await
        .context("read handovers")?;
        rows.iter()
            .map(handover)
            .collect::<Result<_, _>>()
            .context("decode handovers")
    }

    /// The assets of every handover (`None`) or of one, in handover and insertion order.
    pub async fn handover_assets_in(
        tx: &mut Tx,
        only: Option<i64>,
    ) -> Result<Vec<HandoverAssetRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ASSET_COLUMNS} FROM handover_assets WHERE ($1 = 0 OR handover_id = $1) \
             ORDER BY handover_id, id"
        ))
        .bind(only.unwrap_or(0))
        .fetch_all(&mut **tx)
        .await
        .context("read handover assets")?;
        rows.iter()
            .map(asset)
            .collect::<Result<_, _>>()
            .context("decode handover assets")
    }

    /// Records who confirmed handover `id`.
    pub async fn handover_confirm_in(
        tx: &mut Tx,
        id: i64,
        by: i64,
        os_user: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE handovers SET confirmed_by = $1, confirmed_os_user = $2, confirmed_ms = $3 \
             WHERE id = $4",
        )
        .bind(by)
        .bind(os_user)
        .bind(now_ms)
        .bind(id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("confirm handover {id}"))?;
        Ok(())
    }

    /// Sets an asset row's state and error; `applied` marks it applied now if it was not yet.
    pub async fn handover_asset_state_in(
        tx: &mut Tx,
        row_id: i64,
        state: &str,
        error: &str,
        applied: bool,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE handover_assets SET state = $1, error = $2, updated_ms = $3, \
             applied_ms = CASE WHEN $4 = 1 AND applied_ms = 0 THEN $3 ELSE applied_ms END \
             WHERE id = $5",
        )
        .bind(state)
        .bind(error)
        .bind(now_ms)
        .bind(i64::from(applied))
        .bind(row_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("set handover asset {row_id} {state}"))?;
        Ok(())
    }

    /// Closes (or, with 0, reopens) handover `id`.
    pub async fn handover_close_in(tx: &mut Tx, id: i64, closed_ms: i64) -> Result<()> {
        sqlx::query("UPDATE handovers SET closed_ms = $1 WHERE id = $2")
            .bind(closed_ms)
            .bind(id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("close handover {id}"))?;
        Ok(())
    }

    /// Replaces what the latest look at `asset` found beyond the roster's wish.
    pub async fn rights_drift_replace_in(
        tx: &mut Tx,
        asset: &str,
        found: &[DriftRow],
    ) -> Result<()> {
        sqlx::query("DELETE FROM rights_drift WHERE asset = $1")
            .bind(asset)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("clear the drift of {asset}"))?;
        for d in found {
            sqlx::query(
                "INSERT INTO rights_drift (asset, place, identifier, detail, seen_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (asset, place, identifier) DO NOTHING",
            )
            .bind(&d.asset)
            .bind(&d.place)
            .bind(&d.identifier)
            .bind(&d.detail)
            .bind(d.seen_ms)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("record drift on {asset}"))?;
        }
        Ok(())
    }

    /// Everything the latest syncs and verifies found beyond the roster's wish.
    pub async fn rights_drift(&self) -> Result<Vec<DriftRow>> {
        let rows = sqlx::query(
            "SELECT asset, place, identifier, detail, seen_ms FROM rights_drift \
             ORDER BY asset, place, identifier",
        )
        .fetch_all(self.pool())
        .await
        .context("read rights drift")?;
        rows.iter()
            .map(|r| {
                Ok(DriftRow {
                    asset: r.try_get("asset")?,
                    place: r.try_get("place")?,
                    identifier: r.try_get("identifier")?,
                    detail: r.try_get("detail")?,
                    seen_ms: r.try_get("seen_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("decode rights drift")
    }
}
