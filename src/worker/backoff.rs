//! Reconnect backoff: 2 s doubling to 80 s, with jitter so many workers do not reconnect in step; reset
//! after a session that worked. Also the retry schedule for verdicts that could not be applied.

use std::time::Duration;

use rand::Rng as _;

pub const FIRST: Duration = Duration::from_secs(2);
pub const MAX: Duration = Duration::from_secs(80);

/// Exponential backoff state for reconnecting.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The delay to wait now (the nominal one ±25 %), doubling the next one up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(MAX);
        jitter(nominal, rand::thread_rng().gen_range(-0.25..=0.25))
    }

    /// After a session that worked, start again from the first delay.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

/// `d` scaled by `1 + factor`.
pub fn jitter(d: Duration, factor: f64) -> Duration {
    d.mul_f64((1.0 + factor).max(0.0))
}

/// Milliseconds before retry number `attempt` (1-based) of applying a verdict: 1, 5, 25, 125 minutes.
pub fn retry_delay_ms(attempt: i64) -> i64 {
    let exp = u32::try_from(attempt.clamp(1, 5) - 1).unwrap_or(0);
    60_000 * 5_i64.pow(exp)
}

#[cfg(test)]
mod tests {
    use super::{Backoff, FIRST, MAX, jitter, retry_delay_ms};
    use std::time::Duration;

    #[test]
    fn doubles_from_two_seconds_to_eighty_with_jitter_and_resets() -> anyhow::Result<()> {
        let mut b = Backoff::default();
        let nominal = [2u64, 4, 8, 16, 32, 64, 80, 80];
        for n in nominal {
            let d = b.next_delay();
            let n = Duration::from_secs(n);
            assert!(
                d >= n.mul_f64(0.75) && d <= n.mul_f64(1.25),
                "{d:?} vs {n:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= FIRST.mul_f64(1.25));
        assert_eq!(jitter(MAX, 0.25), Duration::from_secs(100));
        Ok(())
    }

    #[test]
    fn apply_retries_back_off_and_stop_growing() -> anyhow::Result<()> {
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(2), 300_000);
        assert_eq!(retry_delay_ms(9), retry_delay_ms(5));
        Ok(())
    }
}
