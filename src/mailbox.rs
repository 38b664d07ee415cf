//! The watched mailbox, over IMAP or a local Maildir: find new messages, fetch them, carry out the
//! grouped operations of a batch of plans, and answer "is it still here / is it already there" when
//! unapplied verdicts are re-applied after a restart. Maildir file work runs on the blocking pool.
//! IMAP access control lists (RFC 4314) are read and changed in `imap::acl`. It decides nothing about
//! content, nor about who should hold which rights.

pub mod imap;
pub mod maildir;

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};

use crate::actions::{Op, Plan, batch_ops};

/// A fetched message: its UID (IMAP) or unique name (Maildir) and its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// IMAP UID; 0 for Maildir until the store assigns one.
    pub uid: i64,
    /// Maildir unique name; empty for IMAP.
    pub name: String,
    pub raw: Vec<u8>,
}

/// How a message is addressed in its source: by UID (IMAP) or unique name (Maildir).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub uid: i64,
    pub name: String,
}

impl Key {
    fn imap_uid(&self) -> u32 {
        u32::try_from(self.uid).unwrap_or(0)
    }
}

/// The watched folder as the server reports it on SELECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uidvalidity: i64,
    pub uidnext: i64,
    pub exists: u32,
}

/// A UID set in IMAP syntax with runs collapsed: `[1,2,3,7,9,10]` → `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// The open source, IMAP or Maildir.
#[derive(Debug)]
pub enum Source {
    Imap(Box<imap::Imap>),
    Maildir(maildir::Maildir),
}

impl Source {
    /// Folders that exist (Sieve names).
    pub fn folders(&self) -> Result<BTreeSet<String>> {
        match self {
            Source::Imap(s) => Ok(s.folders().clone()),
            Source::Maildir(m) => m.folders(),
        }
    }

    /// Messages that may need a verdict: IMAP UIDs above `after`, or every Maildir message in the top
    /// level (the caller drops those the store already knows).
    pub async fn pending(&mut self, after: i64) -> Result<Vec<Key>> {
        match self {
            Source::Imap(s) => Ok(s
                .uids_after(after)
                .await?
                .into_iter()
                .map(|uid| Key {
                    uid: i64::from(uid),
                    name: String::new(),
                })
                .collect()),
            Source::Maildir(m) => Ok(blocking(m, |m| m.scan())
                .await?
                .into_iter()
                .map(|name| Key { uid: 0, name })
                .collect()),
        }
    }

    pub async fn fetch(&mut self, keys: &[Key]) -> Result<Vec<Fetched>> {
        match self {
            Source::Imap(s) => {
                s.fetch(&keys.iter().map(Key::imap_uid).collect::<Vec<_>>())
                    .await
            }
            Source::Maildir(m) => {
                let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
                blocking(m, move |m| m.fetch(&names)).await
            }
        }
    }

    /// Creates missing folders, then runs the batch's operations (one per flag set and folder).
    pub async fn apply(&mut self, items: &[(Key, &Plan)]) -> Result<()> {
        self.apply_unflagged(items, &[]).await
    }

    /// [`Source::apply`], first removing `unflag` from every message (a release from quarantine).
    pub async fn apply_unflagged(
        &mut self,
        items: &[(Key, &Plan)],
        unflag: &[String],
    ) -> Result<()> {
        let folders: BTreeSet<&str> = items.iter().flat_map(|(_, p)| p.folders()).collect();
        fn ops<K: Clone + Ord>(items: Vec<(K, &Plan)>, unflag: &[String]) -> Vec<Op<K>> {
            let mut ops = Vec::new();
            if !unflag.is_empty() && !items.is_empty() {
                ops.push(Op::Unflag {
                    flags: unflag.to_vec(),
                    ids: items.iter().map(|(k, _)| k.clone()).collect(),
                });
            }
            ops.extend(batch_ops(&items));
            ops
        }
        match self {
            Source::Imap(s) => {
                s.ensure_folders(folders.into_iter()).await?;
                let by_uid = items.iter().map(|(k, p)| (k.imap_uid(), *p)).collect();
                s.apply(&ops(by_uid, unflag)).await
            }
            Source::Maildir(m) => {
                let folders: Vec<String> = folders.into_iter().map(str::to_owned).collect();
                let by_name = items.iter().map(|(k, p)| (k.name.clone(), *p)).collect();
                let ops = ops(by_name, unflag);
                blocking(m, move |m| {
                    m.ensure_folders(folders.iter().map(String::as_str))?;
                    m.apply(&ops)
                })
                .await
            }
        }
    }

    /// Acts on `folder` (the quarantine) instead of the watched folder until [`Source::leave`]; false
    /// when the folder does not exist.
    pub async fn enter(&mut self, folder: &str) -> Result<bool> {
        match self {
            Source::Imap(s) => s.enter(folder).await,
            Source::Maildir(m) => Ok(m.enter(folder)),
        }
    }

    /// Back to the watched folder.
    pub async fn leave(&mut self) -> Result<()> {
        match self {
            Source::Imap(s) => s.select().await.map(|_| ()),
            Source::Maildir(m) => {
                m.leave();
                Ok(())
            }
        }
    }

    /// Which of `keys` are still in the watched folder.
    pub async fn present(&mut self, keys: &[Key]) -> Result<BTreeSet<Key>> {
        match self {
            Source::Imap(s) => {
                let found = s
                    .present(&keys.iter().map(Key::imap_uid).collect::<Vec<_>>())
                    .await?;
                Ok(keys
                    .iter()
                    .filter(|k| found.contains(&k.imap_uid()))
                    .cloned()
                    .collect())
            }
            Source::Maildir(m) => {
                let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
                let found = blocking(m, move |m| m.present(&names)).await?;
                Ok(keys
                    .iter()
                    .filter(|k| found.contains(&k.name))
                    .cloned()
                    .collect())
            }
        }
    }

    /// Whether `folder` already holds the message (by Message-ID on IMAP, by unique name on Maildir).
    pub async fn folder_has(&mut self, folder: &str, key: &Key, message_id: &str) -> Result<bool> {
        match self {
            Source::Imap(s) => s.folder_has(folder, message_id).await,
            Source::Maildir(m) => {
                let (folder, name) = (folder.to_owned(), key.name.clone());
                blocking(m, move |m| Ok(m.folder_has(&folder, &name))).await
            }
        }
    }
}

/// Runs Maildir file work on the blocking pool, so a slow disk never stalls the runtime's threads.
/// The Maildir is lent to the task and put back; should the task die, a fresh handle on the same
/// directories takes its place (its next scan rebuilds what it knew).
async fn blocking<T, F>(m: &mut maildir::Maildir, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut maildir::Maildir) -> Result<T> + Send + 'static,
{
    let mut lent = std::mem::replace(m, m.detached());
    let (lent, result) = tokio::task::spawn_blocking(move || {
        let r = f(&mut lent);
        (lent, r)
    })
    .await
    .context("maildir task")?;
    *m = lent;
    result
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_collapse_runs() -> anyhow::Result<()> {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[10, 9, 9, 1]), "1,9:10");
        assert_eq!(uid_set(&[]), "");
        Ok(())
    }
}
