//! What a verdict causes: the [`Plan`] for the message itself (where it and its copies go, and with
//! which flags), lowered into the mailbox's steps, and the mail the verdict causes (`effects`:
//! acknowledgements, redirects, vacation replies), queued in the verdict's transaction. It decides
//! nothing about content (that is `classify`) and talks neither IMAP nor SMTP (that is `mailbox` and
//! `outbox`).

pub mod effects;

use serde::{Deserialize, Serialize};

pub use self::effects::{Classified, Effects};
use crate::classify::{Folder, Verdict};
use crate::config::MailboxConfig;
use crate::mailbox::Step;

/// Where the message itself ends up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "folder")]
pub enum Target {
    /// Stays in the watched folder.
    Keep,
    /// Moved to this folder (Sieve name, `/` as separator).
    Move(String),
    /// Expunged: only when `allow_delete` is set and the verdict leaves no folder.
    Delete,
}

/// What the mailbox does with one message; recorded (as JSON) with the verdict before it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub target: Target,
    /// Extra folders that get a copy (Sieve names).
    pub copies: Vec<String>,
    /// Flags set on the message before it is copied or moved, canonical spelling.
    pub flags: Vec<String>,
}

impl Plan {
    /// The bucket the message counts under: its target folder, the watched folder when kept.
    pub fn bucket(&self) -> &str {
        match &self.target {
            Target::Keep => "INBOX",
            Target::Move(folder) => folder,
            Target::Delete => "(deleted)",
        }
    }

    /// Every folder the plan writes to, which must exist before it is applied.
    pub fn folders(&self) -> impl Iterator<Item = &str> {
        let target = match &self.target {
            Target::Move(f) => Some(f.as_str()),
            _ => None,
        };
        target
            .into_iter()
            .chain(self.copies.iter().map(String::as_str))
    }

    /// The mailbox steps that carry the plan out, in order: flags first (so copies and the moved
    /// message carry them), then the copies, then the move or deletion.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::with_capacity(self.copies.len() + 2);
        if !self.flags.is_empty() {
            steps.push(Step::Flag(self.flags.clone()));
        }
        steps.extend(self.copies.iter().cloned().map(Step::Copy));
        match &self.target {
            Target::Keep => {}
            Target::Move(folder) => steps.push(Step::Move(folder.clone())),
            Target::Delete => steps.push(Step::Delete),
        }
        steps
    }
}

/// The plan for a verdict (DESIGN invariant 1): an error goes to quarantine, flagged; a verdict that
/// leaves no folder goes to trash (or is deleted when allowed); keep stays, with copies for the other
/// folders; otherwise the first `fileinto` folder is the move target and the others get copies.
pub fn plan(verdict: &Verdict, mailbox: &MailboxConfig) -> Plan {
    if verdict.is_error() {
        return Plan {
            target: Target::Move(mailbox.quarantine.clone()),
            copies: Vec::new(),
            flags: vec!["\\Flagged".to_owned()],
        };
    }
    let flags = verdict.flags();
    let mut kept = false;
    let mut named: Vec<String> = Vec::new();
    for store in &verdict.stores {
        match &store.folder {
            Folder::Keep => kept = true,
            Folder::Named(name) if name.eq_ignore_ascii_case("INBOX") => kept = true,
            Folder::Named(name) => {
                if !named.contains(name) {
                    named.push(name.clone());
                }
            }
        }
    }
    let target = if kept {
        Target::Keep
    } else if named.is_empty() {
        if mailbox.allow_delete {
            Target::Delete
        } else {
            Target::Move(mailbox.trash.clone())
        }
    } else {
        Target::Move(named.remove(0))
    };
    Plan {
        target,
        copies: named,
        flags,
    }
}

#[cfg(test)]
#[path = "actions/actions_tests.rs"]
mod tests;
