//! The team gauges loop: how the team stands (members per role, the unresponsive, overdue checklist
//! items, thin critical roles) is read from the store once at start and then every minute, and handed
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
    metrics: Arc<Metrics>,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<()> {
    loop {
        match crate::team::health(&store, &settings, clock.now()).await {
            Ok(health) => metrics.set_team(health.gauges()),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "team gauges not refreshed"),
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = cancel.cancelled() => return Ok(()),
        }
    }
}
