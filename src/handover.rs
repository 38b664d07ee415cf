//! Rights and handovers: the rights each person should hold on each asset (the `[[asset]]` tables
//! applied to the roster, then adjusted by applied handovers), `team sync` comparing that with what the
//! mailbox's IMAP ACLs and the Mailman lists say and putting it right, and handovers: an asset or the
//! leader's job passed from one person to another (or away from someone who retires), confirmed by a
//! second member when critical, applied, read back and verified asset by asset.
//!
//! Every change made in a real system and every handover step is an append-only event (`events`,
//! subjects `asset:<name>` and `handover:<id>`). This room uses the rooms below it (mailbox's ACL
//! commands, the Mailman client in `lists`, the team roster, the outbox); it writes no SQL (that is
//! `store::handover`) and spawns nothing.
//!
//! # Layout
//! - `assets`: the `[[asset]]` tables checked against the roles, and what a role is granted.
//! - `holdings`: who should hold what, from the roster and the applied handovers.
//! - `imap`, `lists`: one asset's differences in its real system, changes made and read back.
//! - `sync`: `team sync`; `start`: opening, confirming, listing handovers and the notice;
//!   `apply`: `handover apply` and `handover verify`; `manual`: manual items, `handover tick` and the
//!   rotated shared password; `outcome`: an asset's outcome recorded; `alerts`: rights left after a retirement, drift.

mod alerts;
mod apply;
mod assets;
mod change;
mod holdings;
mod imap;
mod lists;
mod manual;
mod outcome;
mod start;
mod sync;

pub use self::alerts::{Alert, Alerts, alerts};
pub use self::apply::{apply, verify};
pub use self::assets::{Asset, Assets, Grant, Kind};
pub use self::change::{Change, Drift, Op};
pub use self::holdings::Holdings;
pub use self::manual::tick;
pub use self::outcome::AssetOutcome;
pub use self::start::{Confirmed, Mail, Scope, Shown, Started, confirm, list, retire, show, start};
pub use self::sync::{SyncReport, sync};

/// The audit subject of a handover.
fn subject(id: i64) -> String {
    format!("handover:{id}")
}

/// The audit subject of an asset.
fn asset_subject(name: &str) -> String {
    format!("asset:{name}")
}

/// How a leader's handover is stored (its scope).
const LEADER_SCOPE: &str = "role:leader";

/// The states an asset of a handover goes through.
pub const PENDING: &str = "pending";
pub const APPLIED: &str = "applied";
pub const VERIFIED: &str = "verified";
pub const FAILED: &str = "failed";

#[cfg(test)]
#[path = "handover/handover_tests.rs"]
mod tests;
