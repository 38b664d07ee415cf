//! What `handover apply`, `verify` and `tick` make of one asset: its outcome, recorded with its audit
//! event in one transaction.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::start::event_in;
use crate::store::{HandoverAssetRow, Store};

/// An asset's state after `apply` or `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetOutcome {
    pub asset: String,
    pub state: String,
    /// Why it is not applied or verified; empty otherwise.
    pub error: String,
}

impl AssetOutcome {
    /// `row` as it stands, with `error` (why it was left alone).
    pub(super) fn as_is(row: &HandoverAssetRow, error: String) -> AssetOutcome {
        AssetOutcome {
            asset: row.asset.clone(),
            state: row.state.clone(),
            error,
        }
    }
}

/// One `handover apply`, `verify` or `tick` run: where it records each asset's outcome.
pub(super) struct Run<'a> {
    pub(super) store: &'a Store,
    pub(super) id: i64,
    pub(super) actor: &'a str,
    /// `handover apply`, `handover verify` or `handover tick`, for the audit trail.
    pub(super) command: &'static str,
    pub(super) now: DateTime<Utc>,
}

impl Run<'_> {
    /// Records `row`'s new state and error with its audit event `action`, in one transaction;
    /// `applied` also stamps when the asset was applied.
    pub(super) async fn record(
        &self,
        row: &HandoverAssetRow,
        state: impl Into<String>,
        error: String,
        applied: bool,
        action: &str,
    ) -> Result<AssetOutcome> {
        let state = state.into();
        let mut tx = self.store.begin().await?;
        let now_ms = self.now.timestamp_millis();
        Store::handover_asset_state_in(&mut tx, row.id, &state, &error, applied, now_ms).await?;
        let detail = if error.is_empty() {
            row.asset.clone()
        } else {
            format!("{}: {error}", row.asset)
        };
        let (id, actor) = (self.id, self.actor);
        event_in(&mut tx, id, actor, action, self.command, &detail, self.now).await?;
        tx.commit().await.context("commit the asset's state")?;
        Ok(AssetOutcome {
            asset: row.asset.clone(),
            state,
            error,
        })
    }
}
