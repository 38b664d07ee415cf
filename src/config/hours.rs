//! Business hours as `[sla] hours` writes them: `"Mon-Fri 09:00-17:00 Europe/Berlin"`.
//!
//! Owns the grammar and the validated value: which weekdays are open, one daily window in local time, and
//! the timezone. It answers "what is the local window on this date" and nothing more; counting time inside
//! the windows (and mapping local times through DST) is `records`'s job.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, NaiveDateTime, Weekday};
use chrono_tz::Tz;

/// Minutes in a day: the latest a window may close (`24:00`).
const DAY_MINUTES: u32 = 24 * 60;

/// Open weekdays, one daily window and a timezone; parsed from text and shown as that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// Open days, indexed by days from Monday (`Weekday::num_days_from_monday`).
    days: [bool; 7],
    /// Opening time, minutes after local midnight.
    open: u32,
    /// Closing time, minutes after local midnight, after `open`; `24:00` is 1440.
    close: u32,
    /// The zone the window is read in; DST follows it.
    tz: Tz,
    /// The text as written, shown back in reports and errors.
    text: String,
}

impl BusinessHours {
    /// Parses `DAYS HH:MM-HH:MM ZONE`. DAYS is a comma-separated list of days (`Mon`, `Monday`) or ranges
    /// (`Mon-Fri`, `Sat-Sun`, and `Fri-Mon` wraps through the weekend); ZONE is an IANA name.
    pub fn parse(text: &str) -> Result<BusinessHours, String> {
        let bad = |why: String| {
            format!(
                "{text:?} is not business hours like \"Mon-Fri 09:00-17:00 Europe/Berlin\": {why}"
            )
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days, window, zone] = parts.as_slice() else {
            return Err(bad(format!(
                "expected three parts (days, hours, timezone), found {}",
                parts.len()
            )));
        };
        let days = parse_days(days).map_err(bad)?;
        let (open, close) = parse_window(window).map_err(bad)?;
        let tz = Tz::from_str(zone).map_err(|_| {
            bad(format!(
                "{zone:?} is not a timezone name like Europe/Berlin"
            ))
        })?;
        Ok(BusinessHours {
            days,
            open,
            close,
            tz,
            text: parts.join(" "),
        })
    }

    /// The zone the hours are kept in.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn is_open_on(&self, day: Weekday) -> bool {
        self.days[day.num_days_from_monday() as usize]
    }

    /// The open window on `date` in local wall-clock time, or `None` on a closed day. The end may be the
    /// next day's midnight (`24:00`).
    pub fn local_window(&self, date: NaiveDate) -> Option<(NaiveDateTime, NaiveDateTime)> {
        if !self.is_open_on(date.weekday()) {
            return None;
        }
        let midnight = date.and_hms_opt(0, 0, 0)?;
        Some((
            midnight + ChronoDuration::minutes(i64::from(self.open)),
            midnight + ChronoDuration::minutes(i64::from(self.close)),
        ))
    }
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for BusinessHours {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BusinessHours::parse(s)
    }
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for item in text.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (weekday(a)?, weekday(b)?),
            None => (weekday(item)?, weekday(item)?),
        };
        let mut day = first;
        loop {
            days[day.num_days_from_monday() as usize] = true;
            if day == last {
                break;
            }
            day = day.succ();
        }
    }
    Ok(days)
}

fn weekday(text: &str) -> Result<Weekday, String> {
    const NAMES: [(&str, &str, Weekday); 7] = [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ];
    let lower = text.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(short, long, _)| lower == *short || lower == *long)
        .map(|(_, _, day)| *day)
        .ok_or_else(|| format!("{text:?} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
}

/// `HH:MM-HH:MM` as minutes after midnight; the window must not be empty or cross midnight.
fn parse_window(text: &str) -> Result<(u32, u32), String> {
    let not_range = || format!("{text:?} is not an hour range like 09:00-17:00");
    let (a, b) = text.split_once('-').ok_or_else(not_range)?;
    let open = clock_time(a).ok_or_else(not_range)?;
    let close = clock_time(b).ok_or_else(not_range)?;
    if open >= DAY_MINUTES {
        return Err(format!("{a:?} opens at the end of the day"));
    }
    if close <= open {
        return Err(format!(
            "{text:?} must close after it opens, on the same day (write 00:00-24:00 for the whole day)"
        ));
    }
    Ok((open, close))
}

/// `HH:MM`, 00:00 to 24:00, as minutes after midnight.
fn clock_time(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    let minutes = h * 60 + m;
    (m < 60 && minutes <= DAY_MINUTES).then_some(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_form_parses() -> Result<(), String> {
        let hours = BusinessHours::parse("Mon-Fri 09:00-17:00 Europe/Berlin")?;
        assert!(hours.is_open_on(Weekday::Mon) && hours.is_open_on(Weekday::Fri));
        assert!(!hours.is_open_on(Weekday::Sat) && !hours.is_open_on(Weekday::Sun));
        assert_eq!(hours.tz(), chrono_tz::Europe::Berlin);
        let date = NaiveDate::from_ymd_opt(2026, 3, 2).ok_or("date")?;
        let (open, close) = hours.local_window(date).ok_or("monday is open")?;
        assert_eq!(open.to_string(), "2026-03-02 09:00:00");
        assert_eq!(close.to_string(), "2026-03-02 17:00:00");
        assert_eq!(hours.to_string(), "Mon-Fri 09:00-17:00 Europe/Berlin");
        Ok(())
    }

    #[test]
    fn lists_wrapping_ranges_and_whole_days_parse() -> Result<(), String> {
        let hours = BusinessHours::parse("fri-mon,Wednesday 00:00-24:00 UTC")?;
        let week = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let open: Vec<bool> = week.iter().map(|d| hours.is_open_on(*d)).collect();
        assert_eq!(open, [true, false, true, false, true, true, true]);
        let date = NaiveDate::from_ymd_opt(2026, 3, 6).ok_or("date")?;
        let (_, close) = hours.local_window(date).ok_or("friday is open")?;
        assert_eq!(close.to_string(), "2026-03-07 00:00:00");
        Ok(())
    }

    #[test]
    fn each_bad_part_is_named() {
        let cases = [
            ("Mon-Fri 09:00-17:00", "three parts"),
            ("Mon-Fro 09:00-17:00 UTC", "\"Fro\" is not a day"),
            ("Mon-Fri 9-17 UTC", "not an hour range"),
            ("Mon-Fri 09:00-25:00 UTC", "not an hour range"),
            ("Mon-Fri 09:60-17:00 UTC", "not an hour range"),
            ("Mon-Fri 17:00-09:00 UTC", "must close after it opens"),
            ("Mon-Fri 09:00-09:00 UTC", "must close after it opens"),
            ("Mon-Fri 09:00-17:00 Europe/Berlim", "not a timezone"),
        ];
        for (text, want) in cases {
            match BusinessHours::parse(text) {
                Ok(h) => panic!("{text:?} parsed as {h:?}"),
                Err(e) => assert!(e.contains(want), "{text:?}: {e}"),
            }
        }
    }
}
