//! What the mailbox is asked to do, and how a batch of it is grouped: each message comes with its own
//! list of [`Step`]s (in the order they must happen to it), and [`batch`] turns a batch of such lists into
//! few [`Op`]s over sets of messages, one per distinct flag set and per folder, because every IMAP
//! command costs the server an index update whatever its size. It knows nothing of verdicts.

use std::collections::{BTreeMap, BTreeSet};

/// One thing to do to one message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Remove these flags (a message released from quarantine loses its `\Flagged`).
    Unflag(Vec<String>),
    /// Add these flags.
    Flag(Vec<String>),
    /// Put a copy in this folder (Sieve name, `/` as separator).
    Copy(String),
    /// Move the message itself to this folder.
    Move(String),
    /// Expunge the message.
    Delete,
}

/// One mailbox operation over a set of messages (`K` is a UID or a Maildir name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<K> {
    /// Add these flags.
    Flag {
        flags: Vec<String>,
        ids: Vec<K>,
    },
    /// Remove these flags.
    Unflag {
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

impl<K> Op<K> {
    /// The folder this operation writes to, which must exist before it runs.
    pub fn folder(&self) -> Option<&str> {
        match self {
            Op::Copy { folder, .. } | Op::Move { folder, .. } => Some(folder),
            _ => None,
        }
    }
}

/// Groups a batch of per-message steps into operations. A message's steps fall into rounds: a round
/// ends where a flag step follows a copy (the next copy gets other flags, so it must wait for the first
/// copy to be made). Within a round the operations run in this order: flags removed, then flags added
/// (so copies and moved messages carry them), then copies, then moves, then deletions. Most messages
/// have one round; round N of every message runs before round N+1 of any.
pub fn batch<'a, K: Clone + Ord>(items: &[(K, &'a [Step])]) -> Vec<Op<K>> {
    let rounds: Vec<(K, Vec<&'a [Step]>)> = items
        .iter()
        .map(|(id, steps)| (id.clone(), rounds(steps)))
        .collect();
    let depth = rounds.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    let mut ops = Vec::new();
    for n in 0..depth {
        let round: Vec<(K, &'a [Step])> = rounds
            .iter()
            .filter_map(|(id, r)| r.get(n).map(|steps| (id.clone(), *steps)))
            .collect();
        ops.extend(batch_round(&round));
    }
    ops
}

/// Splits one message's steps where a flag step follows a copy.
fn rounds(steps: &[Step]) -> Vec<&[Step]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..steps.len() {
        let flag = matches!(steps[i], Step::Flag(_) | Step::Unflag(_));
        if flag && matches!(steps[i - 1], Step::Copy(_)) {
            out.push(&steps[start..i]);
            start = i;
        }
    }
    if start < steps.len() {
        out.push(&steps[start..]);
    }
    out
}

/// Groups one round: one operation per distinct flag set and per folder.
fn batch_round<'a, K: Clone + Ord>(items: &[(K, &'a [Step])]) -> Vec<Op<K>> {
    let mut unflags: BTreeMap<&'a [String], Vec<K>> = BTreeMap::new();
    let mut flags: BTreeMap<&'a [String], Vec<K>> = BTreeMap::new();
    let mut copies: BTreeMap<&'a str, Vec<K>> = BTreeMap::new();
    let mut moves: BTreeMap<&'a str, Vec<K>> = BTreeMap::new();
    let mut deletes: Vec<K> = Vec::new();
    for (id, steps) in items {
        for step in steps.iter() {
            let group = match step {
                Step::Unflag(f) if !f.is_empty() => unflags.entry(f).or_default(),
                Step::Flag(f) if !f.is_empty() => flags.entry(f).or_default(),
                Step::Unflag(_) | Step::Flag(_) => continue,
                Step::Copy(folder) => copies.entry(folder).or_default(),
                Step::Move(folder) => moves.entry(folder).or_default(),
                Step::Delete => &mut deletes,
            };
            group.push(id.clone());
        }
    }
    let mut ops: Vec<Op<K>> = Vec::new();
    ops.extend(unflags.into_iter().map(|(f, ids)| Op::Unflag {
        flags: f.to_vec(),
        ids,
    }));
    ops.extend(flags.into_iter().map(|(f, ids)| Op::Flag {
        flags: f.to_vec(),
        ids,
    }));
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

/// Every folder the operations write to.
pub fn folders<K>(ops: &[Op<K>]) -> BTreeSet<&str> {
    ops.iter().filter_map(Op::folder).collect()
}

#[cfg(test)]
mod tests {
    use super::{Op, Step, batch, folders};

    #[test]
    fn steps_of_many_messages_group_into_one_op_per_flag_set_and_folder() -> anyhow::Result<()> {
        let flagged = vec!["\\Flagged".to_owned()];
        let steps = [
            vec![Step::Flag(flagged.clone()), Step::Move("SE".into())],
            vec![Step::Copy("meta".into()), Step::Move("SE".into())],
            vec![Step::Unflag(flagged.clone()), Step::Delete],
            vec![Step::Flag(flagged.clone()), Step::Copy("meta".into())],
        ];
        let items: Vec<(i32, &[Step])> = (1..).zip(steps.iter().map(Vec::as_slice)).collect();
        let ops = batch(&items);
        assert_eq!(
            ops,
            vec![
                Op::Unflag {
                    flags: flagged.clone(),
                    ids: vec![3]
                },
                Op::Flag {
                    flags: flagged,
                    ids: vec![1, 4]
                },
                Op::Copy {
                    folder: "meta".into(),
                    ids: vec![2, 4]
                },
                Op::Move {
                    folder: "SE".into(),
                    ids: vec![1, 2]
                },
                Op::Delete { ids: vec![3] },
            ]
        );
        assert_eq!(
            folders(&ops).into_iter().collect::<Vec<_>>(),
            ["SE", "meta"]
        );
        Ok(())
    }

    #[test]
    fn a_copy_with_other_flags_waits_for_the_next_round() -> anyhow::Result<()> {
        let f = |x: &str| vec![x.to_owned()];
        // Message 1: copy to A without \Flagged, then \Flagged on the moved message; message 2: one
        // round. Round 2 of message 1 runs after every operation of round 1.
        let one = [
            Step::Copy("A".into()),
            Step::Flag(f("\\Flagged")),
            Step::Move("B".into()),
        ];
        let two = [Step::Flag(f("$X")), Step::Move("B".into())];
        let ops = batch(&[(1, &one[..]), (2, &two[..])]);
        assert_eq!(
            ops,
            vec![
                Op::Flag {
                    flags: f("$X"),
                    ids: vec![2]
                },
                Op::Copy {
                    folder: "A".into(),
                    ids: vec![1]
                },
                Op::Move {
                    folder: "B".into(),
                    ids: vec![2]
                },
                Op::Flag {
                    flags: f("\\Flagged"),
                    ids: vec![1]
                },
                Op::Move {
                    folder: "B".into(),
                    ids: vec![1]
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn empty_flag_sets_make_no_operation() -> anyhow::Result<()> {
        let steps = [Step::Flag(vec![]), Step::Unflag(vec![])];
        let ops = batch(&[(1, &steps[..])]);
        assert!(ops.is_empty(), "{ops:?}");
        Ok(())
    }
}
