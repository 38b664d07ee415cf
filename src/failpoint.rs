//! Test-only fail points: with the `failpoints` feature, `hit(name)` aborts the process (as `kill -9`
//! would, no cleanup) when `TRIAGED_FAILPOINT` names that point, the first time it is reached, or the
//! Nth time with `TRIAGED_FAILPOINT=name:N`. Without the feature, `hit` is empty and compiled out, so
//! release builds carry no trace of it.
//!
//! Points: `after-verdict-commit` (verdicts committed, mailbox not yet touched), `after-apply` (mailbox
//! changed, verdicts not yet marked applied), `before-verdict-commit` (mid-batch: fetched, classified,
//! nothing recorded), `after-release-commit` (a quarantined message's new verdict committed, the message
//! not yet moved out of quarantine), `mid-apply` (between two IMAP commands of one apply: part of a
//! group's flags, copies and moves done), `retention-after-flag` (a purge batch journalled and marked
//! `\Deleted`, not expunged), `retention-after-expunge` (expunged, not recorded) and
//! `retention-between-batches` (a purge batch recorded, the next not begun).
//!
//! `after-lease-check` (the lease's token checked, the IMAP command it guards not yet sent) is where a
//! test pauses a worker instead: with `TRIAGED_FAILPOINT_ACTION=stop` a point stops the process with
//! SIGSTOP, as a long GC pause or a frozen VM would, until the test sends SIGCONT.
//!
//! `batch(default)` is the size of the worker's batches: `TRIAGED_FAILPOINT_BATCH=N` makes the worker
//! fetch, commit and apply N messages at a time instead of 500 and 5,000, so that a test can count a
//! backlog's progress in applied messages and kill the process between small steps of it.
//!
//! `panic_here(name)` panics instead, inside whatever task reaches it, while the rest of the process
//! lives on: how a test kills one long-lived task of the worker's scheduler. Point:
//! `outbox-sender-panic` (the top of the outbox sender's loop).

/// Whether `name` is armed and this is the time it fires (the first, or the Nth of `name:N`).
#[cfg(feature = "failpoints")]
fn fires(name: &str) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Only one point is armed at a time, so one count of its hits will do.
    static HITS: AtomicU64 = AtomicU64::new(0);
    let Ok(armed) = std::env::var("TRIAGED_FAILPOINT") else {
        return false;
    };
    let (point, nth) = match armed.split_once(':') {
        Some((point, n)) => (point, n.parse().unwrap_or(1)),
        None => (armed.as_str(), 1),
    };
    point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 >= nth
}

/// Aborts the process if the fail point `name` is armed (or stops it, with
/// `TRIAGED_FAILPOINT_ACTION=stop`).
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if fires(name) {
        if std::env::var("TRIAGED_FAILPOINT_ACTION").as_deref() == Ok("stop") {
            // A pause happens once; the process then runs on.
            static STOPPED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if STOPPED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            eprintln!("triaged: fail point {name} reached: stopping (SIGSTOP)");
            let _ = std::process::Command::new("kill")
                .args(["-STOP", &std::process::id().to_string()])
                .status();
            eprintln!("triaged: continued after fail point {name}");
            return;
        }
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
    if fires(name) {
        panic!("fail point {name} reached: panicking");
    }
}

/// Does nothing: fail points are compiled out without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn panic_here(_name: &str) {}

/// `default`, or the batch size a test set in `TRIAGED_FAILPOINT_BATCH`.
#[cfg(feature = "failpoints")]
pub fn batch(default: usize) -> usize {
    std::env::var("TRIAGED_FAILPOINT_BATCH")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// `default`: batch sizes are fixed without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn batch(default: usize) -> usize {
    default
}

/// Whether this build carries fail points.
pub const ENABLED: bool = cfg!(feature = "failpoints");
