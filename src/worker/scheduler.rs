//! The one scheduler of `triaged run`: every long-lived task of the worker runs in one group, under one
//! root cancellation token, and the group is stopped as a whole.
//!
//! The rule for a task that dies: a long-lived task is written never to end on its own (the mailbox
//! watcher reconnects with backoff, the outbox sender retries a failing pass, the metrics listener
//! answers the next request), so a task that returns, fails or panics before shutdown is a fault the
//! process cannot mend from inside. It stops the whole group, and `run` returns an error naming the
//! task (exit 1), so that the service manager restarts a whole, fresh process instead of leaving one
//! half alive. Short tasks started by a long-lived one (one per metrics request) are tracked too and
//! drained with the group.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use anyhow::{Result, anyhow};
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for the tasks to finish what they hold (the batch in hand, an SMTP
/// transaction) before it aborts them.
const DRAIN: Duration = Duration::from_secs(30);

/// A group of long-lived tasks that stop together.
pub(super) struct Group {
    tasks: JoinSet<Result<()>>,
    /// Each task's name, for the log and the error when it dies.
    names: HashMap<Id, &'static str>,
    /// The root token; every task gets a child of it.
    cancel: CancellationToken,
    /// Short tasks the long-lived ones start; drained with the group.
    short: TaskTracker,
}

impl Group {
    pub(super) fn new() -> Group {
        Group {
            tasks: JoinSet::new(),
            names: HashMap::new(),
            cancel: CancellationToken::new(),
            short: TaskTracker::new(),
        }
    }

    /// A token that fires when the group stops.
    pub(super) fn token(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    /// Where a long-lived task spawns its short tasks, so that shutdown waits for them.
    pub(super) fn tracker(&self) -> TaskTracker {
        self.short.clone()
    }

    /// Starts a long-lived task; it must return only once its token is cancelled.
    pub(super) fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Runs until `shutdown` resolves or a task dies; then stops every task (each finishes what it
    /// holds) and waits for them. An error names the task that died first.
    pub(super) async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let died = tokio::select! {
            () = &mut shutdown => None,
            Some(ended) = self.tasks.join_next_with_id() => Some(self.describe(ended)),
        };
        match &died {
            Some(why) => {
                tracing::error!(task_end = %why, "a long-lived task ended: stopping the worker")
            }
            None => {
                tracing::info!(
                    "shutting down: finishing the work in hand (signal again to exit at once)"
                );
                super::exit_on_second_signal();
            }
        }
        self.cancel.cancel();
        self.short.close();
        let mut failures = Vec::new();
        let drained = tokio::time::timeout(DRAIN, async {
            while let Some(ended) = self.tasks.join_next_with_id().await {
                if let Some(why) = self.failure(ended) {
                    failures.push(why);
                }
            }
            self.short.wait().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                drain_s = DRAIN.as_secs(),
                "tasks still running after shutdown: aborting them"
            );
            self.tasks.abort_all();
        }
        for why in &failures {
            tracing::error!(task_end = %why, "task failed while stopping");
        }
        match died.or(failures.into_iter().next()) {
            Some(why) => Err(anyhow!("{why}")),
            None => Ok(()),
        }
    }

    /// Why a task that ended before shutdown ended: every ending then is a fault.
    fn describe(&self, ended: Result<(Id, Result<()>), JoinError>) -> String {
        self.failure(ended)
            .unwrap_or_else(|| "a task ended".to_owned())
    }

    /// The failure of an ended task, `None` when it returned `Ok`; a task that ends before shutdown
    /// with `Ok` is named as having ended.
    fn failure(&self, ended: Result<(Id, Result<()>), JoinError>) -> Option<String> {
        let name = |id: Id| self.names.get(&id).copied().unwrap_or("a task");
        match ended {
            Ok((id, Ok(()))) if !self.cancel.is_cancelled() => {
                Some(format!("{} ended on its own", name(id)))
            }
            Ok((_, Ok(()))) => None,
            Ok((id, Err(e))) => Some(format!("{} failed: {e:#}", name(id))),
            Err(e) if e.is_panic() => Some(format!("{} panicked", name(e.id()))),
            Err(e) => Some(format!("{} was cancelled", name(e.id()))),
        }
    }
}
