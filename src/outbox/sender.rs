//! The sender: one pass over what is due ([`flush`]) and the loop that runs it inside `triaged run`
//! ([`run_sender`]).
//!
//! Each attempt is claimed in the store (its count and next time written) before it starts, so a process
//! killed mid-attempt leaves the recipient queued for its next turn and loses nothing. The sender stops
//! only between attempts, never inside an SMTP transaction.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

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
/// recipient, and records each outcome.
pub async fn flush(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    ignore_schedule: bool,
) -> Result<FlushReport> {
    flush_until(store, config, clock, ignore_schedule, None).await
}

async fn flush_until(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    ignore_schedule: bool,
    cancel: Option<&CancellationToken>,
) -> Result<FlushReport> {
    let sender = Sender::new(config)?;
    let mut report = FlushReport::default();
    let mut seen = HashSet::new();
    loop {
        let due = store
            .due_recipients(clock.now_ms(), ignore_schedule, BATCH)
            .await?;
        let fresh: Vec<OutboxRecipient> = due.into_iter().filter(|r| seen.insert(r.id)).collect();
        if fresh.is_empty() {
            return Ok(report);
        }
        for recipient in fresh {
            if cancel.is_some_and(CancellationToken::is_cancelled) {
                return Ok(report);
            }
            attempt(store, config, clock, &sender, &recipient, &mut report).await?;
        }
    }
}

async fn attempt(
    store: &Store,
    config: &OutboxConfig,
    clock: &Clock,
    sender: &Sender,
    r: &OutboxRecipient,
    report: &mut FlushReport,
) -> Result<()> {
    let now = clock.now_ms();
    let delivery = store.delivery(r.id).await?;
    if r.attempts > 0 && now >= delivery.give_up_at_ms {
        let why = format!("gave up after {} attempts: {}", r.attempts, r.last_error);
        return fail(store, r, &why, now, report).await;
    }
    let next = next_attempt_at(&config.retry, r.attempts + 1, now);
    if !store.claim_recipient(r.id, r.attempts, next, now).await? {
        return Ok(()); // another sender took it since it was read
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
        Ok(()) => {
            store
                .record_attempt(r.id, RecipientState::Sent, "", now)
                .await?;
            event(store, r, "sent", "", now).await?;
            tracing::info!(outbox_id = r.mail_id, recipient = %r.address, attempt = r.attempts + 1, "mail sent");
            report.sent += 1;
        }
        Err(SendError::Permanent(why)) => {
            fail(store, r, &format!("permanent: {why}"), now, report).await?;
        }
        Err(SendError::Transient(why)) if now >= delivery.give_up_at_ms => {
            let why = format!("gave up after {} attempts: {why}", r.attempts + 1);
            fail(store, r, &why, now, report).await?;
        }
        Err(SendError::Transient(why)) => {
            store
                .record_attempt(r.id, RecipientState::Queued, &why, now)
                .await?;
            tracing::warn!(outbox_id = r.mail_id, recipient = %r.address, attempt = r.attempts + 1, next_attempt_ms = next, error = %why, "delivery failed, will retry");
            report.retrying += 1;
        }
    }
    Ok(())
}

async fn fail(
    store: &Store,
    r: &OutboxRecipient,
    why: &str,
    now: i64,
    report: &mut FlushReport,
) -> Result<()> {
    store
        .record_attempt(r.id, RecipientState::Failed, why, now)
        .await?;
    event(store, r, "failed", why, now).await?;
    tracing::error!(outbox_id = r.mail_id, recipient = %r.address, error = %why, "delivery failed for good");
    report
        .failed
        .push((r.mail_id, r.address.clone(), why.to_owned()));
    Ok(())
}

async fn event(
    store: &Store,
    r: &OutboxRecipient,
    action: &str,
    why: &str,
    now: i64,
) -> Result<()> {
    let subject = format!("outbox:{}", r.mail_id);
    store
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

/// The sender loop for `triaged run`: flushes what is due, sleeps until the next attempt is due (at most
/// a few seconds, so newly queued mail goes out promptly), and returns once `cancel` fires, never in the
/// middle of an attempt. A failing pass (store unreachable) is logged and tried again.
pub async fn run_sender(
    store: Store,
    config: OutboxConfig,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<()> {
    while !cancel.is_cancelled() {
        crate::failpoint::panic_here("outbox-sender-panic");
        if let Err(e) = flush_until(&store, &config, &clock, false, Some(&cancel)).await {
            tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
        }
        let wait = match store.next_outbox_due().await {
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
    Ok(())
}
