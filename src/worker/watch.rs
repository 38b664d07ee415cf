//! Watching one mailbox: connect, sort what is pending, then wait for the next change (IMAP IDLE, or a
//! poll on servers without it; inotify on a Maildir) and sort again, reconnecting with backoff when the
//! connection dies. `once` is the single pass of `run --once`. The sorting itself is the pipeline's.
//!
//! Each mailbox has its own watcher, backoff and error: a mailbox that fails (a wrong password, a server
//! down) retries alone and never stops the others. The one error that ends a watcher is a lost lease
//! (`Fenced`): the mailbox is then another worker's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::pipeline::{Pipeline, Summary};
use crate::clock::Clock;
use crate::config::{Config, MailboxSource};
use crate::mailbox::Source;
use crate::mailbox::imap::{Imap, Wake};
use crate::mailbox::maildir::Maildir;
use crate::metrics::{MailboxMetrics, Metrics};
use crate::store::Store;

/// IDLE is renewed at least this often (RFC 2177 asks for under 29 minutes; NATs forget sooner).
pub const IDLE_RENEW_MAX: Duration = Duration::from_secs(5 * 60);

/// The watcher of one mailbox.
pub(super) struct Watcher {
    pipeline: Pipeline,
    config: Arc<Config>,
    store: Store,
    /// The worker's counters (the outbox depth) and the mailbox's own.
    metrics: Arc<Metrics>,
    counters: Arc<MailboxMetrics>,
    /// The lease's token, to record the mailbox's last error under.
    token: i64,
    clock: Clock,
}

impl Watcher {
    pub(super) fn new(
        pipeline: Pipeline,
        config: Arc<Config>,
        store: Store,
        metrics: (Arc<Metrics>, Arc<MailboxMetrics>),
        token: i64,
        clock: Clock,
    ) -> Watcher {
        Watcher {
            pipeline,
            config,
            store,
            metrics: metrics.0,
            counters: metrics.1,
            token,
            clock,
        }
    }

    /// The mailbox's name in the config.
    fn name(&self) -> &str {
        &self.config.mailbox.name
    }

    /// The mailbox's identity in the store.
    pub(super) fn mailbox(&self) -> &str {
        self.pipeline.mailbox()
    }

    /// How long one IDLE lasts before it is renewed: often enough that a healthy server answers well
    /// within the liveness limit, and at least every five minutes.
    fn renew(&self) -> Duration {
        IDLE_RENEW_MAX
            .min(self.config.mailbox.liveness_limit / 3)
            .max(Duration::from_millis(500))
    }

    /// Whether the config manages the mailbox tree's rights (an `imap-acl` asset), so that folders
    /// the worker creates get INBOX's rights.
    fn manages_rights(&self) -> bool {
        self.config
            .assets
            .iter()
            .any(|a| matches!(a.kind, crate::config::AssetKind::ImapAcl { .. }))
    }

    /// Opens the source once and processes everything pending (`run --once`).
    pub(super) async fn once(&self, cancel: &CancellationToken) -> Result<Summary> {
        match &self.config.mailbox.source {
            MailboxSource::Imap { .. } => {
                let (mut imap, selected) =
                    Imap::connect(&self.config.mailbox, self.counters.last_read.clone()).await?;
                imap.copy_rights = self.manages_rights();
                let mut state = self.pipeline.attach(Some(selected)).await?;
                let mut source = Source::Imap(Box::new(imap));
                let summary = self.pipeline.pass(&mut source, &mut state, cancel).await;
                if let Source::Imap(imap) = source {
                    imap.logout().await;
                }
                summary
            }
            MailboxSource::Maildir { path } => {
                let mut source = Source::Maildir(Maildir::open(path)?);
                let mut state = self.pipeline.attach(None).await?;
                self.pipeline.pass(&mut source, &mut state, cancel).await
            }
        }
    }

    /// Watches the mailbox until `cancel` fires.
    pub(super) async fn watch(&self, cancel: &CancellationToken) -> Result<()> {
        match &self.config.mailbox.source {
            MailboxSource::Imap { .. } => self.imap_loop(cancel).await,
            MailboxSource::Maildir { path } => self.maildir_loop(path, cancel).await,
        }
    }

    async fn imap_loop(&self, cancel: &CancellationToken) -> Result<()> {
        let mut backoff = Backoff::default();
        let mut first = true;
        while !cancel.is_cancelled() {
            if !first {
                self.counters.reconnected();
            }
            first = false;
            let Err(e) = self.imap_session(cancel, &mut backoff).await else {
                break;
            };
            self.counters.set_connected(false);
            if super::lease::is_fenced(&e) {
                self.fenced(&e);
                return Err(e);
            }
            self.failed(&e).await;
            let delay = backoff.next_delay();
            tracing::info!(mailbox = %self.name(), delay_ms = delay.as_millis() as u64, "reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => break,
            }
        }
        self.counters.set_connected(false);
        Ok(())
    }

    /// Counts and records a failed session or pass: in the metrics, the sync state and the lease row
    /// (a mailbox that never connected has no sync state yet).
    async fn failed(&self, e: &anyhow::Error) {
        self.counters.error();
        let error = format!("{e:#}");
        tracing::warn!(mailbox = %self.name(), error = %error, "mailbox session ended");
        self.counters.set_last_error(&error);
        let recorded = async {
            self.store
                .set_sync_error(self.mailbox(), &error, self.clock.now_ms())
                .await?;
            self.store
                .set_lease_error(self.mailbox(), self.token, &error)
                .await
        };
        if let Err(e) = recorded.await {
            tracing::warn!(error = %format!("{e:#}"), "record sync error");
        }
    }

    /// Says that the store refused a write because the lease is no longer this worker's.
    fn fenced(&self, e: &anyhow::Error) {
        tracing::warn!(mailbox = %self.name(), error = %format!("{e:#}"), "write refused by the lease's fencing token: stopping this mailbox");
    }

    /// Clears the mailbox's last error after a good pass.
    async fn succeeded(&self) {
        if self.counters.last_error().is_empty() {
            return;
        }
        self.counters.set_last_error("");
        if let Err(e) = self
            .store
            .set_lease_error(self.mailbox(), self.token, "")
            .await
        {
            tracing::debug!(error = %format!("{e:#}"), "clear the lease error");
        }
    }

    /// One connection: sort what is pending, then IDLE (or poll) and sort again on every change.
    async fn imap_session(&self, cancel: &CancellationToken, backoff: &mut Backoff) -> Result<()> {
        let (mut imap, selected) =
            Imap::connect(&self.config.mailbox, self.counters.last_read.clone()).await?;
        imap.copy_rights = self.manages_rights();
        tracing::info!(mailbox = %self.name(), uidvalidity = selected.uidvalidity, exists = selected.exists, "connected");
        self.counters.set_connected(true);
        let mut state = self.pipeline.attach(Some(selected)).await?;
        let renew = if imap.caps.idle {
            self.renew()
        } else {
            self.config.mailbox.poll_interval
        };
        loop {
            let mut source = Source::Imap(Box::new(imap));
            let summary = self.pipeline.pass(&mut source, &mut state, cancel).await?;
            log_summary(self.name(), &summary);
            self.refresh_outbox_depth().await;
            self.succeeded().await;
            backoff.reset();
            let Source::Imap(mut back) = source else {
                anyhow::bail!("source changed kind")
            };
            if cancel.is_cancelled() {
                back.logout().await;
                return Ok(());
            }
            if back.has_new(state.last_uid).await? {
                imap = *back;
                continue;
            }
            let (mut next, wake) = (*back).idle(renew, cancel).await?;
            if wake == Wake::Cancelled {
                next.logout().await;
                return Ok(());
            }
            let selected = next.select().await?;
            if selected.uidvalidity != state.uidvalidity {
                state = self.pipeline.attach(Some(selected)).await?;
            }
            imap = next;
        }
    }

    async fn maildir_loop(&self, path: &Path, cancel: &CancellationToken) -> Result<()> {
        let maildir = Maildir::open(path)?;
        // Without inotify (the kernel's per-user instances run out: `fs.inotify.max_user_instances`,
        // 128 by default) the folder is still read every `poll_interval`.
        let (_watcher, mut changes) = match maildir.watch() {
            Ok((watcher, changes)) => (Some(watcher), Some(changes)),
            Err(e) => {
                tracing::warn!(mailbox = %self.name(), error = %format!("{e:#}"), poll_ms = self.config.mailbox.poll_interval.as_millis() as u64, "cannot watch the Maildir for changes: reading it every poll_interval");
                (None, None)
            }
        };
        let mut source = Source::Maildir(maildir);
        let mut state = self.pipeline.attach(None).await?;
        self.counters.set_connected(true);
        loop {
            match self.pipeline.pass(&mut source, &mut state, cancel).await {
                Ok(summary) => {
                    log_summary(self.name(), &summary);
                    self.refresh_outbox_depth().await;
                    self.succeeded().await;
                }
                Err(e) if super::lease::is_fenced(&e) => {
                    self.counters.set_connected(false);
                    self.fenced(&e);
                    return Err(e);
                }
                Err(e) => self.failed(&e).await,
            }
            let changed = async {
                match changes.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = changed => {
                    // Files arrive in bursts (tmp/ → new/, flag renames): let the burst settle.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while changes.as_mut().is_some_and(|c| c.try_recv().is_ok()) {}
                }
                () = tokio::time::sleep(self.config.mailbox.poll_interval) => {}
                () = cancel.cancelled() => break,
            }
        }
        self.counters.set_connected(false);
        Ok(())
    }

    /// Refreshes the outbox depth gauge after a pass.
    async fn refresh_outbox_depth(&self) {
        match self.store.outbox_depth().await {
            Ok(n) => self.metrics.set_outbox_depth(n),
            Err(e) => tracing::debug!(error = %format!("{e:#}"), "outbox depth"),
        }
    }
}

fn log_summary(mailbox: &str, summary: &Summary) {
    if summary.sorted() > 0 || summary.recovered > 0 {
        tracing::info!(
            mailbox,
            sorted = summary.sorted(),
            errors = summary.errors,
            recovered = summary.recovered,
            released = summary.released,
            known = summary.known,
            "pass done"
        );
    }
}
