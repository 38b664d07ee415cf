//! Business time across weekends, nights and the days the clocks change (Europe/Berlin changes on
//! 2026-03-29 and 2026-10-25, America/New_York on 2026-03-08).

use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Target, add_business_time, business_duration};
use crate::config::BusinessHours;

const HOUR: u64 = 3600;

fn hours(text: &str) -> Result<BusinessHours> {
    BusinessHours::parse(text).map_err(anyhow::Error::msg)
}

/// Local wall-clock time in `tz`, as an instant (the time must exist and be unambiguous).
fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Result<DateTime<Utc>> {
    let local = NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, 0))
        .context("a valid date")?;
    Ok(tz
        .from_local_datetime(&local)
        .single()
        .context("an unambiguous local time")?
        .with_timezone(&Utc))
}

fn berlin(mo: u32, d: u32, h: u32, mi: u32) -> Result<DateTime<Utc>> {
    at(chrono_tz::Europe::Berlin, 2026, mo, d, h, mi)
}

#[test]
fn a_weekend_does_not_count() -> Result<()> {
    let office = hours("Mon-Fri 09:00-17:00 Europe/Berlin")?;
    // Friday 2026-03-06 16:30 to Monday 2026-03-09 09:30: 30 minutes on each side.
    let fri = berlin(3, 6, 16, 30)?;
    let mon = berlin(3, 9, 9, 30)?;
    assert_eq!(
        business_duration(&office, fri, mon),
        Duration::from_secs(HOUR)
    );
    assert_eq!(
        add_business_time(&office, fri, Duration::from_secs(HOUR)),
        mon
    );
    // Mail that arrives on Saturday is due an hour after Monday's opening.
    let sat = berlin(3, 7, 10, 0)?;
    assert_eq!(
        business_duration(&office, sat, berlin(3, 7, 18, 0)?),
        Duration::ZERO
    );
    assert_eq!(
        add_business_time(&office, sat, Duration::from_secs(HOUR)),
        berlin(3, 9, 10, 0)?
    );
    Ok(())
}

#[test]
fn nights_do_not_count_and_reversed_spans_are_zero() -> Result<()> {
    let office = hours("Mon-Fri 09:00-17:00 Europe/Berlin")?;
    let tue_evening = berlin(3, 10, 20, 0)?;
    let wed_morning = berlin(3, 11, 9, 45)?;
    assert_eq!(
        business_duration(&office, tue_evening, wed_morning),
        Duration::from_secs(45 * 60)
    );
    assert_eq!(
        business_duration(&office, wed_morning, tue_evening),
        Duration::ZERO
    );
    // A whole working week is five eight-hour days.
    let week = business_duration(&office, berlin(3, 9, 0, 0)?, berlin(3, 16, 0, 0)?);
    assert_eq!(week, Duration::from_secs(40 * HOUR));
    Ok(())
}

#[test]
fn whole_days_last_as_long_as_the_clocks_say() -> Result<()> {
    let always = hours("Mon-Sun 00:00-24:00 Europe/Berlin")?;
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST, a 23-hour day.
    let spring = business_duration(&always, berlin(3, 29, 0, 0)?, berlin(3, 30, 0, 0)?);
    assert_eq!(spring, Duration::from_secs(23 * HOUR));
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET, a 25-hour day.
    let autumn = business_duration(&always, berlin(10, 25, 0, 0)?, berlin(10, 26, 0, 0)?);
    assert_eq!(autumn, Duration::from_secs(25 * HOUR));
    // Around the clock, business time is wall-clock time.
    let (a, b) = (berlin(3, 27, 13, 7)?, berlin(4, 2, 8, 1)?);
    assert_eq!(
        business_duration(&always, a, b),
        (b - a).to_std().context("forward")?
    );
    Ok(())
}

#[test]
fn office_hours_follow_the_zone_across_a_change() -> Result<()> {
    let office = hours("Mon-Fri 09:00-17:00 Europe/Berlin")?;
    // Friday 2026-03-27 12:00 CET to Monday 2026-03-30 12:00 CEST: 5 h on Friday, 3 h on Monday.
    let fri = berlin(3, 27, 12, 0)?;
    let mon = berlin(3, 30, 12, 0)?;
    assert_eq!(
        business_duration(&office, fri, mon),
        Duration::from_secs(8 * HOUR)
    );
    // Monday opens at 09:00 CEST, 07:00 UTC (it was 08:00 UTC the week before).
    let opening = add_business_time(&office, berlin(3, 28, 12, 0)?, Duration::ZERO);
    assert_eq!(
        opening,
        Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0)
            .single()
            .context("utc")?
    );
    // New York changed two weeks earlier: on Monday 2026-03-09 it opens at 13:00 UTC, not 14:00.
    let ny = hours("Mon-Fri 09:00-17:00 America/New_York")?;
    let ny_sunday = at(chrono_tz::America::New_York, 2026, 3, 8, 12, 0)?;
    let due = add_business_time(&ny, ny_sunday, Duration::from_secs(HOUR));
    assert_eq!(
        due,
        Utc.with_ymd_and_hms(2026, 3, 9, 14, 0, 0)
            .single()
            .context("utc")?
    );
    Ok(())
}

#[test]
fn zones_that_change_at_midnight_lose_and_gain_no_time() -> Result<()> {
    // Santiago skips from Saturday 24:00 to Sunday 01:00 in September and repeats Saturday's last hour
    // in April: midnight itself moves, and around the clock business time must still be wall-clock time.
    let always = hours("Mon-Sun 00:00-24:00 America/Santiago")?;
    let santiago = chrono_tz::America::Santiago;
    for (a, b) in [
        (
            at(santiago, 2026, 9, 3, 10, 0)?,
            at(santiago, 2026, 9, 9, 10, 0)?,
        ),
        (
            at(santiago, 2026, 4, 2, 10, 0)?,
            at(santiago, 2026, 4, 8, 10, 0)?,
        ),
    ] {
        let wall = (b - a).to_std().context("forward")?;
        assert_eq!(business_duration(&always, a, b), wall, "{a} to {b}");
        assert_eq!(add_business_time(&always, a, wall), b);
    }
    Ok(())
}

#[test]
fn a_window_through_the_changing_hour_counts_real_time() -> Result<()> {
    let night = hours("Sun 02:00-04:00 Europe/Berlin")?;
    // Spring: 02:00 does not exist; the window opens when the clocks jump (03:00 CEST) and lasts 1 h.
    let spring = business_duration(&night, berlin(3, 28, 12, 0)?, berlin(3, 30, 0, 0)?);
    assert_eq!(spring, Duration::from_secs(HOUR));
    // Autumn: from the first 02:00 (CEST) to 04:00 CET is 3 h.
    let autumn = business_duration(&night, berlin(10, 24, 12, 0)?, berlin(10, 26, 0, 0)?);
    assert_eq!(autumn, Duration::from_secs(3 * HOUR));
    Ok(())
}

#[test]
fn adding_business_time_undoes_measuring_it() -> Result<()> {
    let office = hours("Mon,Wed-Fri 08:30-12:15 Europe/Berlin")?;
    let start = berlin(3, 20, 11, 0)?;
    for minutes in [0u64, 1, 74, 75, 76, 300, 900, 2000, 5000] {
        let amount = Duration::from_secs(minutes * 60);
        let due = add_business_time(&office, start, amount);
        assert_eq!(
            business_duration(&office, start, due),
            amount,
            "{minutes} min"
        );
    }
    Ok(())
}

#[test]
fn the_target_in_wall_clock_time() -> Result<()> {
    let target = Target {
        within: Duration::from_secs(HOUR),
        hours: None,
    };
    let arrival = berlin(3, 7, 23, 10)?;
    let minutes = |m: i64| arrival + chrono::Duration::minutes(m);
    assert_eq!(target.deadline(arrival), minutes(60));
    assert_eq!(
        target.elapsed(arrival, minutes(30)),
        Duration::from_secs(1800)
    );
    assert!(!target.breached(arrival, Some(minutes(30)), minutes(500)));
    assert!(
        !target.breached(arrival, Some(minutes(60)), minutes(500)),
        "on time"
    );
    assert!(target.breached(arrival, Some(minutes(90)), minutes(90)));
    assert!(!target.breached(arrival, None, minutes(60)), "still open");
    assert!(target.breached(arrival, None, minutes(61)), "open and late");
    Ok(())
}

#[test]
fn the_target_in_business_hours() -> Result<()> {
    let target = Target {
        within: Duration::from_secs(HOUR),
        hours: Some(hours("Mon-Fri 09:00-17:00 Europe/Berlin")?),
    };
    let fri = berlin(3, 6, 16, 30)?;
    let reply = berlin(3, 9, 9, 20)?;
    assert_eq!(target.elapsed(fri, reply), Duration::from_secs(50 * 60));
    assert!(
        !target.breached(fri, Some(reply), reply),
        "65 h later, but 50 min of office time"
    );
    assert_eq!(target.deadline(fri), berlin(3, 9, 9, 30)?);
    assert!(
        !target.breached(fri, None, berlin(3, 8, 23, 0)?),
        "Sunday night: not yet"
    );
    assert!(target.breached(fri, None, berlin(3, 9, 9, 31)?));
    Ok(())
}
