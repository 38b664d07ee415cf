//! The team report built from the store: mail per bucket per month (the verdicts), the roster at both ends
//! with joins, promotions and departures (the role stints), handovers and pings, retention purges per
//! bucket (the purge journal), first-response times of the tickets in `[sla] buckets` (the thread
//! records), and the disputes bridge.
//!
//! The store hands over rows; the pure functions here turn them into the figures of `figures.rs`. An
//! empty store gives a report of zeros.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

use super::figures::{
    DisputeFigures, DisputeRecord, HandoverFigures, HandoverRow, MailFigures, Member, PingFigures,
    ResponseFigures, RetentionFigures, RosterChange, RosterFigures, TicketTiming,
};
use super::{Format, Month, Period, TeamReport, chart, render, write_report};
use crate::config::Config;
use crate::records::business_time::Target;
use crate::store::{DisputeRow, RoleRow, RosterRows, Store, TeamRows, TicketTimeRow};
use crate::team::Role;

/// The report's heading.
pub const TITLE: &str = "Support team report";

/// Reads the store and builds the report over `period`, made at `now`.
pub async fn team_report(
    store: &Store,
    config: &Config,
    period: Period,
    now: DateTime<Utc>,
) -> Result<TeamReport> {
    let (since_ms, until_ms) = (ms(period.since), ms(period.until));
    let target = Target::from_config(&config.sla);
    let mut report = TeamReport::empty(TITLE, period, now, &target);
    let days = store.sorted_per_day(since_ms, until_ms).await?;
    report.mail = MailFigures::from_counts(&period, mail_rows(days));
    let times = store
        .ticket_times(&config.sla.buckets, since_ms, until_ms)
        .await?;
    report.response = ResponseFigures::from_tickets(
        &period,
        &target,
        times.iter().map(|t| timing(&target, t, now)),
    );
    let disputes = store.disputes(i64::MAX, false).await?;
    report.disputes = DisputeFigures::from_disputes(&period, now, disputes.iter().map(dispute));
    let team = store.team_rows().await?;
    report.roster = roster_figures(&team.roster, &period);
    let (sent, answered) = store.pings_between(since_ms, until_ms).await?;
    report.handovers = HandoverFigures {
        handovers: handover_rows(&team, &period),
        pings: PingFigures { sent, answered },
    };
    report.retention =
        RetentionFigures::from_counts(store.purged_per_bucket(since_ms, until_ms).await?);
    Ok(report)
}

/// Where a report went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// The report itself, for standard output (markdown then names chart files it does not write).
    Printed(String),
    /// The files written to `--out DIR`: the report first, then its charts.
    Written(Vec<PathBuf>),
}

/// `report team`: reads the store, builds the report over `period` made at `now`, and prints it in
/// `format` or writes it with its charts to `out`.
pub async fn make(
    store: &Store,
    config: &Config,
    period: Period,
    now: DateTime<Utc>,
    format: Format,
    out: Option<&Path>,
) -> Result<Made> {
    let report = team_report(store, config, period, now).await?;
    match out {
        Some(dir) => Ok(Made::Written(write_report(dir, &report, format)?)),
        None => {
            let charts = chart::draw(&report)?;
            Ok(Made::Printed(render(&report, format, &charts)?))
        }
    }
}

/// A ticket's first response as the thread records hold it, counted against the target at `now` (a
/// ticket still unanswered past its deadline is a breach).
fn timing(target: &Target, t: &TicketTimeRow, now: DateTime<Utc>) -> TicketTiming {
    let opened = date_time(t.opened_ms);
    let reply = (t.first_reply_ms > 0).then(|| date_time(t.first_reply_ms));
    TicketTiming {
        opened,
        response: reply.map(|r| target.elapsed(opened, r)),
        breached: target.breached(opened, reply, now),
    }
}

fn date_time(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// A dispute as the bridge stored it, as the report counts it. The tables are pasted into wiki pages:
/// a dispute without a ticket is named by its Message-ID without brackets.
fn dispute(d: &DisputeRow) -> DisputeRecord {
    let at = |ms: i64| {
        (ms > 0)
            .then(|| DateTime::<Utc>::from_timestamp_millis(ms))
            .flatten()
    };
    DisputeRecord {
        ticket: if d.ticket.is_empty() {
            d.message_id.clone()
        } else {
            d.ticket.clone()
        },
        case: (!d.case_number.is_empty()).then(|| d.case_number.clone()),
        received: at(d.received_ms).unwrap_or_default(),
        forwarded: at(d.forwarded_ms),
        on_list: at(d.on_list_ms),
        acknowledged: at(d.acknowledged_ms),
        escalations: u32::try_from(d.escalated.len()).unwrap_or(u32::MAX),
    }
}

/// Midnight UTC starting `day`, in ms since the epoch.
fn ms(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
}

fn date_of(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

/// `(day since the epoch, bucket, messages)` rows as `(month, bucket, messages)`.
pub(super) fn mail_rows(
    days: impl IntoIterator<Item = (i64, String, u64)>,
) -> Vec<(Month, String, u64)> {
    days.into_iter()
        .map(|(day, bucket, n)| {
            (
                Month::of(date_of(day.saturating_mul(86_400_000))),
                bucket,
                n,
            )
        })
        .collect()
}

/// A stint in a pipeline role (`leader`, held beside one, is not a place on the roster).
fn pipeline(stint: &RoleRow) -> Option<Role> {
    stint.role.parse::<Role>().ok().filter(|r| r.is_pipeline())
}

fn holds_at(stint: &RoleRow, at_ms: i64) -> bool {
    stint.since_ms <= at_ms && (stint.until_ms == 0 || stint.until_ms > at_ms)
}

/// The stints as they count for the roster: a retired person's stints end when they retired (a
/// retirement leaves the stint open and sets the person's state).
fn stints(rows: &RosterRows) -> Vec<RoleRow> {
    let retired: BTreeMap<i64, i64> = rows
        .people
        .iter()
        .filter(|p| p.state == "retired")
        .map(|p| (p.id, p.state_since_ms))
        .collect();
    rows.roles
        .iter()
        .filter_map(|s| {
            let mut s = s.clone();
            if let Some(&at) = retired.get(&s.person_id) {
                if s.since_ms >= at {
                    return None;
                }
                if s.until_ms == 0 || s.until_ms > at {
                    s.until_ms = at;
                }
            }
            Some(s)
        })
        .collect()
}

/// Who held which pipeline role at `at_ms` (the instant before it, for the end of a period), in the
/// roster's order: role along the pipeline, then name.
fn members_at(rows: &RosterRows, stints: &[RoleRow], at_ms: i64) -> Vec<Member> {
    let names: BTreeMap<i64, &str> = rows
        .people
        .iter()
        .map(|p| (p.id, p.name.as_str()))
        .collect();
    let mut found: Vec<(Role, String)> = stints
        .iter()
        .filter(|s| holds_at(s, at_ms))
        .filter_map(|s| Some((pipeline(s)?, names.get(&s.person_id)?.to_string())))
        .collect();
    found.sort_by(|a, b| a.0.rank().cmp(&b.0.rank()).then_with(|| a.1.cmp(&b.1)));
    found.dedup();
    found
        .into_iter()
        .map(|(role, name)| Member {
            name,
            role: role.name().to_owned(),
        })
        .collect()
}

/// The roster at the start and the end of `period`, and the joins, promotions and departures in it.
pub(super) fn roster_figures(rows: &RosterRows, period: &Period) -> RosterFigures {
    let (since_ms, until_ms) = (ms(period.since), ms(period.until));
    let all = stints(rows);
    let mut out = RosterFigures {
        at_start: members_at(rows, &all, since_ms),
        at_end: members_at(rows, &all, until_ms - 1),
        ..RosterFigures::default()
    };
    let inside = |t: i64| since_ms <= t && t < until_ms;
    for person in &rows.people {
        let mut stints: Vec<(&RoleRow, Role)> = all
            .iter()
            .filter(|s| s.person_id == person.id)
            .filter_map(|s| Some((s, pipeline(s)?)))
            .collect();
        stints.sort_by_key(|(s, _)| s.since_ms);
        for (i, (stint, role)) in stints.iter().enumerate() {
            let previous = i.checked_sub(1).map(|j| stints[j].1);
            if inside(stint.since_ms) {
                let change = RosterChange {
                    date: date_of(stint.since_ms),
                    name: person.name.clone(),
                    role: role.name().to_owned(),
                    previous: previous.map(|r| r.name().to_owned()),
                };
                match previous {
                    None => out.joins.push(change),
                    Some(_) => out.promotions.push(change),
                }
            }
            let followed = stints
                .get(i + 1)
                .is_some_and(|(next, _)| next.since_ms <= stint.until_ms);
            if stint.until_ms != 0 && inside(stint.until_ms) && !followed {
                out.departures.push(RosterChange {
                    date: date_of(stint.until_ms),
                    name: person.name.clone(),
                    role: role.name().to_owned(),
                    previous: None,
                });
            }
        }
    }
    for list in [&mut out.joins, &mut out.promotions, &mut out.departures] {
        list.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.name.cmp(&b.name)));
    }
    out
}

/// The handovers opened in `period`, oldest first.
pub(super) fn handover_rows(team: &TeamRows, period: &Period) -> Vec<HandoverRow> {
    let (since_ms, until_ms) = (ms(period.since), ms(period.until));
    let name = |id: i64| {
        team.roster
            .people
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
    };
    team.handovers
        .iter()
        .filter(|h| since_ms <= h.opened_ms && h.opened_ms < until_ms)
        .map(|h| {
            let assets: Vec<_> = team
                .assets
                .iter()
                .filter(|a| a.handover_id == h.id)
                .collect();
            HandoverRow {
                date: date_of(h.opened_ms),
                from: name(h.from_person).unwrap_or_else(|| format!("person {}", h.from_person)),
                to: (h.to_person != 0).then(|| name(h.to_person)).flatten(),
                assets: u32::try_from(assets.len()).unwrap_or(u32::MAX),
                verified: !assets.is_empty() && assets.iter().all(|a| a.state == "verified"),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
