//! The one source of wall-clock time, so tests can set and advance it.
//!
//! Code that records or schedules by time takes a [`Clock`]; production uses [`Clock::system`], tests a
//! manual clock they move by hand. Monotonic sleeps stay on tokio's timer (which tests can pause).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// Wall-clock time, real or manual; cheap to clone (clones of a manual clock move together).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None` reads the system clock; `Some` holds the manual time in milliseconds since the epoch.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start.timestamp_millis()))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
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
    fn system_clock_is_close_to_now() {
        let diff = (Clock::system().now() - Utc::now()).num_seconds().abs();
        assert!(diff < 5);
    }
}
