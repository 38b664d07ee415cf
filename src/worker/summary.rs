//! What a pass over the watched folder did: messages per bucket, errors, recoveries and releases, for
//! the log and for what `run --once` prints.

use std::collections::BTreeMap;

/// What a pass did, for the summary `run --once` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages sorted per bucket.
    pub buckets: BTreeMap<String, u64>,
    /// Messages with an error verdict (sent to quarantine).
    pub errors: u64,
    /// Messages skipped because an identical message already has a verdict (a UIDVALIDITY resync).
    pub known: u64,
    /// Unapplied verdicts from an earlier run that were re-applied.
    pub recovered: u64,
    /// Quarantined messages that got a verdict at last and were moved out (also counted per bucket).
    pub released: u64,
}

impl Summary {
    pub fn sorted(&self) -> u64 {
        self.buckets.values().sum()
    }
}
