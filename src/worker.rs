//! The long-lived loops of `triaged run` and the single pass of `run --once`: the mailbox watcher (IMAP
//! with IDLE or polling, reconnecting with backoff; or a watched Maildir), the metrics listener, and
//! shutdown. One root `CancellationToken`; SIGTERM/SIGINT cancel it (the batch in hand is finished and
//! committed, then LOGOUT), a second signal exits at once. Writes no SQL.

pub mod backoff;
pub mod cli;
mod effects;
pub mod pipeline;
mod progress;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use self::backoff::Backoff;
use self::effects::Effects;
use self::pipeline::{Pipeline, Summary};
use crate::classify::Rules;
use crate::clock::Clock;
use crate::config::{Config, MailboxSource};
use crate::mailbox::Source;
use crate::mailbox::imap::{Imap, Wake};
use crate::mailbox::maildir::Maildir;
use crate::metrics::Metrics;
use crate::store::Store;

/// IDLE is renewed at least this often (RFC 2177 asks for under 29 minutes; NATs forget sooner).
pub const MAX_IDLE: Duration = Duration::from_secs(5 * 60);

/// The store's identity of the configured mailbox.
pub fn mailbox_id(source: &MailboxSource) -> String {
    match source {
        MailboxSource::Imap {
            host,
            port,
            user,
            folder,
            ..
        } => format!("imap://{user}@{host}:{port}/{folder}"),
        MailboxSource::Maildir { path } => format!("maildir:{}", path.display()),
    }
}

/// The watched folder's display name.
pub fn folder_name(source: &MailboxSource) -> String {
    match source {
        MailboxSource::Imap { folder, .. } => folder.clone(),
        MailboxSource::Maildir { .. } => "INBOX".to_owned(),
    }
}

impl Pipeline {
    /// Builds the pipeline for `config`: loads the rules once.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        rules: Arc<Rules>,
        metrics: Arc<Metrics>,
    ) -> Result<Pipeline> {
        let mailbox = mailbox_id(&config.mailbox.source);
        Ok(Pipeline {
            effects: Effects::new(&config, &mailbox)?,
            folder: folder_name(&config.mailbox.source),
            mailbox,
            store,
            rules,
            config,
            clock: Clock::system(),
            metrics,
        })
    }

    /// How long one IDLE lasts before it is renewed: often enough that a healthy server answers well
    /// within the liveness limit, and at least every five minutes.
    fn renew(&self) -> Duration {
        MAX_IDLE
            .min(self.config.mailbox.liveness_limit / 3)
            .max(Duration::from_millis(500))
    }

    /// Opens the source once and processes everything pending (`run --once`).
    pub async fn once(&self, cancel: &CancellationToken) -> Result<Summary> {
        match &self.config.mailbox.source {
            MailboxSource::Imap { .. } => {
                let (imap, selected) =
                    Imap::connect(&self.config.mailbox, self.metrics.last_read.clone()).await?;
                let mut state = self.attach(Some(selected)).await?;
                let mut source = Source::Imap(Box::new(imap));
                let summary = self.pass(&mut source, &mut state, cancel).await;
                if let Source::Imap(imap) = source {
                    imap.logout().await;
                }
                summary
            }
            MailboxSource::Maildir { path } => {
                let mut source = Source::Maildir(Maildir::open(path)?);
                let mut state = self.attach(None).await?;
                self.pass(&mut source, &mut state, cancel).await
            }
        }
    }

    /// Watches the mailbox until `cancel` fires.
    pub async fn watch(&self, cancel: &CancellationToken) -> Result<()> {
        match &self.config.mailbox.source {
            MailboxSource::Imap { .. } => {
                self.imap_loop(cancel).await;
                Ok(())
            }
            MailboxSource::Maildir { path } => self.maildir_loop(path, cancel).await,
        }
    }

    async fn imap_loop(&self, cancel: &CancellationToken) {
        let mut backoff = Backoff::default();
        let mut first = true;
        while !cancel.is_cancelled() {
            if !first {
                self.metrics.reconnected();
            }
            first = false;
            let Err(e) = self.imap_session(cancel, &mut backoff).await else {
                break;
            };
            self.metrics.set_connected(false);
            self.metrics.error();
            let error = format!("{e:#}");
            tracing::warn!(error = %error, "mailbox session ended");
            if let Err(e) = self
                .store
                .set_sync_error(&self.mailbox, &error, self.clock.now_ms())
                .await
            {
                tracing::warn!(error = %format!("{e:#}"), "record sync error");
            }
            let delay = backoff.next_delay();
            tracing::info!(delay_ms = delay.as_millis() as u64, "reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => break,
            }
        }
        self.metrics.set_connected(false);
    }

    /// One connection: sort what is pending, then IDLE (or poll) and sort again on every change.
    async fn imap_session(&self, cancel: &CancellationToken, backoff: &mut Backoff) -> Result<()> {
        let (mut imap, selected) =
            Imap::connect(&self.config.mailbox, self.metrics.last_read.clone()).await?;
        tracing::info!(mailbox = %self.mailbox, uidvalidity = selected.uidvalidity, exists = selected.exists, "connected");
        self.metrics.set_connected(true);
        let mut state = self.attach(Some(selected)).await?;
        let renew = if imap.caps.idle {
            self.renew()
        } else {
            self.config.mailbox.poll_interval
        };
        loop {
            let mut source = Source::Imap(Box::new(imap));
            let summary = self.pass(&mut source, &mut state, cancel).await?;
            log_summary(&summary);
            self.refresh_outbox_depth().await;
            backoff.reset();
            let Source::Imap(back) = source else {
                anyhow::bail!("source changed kind")
            };
            if cancel.is_cancelled() {
                back.logout().await;
                return Ok(());
            }
            let (mut next, wake) = (*back).idle(renew, cancel).await?;
            if wake == Wake::Cancelled {
                next.logout().await;
                return Ok(());
            }
            let selected = next.select().await?;
            if selected.uidvalidity != state.uidvalidity {
                state = self.attach(Some(selected)).await?;
            }
            imap = next;
        }
    }

    async fn maildir_loop(&self, path: &std::path::Path, cancel: &CancellationToken) -> Result<()> {
        let maildir = Maildir::open(path)?;
        let (_watcher, mut changes) = maildir.watch()?;
        let mut source = Source::Maildir(maildir);
        let mut state = self.attach(None).await?;
        self.metrics.set_connected(true);
        loop {
            match self.pass(&mut source, &mut state, cancel).await {
                Ok(summary) => {
                    log_summary(&summary);
                    self.refresh_outbox_depth().await;
                }
                Err(e) => {
                    self.metrics.error();
                    tracing::warn!(error = %format!("{e:#}"), "maildir pass failed");
                }
            }
            tokio::select! {
                _ = changes.recv() => {
                    // Files arrive in bursts (tmp/ → new/, flag renames): let the burst settle.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while changes.try_recv().is_ok() {}
                }
                () = tokio::time::sleep(self.config.mailbox.poll_interval) => {}
                () = cancel.cancelled() => break,
            }
        }
        self.metrics.set_connected(false);
        Ok(())
    }
}

/// How many messages in the watched folder have no verdict yet (connects to the server for IMAP).
pub async fn pending(config: &Config, store: &Store) -> Result<usize> {
    let mailbox = mailbox_id(&config.mailbox.source);
    let last_uid = store.sync_state(&mailbox).await?.map_or(0, |s| s.last_uid);
    match &config.mailbox.source {
        MailboxSource::Imap { .. } => {
            let last_read = Arc::new(std::sync::atomic::AtomicI64::new(0));
            let (mut imap, _) = Imap::connect(&config.mailbox, last_read).await?;
            let n = imap.uids_after(last_uid).await?.len();
            imap.logout().await;
            Ok(n)
        }
        MailboxSource::Maildir { path } => {
            let names = Maildir::open(path)?.scan()?;
            let known = store.known_names(&mailbox, &names).await?;
            Ok(names.len() - known.len())
        }
    }
}

impl Pipeline {
    /// Refreshes the outbox depth gauge after a pass.
    async fn refresh_outbox_depth(&self) {
        match self.store.outbox_depth().await {
            Ok(n) => self.metrics.set_outbox_depth(n),
            Err(e) => tracing::debug!(error = %format!("{e:#}"), "outbox depth"),
        }
    }
}

fn log_summary(summary: &Summary) {
    if summary.sorted() > 0 || summary.recovered > 0 {
        tracing::info!(
            sorted = summary.sorted(),
            errors = summary.errors,
            recovered = summary.recovered,
            known = summary.known,
            "pass done"
        );
    }
}

/// Waits for SIGTERM or SIGINT.
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

/// The first signal cancels `cancel` (graceful); the second exits at once.
pub fn handle_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        if signalled().await.is_err() {
            return;
        }
        tracing::info!("shutting down: finishing the batch in hand (signal again to exit at once)");
        cancel.cancel();
        if signalled().await.is_ok() {
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        }
    });
}
