//! Alerts about rights: a retired member whose rights are still granted `[team] revoke_within` after
//! the retirement (a retirement handover not yet applied, or drift naming them), and the drift the
//! latest sync or verify found. Read by `status`, `team list` and the metrics; logged when raised.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::holdings::imap_user;
use crate::store::{DriftRow, Store};
use crate::team::{Roster, State};

/// A retired member with rights still granted past `revoke_within`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub name: String,
    pub address: String,
    pub retired_ms: i64,
    /// What is still granted: assets not yet revoked, or drift naming them.
    pub still: Vec<String>,
}

impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} <{}> retired {} and still holds {}",
            self.name,
            self.address,
            crate::team::date(self.retired_ms),
            self.still.join(", ")
        )
    }
}

/// The alerts and the drift.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alerts {
    pub revoke_overdue: Vec<Alert>,
    pub drift: Vec<DriftRow>,
}

/// The alerts as of `now`; each raised one is logged as a warning.
pub async fn alerts(store: &Store, revoke_within: Duration, now: DateTime<Utc>) -> Result<Alerts> {
    let drift = store.rights_drift().await?;
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let handovers = Store::handovers_in(&mut tx, None).await?;
    let rows = Store::handover_assets_in(&mut tx, None).await?;
    drop(tx);
    let within = i64::try_from(revoke_within.as_millis()).unwrap_or(i64::MAX);
    let mut overdue = Vec::new();
    for p in roster.people.iter().filter(|p| p.state == State::Retired) {
        if now.timestamp_millis() < p.state_since_ms.saturating_add(within) {
            continue;
        }
        let mut still: Vec<String> = rows
            .iter()
            .filter(|r| r.applied_ms == 0 && r.kind != "manual")
            .filter(|r| {
                handovers
                    .iter()
                    .any(|h| h.id == r.handover_id && h.from_person == p.id)
            })
            .map(|r| format!("{} (handover {} not applied)", r.asset, r.handover_id))
            .collect();
        let login = imap_user(p);
        for d in &drift {
            if Some(d.identifier.as_str()) == login || p.addresses.contains(&d.identifier) {
                still.push(format!("{} on {}", d.asset, d.place));
            }
        }
        if still.is_empty() {
            continue;
        }
        still.dedup();
        let alert = Alert {
            name: p.name.clone(),
            address: p.primary().to_owned(),
            retired_ms: p.state_since_ms,
            still,
        };
        tracing::warn!(alert = %alert, "rights not revoked after retirement");
        overdue.push(alert);
    }
    Ok(Alerts {
        revoke_overdue: overdue,
        drift,
    })
}
