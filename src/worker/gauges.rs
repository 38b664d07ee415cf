//! The team gauges loop: how the team stands (members per role, the unresponsive, overdue checklist
//! items, thin critical roles, rights drift and rights left after a retirement) is read from the store once at start and then every minute, and handed
//! to the metrics listener. Like every long-lived loop it returns only when cancelled; a failed read is
//! logged and tried again on the next turn.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::team::Settings;

/// How often the gauges are refreshed.
pub(super) const EVERY: Duration = Duration::from_secs(60);

/// Refreshes the team gauges until `cancel` fires.
pub(super) async fn run(
    store: Store,
    settings: Settings,
    revoke_within: Duration,
    metrics: Arc<Metrics>,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<()> {
    loop {
        let now = clock.now();
        let read = async {
            let health = crate::team::health(&store, &settings, now).await?;
            let rights = crate::handover::alerts(&store, revoke_within, now).await?;
            anyhow::Ok((health, rights))
        };
        match read.await {
            Ok((health, rights)) => {
                let mut gauges = health.gauges();
                gauges.rights_drift = i64::try_from(rights.drift.len()).unwrap_or(i64::MAX);
                gauges.revoke_overdue =
                    i64::try_from(rights.revoke_overdue.len()).unwrap_or(i64::MAX);
                metrics.set_team(gauges);
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "team gauges not refreshed"),
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = cancel.cancelled() => return Ok(()),
        }
    }
}
