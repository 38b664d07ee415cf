//! `triaged run` (the mailbox worker; `--once` for a single pass) and `triaged status` (where each
//! watched folder stands). Loads what the commands need and calls the worker; no logic of its own.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::Args;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pipeline::{Pipeline, Summary};
use crate::classify::Rules;
use crate::cli::{ConfigArg, UsageError, init_logging};
use crate::config::{Config, MailboxSource};
use crate::metrics::Metrics;
use crate::store::Store;

/// Arguments of `triaged run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Process everything pending, flush the outbox, print what went where and exit.
    #[arg(long)]
    pub once: bool,
}

/// How long shutdown waits for the listener and other tasks after the watcher stopped.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs the worker until SIGTERM/SIGINT, or one pass with `--once`.
pub async fn run(args: &RunArgs) -> Result<ExitCode> {
    let config = Arc::new(args.config.load()?);
    init_logging(config.log.format);
    let store = Store::open(&config.store.url).await?;
    store.migrate().await.context("migrate the store")?;
    let rules = Rules::load(&config.rules).map_err(|e| UsageError(e.to_string()))?;
    let imap = matches!(config.mailbox.source, MailboxSource::Imap { .. });
    let metrics = Arc::new(Metrics::new(config.mailbox.liveness_limit, imap));
    let cancel = CancellationToken::new();
    super::handle_signals(cancel.clone());
    let pipeline = Pipeline::new(
        config.clone(),
        store.clone(),
        Arc::new(rules),
        metrics.clone(),
    )?;
    if args.once {
        let summary = pipeline.once(&cancel).await?;
        print_summary(&pipeline.mailbox, &summary);
        let flushed = crate::outbox::flush(&store, &config.outbox, &pipeline.clock, false).await?;
        crate::outln!(
            "outbox: {} sent, {} to retry, {} failed",
            flushed.sent,
            flushed.retrying,
            flushed.failed.len()
        );
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let tracker = TaskTracker::new();
    let (s, o, c) = (store.clone(), config.outbox.clone(), cancel.child_token());
    tracker.spawn(async move {
        if let Err(e) = crate::outbox::run_sender(s, o, crate::clock::Clock::system(), c).await {
            tracing::error!(error = %format!("{e:#}"), "outbox sender stopped");
        }
    });
    if let Some(addr) = config.metrics.listen {
        let (m, c) = (metrics.clone(), cancel.child_token());
        tracker.spawn(async move {
            if let Err(e) = crate::metrics::serve(addr, m, c).await {
                tracing::error!(error = %format!("{e:#}"), "metrics listener stopped");
            }
        });
    }
    let watched = pipeline.watch(&cancel).await;
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        tracing::warn!("tasks still running after shutdown; exiting anyway");
    }
    store.close().await;
    watched?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// What went where, for `run --once`.
fn print_summary(mailbox: &str, summary: &Summary) {
    crate::outln!("{mailbox}: sorted {} message(s)", summary.sorted());
    let width = summary.buckets.keys().map(String::len).max().unwrap_or(0);
    for (bucket, n) in &summary.buckets {
        crate::outln!("  {bucket:<width$}  {n}");
    }
    if summary.errors > 0 {
        crate::outln!("  {} with errors (in quarantine, flagged)", summary.errors);
    }
    if summary.recovered > 0 {
        crate::outln!(
            "  {} verdict(s) from an earlier run re-applied",
            summary.recovered
        );
    }
    if summary.known > 0 {
        crate::outln!("  {} already sorted before (left alone)", summary.known);
    }
    if summary.released > 0 {
        crate::outln!(
            "  {} released from quarantine (new rules decided them)",
            summary.released
        );
    }
}

/// Prints per watched folder: UIDVALIDITY, last UID, pending, last error, messages per bucket today.
pub async fn status(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let store = Store::open(&config.store.url).await?;
    store.ensure_current().await?;
    let mailbox = super::mailbox_id(&config.mailbox.source);
    print_status(&config, &store, &mailbox).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn print_status(config: &Config, store: &Store, mailbox: &str) -> Result<()> {
    crate::outln!("mailbox {mailbox}");
    let Some(state) = store.sync_state(mailbox).await? else {
        crate::outln!("  not attached yet: `triaged run` attaches it");
        return Ok(());
    };
    crate::outln!("  folder        {}", state.folder);
    crate::outln!("  uidvalidity   {}", state.uidvalidity);
    crate::outln!("  last uid      {}", state.last_uid);
    let pending = match super::pending(config, store).await {
        Ok(n) => n.to_string(),
        Err(e) => format!("unknown ({e:#})"),
    };
    let (unapplied, errors) = store.verdict_backlog(mailbox).await?;
    crate::outln!("  pending       {pending} new, {unapplied} verdict(s) not yet applied");
    let last_error = if state.last_error.is_empty() {
        "none"
    } else {
        &state.last_error
    };
    crate::outln!("  last error    {last_error}");
    let held = store.quarantine_counts(mailbox).await?;
    let count = |state: &str| held.get(state).copied().unwrap_or(0);
    crate::outln!(
        "  quarantine    {} held, {} given up, {} released ({errors} error verdict(s) in all)",
        count(crate::store::HELD),
        count(crate::store::GIVEN_UP),
        count(crate::store::RELEASED)
    );
    crate::outln!(
        "  outbox depth  {} mail(s) waiting",
        store.outbox_depth().await?
    );
    let now = Utc::now();
    let midnight = Utc
        .from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis();
    let today = store.bucket_counts(mailbox, midnight).await?;
    if today.is_empty() {
        crate::outln!("  today         nothing sorted");
    } else {
        let parts: Vec<String> = today.iter().map(|(b, n)| format!("{b} {n}")).collect();
        crate::outln!("  today         {}", parts.join(", "));
    }
    Ok(())
}
