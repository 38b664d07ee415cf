//! Turns a classifier `Verdict` into what the mailbox must do (a [`Plan`] per message) and groups a
//! batch of plans into few mailbox operations ([`Op`]): one flag store per flag set, one copy and one
//! move per target folder. It decides nothing about content and talks neither IMAP nor SMTP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::{Folder, Verdict};
use crate::config::MailboxConfig;

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

/// One mailbox operation over a set of messages (`K` is a UID or a Maildir name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<K> {
    /// Add these flags.
    Flag {
        flags: Vec<String>,
        ids: Vec<K>,
    },
    Copy {
        folder: String,
        ids: Vec<K>,
    },
    Move {
        folder: String,
        ids: Vec<K>,
    },
    Delete {
        ids: Vec<K>,
    },
}

/// Groups a batch of plans into operations, in the order they must run: flags first (so copies and
/// moved messages carry them), then copies, then moves, then deletions.
pub fn batch_ops<K: Clone + Ord>(items: &[(K, &Plan)]) -> Vec<Op<K>> {
    let mut flags: BTreeMap<Vec<String>, Vec<K>> = BTreeMap::new();
    let mut copies: BTreeMap<&str, Vec<K>> = BTreeMap::new();
    let mut moves: BTreeMap<&str, Vec<K>> = BTreeMap::new();
    let mut deletes: Vec<K> = Vec::new();
    for (id, plan) in items {
        if !plan.flags.is_empty() {
            flags
                .entry(plan.flags.clone())
                .or_default()
                .push(id.clone());
        }
        for folder in &plan.copies {
            copies.entry(folder).or_default().push(id.clone());
        }
        match &plan.target {
            Target::Keep => {}
            Target::Move(folder) => moves.entry(folder).or_default().push(id.clone()),
            Target::Delete => deletes.push(id.clone()),
        }
    }
    let mut ops: Vec<Op<K>> = Vec::new();
    ops.extend(
        flags
            .into_iter()
            .map(|(flags, ids)| Op::Flag { flags, ids }),
    );
    ops.extend(copies.into_iter().map(|(f, ids)| Op::Copy {
        folder: f.to_owned(),
        ids,
    }));
    ops.extend(moves.into_iter().map(|(f, ids)| Op::Move {
        folder: f.to_owned(),
        ids,
    }));
    if !deletes.is_empty() {
        ops.push(Op::Delete { ids: deletes });
    }
    ops
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
