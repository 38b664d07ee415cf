//! Test-only fail points: with the `failpoints` feature, `hit(name)` aborts the process (as `kill -9`
//! would, no cleanup) when `TRIAGED_FAILPOINT` names that point. Without the feature, `hit` is empty and
//! compiled out, so release builds carry no trace of it.
//!
//! Points: `after-verdict-commit` (verdicts committed, mailbox not yet touched), `after-apply` (mailbox
//! changed, verdicts not yet marked applied), `before-verdict-commit` (mid-batch: fetched, classified,
//! nothing recorded), `after-release-commit` (a quarantined message's new verdict committed, the message
//! not yet moved out of quarantine), `retention-after-flag` (a purge batch journalled and marked
//! `\Deleted`, not expunged), `retention-after-expunge` (expunged, not recorded) and
//! `retention-between-batches` (a purge batch recorded, the next not begun).
//!
//! `panic_here(name)` panics instead, inside whatever task reaches it, while the rest of the process
//! lives on: how a test kills one long-lived task of the worker's scheduler. Point:
//! `outbox-sender-panic` (the top of the outbox sender's loop).

/// Aborts the process if the fail point `name` is armed.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var("TRIAGED_FAILPOINT").is_ok_and(|armed| armed == name) {
        eprintln!("triaged: fail point {name} reached: aborting");
        std::process::abort();
    }
}

/// Does nothing: fail points are compiled out without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Panics if the fail point `name` is armed.
#[cfg(feature = "failpoints")]
pub fn panic_here(name: &str) {
    if std::env::var("TRIAGED_FAILPOINT").is_ok_and(|armed| armed == name) {
        panic!("fail point {name} reached: panicking");
    }
}

/// Does nothing: fail points are compiled out without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn panic_here(_name: &str) {}

/// Whether this build carries fail points.
pub const ENABLED: bool = cfg!(feature = "failpoints");
