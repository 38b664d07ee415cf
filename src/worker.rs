//! The worker: [`run`] is `triaged run` and `run --once`. It loads what the loops need (the rules, the
//! outbox with its keys, the templates), then either makes one pass and one outbox flush, or starts the
//! one scheduler (`scheduler.rs`) with a loop per concern (the mailbox watcher, the outbox sender, the
//! team gauges, the retention schedule when `[retention] schedule` is set, the response times when
//! `[sla] buckets` are set, the disputes escalation check when the disputes bridge is on, the metrics
//! listener) until shutdown. `--once` reads the response times and checks the disputes once too.
//! [`check`] loads the same things without running anything, for `triaged check`; [`status`] reads
//! where the mailbox stands. The worker writes no SQL and parses no arguments.

mod backoff;
mod caused;
mod gauges;
mod pipeline;
mod progress;
mod quarantine;
mod scheduler;
mod sort;
mod status;
mod summary;
mod watch;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use self::pipeline::Pipeline;
pub use self::pipeline::{APPLY_BATCH, BATCH, MAX_APPLY_ATTEMPTS, Summary};
pub use self::quarantine::{MAX_RECLASSIFY, QUARANTINE_FLAG};
use self::scheduler::Group;
pub use self::status::{Status, status};
pub use self::watch::IDLE_RENEW_MAX;
use self::watch::Watcher;
use crate::classify::Rules;
use crate::clock::Clock;
use crate::config::{Config, ConfigError, ConfigErrors, MailboxSource};
use crate::metrics::Metrics;
use crate::outbox::{FlushReport, Outbox};
use crate::store::Store;
use crate::templates::Templates;

/// How `run` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Watch the mailbox and send mail until shutdown.
    Watch,
    /// Sort what is pending, read the response times, escalate stalled disputes, flush the outbox
    /// once, and return.
    Once,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The mailbox's identity in the store.
    pub mailbox: String,
    /// What the pass sorted (`Once`; a watching run logs each pass instead).
    pub summary: Summary,
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

/// Runs the worker until `shutdown` resolves (`Mode::Watch`), or makes one pass (`Mode::Once`, which
/// `shutdown` cuts short between batches).
pub async fn run(
    config: Arc<Config>,
    mode: Mode,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<Report> {
    let clock = Clock::system();
    let (store, _) = Store::open_migrated(&config.store.url).await?;
    let rules = Arc::new(Rules::load(&config.rules)?);
    let imap = matches!(config.mailbox.source, MailboxSource::Imap { .. });
    let metrics = Arc::new(Metrics::new(config.mailbox.liveness_limit, imap));
    let pipeline = Pipeline::new(
        config.clone(),
        store.clone(),
        rules,
        metrics.clone(),
        clock.clone(),
    )?;
    let watcher = Watcher::new(
        pipeline,
        config.clone(),
        store.clone(),
        metrics.clone(),
        clock,
    );
    let mailbox = watcher.mailbox().to_owned();
    let result = match mode {
        Mode::Once => once(&watcher, &store, &config, shutdown).await,
        Mode::Watch => watch(watcher, &store, &config, metrics, shutdown).await,
    };
    store.close().await;
    let mut report = result?;
    report.mailbox = mailbox;
    tracing::info!("stopped");
    Ok(report)
}

/// One pass over the mailbox, then one outbox flush; a shutdown stops the pass between batches.
async fn once(
    watcher: &Watcher,
    store: &Store,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<Report> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let pass = watcher.once(&cancel);
    tokio::pin!(pass, shutdown);
    let summary = tokio::select! {
        summary = &mut pass => summary?,
        () = &mut shutdown => {
            tracing::info!("shutting down: finishing the batch in hand (signal again to exit at once)");
            exit_on_second_signal();
            cancel.cancel();
            pass.await?
        }
    };
    if !config.sla.buckets.is_empty() {
        crate::records::sla::pass(config, store, &Clock::system()).await?;
    }
    if crate::records::bridge::enabled(&config.disputes) {
        let outbox = Outbox::new(config)?;
        let templates = Templates::load(config.outbox.templates_dir.as_deref())?;
        crate::records::bridge::escalate(store, config, &outbox, &templates, &Clock::system())
            .await?;
    }
    let flushed = crate::outbox::flush(
        store,
        &config.outbox,
        &Clock::system(),
        false,
        &crate::outbox::Flusher::own(),
    )
    .await?;
    Ok(Report {
        summary,
        outbox: Some(flushed),
        ..Report::default()
    })
}

/// The long-lived loops under one scheduler, until shutdown or until one of them dies.
async fn watch(
    watcher: Watcher,
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
    let cancel = group.token();
    group.spawn(
        "mailbox watcher",
        async move { watcher.watch(&cancel).await },
    );
    let (s, o, c) = (store.clone(), config.outbox.clone(), group.token());
    group.spawn(
        "outbox sender",
        crate::outbox::run_sender(s, o, Clock::system(), c, crate::outbox::Flusher::own()),
    );
    if let Some(every) = config.retention.schedule {
        let (c, s, t) = (Arc::new(config.clone()), store.clone(), group.token());
        group.spawn(
            "retention",
            crate::records::retention::scheduled(c, s, Clock::system(), every, t),
        );
    }
    if crate::records::bridge::enabled(&config.disputes) {
        let (c, s, t) = (Arc::new(config.clone()), store.clone(), group.token());
        group.spawn(
            "disputes escalation",
            crate::records::bridge::scheduled(c, s, Clock::system(), t),
        );
    }
    if !config.sla.buckets.is_empty() {
        let (c, s, m, t) = (
            Arc::new(config.clone()),
            store.clone(),
            metrics.clone(),
            group.token(),
        );
        let every = config.mailbox.poll_interval;
        group.spawn(
            "response times",
            crate::records::sla::scheduled(c, s, Clock::system(), m, every, t),
        );
    }
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
