//! What a verdict causes: the [`Plan`] for the message itself (where it and its copies go, and with
//! which flags), lowered into the mailbox's steps, and the mail the verdict causes (`effects`:
//! acknowledgements, redirects, vacation replies), queued in the verdict's transaction. It decides
//! nothing about content (that is `classify`) and talks neither IMAP nor SMTP (that is `mailbox` and
//! `outbox`).

pub mod effects;

use serde::{Deserialize, Serialize};

pub use self::effects::{Classified, Effects};
use crate::classify::{Folder, Verdict, canonical_flag};
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

/// One extra copy of the message: a folder and the flags Sieve gives that copy (RFC 5232 §3–5: flags
/// belong to each store action, never to the message as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyTo {
    /// The folder (Sieve name).
    pub folder: String,
    /// Flags Sieve adds to this copy, canonical spelling.
    pub flags: Vec<String>,
}

/// What the mailbox does with one message; recorded (as JSON) with the verdict before it is applied.
/// Every copy (the target and each extra copy) ends up with the flags the message had when first
/// fetched (`had`) plus its own Sieve flags, and no flag of another copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredPlan")]
pub struct Plan {
    pub target: Target,
    /// Extra folders that get a copy, each with its own flags.
    pub copies: Vec<CopyTo>,
    /// Flags Sieve adds to the message itself (in its target folder, or kept), canonical spelling.
    pub flags: Vec<String>,
    /// Flags the message had when it was first fetched: they stay on every copy, and the flags of one
    /// copy are taken off again before the next only when they are not among these.
    pub had: Vec<String>,
}

/// A plan as stored. Plans recorded before flags were per copy list copies as bare folder names and
/// meant `flags` for every copy; they read back that way, and lower to the same steps as then.
#[derive(Deserialize)]
struct StoredPlan {
    target: Target,
    copies: Vec<StoredCopy>,
    flags: Vec<String>,
    #[serde(default)]
    had: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoredCopy {
    Folder(String),
    Copy { folder: String, flags: Vec<String> },
}

impl From<StoredPlan> for Plan {
    fn from(p: StoredPlan) -> Plan {
        let copies = p
            .copies
            .into_iter()
            .map(|c| match c {
                StoredCopy::Folder(folder) => CopyTo {
                    folder,
                    flags: p.flags.clone(),
                },
                StoredCopy::Copy { folder, flags } => CopyTo { folder, flags },
            })
            .collect();
        Plan {
            target: p.target,
            copies,
            flags: p.flags,
            had: p.had,
        }
    }
}

impl Plan {
    /// The plan that puts a message into quarantine, flagged.
    pub fn quarantine(folder: &str, had: Vec<String>) -> Plan {
        Plan {
            target: Target::Move(folder.to_owned()),
            copies: Vec::new(),
            flags: vec!["\\Flagged".to_owned()],
            had,
        }
    }

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
            .chain(self.copies.iter().map(|c| c.folder.as_str()))
    }

    /// Every flag Sieve adds to some copy or to the message itself.
    fn sieve_flags(&self) -> Vec<&String> {
        let mut all: Vec<&String> = Vec::new();
        for flag in self.copies.iter().flat_map(|c| &c.flags).chain(&self.flags) {
            if !contains(all.iter().copied(), flag) {
                all.push(flag);
            }
        }
        all
    }

    /// What a copy in `folder` should carry: the flags the message had plus that copy's own.
    pub fn flags_of(&self, folder: &str) -> Option<Vec<String>> {
        let own = self.copies.iter().find(|c| c.folder == folder)?;
        let mut out = self.had.clone();
        for flag in &own.flags {
            if !contains(out.iter(), flag) {
                out.push(flag.clone());
            }
        }
        Some(out)
    }

    /// Sieve flags a copy in `folder` must not carry: those of other copies that it neither had
    /// when fetched nor gets itself.
    pub fn foreign_flags(&self, folder: &str) -> Vec<String> {
        let own = self.flags_of(folder).unwrap_or_default();
        self.sieve_flags()
            .into_iter()
            .filter(|f| !contains(own.iter(), f))
            .cloned()
            .collect()
    }

    /// The mailbox steps that carry the plan out, in order. The message's flags are set for each copy
    /// before it is made (a copy carries the flags the message has), then for the message itself before
    /// it is moved (or kept). Where the flags change from one copy to the next, those of the last copy
    /// that the next does not get (and the message did not have) are taken off first. The first set of
    /// flags also takes off any that an interrupted earlier attempt left, so re-applying is safe.
    /// Copies with the same flags follow each other without a flag step, so a plan whose copies all
    /// get the same flags lowers to one flag step, the copies, and the move.
    pub fn steps(&self) -> Vec<Step> {
        self.steps_except(&[])
    }

    /// [`Plan::steps`] without the copies into `made` (found already made when re-applying); the
    /// flags of those copies are still taken off the message where the others must not carry them.
    pub fn steps_except(&self, made: &[String]) -> Vec<Step> {
        let all = self.sieve_flags();
        let mut copies: Vec<&CopyTo> = self
            .copies
            .iter()
            .filter(|c| !made.contains(&c.folder))
            .collect();
        // Copies with the same flags next to each other, and those with the flags of the message
        // itself last, next to it, so that they share its flag step.
        copies.sort_by_key(|c| (same(&c.flags, &self.flags), normalised(&c.flags)));
        let mut ordered: Vec<(&[String], Step)> = copies
            .into_iter()
            .map(|c| (c.flags.as_slice(), Step::Copy(c.folder.clone())))
            .collect();
        let last = match &self.target {
            Target::Keep => None,
            Target::Move(folder) => Some(Step::Move(folder.clone())),
            Target::Delete => Some(Step::Delete),
        };
        if !matches!(self.target, Target::Delete) {
            ordered.push((self.flags.as_slice(), Step::Flag(Vec::new())));
        }
        let mut steps = Vec::with_capacity(ordered.len() + 3);
        let mut current: Option<&[String]> = None;
        for (flags, step) in ordered {
            if current.is_none_or(|c| !same(c, flags)) {
                let remove: Vec<String> = all
                    .iter()
                    .filter(|f| !contains(flags.iter(), f) && !contains(self.had.iter(), f))
                    .map(|f| (*f).clone())
                    .collect();
                if !remove.is_empty() {
                    steps.push(Step::Unflag(remove));
                }
                if !flags.is_empty() {
                    steps.push(Step::Flag(flags.to_vec()));
                }
                current = Some(flags);
            }
            // The message's own flag step is a marker: its flags are set above, nothing is copied.
            if !matches!(step, Step::Flag(_)) {
                steps.push(step);
            }
        }
        steps.extend(last);
        steps
    }
}

/// A flag list in one spelling and order, to compare and group flag sets.
fn normalised(flags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = flags.iter().map(|f| f.to_ascii_lowercase()).collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `flags` holds `flag` (flags compare case-insensitively, RFC 3501 §2.3.2).
fn contains<'a>(mut flags: impl Iterator<Item = &'a String>, flag: &str) -> bool {
    flags.any(|f| f.eq_ignore_ascii_case(flag))
}

/// Whether two flag lists hold the same flags.
fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|f| contains(b.iter(), f))
}

/// The plan for a verdict (DESIGN invariant 1): an error goes to quarantine, flagged; a verdict that
/// leaves no folder goes to trash (or is deleted when allowed); keep stays, with copies for the other
/// folders; otherwise the first `fileinto` folder is the move target and the others get copies. Each
/// folder gets the flags of the last store action that names it (two actions into one folder are one
/// copy, as in Pigeonhole); `had` are the flags the message had when fetched.
pub fn plan(verdict: &Verdict, mailbox: &MailboxConfig, had: &[String]) -> Plan {
    let had: Vec<String> = had.iter().map(|f| canonical_flag(f)).collect();
    if verdict.is_error() {
        return Plan::quarantine(&mailbox.quarantine, had);
    }
    let mut kept: Option<Vec<String>> = None;
    let mut named: Vec<CopyTo> = Vec::new();
    for store in &verdict.stores {
        let slot = match &store.folder {
            Folder::Keep => kept.get_or_insert_with(Vec::new),
            Folder::Named(name) if name.eq_ignore_ascii_case("INBOX") => {
                kept.get_or_insert_with(Vec::new)
            }
            Folder::Named(name) => {
                let i = match named.iter().position(|c| &c.folder == name) {
                    Some(i) => i,
                    None => {
                        named.push(CopyTo {
                            folder: name.clone(),
                            flags: Vec::new(),
                        });
                        named.len() - 1
                    }
                };
                &mut named[i].flags
            }
        };
        // A later store action into the same folder replaces the flags of an earlier one, as in
        // Pigeonhole (checked by the differential test): the copy is made once, with the last flags.
        slot.clear();
        for flag in &store.flags {
            let flag = canonical_flag(flag);
            if !contains(slot.iter(), &flag) {
                slot.push(flag);
            }
        }
    }
    let (target, flags) = match kept {
        Some(flags) => (Target::Keep, flags),
        None if named.is_empty() => {
            let target = if mailbox.allow_delete {
                Target::Delete
            } else {
                Target::Move(mailbox.trash.clone())
            };
            (target, Vec::new())
        }
        None => {
            let first = named.remove(0);
            (Target::Move(first.folder), first.flags)
        }
    };
    Plan {
        target,
        copies: named,
        flags,
        had,
    }
}

#[cfg(test)]
#[path = "actions/actions_tests.rs"]
mod tests;
