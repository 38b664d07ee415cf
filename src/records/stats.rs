//! The figures of a set of durations: count, median and 90th percentile.
//!
//! Owns how they are computed (and how they serialize: whole seconds); it knows nothing about where the
//! durations come from.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// Count, median and 90th percentile of some durations; the last two are `None` for an empty set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub count: u64,
    #[serde(rename = "median_secs", serialize_with = "opt_secs")]
    pub median: Option<Duration>,
    #[serde(rename = "p90_secs", serialize_with = "opt_secs")]
    pub p90: Option<Duration>,
}

impl Summary {
    /// Summarises `durations` in any order.
    pub fn of(durations: &[Duration]) -> Summary {
        let mut sorted = durations.to_vec();
        sorted.sort_unstable();
        Summary {
            count: sorted.len() as u64,
            median: median(&sorted),
            p90: percentile(&sorted, 90),
        }
    }
}

/// The middle value of sorted durations; the mean of the two middle ones for an even count.
pub fn median(sorted: &[Duration]) -> Option<Duration> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// The `p`th percentile of sorted durations by the nearest-rank method: the smallest value that at least
/// `p` percent of them do not exceed. It is always one of the values, never an interpolation, so "p90 is
/// 2h" means some ticket really waited 2h.
pub fn percentile(sorted: &[Duration], p: u32) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (n * p.min(100) as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Serializes a duration as whole seconds.
pub(crate) fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Serializes an optional duration as whole seconds or `null`.
pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|m| Duration::from_secs(m * 60)).collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&minutes(&[50, 10, 30]));
        assert_eq!(odd.median, Some(Duration::from_secs(30 * 60)));
        let even = Summary::of(&minutes(&[40, 10, 30, 20]));
        assert_eq!(even.median, Some(Duration::from_secs(25 * 60)));
        assert_eq!(even.count, 4);
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        // Ten values: the 9th; eleven values: rank ceil(9.9) = 10, the 10th.
        let ten = Summary::of(&minutes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 100]));
        assert_eq!(ten.p90, Some(Duration::from_secs(9 * 60)));
        let eleven = Summary::of(&minutes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]));
        assert_eq!(eleven.p90, Some(Duration::from_secs(10 * 60)));
        let one = Summary::of(&minutes(&[7]));
        assert_eq!(
            (one.median, one.p90),
            (one.p90, Some(Duration::from_secs(420)))
        );
    }

    #[test]
    fn an_empty_set_has_no_median_and_serializes_as_null() -> anyhow::Result<()> {
        let empty = Summary::of(&[]);
        assert_eq!(empty, Summary::default());
        assert_eq!(
            serde_json::to_string(&empty)?,
            r#"{"count":0,"median_secs":null,"p90_secs":null}"#
        );
        Ok(())
    }
}
