//! Whose claims a flush makes: every delivery attempt claims its recipient for a registered worker
//! (see `store::outbox`), and a claim lasts as long as that worker's heartbeat.
//!
//! A `triaged run` worker keeps its own heartbeat and passes its id ([`Flusher::Worker`]). A flush
//! outside it (`run --once`, `outbox flush`) has no worker, so it registers one of its own
//! ([`Flusher::Own`]): beaten every ttl/3 while the flush runs, even inside a stalled SMTP transaction,
//! and marked stopped when the flush ends, so that nothing it claimed outlives it. It spawns no task:
//! the beat runs beside the flush in the same future.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use anyhow::Result;

use crate::store::Store;

/// The ttl of a flush's own worker row, the default `[lease] ttl`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// Who flushes, and so whose claims its attempts make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flusher {
    /// A worker registered by `triaged run`, which keeps its heartbeat: the flush claims under its id.
    Worker(String),
    /// A worker of the flush's own with this ttl: registered when the flush starts, beaten every ttl/3
    /// while it runs, marked stopped when it ends.
    Own(Duration),
}

impl Flusher {
    /// A worker of the flush's own, with the default ttl: what `run --once` and `outbox flush` use.
    pub fn own() -> Flusher {
        Flusher::Own(DEFAULT_TTL)
    }

    /// Registers the worker row when it is the flush's own; returns the id to claim under.
    pub(super) async fn start(&self, store: &Store) -> Result<Claimant> {
        match self {
            Flusher::Worker(id) => Ok(Claimant {
                id: id.clone(),
                own_ttl: None,
            }),
            Flusher::Own(ttl) => {
                let pid = std::process::id();
                let host = crate::machine::host();
                let id = format!("flush-{host}-{pid}-{:08x}", rand::random::<u32>());
                let ttl_ms = super::millis(*ttl);
                let pidns = crate::machine::pid_namespace();
                store
                    .register_worker(&id, (&host, &pidns), i64::from(pid), ttl_ms)
                    .await?;
                Ok(Claimant {
                    id,
                    own_ttl: Some(*ttl),
                })
            }
        }
    }
}

/// A started flusher: the worker id its claims name.
#[derive(Debug)]
pub(super) struct Claimant {
    pub(super) id: String,
    /// Set when the worker row is the flush's own, which it beats and stops.
    own_ttl: Option<Duration>,
}

impl Claimant {
    /// Runs `work`, beating the worker row of a flush's own meanwhile.
    pub(super) async fn beating<T>(&self, store: &Store, work: impl Future<Output = T>) -> T {
        let Some(ttl) = self.own_ttl else {
            return work.await;
        };
        tokio::select! {
            out = work => out,
            never = beat(store, &self.id, ttl) => match never {},
        }
    }

    /// Marks the worker row of a flush's own stopped: what it still claims (nothing, after a flush that
    /// recorded every outcome) is anybody's at once. A failure is logged; the claims then lapse after
    /// the ttl.
    pub(super) async fn stop(self, store: &Store) {
        if self.own_ttl.is_none() {
            return;
        }
        if let Err(e) = store.stop_worker(&self.id).await {
            tracing::warn!(worker = %self.id, error = %format!("{e:#}"), "could not mark the flush's worker stopped");
        }
    }
}

/// Beats worker `id` every `ttl / 3`, for ever; a failed beat is logged and the next one tried.
async fn beat(store: &Store, id: &str, ttl: Duration) -> Infallible {
    let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now, and the row was registered now
    loop {
        tick.tick().await;
        match store.heartbeat(id).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(worker = %id, "the flush's worker row is stopped or gone: its claims are no longer held");
            }
            Err(e) => {
                tracing::warn!(worker = %id, error = %format!("{e:#}"), "flush heartbeat failed");
            }
        }
    }
}
