//! The figures of each part of the team report, and the pure functions that build them from rows: what a
//! store query hands over (counts, timings, dated changes) goes in, totals, medians and stages come out.
//!
//! Owns the counting rules (which month a ticket counts in, which disputes are open at the end); it must
//! not read the store or the clock.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Month, Period};
use crate::records::business_time::Target;
use crate::records::disputes::Stage;
use crate::records::stats::{Summary, opt_secs, secs};

/// The name under which buckets beyond the largest few are summed in charts and the monthly table.
pub const OTHER: &str = "(other)";

/// Mail sorted per bucket per month.
#[derive(Debug, Clone, Serialize)]
pub struct MailFigures {
    /// Every bucket with mail in the period, largest total first (ties by name).
    pub buckets: Vec<String>,
    /// One row per month of the period, empty months included.
    pub months: Vec<MonthMail>,
    /// Per bucket, over the whole period.
    pub totals: BTreeMap<String, u64>,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthMail {
    pub month: Month,
    /// Per bucket; buckets without mail that month are absent.
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
}

/// Mail grouped for showing: the largest buckets, then [`OTHER`] for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouped {
    pub names: Vec<String>,
    /// Per month, one count per name.
    pub counts: Vec<Vec<u64>>,
}

impl MailFigures {
    /// Builds the figures from `(month, bucket, messages)` rows; rows for months outside the period are
    /// left out, and a bucket may come in several rows.
    pub fn from_counts(
        period: &Period,
        rows: impl IntoIterator<Item = (Month, String, u64)>,
    ) -> Self {
        let mut months: Vec<MonthMail> = period
            .months()
            .into_iter()
            .map(|month| MonthMail {
                month,
                counts: BTreeMap::new(),
                total: 0,
            })
            .collect();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for (month, bucket, n) in rows {
            let Some(row) = months.iter_mut().find(|m| m.month == month) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            *row.counts.entry(bucket.clone()).or_default() += n;
            row.total += n;
            *totals.entry(bucket).or_default() += n;
        }
        let mut buckets: Vec<String> = totals.keys().cloned().collect();
        buckets.sort_by(|a, b| totals[b].cmp(&totals[a]).then_with(|| a.cmp(b)));
        let total = totals.values().sum();
        MailFigures {
            buckets,
            months,
            totals,
            total,
        }
    }

    /// The `max` largest buckets by name, and [`OTHER`] summing the rest when there are more than `max`.
    pub fn grouped(&self, max: usize) -> Grouped {
        let max = max.max(1);
        let (names, rest) = if self.buckets.len() > max {
            self.buckets.split_at(max - 1)
        } else {
            (self.buckets.as_slice(), &[][..])
        };
        let mut out_names: Vec<String> = names.to_vec();
        if !rest.is_empty() {
            out_names.push(OTHER.to_owned());
        }
        let counts = self
            .months
            .iter()
            .map(|m| {
                let mut row: Vec<u64> = names
                    .iter()
                    .map(|b| m.counts.get(b).copied().unwrap_or(0))
                    .collect();
                if !rest.is_empty() {
                    row.push(rest.iter().filter_map(|b| m.counts.get(b)).sum());
                }
                row
            })
            .collect();
        Grouped {
            names: out_names,
            counts,
        }
    }
}

/// One support ticket's timing, as the response-time records hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketTiming {
    /// When the first message of the thread arrived; the ticket counts in this month.
    pub opened: DateTime<Utc>,
    /// The time to the first reply as the target counts it; `None` while unanswered.
    pub response: Option<Duration>,
    /// Answered late, or unanswered past its deadline when the report was made.
    pub breached: bool,
}

/// Tickets and their first-response times, per month and over the period.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseFigures {
    #[serde(rename = "target_secs", serialize_with = "secs")]
    pub target: Duration,
    /// The business hours the times are counted in, as configured; `None`: wall-clock time.
    pub business_hours: Option<String>,
    pub months: Vec<MonthResponse>,
    /// The whole period (its median is over all tickets, not a median of months).
    pub total: ResponseRow,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthResponse {
    pub month: Month,
    #[serde(flatten)]
    pub row: ResponseRow,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResponseRow {
    /// Tickets opened.
    pub tickets: u64,
    /// Of those, answered.
    pub answered: u64,
    #[serde(rename = "median_secs", serialize_with = "opt_secs")]
    pub median: Option<Duration>,
    #[serde(rename = "p90_secs", serialize_with = "opt_secs")]
    pub p90: Option<Duration>,
    pub breaches: u64,
}

impl ResponseRow {
    fn of(tickets: &[TicketTiming]) -> ResponseRow {
        let times: Vec<Duration> = tickets.iter().filter_map(|t| t.response).collect();
        let summary = Summary::of(&times);
        ResponseRow {
            tickets: tickets.len() as u64,
            answered: summary.count,
            median: summary.median,
            p90: summary.p90,
            breaches: tickets.iter().filter(|t| t.breached).count() as u64,
        }
    }
}

impl ResponseFigures {
    /// Groups tickets by the month they were opened in; tickets opened outside the period are left out.
    pub fn from_tickets(
        period: &Period,
        target: &Target,
        tickets: impl IntoIterator<Item = TicketTiming>,
    ) -> Self {
        let months = period.months();
        let mut per_month: Vec<Vec<TicketTiming>> = vec![Vec::new(); months.len()];
        for ticket in tickets {
            if !period.contains(ticket.opened) {
                continue;
            }
            if let Some(i) = months.iter().position(|m| *m == Month::at(ticket.opened)) {
                per_month[i].push(ticket);
            }
        }
        let all: Vec<TicketTiming> = per_month.iter().flatten().copied().collect();
        ResponseFigures {
            target: target.within,
            business_hours: target.hours.as_ref().map(ToString::to_string),
            months: months
                .into_iter()
                .zip(&per_month)
                .map(|(month, tickets)| MonthResponse {
                    month,
                    row: ResponseRow::of(tickets),
                })
                .collect(),
            total: ResponseRow::of(&all),
        }
    }
}

/// One dispute as the bridge records it: when it reached each stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRecord {
    /// The support ticket of its thread (`sYYYYMMDD.NNN`).
    pub ticket: String,
    /// The arbitration case number, once known (`aYYYYMMDD.N`).
    pub case: Option<String>,
    pub received: DateTime<Utc>,
    pub forwarded: Option<DateTime<Utc>>,
    pub on_list: Option<DateTime<Utc>>,
    pub acknowledged: Option<DateTime<Utc>>,
    /// How many times the team leader was told it was stuck (at most once per stage).
    pub escalations: u32,
}

/// The disputes bridge over the period.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DisputeFigures {
    /// Disputes received in the period.
    pub received: u64,
    /// Disputes forwarded to the arbitration list in the period.
    pub forwarded: u64,
    /// Disputes acknowledged by Arbitration in the period.
    pub acknowledged: u64,
    /// Escalations of the disputes received in the period.
    pub escalations: u64,
    /// Time from receipt to forwarding, for those forwarded in the period.
    pub to_forward: Summary,
    /// Time from receipt to acknowledgement, for those acknowledged in the period.
    pub to_acknowledge: Summary,
    /// Disputes not acknowledged when the period ended (or now, if sooner), oldest first.
    pub open: Vec<OpenDispute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenDispute {
    pub ticket: String,
    pub case: Option<String>,
    /// The last stage it had reached.
    pub stage: Stage,
    /// How long since it was received.
    #[serde(rename = "age_secs", serialize_with = "secs")]
    pub age: Duration,
}

fn since(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

impl DisputeFigures {
    /// Counts each stage reached inside the period; a dispute is open at the end of the period, or at
    /// `now` if that comes first, when it was received by then and not acknowledged.
    pub fn from_disputes(
        period: &Period,
        now: DateTime<Utc>,
        disputes: impl IntoIterator<Item = DisputeRecord>,
    ) -> Self {
        let end = period.end().min(now);
        let mut out = DisputeFigures::default();
        let (mut to_forward, mut to_acknowledge) = (Vec::new(), Vec::new());
        let before_end = |t: &Option<DateTime<Utc>>| t.filter(|t| *t < end);
        for d in disputes {
            if period.contains(d.received) {
                out.received += 1;
                out.escalations += u64::from(d.escalations);
            }
            if let Some(at) = d.forwarded.filter(|t| period.contains(*t)) {
                out.forwarded += 1;
                to_forward.push(since(d.received, at));
            }
            if let Some(at) = d.acknowledged.filter(|t| period.contains(*t)) {
                out.acknowledged += 1;
                to_acknowledge.push(since(d.received, at));
            }
            if d.received >= end || before_end(&d.acknowledged).is_some() {
                continue;
            }
            let stage = if before_end(&d.on_list).is_some() {
                Stage::OnList
            } else if before_end(&d.forwarded).is_some() {
                Stage::Forwarded
            } else {
                Stage::Received
            };
            out.open.push(OpenDispute {
                ticket: d.ticket,
                case: d.case,
                stage,
                age: since(d.received, end),
            });
        }
        out.to_forward = Summary::of(&to_forward);
        out.to_acknowledge = Summary::of(&to_acknowledge);
        out.open
            .sort_by(|a, b| b.age.cmp(&a.age).then_with(|| a.ticket.cmp(&b.ticket)));
        out
    }
}

/// A member and their pipeline role (as the roster names it: `triage`, `se`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    pub role: String,
}

/// A dated change to the roster: a join (no `previous`), a promotion, or a departure (`role` is the
/// role left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterChange {
    pub date: NaiveDate,
    pub name: String,
    pub role: String,
    pub previous: Option<String>,
}

/// The roster at both ends of the period and what changed between. Members come in the roster's own
/// order (role along the pipeline, then name): the report keeps it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RosterFigures {
    pub at_start: Vec<Member>,
    pub at_end: Vec<Member>,
    pub joins: Vec<RosterChange>,
    pub promotions: Vec<RosterChange>,
    pub departures: Vec<RosterChange>,
}

impl RosterFigures {
    /// Per role, members at the start and at the end, roles in the order they first appear (at the end,
    /// then at the start).
    pub fn role_counts(&self) -> Vec<(String, u64, u64)> {
        let mut out: Vec<(String, u64, u64)> = Vec::new();
        for m in self.at_end.iter().chain(&self.at_start) {
            if !out.iter().any(|(role, _, _)| *role == m.role) {
                out.push((m.role.clone(), 0, 0));
            }
        }
        for (role, start, end) in &mut out {
            *start = self.at_start.iter().filter(|m| m.role == *role).count() as u64;
            *end = self.at_end.iter().filter(|m| m.role == *role).count() as u64;
        }
        out
    }
}

/// One handover of a leaving member's rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoverRow {
    pub date: NaiveDate,
    /// Whose rights were handed over.
    pub from: String,
    /// To whom, when someone took them (else they were only revoked).
    pub to: Option<String>,
    /// How many assets the handover covered.
    pub assets: u32,
    /// Whether every asset was verified afterwards.
    pub verified: bool,
}

/// Aliveness pings in the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PingFigures {
    pub sent: u64,
    pub answered: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HandoverFigures {
    pub handovers: Vec<HandoverRow>,
    pub pings: PingFigures,
}

/// Messages purged under the retention practice in the period.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionFigures {
    /// Per bucket.
    pub purged: BTreeMap<String, u64>,
    pub total: u64,
}

impl RetentionFigures {
    /// From `(bucket, purged)` rows; a bucket may come in several rows.
    pub fn from_counts(rows: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut out = RetentionFigures::default();
        for (bucket, n) in rows {
            *out.purged.entry(bucket).or_default() += n;
            out.total += n;
        }
        out
    }
}
