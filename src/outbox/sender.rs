//! The sender: one pass over what is due ([`flush`]) and the loop that runs it inside `triaged run`
//! ([`run_sender`]).
//!
//! Each attempt is claimed in the store for the flushing worker (its count, next time and claimant
//! written) before it starts: while that worker lives, no other flusher sends the recipient, however
//! long the SMTP transaction stalls; a process killed mid-attempt leaves the recipient queued for its
//! next turn once its claim has lapsed, and loses nothing. The sender stops only between attempts, never
//! inside an SMTP transaction.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::flusher::{Claimant, Flusher};
use super::next_attempt_at;
use super::transport::{SendError, Sender};
use crate::clock::Clock;
use crate::config::OutboxConfig;
use crate::store::{NewEvent, OutboxRecipient, RecipientState, Store};

/// How many due recipients one store read fetches.
const BATCH: i64 = 100;
/// The longest the loop sleeps before looking for new mail again.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Attempts made.
    pub attempted: usize,
    pub sent: usize,
    /// Transient failures, queued for another attempt.
    pub retrying: usize,
    /// Recipients failed in this pass: `(outbox id, address, why)` (permanent, or given up).
    pub failed: Vec<(i64, String, String)>,
}

/// Sends what is due now (everything queued when `ignore_schedule`), one SMTP transaction per
/// recipient, each claimed for `flusher`, and records each outcome.
pub async fn flush(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    ignore_schedule: bool,
    flusher: &Flusher,
) -> Result<FlushReport> {
    let claimant = flusher.start(store).await?;
    let pass = flush_until(store, config, clock, ignore_schedule, &claimant.id, None);
    let report = claimant.beating(store, pass).await;
    claimant.stop(store).await;
    report
}

async fn flush_until(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    ignore_schedule: bool,
    worker: &str,
    cancel: Option<&CancellationToken>,
) -> Result<FlushReport> {
    let sender = Sender::new(config)?;
    let mut report = FlushReport::default();
    let mut seen = HashSet::new();
    loop {
        let due = store
            .due_recipients(worker, clock.now_ms(), ignore_schedule, BATCH)
            .await?;
        let fresh: Vec<OutboxRecipient> = due.into_iter().filter(|r| seen.insert(r.id)).collect();
        if fresh.is_empty() {
            return Ok(report);
        }
        for recipient in fresh {
            if cancel.is_some_and(CancellationToken::is_cancelled) {
                return Ok(report);
            }
            let by = Attempt {
                store,
                worker,
                r: &recipient,
            };
            by.run(config, clock, &sender, &mut report).await?;
        }
    }
}

/// One attempt at one recipient by one worker.
struct Attempt<'a> {
    store: &'a Store,
    worker: &'a str,
    r: &'a OutboxRecipient,
}

impl Attempt<'_> {
    async fn run(
        &self,
        config: &OutboxConfig,
        clock: &Clock,
        sender: &Sender,
        report: &mut FlushReport,
    ) -> Result<()> {
        let (store, r) = (self.store, self.r);
        let now = clock.now_ms();
        let delivery = store.delivery(r.id).await?;
        if r.attempts > 0 && now >= delivery.give_up_at_ms {
            let why = format!("gave up after {} attempts: {}", r.attempts, r.last_error);
            return self.fail(&why, now, report).await;
        }
        let next = next_attempt_at(&config.retry, r.attempts + 1, now);
        let claimed = store
            .claim_recipient(r.id, self.worker, r.attempts, next, now)
            .await?;
        if !claimed {
            return Ok(()); // another worker claimed it since it was read
        }
        report.attempted += 1;
        let result = sender
            .send(
                r.mail_id,
                &delivery.envelope_from,
                &r.address,
                &delivery.raw,
            )
            .await;
        let now = clock.now_ms();
        match result {
            Ok(()) => self.sent(now, report).await,
            Err(SendError::Permanent(why)) => {
                self.fail(&format!("permanent: {why}"), now, report).await
            }
            Err(SendError::Transient(why)) if now >= delivery.give_up_at_ms => {
                let why = format!("gave up after {} attempts: {why}", r.attempts + 1);
                self.fail(&why, now, report).await
            }
            Err(SendError::Transient(why)) => {
                if self.record(RecipientState::Queued, &why, now).await? {
                    tracing::warn!(outbox_id = r.mail_id, recipient = %r.address, attempt = r.attempts + 1, next_attempt_ms = next, error = %why, "delivery failed, will retry");
                    report.retrying += 1;
                }
                Ok(())
            }
        }
    }

    async fn sent(&self, now: i64, report: &mut FlushReport) -> Result<()> {
        let r = self.r;
        // Sent is a fact, recorded in the audit trail even when the claim was lost meanwhile.
        self.record(RecipientState::Sent, "", now).await?;
        self.event("sent", "", now).await?;
        tracing::info!(outbox_id = r.mail_id, recipient = %r.address, attempt = r.attempts + 1, "mail sent");
        report.sent += 1;
        Ok(())
    }

    async fn fail(&self, why: &str, now: i64, report: &mut FlushReport) -> Result<()> {
        let r = self.r;
        if !self.record(RecipientState::Failed, why, now).await? {
            return Ok(());
        }
        self.event("failed", why, now).await?;
        tracing::error!(outbox_id = r.mail_id, recipient = %r.address, error = %why, "delivery failed for good");
        report
            .failed
            .push((r.mail_id, r.address.clone(), why.to_owned()));
        Ok(())
    }

    /// Records the outcome under this worker's claim; false (and said so) when it was refused: the
    /// recipient is no longer queued, or another live worker took the claim over from this one.
    async fn record(&self, state: RecipientState, why: &str, now: i64) -> Result<bool> {
        let r = self.r;
        let recorded = self
            .store
            .record_attempt(r.id, self.worker, state, why, now)
            .await?;
        if !recorded {
            tracing::warn!(outbox_id = r.mail_id, recipient = %r.address, worker = %self.worker, outcome = %state, "outcome not recorded: the recipient was cancelled, or its claim was taken over by another worker");
        }
        Ok(recorded)
    }

    async fn event(&self, action: &str, why: &str, now: i64) -> Result<()> {
        let r = self.r;
        let subject = format!("outbox:{}", r.mail_id);
        self.store
            .record_event(&NewEvent {
                at_ms: now,
                actor: "outbox",
                subject: &subject,
                action,
                reason: why,
                detail: &r.address,
            })
            .await?;
        Ok(())
    }
}

/// The sender loop for `triaged run`: flushes what is due, sleeps until the next attempt is due (at most
/// a few seconds, so newly queued mail goes out promptly), and returns once `cancel` fires, never in the
/// middle of an attempt. Its attempts are claimed for `flusher`. A failing pass (store unreachable) is
/// logged and tried again.
pub async fn run_sender(
    store: Store,
    config: OutboxConfig,
    clock: Clock,
    cancel: CancellationToken,
    flusher: Flusher,
) -> Result<()> {
    let claimant = flusher.start(&store).await?;
    let run = sender_loop(&store, &config, &clock, &cancel, &claimant);
    claimant.beating(&store, run).await;
    claimant.stop(&store).await;
    Ok(())
}

async fn sender_loop(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    cancel: &CancellationToken,
    claimant: &Claimant,
) {
    let worker = claimant.id.as_str();
    while !cancel.is_cancelled() {
        crate::failpoint::panic_here("outbox-sender-panic");
        if let Err(e) = flush_until(store, config, clock, false, worker, Some(cancel)).await {
            tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
        }
        let wait = match store.next_outbox_due(worker).await {
            Ok(Some(due)) => {
                let ms = u64::try_from(due - clock.now_ms()).unwrap_or(0);
                Duration::from_millis(ms).min(MAX_IDLE)
            }
            Ok(None) | Err(_) => MAX_IDLE,
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
        }
    }
}
