//! Leases: which worker watches which mailbox, when several `triaged run` processes share one store.
//!
//! The [`Keeper`] is one long-lived task of the worker. Every `[lease] ttl / 3` it beats (the worker's
//! row in `workers`), renews the leases it holds, and takes or gives up leases to hold its fair share:
//! `ceil(units / live workers)`. For each lease it holds it runs the [`Unit`] (a mailbox's watcher,
//! or the team-wide jobs, [`TEAM_JOBS`], which one worker runs) with a [`Fence`] carrying the lease's
//! token; every store transaction that records or applies a
//! verdict checks that token inside itself (`Store::fence_in`), so a worker that was paused past its
//! lease and wakes up commits nothing: its unit ends with `Fenced`, and the keeper drops the mailbox and
//! says why. A lease it cannot renew (lost, or the store unreachable for a whole ttl) stops its unit
//! the same way. On shutdown every unit finishes the batch in hand, then the worker marks itself
//! stopped, which frees all its leases at once for the others.
//!
//! Why a lease table and not PostgreSQL advisory locks: a session advisory lock belongs to one
//! connection, and the pool hands out and recycles connections freely; a lock taken on one connection
//! and checked on another protects nothing, and a connection dropped by the pool silently frees it.
//! A row with a holder, an expiry and a token is visible to every connection, to `status`, and to the
//! fencing check inside the very transaction it guards. Expiry is the database's clock, so hosts
//! whose clocks disagree still agree on who holds what.
//!
//! On SQLite the same keeper runs with one worker (a second `run` is refused by a lock on a file
//! beside the database), so it simply holds every mailbox.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rand::seq::SliceRandom;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::metrics::MailboxMetrics;
use crate::store::{Fenced, Store, Tx, WorkerRow};

/// Worker rows silent this long (past their ttl) are removed when a worker starts.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

/// How long a unit given up (fair share, shutdown) may take to finish the batch in hand.
const DRAIN: Duration = Duration::from_secs(30);

/// The token of the lease a unit runs under, checked by every write it makes for its mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Fence {
    store: Store,
    mailbox: String,
    worker: Arc<str>,
    token: i64,
}

impl Fence {
    /// Fails with `Fenced` unless the lease is still this worker's under this token; inside `tx`, whose
    /// writes it guards (on PostgreSQL the lease row stays share-locked until `tx` ends).
    pub(crate) async fn check_in(&self, tx: &mut Tx) -> Result<()> {
        self.store
            .fence_in(tx, &self.mailbox, &self.worker, self.token)
            .await
    }

    /// The same check on its own, before a step outside the store (an IMAP command), which is not
    /// fenced: what follows it must stay idempotent.
    pub(crate) async fn check(&self) -> Result<()> {
        let mut tx = self.store.begin().await?;
        self.check_in(&mut tx).await?;
        tx.commit().await.context("end the lease check")
    }

    pub(crate) fn token(&self) -> i64 {
        self.token
    }
}

/// Whether `e` says the lease was lost (somewhere in its chain).
pub(crate) fn is_fenced(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<Fenced>().is_some())
}

type Running = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// Starts a unit's work under `fence` until `cancel` fires.
pub(super) type Start = Arc<dyn Fn(Fence, CancellationToken) -> Running + Send + Sync>;

/// One thing a worker may hold: its lease key (a mailbox's identity in the store, or [`TEAM_JOBS`]),
/// its name, its counters (a mailbox's), and how to start it.
pub(super) struct Unit {
    pub key: String,
    pub name: String,
    pub metrics: Option<Arc<MailboxMetrics>>,
    pub start: Start,
}

/// The lease key of the team-wide jobs (the retention schedule, the disputes escalation check): one
/// worker runs them, so that two never purge or escalate the same thing at once.
pub(super) const TEAM_JOBS: &str = "team:jobs";

/// This worker's identity in the `workers` table, registered for as long as it lives.
#[derive(Debug, Clone)]
pub(super) struct Worker {
    pub id: Arc<str>,
    pub store: Store,
    pub ttl: Duration,
    /// The host name and PID namespace, to know workers of this machine whose process is gone.
    host: Arc<str>,
    pidns: Arc<str>,
    /// The only worker there can be (SQLite, under its file lock): every other row is a dead one.
    alone: bool,
}

impl Worker {
    /// Registers a new worker `host:pid:random` and the lease rows of `mailboxes` (key, name); then
    /// frees what dead workers of this machine held. `alone` (SQLite, under the file lock) means no
    /// other worker can be alive.
    pub(super) async fn register(
        store: &Store,
        ttl: Duration,
        mailboxes: &[(String, String)],
        alone: bool,
    ) -> Result<Worker> {
        let (host, pidns) = (crate::machine::host(), crate::machine::pid_namespace());
        let pid = std::process::id();
        let id = format!("{host}:{pid}:{:04x}", rand::random::<u16>());
        store
            .register_worker(&id, (&host, &pidns), i64::from(pid), ms(ttl))
            .await?;
        store.ensure_leases(mailboxes).await?;
        tracing::info!(worker = %id, ttl_ms = ms(ttl), "worker registered");
        let worker = Worker {
            id: id.into(),
            store: store.clone(),
            ttl,
            host: host.into(),
            pidns: pidns.into(),
            alone,
        };
        worker.reap(&store.workers().await?.0).await?;
        // Rows of workers gone for a day (each `run --once` and `outbox flush` leaves one) go.
        let forgotten = store.forget_workers(FORGET_AFTER_MS).await?;
        if forgotten > 0 {
            tracing::debug!(forgotten, "old worker rows removed");
        }
        Ok(worker)
    }

    /// Marks stopped, freeing their leases at once, the workers known dead without waiting for their
    /// heartbeat to age: any other on a SQLite store (this one holds the file lock), and on PostgreSQL
    /// those of this host and PID namespace whose process is gone (killed, crashed). A live process
    /// under a reused pid only makes the wait the ordinary one.
    async fn reap(&self, workers: &[WorkerRow]) -> Result<()> {
        for w in workers {
            let dead = w.stopped_ms == 0
                && *w.id != *self.id
                && (self.alone
                    || (!self.pidns.is_empty()
                        && *w.host == *self.host
                        && *w.pidns == *self.pidns
                        && !std::path::Path::new(&format!("/proc/{}", w.pid)).exists()));
            if dead {
                tracing::warn!(worker = %w.id, pid = w.pid, "worker gone without stopping: its leases are released");
                self.store.stop_worker(&w.id).await?;
            }
        }
        Ok(())
    }

    /// Takes the lease on `key` if it is free or expired; the fence to run under.
    pub(super) async fn acquire(&self, key: &str) -> Result<Option<Fence>> {
        let token = self
            .store
            .acquire_lease(key, &self.id, ms(self.ttl))
            .await?;
        Ok(token.map(|token| Fence {
            store: self.store.clone(),
            mailbox: key.to_owned(),
            worker: self.id.clone(),
            token,
        }))
    }

    /// Beats and renews this worker's leases every ttl/3 until the returned task is aborted: what
    /// `run --once` runs beside its passes, which may outlast a ttl, since it has no keeper.
    pub(super) fn keep_alive(&self) -> JoinHandle<()> {
        let worker = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(worker.ttl / 3).await;
                let beat = async {
                    worker.store.heartbeat(&worker.id).await?;
                    worker.store.renew_leases(&worker.id, ms(worker.ttl)).await
                };
                if let Err(e) = beat.await {
                    tracing::warn!(error = %format!("{e:#}"), "lease renewal failed");
                }
            }
        })
    }

    /// Marks the worker stopped, which frees every lease it holds.
    pub(super) async fn stop(&self) {
        match self.store.stop_worker(&self.id).await {
            Ok(()) => tracing::info!(worker = %self.id, "worker stopped: leases released"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not release the leases: they expire")
            }
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A unit this worker runs now.
struct Held {
    fence: Fence,
    cancel: CancellationToken,
    task: JoinHandle<()>,
    started: Instant,
}

/// A unit whose run failed is not taken again before its backoff passes (2 s doubling to 80 s); one
/// that ran this long before failing starts the backoff over.
const RAN_WELL: Duration = Duration::from_secs(60);

/// Holds this worker's fair share of the units' leases and runs a unit for each.
pub(super) struct Keeper {
    worker: Worker,
    units: Vec<Unit>,
    /// Units that failed: their backoff, and when they may be taken again.
    resting: std::sync::Mutex<BTreeMap<String, (Backoff, Instant)>>,
}

impl Keeper {
    pub(super) fn new(worker: Worker, units: Vec<Unit>) -> Keeper {
        Keeper {
            worker,
            units,
            resting: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether unit `key` is resting after a failure.
    fn resting(&self, key: &str) -> bool {
        let resting = self
            .resting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        resting
            .get(key)
            .is_some_and(|(_, until)| Instant::now() < *until)
    }

    /// Puts unit `key`, which failed after running `ran`, to rest.
    fn rest(&self, key: &str, ran: Duration) {
        let mut resting = self
            .resting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (backoff, until) = resting
            .entry(key.to_owned())
            .or_insert_with(|| (Backoff::default(), Instant::now()));
        if ran >= RAN_WELL {
            backoff.reset();
        }
        *until = Instant::now() + backoff.next_delay();
    }

    /// Keeps the leases until `cancel` fires; then stops every unit and releases the leases.
    pub(super) async fn run(self, cancel: CancellationToken) -> Result<()> {
        let (ended_tx, mut ended) = mpsc::unbounded_channel::<(String, i64, Result<()>)>();
        let mut held: BTreeMap<String, Held> = BTreeMap::new();
        let mut renewed = Instant::now();
        loop {
            match self.tick(&mut held, &ended_tx, &cancel).await {
                Ok(()) => renewed = Instant::now(),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "lease round failed");
                    if renewed.elapsed() >= self.worker.ttl && !held.is_empty() {
                        tracing::error!(
                            "leases not renewed for a whole ttl: giving every mailbox up"
                        );
                        for key in held.keys().cloned().collect::<Vec<_>>() {
                            self.drop_unit(&mut held, &key, "lease not renewed in time");
                        }
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.worker.ttl / 3) => {}
                Some((key, token, result)) = ended.recv() => {
                    self.unit_ended(&mut held, &key, token, result).await;
                }
                () = cancel.cancelled() => break,
            }
        }
        for h in held.values() {
            h.cancel.cancel();
        }
        let stopping = futures::future::join_all(held.into_values().map(|h| h.task));
        if tokio::time::timeout(DRAIN, stopping).await.is_err() {
            tracing::warn!("mailbox watchers still busy after shutdown: releasing anyway");
        }
        self.worker.stop().await;
        Ok(())
    }

    /// One round: beat, renew what is held, then give up or take leases toward the fair share.
    async fn tick(
        &self,
        held: &mut BTreeMap<String, Held>,
        ended: &mpsc::UnboundedSender<(String, i64, Result<()>)>,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let store = &self.worker.store;
        let ttl = ms(self.worker.ttl);
        if store.heartbeat(&self.worker.id).await?.is_none() {
            anyhow::bail!("this worker's row was marked stopped or removed");
        }
        let renewed: BTreeMap<String, i64> = store
            .renew_leases(&self.worker.id, ttl)
            .await?
            .into_iter()
            .collect();
        for key in held.keys().cloned().collect::<Vec<_>>() {
            if renewed.get(&key) != Some(&held[&key].fence.token) {
                self.drop_unit(held, &key, "lease expired or taken by another worker");
            }
        }
        let (workers, _) = store.workers().await?;
        self.worker.reap(&workers).await?;
        let (leases, now) = store.leases().await?;
        let live = workers.iter().filter(|w| w.live_at(now)).count().max(1);
        let share = self.units.len().div_ceil(live);
        // More than the share while others have room: give the newest up, one per round.
        if held.len() > share
            && let Some(key) = held
                .iter()
                .max_by_key(|(_, h)| h.fence.token)
                .map(|(k, _)| k.clone())
        {
            self.give_up(held, &key, "fair share").await;
        }
        let mut free: Vec<&Unit> = self
            .units
            .iter()
            .filter(|u| !held.contains_key(&u.key) && !self.resting(&u.key))
            .filter(|u| {
                leases
                    .iter()
                    .find(|l| l.mailbox == u.key)
                    .is_none_or(|l| !l.held_at(now))
            })
            .collect();
        free.shuffle(&mut rand::thread_rng());
        for unit in free {
            // Beyond the share only for a mailbox nobody took for a whole ttl after it fell free.
            let orphan = leases
                .iter()
                .find(|l| l.mailbox == unit.key)
                .is_some_and(|l| l.expires_ms + ttl < now && l.expires_ms > 0);
            if held.len() >= share && !orphan {
                continue;
            }
            if let Some(fence) = self.worker.acquire(&unit.key).await? {
                self.start(held, unit, fence, ended, cancel);
            }
        }
        Ok(())
    }

    fn start(
        &self,
        held: &mut BTreeMap<String, Held>,
        unit: &Unit,
        fence: Fence,
        ended: &mpsc::UnboundedSender<(String, i64, Result<()>)>,
        cancel: &CancellationToken,
    ) {
        let token = fence.token;
        tracing::info!(mailbox = %unit.name, token, "lease taken: watching");
        if let Some(m) = &unit.metrics {
            m.set_held(true, token);
        }
        let stop = cancel.child_token();
        let work = (unit.start)(fence.clone(), stop.clone());
        let (key, ended) = (unit.key.clone(), ended.clone());
        let task = tokio::spawn(async move {
            let result = work.await;
            let _ = ended.send((key, token, result));
        });
        held.insert(
            unit.key.clone(),
            Held {
                fence,
                cancel: stop,
                task,
                started: Instant::now(),
            },
        );
    }

    fn unit(&self, key: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.key == key)
    }

    /// Stops the unit of a lease that is no longer this worker's; nothing of it is released.
    fn drop_unit(&self, held: &mut BTreeMap<String, Held>, key: &str, why: &str) {
        let Some(h) = held.remove(key) else { return };
        h.cancel.cancel();
        if let Some(unit) = self.unit(key) {
            if let Some(m) = &unit.metrics {
                m.set_held(false, h.fence.token);
            }
            tracing::warn!(mailbox = %unit.name, token = h.fence.token, why, "lease lost: mailbox dropped");
        }
    }

    /// Stops the unit (it finishes the batch in hand), then releases its lease for another worker.
    async fn give_up(&self, held: &mut BTreeMap<String, Held>, key: &str, why: &str) {
        let Some(mut h) = held.remove(key) else {
            return;
        };
        h.cancel.cancel();
        if tokio::time::timeout(DRAIN, &mut h.task).await.is_err() {
            h.task.abort();
        }
        let name = self.unit(key).map_or(key, |u| u.name.as_str());
        if let Some(m) = self.unit(key).and_then(|u| u.metrics.as_ref()) {
            m.set_held(false, h.fence.token);
        }
        match self
            .worker
            .store
            .release_lease(key, &self.worker.id, h.fence.token)
            .await
        {
            Ok(_) => tracing::info!(mailbox = %name, token = h.fence.token, why, "lease given up"),
            Err(e) => {
                tracing::warn!(mailbox = %name, error = %format!("{e:#}"), "release failed: the lease expires")
            }
        }
    }

    /// A unit's task ended: on its own only when its lease was lost (`Fenced`) or it failed.
    async fn unit_ended(
        &self,
        held: &mut BTreeMap<String, Held>,
        key: &str,
        token: i64,
        result: Result<()>,
    ) {
        let Some(started) = held
            .get(key)
            .filter(|h| h.fence.token == token)
            .map(|h| h.started)
        else {
            return; // already dropped or given up
        };
        // A lost lease is no fault of the unit; anything else ending it is.
        if !result.as_ref().is_err_and(is_fenced) {
            self.rest(key, started.elapsed());
        }
        match result {
            Err(e) if is_fenced(&e) => self.drop_unit(held, key, &format!("{e:#}")),
            Err(e) => {
                let name = self.unit(key).map_or(key, |u| u.name.as_str());
                tracing::error!(mailbox = %name, error = %format!("{e:#}"), "mailbox watcher failed: giving its lease up");
                self.give_up(held, key, "watcher failed").await;
            }
            Ok(()) => self.give_up(held, key, "watcher ended").await,
        }
    }
}
