//! Business time: how much of a span falls inside `[sla] hours`, the instant a given amount of it runs out,
//! and the response [`Target`] built on both.
//!
//! Owns the arithmetic only (pure functions of instants); it reads no clock and no store. Windows are
//! mapped from local wall-clock time to instants through the zone's rules, so a day on which the clocks
//! change counts the hours that really pass.

use std::time::Duration;

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{BusinessHours, SlaConfig};

/// Which instant a local time names when the clocks go back and it happens twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeated {
    Earliest,
    Latest,
}

/// The instant at which local time `local` happens in `tz`. A time the clocks skip (spring forward) maps
/// to the moment of the jump, the first instant whose local time is at or after it; a time that happens
/// twice (fall back) maps to its first or last occurrence as asked.
fn instant(tz: Tz, local: NaiveDateTime, repeated: Repeated) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => match repeated {
            Repeated::Earliest => a.min(b).with_timezone(&Utc),
            Repeated::Latest => a.max(b).with_timezone(&Utc),
        },
        LocalResult::None => skipped(tz, local),
    }
}

/// The first instant whose local time is at or after `local`, for a `local` inside a skipped hour. UTC
/// offsets lie within ±26 hours, so the answer lies within a day either side of `local` read as UTC; a
/// zone changes its offset at most once in that span, so local time rises monotonically there and a
/// bisection finds the jump.
fn skipped(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    const DAY: i64 = 26 * 3600;
    let seconds = local.and_utc().timestamp();
    let local_at =
        |t: i64| DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&tz).naive_local());
    // Invariant: local time at `lo` is before `local`, at `hi` at or after it. Zones change on whole
    // seconds, so whole seconds find the jump exactly.
    let (mut lo, mut hi) = (seconds - DAY, seconds + DAY);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid).is_none_or(|t| t >= local) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The open windows, as instants, of every open day from the day before the local date of `from` on
/// (early ones may lie wholly before `from`; callers clip). The day before is there for zones whose clocks
/// change at midnight, where yesterday's `24:00` can fall after today's start. Never ends: every week
/// has an open day.
fn windows(
    hours: &BusinessHours,
    from: DateTime<Utc>,
) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
    let tz = hours.tz();
    let today: NaiveDate = from.with_timezone(&tz).date_naive();
    let first = today.pred_opt().unwrap_or(today);
    (0u64..)
        .map_while(move |n| first.checked_add_days(Days::new(n)))
        .filter_map(move |date| {
            let (open, close) = hours.local_window(date)?;
            Some((
                instant(tz, open, Repeated::Earliest),
                instant(tz, close, Repeated::Latest),
            ))
        })
}

fn to_std(d: chrono::Duration) -> Duration {
    d.to_std().unwrap_or_default()
}

/// How much business time lies between `from` and `to`; zero when `to` is not after `from`.
pub fn business_duration(
    hours: &BusinessHours,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Duration {
    let mut total = Duration::ZERO;
    if to <= from {
        return total;
    }
    for (open, close) in windows(hours, from) {
        if open >= to {
            break;
        }
        let start = open.max(from);
        let end = close.min(to);
        if end > start {
            total += to_std(end - start);
        }
    }
    total
}

/// The instant at which `amount` of business time has passed since `from`. Time starts counting at the
/// next opening when `from` falls outside the hours.
pub fn add_business_time(
    hours: &BusinessHours,
    from: DateTime<Utc>,
    amount: Duration,
) -> DateTime<Utc> {
    let mut left = amount;
    for (open, close) in windows(hours, from) {
        if close <= from {
            continue;
        }
        let start = open.max(from);
        let length = to_std(close - start);
        if left <= length {
            return start + chrono::Duration::from_std(left).unwrap_or(chrono::Duration::MAX);
        }
        left -= length;
    }
    // `windows` never ends; this is only reached if the calendar itself runs out.
    DateTime::<Utc>::MAX_UTC
}

/// The response target: the first reply is due `within` after arrival, counted in business hours when
/// they are set and in wall-clock time otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub within: Duration,
    pub hours: Option<BusinessHours>,
}

impl Target {
    pub fn from_config(sla: &SlaConfig) -> Target {
        Target {
            within: sla.target,
            hours: sla.hours.clone(),
        }
    }

    /// The time that counts toward the target between two instants (a response time).
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        match &self.hours {
            Some(hours) => business_duration(hours, from, to),
            None => to_std(to - from),
        }
    }

    /// When a message that arrived at `arrival` is due for its first reply.
    pub fn deadline(&self, arrival: DateTime<Utc>) -> DateTime<Utc> {
        match &self.hours {
            Some(hours) => add_business_time(hours, arrival, self.within),
            None => {
                arrival + chrono::Duration::from_std(self.within).unwrap_or(chrono::Duration::MAX)
            }
        }
    }

    /// Whether a ticket breached the target: answered later than it, or unanswered past its deadline at
    /// `now`. A reply exactly on the deadline is in time.
    pub fn breached(
        &self,
        arrival: DateTime<Utc>,
        first_reply: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        match first_reply {
            Some(reply) => self.elapsed(arrival, reply) > self.within,
            None => now > self.deadline(arrival),
        }
    }
}

#[cfg(test)]
#[path = "business_time_tests.rs"]
mod tests;
