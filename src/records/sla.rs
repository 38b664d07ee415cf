//! Response times against the target: the team's first reply to each support ticket opened in an
//! `[sla] buckets` bucket, and the tickets past their target with none (breaches).
//!
//! A reply counts when triaged sees mail in the ticket's thread that the team sent: from the team's
//! address or an active roster member's, found in the watched mailbox (a member who Cc's the team,
//! recorded with the verdict by `threads`), in one of `[sla] sent_folders` (read here, headers only, on
//! a connection of their own), or queued by triaged itself (a `send` or `dispute` answer). Automatic
//! mail (acknowledgements, vacation replies) never counts. A reply's time is its Date, kept between the
//! ticket's opening and when triaged saw it, so a sent folder read a few minutes late still times the
//! reply when it was written. The target is `[sla] target`, counted in `[sla] hours` when set
//! (`business_time`).
//!
//! [`pass`] reads what is new and logs each newly breached ticket once; the worker runs
//! [`scheduled`] as one of its loops and sets the `triaged_sla_open_breaches` gauge from it.
//! [`report`] makes `triaged report sla`; [`ticket_timings`] gives the annual report its rows.
//! Writes no SQL itself; changes no mail.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::business_time::Target;
use super::report::Period;
use super::report::{ResponseFigures, ResponseRow, TicketTiming};
use super::threads::Threads;
use crate::clock::Clock;
use crate::config::{Config, SlaConfig};
use crate::mailbox::{Source, header_end};
use crate::metrics::Metrics;
use crate::store::{OUTBOX, SENT_FOLDER, Store};

/// Header blocks read from a sent folder per transaction.
const SENT_BATCH: usize = 500;
/// Outbox mails looked at per transaction.
const OUTBOX_BATCH: i64 = 200;

/// What one pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Header blocks read from the sent folders.
    pub sent_read: u64,
    /// Team mail recorded in a thread (from the sent folders and the outbox).
    pub recorded: u64,
    /// Timed tickets past their target with no reply.
    pub open_breaches: u64,
    /// Of those, found (and logged) in this pass.
    pub new_breaches: u64,
}

/// Reads the sent folders and the outbox for the team's replies, then looks for breaches. A sent folder
/// that cannot be read is logged and read again next pass; nothing else is held up by it.
pub async fn pass(config: &Config, store: &Store, clock: &Clock) -> Result<Pass> {
    let mut out = Pass::default();
    let mailbox = crate::mailbox::id(&config.mailbox.source);
    let threads = Threads::new(config, &mailbox);
    if !config.sla.sent_folders.is_empty()
        && let Err(e) = read_sent_folders(config, store, clock, &threads, &mut out).await
    {
        tracing::warn!(error = %format!("{e:#}"), "cannot read the sent folders: trying again next pass");
    }
    read_outbox(store, &threads, &mut out).await?;
    breaches(&config.sla, store, clock, &mut out).await?;
    Ok(out)
}

/// The response-time loop of `triaged run`: a pass every `every`, until `cancel`.
pub async fn scheduled(
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    metrics: Arc<Metrics>,
    every: Duration,
    cancel: CancellationToken,
) -> Result<()> {
    loop {
        match pass(&config, &store, &clock).await {
            Ok(p) => {
                metrics.set_sla_open_breaches(i64::try_from(p.open_breaches).unwrap_or(i64::MAX));
                tracing::debug!(
                    sent_read = p.sent_read,
                    recorded = p.recorded,
                    open_breaches = p.open_breaches,
                    "response times looked at"
                );
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "response-time pass failed: trying again")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}

async fn read_sent_folders(
    config: &Config,
    store: &Store,
    clock: &Clock,
    threads: &Threads,
    out: &mut Pass,
) -> Result<()> {
    let mut source = Source::connect(&config.mailbox)
        .await
        .context("connect to read the sent folders")?;
    let result = async {
        for folder in &config.sla.sent_folders {
            read_sent_folder(&mut source, store, clock, threads, folder, out).await?;
        }
        Ok(())
    }
    .await;
    source.close().await;
    result
}

async fn read_sent_folder(
    source: &mut Source,
    store: &Store,
    clock: &Clock,
    threads: &Threads,
    folder: &str,
    out: &mut Pass,
) -> Result<()> {
    let Some(validity) = source.open_folder(folder, false).await? else {
        tracing::debug!(folder, "no such sent folder (yet)");
        return Ok(());
    };
    let cursor = format!("sent:{}:{folder}", threads.mailbox());
    let (mut position, known) = store.thread_cursor(&cursor).await?;
    if known != validity {
        position = 0;
    }
    loop {
        let headers = source.headers_after(position, SENT_BATCH).await?;
        let before = position;
        let now = clock.now();
        let mut tx = store.begin().await?;
        for h in &headers {
            out.sent_read += 1;
            if threads
                .record_team_mail_in(&mut tx, &h.header, folder, SENT_FOLDER, now)
                .await?
                .is_some()
            {
                out.recorded += 1;
            }
            position = position.max(h.position);
        }
        crate::store::Store::set_thread_cursor_in(&mut tx, &cursor, position, validity).await?;
        tx.commit()
            .await
            .context("commit what the sent folder showed")?;
        if headers.len() < SENT_BATCH || position == before {
            return Ok(());
        }
    }
}

/// Mail triaged queued that answers a thread (anything but a redirect of a received message).
async fn read_outbox(store: &Store, threads: &Threads, out: &mut Pass) -> Result<()> {
    let cursor = "outbox";
    let (mut position, _) = store.thread_cursor(cursor).await?;
    loop {
        let mails = store.queued_mails_after(position, OUTBOX_BATCH).await?;
        if mails.is_empty() {
            return Ok(());
        }
        let mut tx = store.begin().await?;
        for mail in &mails {
            position = position.max(mail.id);
            if mail.raw.is_empty() || mail.template == "redirect" {
                continue;
            }
            let header = &mail.raw[..header_end(&mail.raw)];
            let queued = DateTime::from_timestamp_millis(mail.created_ms).unwrap_or_default();
            if threads
                .record_team_mail_in(&mut tx, header, "outbox", OUTBOX, queued)
                .await?
                .is_some()
            {
                out.recorded += 1;
            }
        }
        crate::store::Store::set_thread_cursor_in(&mut tx, cursor, position, 0).await?;
        tx.commit().await.context("commit what the outbox showed")?;
        if (mails.len() as i64) < OUTBOX_BATCH {
            return Ok(());
        }
    }
}

async fn breaches(sla: &SlaConfig, store: &Store, clock: &Clock, out: &mut Pass) -> Result<()> {
    let target = Target::from_config(sla);
    let now = clock.now();
    for t in store.unanswered_tickets(&sla.buckets).await? {
        let opened = at(t.opened_ms);
        if !target.breached(opened, None, now) {
            continue;
        }
        out.open_breaches += 1;
        if t.breach_ms == 0 {
            tracing::warn!(ticket = %t.ticket, bucket = %t.bucket, opened = %opened.format("%Y-%m-%d %H:%M UTC"), target_secs = target.within.as_secs(), "response target missed: no reply yet");
            store.mark_breach(&t.ticket, now.timestamp_millis()).await?;
            out.new_breaches += 1;
        }
    }
    Ok(())
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The timing of every timed ticket opened in `period` (in `[sla] buckets`, not opened by the team),
/// with its bucket, as of `now`: what the response-time figures are made from.
pub async fn timings_by_bucket(
    store: &Store,
    sla: &SlaConfig,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Vec<(String, TicketTiming)>> {
    let target = Target::from_config(sla);
    let from = period.since.and_time(chrono::NaiveTime::MIN).and_utc();
    let rows = store
        .ticket_times(
            &sla.buckets,
            from.timestamp_millis(),
            period.end().timestamp_millis(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let opened = at(r.opened_ms);
            let reply = (r.first_reply_ms > 0).then(|| at(r.first_reply_ms));
            let timing = TicketTiming {
                opened,
                response: reply.map(|reply| target.elapsed(opened, reply)),
                breached: target.breached(opened, reply, now),
            };
            (r.bucket, timing)
        })
        .collect())
}

/// [`timings_by_bucket`] without the buckets: the rows `ResponseFigures::from_tickets` takes, for the
/// annual report.
pub async fn ticket_timings(
    store: &Store,
    sla: &SlaConfig,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Vec<TicketTiming>> {
    Ok(timings_by_bucket(store, sla, period, now)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// `triaged report sla`: per bucket, the tickets, answered, median, p90 and breaches; per member of the
/// team, the replies.
#[derive(Debug, Clone, Serialize)]
pub struct SlaReport {
    pub period: Period,
    #[serde(rename = "target_secs", serialize_with = "super::stats::secs")]
    pub target: Duration,
    /// The business hours the times are counted in, as configured; `None`: wall-clock time.
    pub business_hours: Option<String>,
    pub buckets: Vec<BucketRow>,
    pub total: ResponseRow,
    pub members: Vec<MemberReplies>,
}

/// One bucket's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BucketRow {
    pub bucket: String,
    #[serde(flatten)]
    pub row: ResponseRow,
}

/// One sender's replies: a member by their primary address, or the team's own address.
#[derive(Debug, Clone, Serialize)]
pub struct MemberReplies {
    pub who: String,
    pub replies: u64,
}

/// The response-time report over `period`, as of `now`; every configured bucket has a row, so an empty
/// store shows zeros.
pub async fn report(
    store: &Store,
    sla: &SlaConfig,
    period: Period,
    now: DateTime<Utc>,
) -> Result<SlaReport> {
    let target = Target::from_config(sla);
    let timings = timings_by_bucket(store, sla, &period, now).await?;
    let mut per_bucket: BTreeMap<String, Vec<TicketTiming>> = sla
        .buckets
        .iter()
        .map(|b| (b.clone(), Vec::new()))
        .collect();
    for (bucket, t) in &timings {
        per_bucket.entry(bucket.clone()).or_default().push(*t);
    }
    let figures =
        |tickets: Vec<TicketTiming>| ResponseFigures::from_tickets(&period, &target, tickets).total;
    let buckets = per_bucket
        .into_iter()
        .map(|(bucket, tickets)| BucketRow {
            bucket,
            row: figures(tickets),
        })
        .collect();
    let from = period.since.and_time(chrono::NaiveTime::MIN).and_utc();
    let members = store
        .replies_per_sender(
            &sla.buckets,
            from.timestamp_millis(),
            period.end().timestamp_millis(),
        )
        .await?
        .into_iter()
        .map(|(who, n)| MemberReplies {
            who,
            replies: u64::try_from(n).unwrap_or(0),
        })
        .collect();
    Ok(SlaReport {
        period,
        target: target.within,
        business_hours: target.hours.as_ref().map(ToString::to_string),
        buckets,
        total: figures(timings.into_iter().map(|(_, t)| t).collect()),
        members,
    })
}

#[cfg(test)]
#[path = "sla_tests.rs"]
mod tests;
