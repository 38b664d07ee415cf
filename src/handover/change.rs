//! A change to make in a real system (SETACL, DELETEACL, subscribe, set moderation, unsubscribe) and
//! drift (something granted beyond the roster's wish), as `team sync` and handovers report and record
//! them. Plain values; nothing here talks to a server.

use std::fmt;

use crate::lists::Action;
use crate::mailbox::imap::acl::Rights;

/// One change to make in a real system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    SetAcl(Rights),
    DeleteAcl,
    Subscribe(Action),
    Moderate(Action),
    Unsubscribe,
}

/// A change on one asset, at one place (folder or list), for one identifier (IMAP login or address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub asset: String,
    pub place: String,
    pub identifier: String,
    pub op: Op,
    /// What was there before (rights, action), empty for nothing.
    pub before: String,
}

impl Change {
    /// The audit action.
    pub fn action(&self) -> &'static str {
        match self.op {
            Op::SetAcl(_) => "acl-set",
            Op::DeleteAcl => "acl-deleted",
            Op::Subscribe(_) => "list-subscribed",
            Op::Moderate(_) => "list-moderation-set",
            Op::Unsubscribe => "list-unsubscribed",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let was = if self.before.is_empty() {
            "nothing".to_owned()
        } else {
            self.before.clone()
        };
        match &self.op {
            Op::SetAcl(r) => write!(
                f,
                "{}: SETACL {:?} {} {r} (was {was})",
                self.asset, self.place, self.identifier
            ),
            Op::DeleteAcl => write!(
                f,
                "{}: DELETEACL {:?} {} (was {was})",
                self.asset, self.place, self.identifier
            ),
            Op::Subscribe(a) => write!(
                f,
                "{}: subscribe {} to {} as {a}",
                self.asset, self.identifier, self.place
            ),
            Op::Moderate(a) => write!(
                f,
                "{}: moderation of {} on {} to {a} (was {was})",
                self.asset, self.identifier, self.place
            ),
            Op::Unsubscribe => write!(
                f,
                "{}: unsubscribe {} from {} (was {was})",
                self.asset, self.identifier, self.place
            ),
        }
    }
}

/// Something granted beyond the roster's wish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub asset: String,
    pub place: String,
    pub identifier: String,
    pub detail: String,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} on {:?} {}",
            self.asset, self.identifier, self.place, self.detail
        )
    }
}
