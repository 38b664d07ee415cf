//! The worker: [`run`] is `triaged run` and `run --once`. It loads what the loops need (each mailbox's
//! rules, the outbox with its keys, the templates) and registers itself as a worker in the store. Then
//! it either leases what mailboxes it can, makes one pass over each and one outbox flush, or starts the
//! one scheduler (`scheduler.rs`) with a loop per concern until shutdown: the lease keeper
//! (`lease.rs`), which holds this worker's fair share of the mailboxes and runs a watcher for each
//! (with its response-times loop when that mailbox's `[sla] buckets` are set) and, when it holds the
//! team jobs' lease, the retention schedule (`[retention] schedule`) and the disputes escalation check
//! (the disputes bridge on); the outbox sender; the team gauges; and the metrics listener. `--once`
//! reads the response times of the mailboxes it sorted and checks the disputes once too. On SQLite a second worker is refused (`single.rs`).
//! [`check`] loads the same things without running anything, for `triaged check`; [`status`] reads
//! where the mailboxes and the workers stand. The worker writes no SQL and parses no arguments.

mod backoff;
mod caused;
mod gauges;
mod lease;
mod pipeline;
mod progress;
mod quarantine;
mod scheduler;
mod single;
mod sort;
mod status;
mod summary;
mod watch;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use self::lease::{Fence, Keeper, Unit, Worker};
use self::pipeline::Pipeline;
pub use self::pipeline::{APPLY_BATCH, BATCH, MAX_APPLY_ATTEMPTS, Summary};
pub use self::quarantine::{MAX_RECLASSIFY, QUARANTINE_FLAG};
use self::scheduler::Group;
pub use self::status::{MailboxStatus, Status, WorkerStatus, status};
pub use self::watch::IDLE_RENEW_MAX;
use self::watch::Watcher;
use crate::classify::Rules;
use crate::clock::Clock;
use crate::config::{Config, ConfigError, ConfigErrors, MailboxSource};
use crate::metrics::{MailboxMetrics, Metrics};
use crate::outbox::{FlushReport, Outbox};
use crate::store::Store;
use crate::templates::Templates;

/// How `run` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Watch the mailboxes and send mail until shutdown.
    Watch,
    /// Sort what is pending in every mailbox it can lease, read the response times, escalate stalled
    /// disputes, flush the outbox once, and return.
    Once,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per mailbox sorted (`Once`): its name and what the pass did, or why it failed.
    pub mailboxes: Vec<(String, Result<Summary, String>)>,
    /// Mailboxes another worker held (`Once`), with the holder.
    pub skipped: Vec<(String, String)>,
    /// The outbox flush of a `Once` run.
    pub outbox: Option<FlushReport>,
}

/// What `check` loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Templates rendered with sample data and composed.
    pub templates: usize,
    /// The team's roles and checklists files, read and checked.
    pub team: crate::team::Checked,
}

/// One configured mailbox, ready to be watched under a lease.
struct Mailbox {
    /// The store's identity of it, which is its lease's key.
    key: String,
    /// The config as its watcher sees it (its own rules, ack and sla).
    config: Arc<Config>,
    rules: Arc<Rules>,
    /// The outbox settings and templates, loaded once for every mailbox.
    loaded: (Arc<Outbox>, Arc<Templates>),
    metrics: Arc<Metrics>,
    counters: Arc<MailboxMetrics>,
    store: Store,
}

impl Mailbox {
    /// Loads every configured mailbox's rules (a script that does not compile fails the start).
    fn load_all(
        config: &Config,
        store: &Store,
        metrics: &Arc<Metrics>,
    ) -> Result<Vec<Arc<Mailbox>>> {
        // The top-level rules are compiled once for every mailbox without its own.
        let shared = Arc::new(Rules::load(&config.rules)?);
        let loaded = crate::actions::Effects::load(config)?;
        config
            .mailboxes
            .iter()
            .map(|entry| {
                let one = Arc::new(config.for_mailbox(entry));
                let rules = match &entry.rules {
                    Some(own) => Arc::new(Rules::load(own)?),
                    None => shared.clone(),
                };
                let imap = matches!(one.mailbox.source, MailboxSource::Imap { .. });
                let counters = metrics.mailbox(&one.mailbox.name, one.mailbox.liveness_limit, imap);
                Ok(Arc::new(Mailbox {
                    key: crate::mailbox::id(&one.mailbox.source),
                    config: one,
                    rules,
                    loaded: loaded.clone(),
                    metrics: metrics.clone(),
                    counters,
                    store: store.clone(),
                }))
            })
            .collect()
    }

    fn name(&self) -> &str {
        &self.config.mailbox.name
    }

    /// The watcher of this mailbox, under the lease `fence`.
    fn watcher(&self, fence: Fence) -> Result<Watcher> {
        let token = fence.token();
        let metrics = (self.metrics.clone(), self.counters.clone());
        let pipeline = Pipeline::new(
            self.config.clone(),
            self.store.clone(),
            (self.rules.clone(), self.loaded.clone()),
            metrics.clone(),
            Clock::system(),
            fence,
        )?;
        Ok(Watcher::new(
            pipeline,
            self.config.clone(),
            self.store.clone(),
            metrics,
            token,
            Clock::system(),
        ))
    }

    /// Watches the mailbox under `fence` until `cancel` fires or the lease is lost; with `[sla]
    /// buckets`, its sent folders are read alongside.
    async fn watch(self: Arc<Self>, fence: Fence, cancel: CancellationToken) -> Result<()> {
        let watcher = self.watcher(fence)?;
        let sla = (!self.config.sla.buckets.is_empty()).then(|| {
            let (c, s, m, t) = (
                self.config.clone(),
                self.store.clone(),
                self.metrics.clone(),
                cancel.child_token(),
            );
            let every = self.config.mailbox.poll_interval;
            tokio::spawn(
                crate::records::sla::scheduled(c, s, Clock::system(), m, every, t)
                    .instrument(tracing::Span::current()),
            )
        });
        let watched = watcher.watch(&cancel).await;
        if let Some(sla) = sla {
            if watched.is_err() {
                sla.abort();
            }
            let _ = sla.await;
        }
        watched
    }

    /// The lease unit the keeper runs.
    fn unit(self: &Arc<Self>) -> Unit {
        let me = self.clone();
        Unit {
            key: self.key.clone(),
            name: self.name().to_owned(),
            metrics: Some(self.counters.clone()),
            start: Arc::new(move |fence, cancel| {
                let span = tracing::info_span!("mailbox", name = %me.name(), token = fence.token());
                Box::pin(me.clone().watch(fence, cancel).instrument(span))
            }),
        }
    }
}

/// Runs the worker until `shutdown` resolves (`Mode::Watch`), or makes one pass (`Mode::Once`, which
/// `shutdown` cuts short between batches).
pub async fn run(
    config: Arc<Config>,
    mode: Mode,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<Report> {
    let (store, _) = Store::open_migrated(&config.store.url).await?;
    let _single = single::lock(&store, &config.store.url)?;
    let metrics = Arc::new(Metrics::new());
    let mailboxes = Mailbox::load_all(&config, &store, &metrics)?;
    let mut keys: Vec<(String, String)> = mailboxes
        .iter()
        .map(|m| (m.key.clone(), m.name().to_owned()))
        .collect();
    if team_jobs(&config) {
        keys.push((lease::TEAM_JOBS.to_owned(), "team jobs".to_owned()));
    }
    let alone = store.backend() == crate::store::Backend::Sqlite;
    let worker = Worker::register(&store, config.lease.ttl, &keys, alone).await?;
    let result = match mode {
        Mode::Once => once(&worker, &mailboxes, &store, &config, shutdown).await,
        Mode::Watch => {
            watch(
                worker.clone(),
                mailboxes,
                &store,
                &config,
                metrics,
                shutdown,
            )
            .await
        }
    };
    if mode == Mode::Once {
        worker.stop().await;
    }
    store.close().await;
    let report = result?;
    tracing::info!("stopped");
    Ok(report)
}

/// One pass over every mailbox this worker can lease, then one outbox flush; a shutdown stops the
/// pass between batches. A mailbox that fails is reported and the others go on.
async fn once(
    worker: &Worker,
    mailboxes: &[Arc<Mailbox>],
    store: &Store,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<Report> {
    let cancel = CancellationToken::new();
    let mut report = Report::default();
    let alive = worker.keep_alive();
    let passes = async {
        for mailbox in mailboxes {
            if cancel.is_cancelled() {
                break;
            }
            let Some(fence) = worker.acquire(&mailbox.key).await? else {
                let (leases, _) = store.leases().await?;
                let holder = leases
                    .into_iter()
                    .find(|l| l.mailbox == mailbox.key)
                    .map(|l| l.holder)
                    .unwrap_or_default();
                tracing::info!(mailbox = %mailbox.name(), holder = %holder, "held by another worker: skipped");
                report.skipped.push((mailbox.name().to_owned(), holder));
                continue;
            };
            let span =
                tracing::info_span!("mailbox", name = %mailbox.name(), token = fence.token());
            let pass = async {
                let summary = mailbox.watcher(fence)?.once(&cancel).await?;
                if !mailbox.config.sla.buckets.is_empty() {
                    crate::records::sla::pass(&mailbox.config, store, &Clock::system()).await?;
                }
                anyhow::Ok(summary)
            }
            .instrument(span)
            .await;
            if let Err(e) = &pass {
                tracing::error!(mailbox = %mailbox.name(), error = %format!("{e:#}"), "pass failed");
            }
            report.mailboxes.push((
                mailbox.name().to_owned(),
                pass.map_err(|e| format!("{e:#}")),
            ));
        }
        anyhow::Ok(())
    };
    {
        tokio::pin!(passes, shutdown);
        tokio::select! {
            done = &mut passes => done?,
            () = &mut shutdown => {
                tracing::info!("shutting down: finishing the batch in hand (signal again to exit at once)");
                exit_on_second_signal();
                cancel.cancel();
                passes.await?;
            }
        }
    }
    alive.abort();
    if crate::records::bridge::enabled(&config.disputes) {
        let outbox = Outbox::new(config)?;
        let templates = Templates::load(config.outbox.templates_dir.as_deref())?;
        crate::records::bridge::escalate(store, config, &outbox, &templates, &Clock::system())
            .await?;
    }
    // `--once` beats no worker row of its own: the flush registers and beats one for itself.
    let flusher = crate::outbox::Flusher::Own(config.lease.ttl);
    let flushed =
        crate::outbox::flush(store, &config.outbox, &Clock::system(), false, &flusher).await?;
    report.outbox = Some(flushed);
    Ok(report)
}

/// The long-lived loops under one scheduler, until shutdown or until one of them dies.
async fn watch(
    worker: Worker,
    mailboxes: Vec<Arc<Mailbox>>,
    store: &Store,
    config: &Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<Report> {
    let mut group = Group::new();
    let listener = match config.metrics.listen {
        Some(addr) => Some(crate::metrics::bind(addr).await?),
        None => None,
    };
    let mut units: Vec<Unit> = mailboxes.iter().map(Mailbox::unit).collect();
    if team_jobs(config) {
        units.push(team_jobs_unit(Arc::new(config.clone()), store.clone()));
    }
    // The keeper beats this worker's row: the sender's claims last as long as it lives.
    let flusher = crate::outbox::Flusher::Worker(worker.id.to_string());
    let cancel = group.token();
    group.spawn("leases", Keeper::new(worker, units).run(cancel));
    let (s, o, c) = (store.clone(), config.outbox.clone(), group.token());
    group.spawn(
        "outbox sender",
        crate::outbox::run_sender(s, o, Clock::system(), c, flusher),
    );
    let (s, m, c) = (store.clone(), metrics.clone(), group.token());
    let settings = crate::team::Settings::new(config)?;
    group.spawn(
        "team gauges",
        gauges::run(
            s,
            settings,
            config.team.revoke_within,
            m,
            Clock::system(),
            c,
        ),
    );
    if let Some(listener) = listener {
        let (c, t) = (group.token(), group.tracker());
        group.spawn(
            "metrics listener",
            crate::metrics::serve(listener, metrics, c, t),
        );
    }
    group.run(shutdown).await?;
    Ok(Report::default())
}

/// Whether the config asks for team-wide jobs: a retention schedule or the disputes bridge.
fn team_jobs(config: &Config) -> bool {
    config.retention.schedule.is_some() || crate::records::bridge::enabled(&config.disputes)
}

/// The team-wide jobs as one lease unit: whichever worker holds [`lease::TEAM_JOBS`] runs the
/// retention schedule and the disputes escalation check, until it gives the lease up.
fn team_jobs_unit(config: Arc<Config>, store: Store) -> Unit {
    Unit {
        key: lease::TEAM_JOBS.to_owned(),
        name: "team jobs".to_owned(),
        metrics: None,
        start: Arc::new(move |_fence, cancel| {
            let (config, store) = (config.clone(), store.clone());
            Box::pin(async move {
                let mut jobs = tokio::task::JoinSet::new();
                if let Some(every) = config.retention.schedule {
                    let (c, s, t) = (config.clone(), store.clone(), cancel.clone());
                    jobs.spawn(crate::records::retention::scheduled(
                        c,
                        s,
                        Clock::system(),
                        every,
                        t,
                    ));
                }
                if crate::records::bridge::enabled(&config.disputes) {
                    let (c, s, t) = (config.clone(), store.clone(), cancel.clone());
                    jobs.spawn(crate::records::bridge::scheduled(c, s, Clock::system(), t));
                }
                // A job that ends before the lease is given up is a fault: the lease goes back, and
                // the jobs start again under the next lease taken.
                tokio::select! {
                    () = cancel.cancelled() => {}
                    Some(ended) = jobs.join_next() => {
                        ended.context("a team job panicked")??;
                        anyhow::bail!("a team job ended on its own");
                    }
                }
                while let Some(ended) = jobs.join_next().await {
                    ended.context("a team job panicked")??;
                }
                Ok(())
            })
        }),
    }
}

/// Resolves at the first SIGTERM or SIGINT: the `shutdown` that `triaged run` passes to [`run`].
pub async fn shutdown_signal() {
    if let Err(e) = signalled().await {
        // Without signal handlers the process can still be stopped, only not gracefully.
        tracing::warn!(error = %format!("{e:#}"), "cannot listen for signals");
        std::future::pending::<()>().await;
    }
}

async fn signalled() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// After the first signal, a second one exits at once (the work in hand is abandoned; a restart
/// recovers it from the store).
fn exit_on_second_signal() {
    tokio::spawn(async {
        if signalled().await.is_ok() {
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        }
    });
}

/// Loads everything `run` loads, without running anything: the rules (every script compiled with the
/// configured limits), the outbox settings with the OpenPGP keys and the S/MIME identity (expired or
/// unusable certificates reported), and every template rendered with sample data and composed. A problem is a config error (exit 2): a Sieve error as `FILE:LINE:COLUMN`, the
/// others under the key they come from.
pub fn check(config: &Config) -> Result<Checked> {
    Rules::load(&config.rules)?;
    for entry in config.mailboxes.iter().filter(|e| e.rules.is_some()) {
        Rules::load(&config.for_mailbox(entry).rules)?;
    }
    crate::records::buckets::check(config)?;
    let team = crate::team::check(config)?;
    crate::handover::Assets::load(config)?;
    let fail = |key: &str, e: anyhow::Error| ConfigErrors {
        file: config.file.clone(),
        errors: vec![ConfigError::new(key, format!("{e:#}"))],
    };
    let outbox = Outbox::new(config).map_err(|e| match e.downcast() {
        Ok(errors @ ConfigErrors { .. }) => errors,
        Err(e) => fail("openpgp.key_file", e),
    })?;
    let now = Clock::system().now();
    let problems = outbox.problems(now);
    if !problems.is_empty() {
        return Err(ConfigErrors {
            file: config.file.clone(),
            errors: problems,
        }
        .into());
    }
    let templates = Templates::load(config.outbox.templates_dir.as_deref())
        .map_err(|e| fail("outbox.templates_dir", e))?;
    let samples = templates
        .render_samples()
        .map_err(|e| fail("outbox.templates_dir", e))?;
    for mail in &samples {
        outbox
            .compose(mail, &outbox.new_message_id(now), now)
            .with_context(|| format!("compose template {}", mail.template))
            .map_err(|e| fail("outbox.templates_dir", e))?;
    }
    Ok(Checked {
        templates: samples.len(),
        team,
    })
}
