//! The one source of wall-clock time, so tests can set and advance it. Nothing else reads the system
//! clock (`clippy.toml` forbids it elsewhere).
//!
//! Code that records or schedules by time takes a [`Clock`]; production uses [`Clock::system`], tests a
//! manual clock they move by hand, or (for tests that run the binary) `TRIAGED_CLOCK_OFFSET`, which a
//! build with the `failpoints` feature adds to every system clock of the process. Monotonic sleeps stay
//! on tokio's timer, and [`mono_ms`] measures durations.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// Wall-clock time, real or manual; cheap to clone (clones of a manual clock move together).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None` reads the system clock; `Some` holds the manual time in milliseconds since the epoch.
    manual: Option<Arc<AtomicI64>>,
    /// Added to the system clock: `TRIAGED_CLOCK_OFFSET` in a `failpoints` build, else 0.
    offset_ms: i64,
}

impl Clock {
    pub fn system() -> Self {
        Clock {
            manual: None,
            offset_ms: offset_from_env(),
        }
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start.timestamp_millis()))),
            offset_ms: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            #[allow(clippy::disallowed_methods)] // the one reader of the system clock
            None => Utc::now() + chrono::Duration::milliseconds(self.offset_ms),
            Some(ms) => Utc
                .timestamp_millis_opt(ms.load(Ordering::SeqCst))
                .single()
                .unwrap_or_default(),
        }
    }

    /// Milliseconds since the Unix epoch, the store's time column format.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves a manual clock forward; the system clock cannot be moved and ignores this.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }
}

/// `TRIAGED_CLOCK_OFFSET` (`90m`, `15d`, `-2h`: a whole number and one of `ms`, `s`, `m`, `h`, `d`)
/// in milliseconds, read in builds with the `failpoints` feature only; a bad value is ignored with a
/// warning, so a test that sets one sees its effect or the warning.
fn offset_from_env() -> i64 {
    if !cfg!(feature = "failpoints") {
        return 0;
    }
    let Ok(text) = std::env::var("TRIAGED_CLOCK_OFFSET") else {
        return 0;
    };
    parse_offset(&text).unwrap_or_else(|| {
        tracing::warn!(value = %text, "TRIAGED_CLOCK_OFFSET is not a duration: ignored");
        0
    })
}

fn parse_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = rest[..digits].parse().ok()?;
    let unit = match &rest[digits..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit).map(|ms| sign * ms)
}

/// Milliseconds on a monotonic clock shared by the whole process, for "last heard" stamps and
/// durations (never affected by wall-clock changes).
pub fn mono_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() -> anyhow::Result<()> {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
            .single()
            .ok_or_else(|| anyhow::anyhow!("date"))?;
        let clock = Clock::manual(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
        Ok(())
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn system_clock_is_close_to_now() {
        let diff = (Clock::system().now() - Utc::now()).num_seconds().abs();
        assert!(diff < 5);
    }

    #[test]
    fn offsets_read_as_signed_durations() {
        assert_eq!(parse_offset("90m"), Some(90 * 60_000));
        assert_eq!(parse_offset("-2h"), Some(-7_200_000));
        assert_eq!(parse_offset("15d"), Some(15 * 86_400_000));
        assert_eq!(parse_offset("1h30m"), None);
        assert_eq!(parse_offset("soon"), None);
    }
}
