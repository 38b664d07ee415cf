//! Escalation: a dispute that waits in one stage longer than `[disputes] escalate_after` allows for that
//! stage is reported to the team leader by mail through the outbox, once. The mail and its record commit
//! together, and the record (one per dispute and stage, ever) is what stops a second one.
//!
//! [`escalate`] is one check (`run --once` makes it after its pass); [`scheduled`] repeats it under the
//! worker's scheduler.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;

use super::{label, stage_of};
use crate::clock::Clock;
use crate::config::{Config, EscalateAfter};
use crate::outbox::Outbox;
use crate::records::disputes::Stage;
use crate::records::report::duration_text;
use crate::store::{DisputeRow, NewEvent, Store};
use crate::team::Role;
use crate::templates::{DisputeEscalation, Templates};

/// How often the scheduled check runs; a stalled dispute is told about within this of its limit.
pub const CHECK_EVERY: Duration = Duration::from_secs(10 * 60);

/// One escalation sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalated {
    pub dispute: String,
    pub stage: Stage,
    pub outbox_id: i64,
}

/// How long a dispute may wait in `stage`; `None` for `acknowledged` (nothing to wait for).
pub fn limit(after: &EscalateAfter, stage: Stage) -> Option<Duration> {
    match stage {
        Stage::Received => Some(after.received),
        Stage::Forwarded => Some(after.forwarded),
        Stage::OnList => Some(after.on_list),
        Stage::Acknowledged => None,
    }
}

fn next_step(stage: Stage) -> &'static str {
    match stage {
        Stage::Received => {
            "It has not been forwarded to the arbitration list yet: please forward it, or \
             ask a Case Manager to."
        }
        Stage::Forwarded => {
            "Its copy from the arbitration list has not come back: check that the list \
             received it (a post held for moderation, a refused sender)."
        }
        _ => {
            "Arbitration has not acknowledged it (no reply, no case number): please ask \
             the arbitration team whether a case was opened."
        }
    }
}

/// The team leader on the roster (an active member holding `leader`), else `[disputes] claimant`.
async fn leader(store: &Store, config: &Config) -> Result<Mailbox> {
    let members = crate::team::active_members(store).await?;
    match members.iter().find(|p| p.has(Role::Leader)) {
        Some(p) => p.mailbox(),
        None => Ok(config.disputes.claimant.clone()),
    }
}

fn when(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// Sends what escalations are due at the clock's time: for each open dispute past its stage's limit and
/// not yet escalated in that stage, one mail to the team leader, recorded with it.
pub async fn escalate(
    store: &Store,
    config: &Config,
    outbox: &Outbox,
    templates: &Templates,
    clock: &Clock,
) -> Result<Vec<Escalated>> {
    let now = clock.now();
    let mut due = Vec::new();
    for d in store.disputes(i64::MAX, true).await? {
        let (stage, since_ms) = stage_of(&d);
        let Some(limit) = limit(&config.disputes.escalate_after, stage) else {
            continue;
        };
        let waited =
            Duration::from_millis(u64::try_from(now.timestamp_millis() - since_ms).unwrap_or(0));
        if waited > limit && !d.escalated.iter().any(|s| s == stage.as_str()) {
            due.push((d, stage, since_ms, waited, limit));
        }
    }
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let to = leader(store, config).await?;
    let mut sent = Vec::new();
    for (d, stage, since_ms, waited, limit) in due {
        if let Some(done) = escalate_one(
            store, config, outbox, templates, &to, &d, stage, since_ms, waited, limit, now,
        )
        .await?
        {
            sent.push(done);
        }
    }
    Ok(sent)
}

#[allow(clippy::too_many_arguments)]
async fn escalate_one(
    store: &Store,
    config: &Config,
    outbox: &Outbox,
    templates: &Templates,
    to: &Mailbox,
    d: &DisputeRow,
    stage: Stage,
    since_ms: i64,
    waited: Duration,
    limit: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Escalated>> {
    let ctx = DisputeEscalation {
        recipient: to.to_string(),
        name: to.name.clone().unwrap_or_else(|| to.email.to_string()),
        dispute: label(d),
        stage: match stage {
            Stage::Forwarded => "forwarded to the list".to_owned(),
            other => other.as_str().to_owned(),
        },
        received: when(d.received_ms),
        since: when(since_ms),
        waited: duration_text(waited),
        limit: duration_text(limit),
        next_step: next_step(stage).to_owned(),
        case: d.case_number.clone(),
        message_id: d.message_id.clone(),
        team_address: config.outbox.from.email.to_string(),
    };
    let mut mail = templates.render(&ctx)?;
    mail.references = vec![format!("<{}>", d.message_id)];
    let mut tx = store.begin().await?;
    let queued = outbox.enqueue_in(&mut tx, &mail, "worker", now).await?;
    let now_ms = now.timestamp_millis();
    if !Store::dispute_escalate_in(&mut tx, d.id, stage.as_str(), now_ms, queued.id).await? {
        // Another worker escalated it first: its mail stands, this one is rolled back.
        return Ok(None);
    }
    Store::record_event_in(
        &mut tx,
        &NewEvent {
            at_ms: now_ms,
            actor: "worker",
            subject: &format!("dispute:{}", d.id),
            action: "dispute-escalated",
            reason: &format!(
                "{} {} > {}",
                stage,
                duration_text(waited),
                duration_text(limit)
            ),
            detail: &format!("outbox {}", queued.id),
        },
    )
    .await?;
    tx.commit().await.context("commit the escalation")?;
    tracing::warn!(dispute = %label(d), stage = %stage, waited = %duration_text(waited), outbox_id = queued.id, "dispute escalated to the team leader");
    Ok(Some(Escalated {
        dispute: label(d),
        stage,
        outbox_id: queued.id,
    }))
}

/// The escalation loop of `triaged run`: checks at start, then every [`CHECK_EVERY`]; a failed check is
/// logged and tried again next time. Returns only once `cancel` fires.
pub async fn scheduled(
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<()> {
    let outbox = Outbox::new(&config).context("load the outbox settings")?;
    let templates = Templates::load(config.outbox.templates_dir.as_deref())?;
    loop {
        if let Err(e) = escalate(&store, &config, &outbox, &templates, &clock).await {
            tracing::error!(error = %format!("{e:#}"), "disputes: escalation check failed");
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            () = cancel.cancelled() => return Ok(()),
        }
    }
}
