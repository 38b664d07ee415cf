//! The watched mailbox, over IMAP or a local Maildir: find new messages, fetch them, carry out the
//! grouped operations of a batch of plans, and answer "is it still here / is it already there" when
//! unapplied verdicts are re-applied after a restart. Maildir file work runs on the blocking pool.
//! IMAP access control lists (RFC 4314) are read and changed in `imap::acl`; `aged` finds and purges
//! what the retention rules say is past its time. It decides nothing about content, nor about who
//! should hold which rights, nor which message is past its time.

mod aged;
pub mod imap;
pub mod maildir;
pub mod ops;
mod sent;

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};

pub use self::aged::Aged;
pub use self::ops::{Op, Step};
pub use self::sent::{SentHeader, header_end};
use crate::config::MailboxSource;

/// Whether `e` says that the connection to the IMAP server failed (dropped, garbled, or silent for
/// the liveness limit) rather than that the server refused a command (NO, BAD), a command could not
/// be written, or a Maildir file operation failed. What was asked may or may not have been done: the
/// next connection finds out and asks again. A refusal, by contrast, is the operation's own fault and
/// counts against it.
pub fn connection_failed(e: &anyhow::Error) -> bool {
    use async_imap::error::Error as ImapError;
    e.chain().any(|cause| {
        cause.is::<imap::Silent>()
            || cause.downcast_ref::<ImapError>().is_some_and(|e| {
                matches!(
                    e,
                    ImapError::Io(_) | ImapError::ConnectionLost | ImapError::Parse(_)
                )
            })
    })
}

/// The store's identity of a configured mailbox: the account and folder, not a label.
pub fn id(source: &MailboxSource) -> String {
    source.identity()
}

/// The watched folder's name (`INBOX` for a Maildir).
pub fn folder_name(source: &MailboxSource) -> String {
    match source {
        MailboxSource::Imap { folder, .. } => folder.clone(),
        MailboxSource::Maildir { .. } => "INBOX".to_owned(),
    }
}

/// A fetched message: its UID (IMAP) or unique name (Maildir) and its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// IMAP UID; 0 for Maildir until the store assigns one.
    pub uid: i64,
    /// Maildir unique name; empty for IMAP.
    pub name: String,
    pub raw: Vec<u8>,
    /// The flags the message has as fetched (system flags in canonical case, keywords as the server
    /// spells them; `\Recent` left out): they stay on every copy its plan makes.
    pub flags: Vec<String>,
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

    /// Creates missing folders, then carries out each message's steps, grouped into few operations.
    pub async fn apply(&mut self, items: &[(Key, Vec<Step>)]) -> Result<()> {
        match self {
            Source::Imap(s) => {
                let by_uid: Vec<(u32, &[Step])> = items
                    .iter()
                    .map(|(k, steps)| (k.imap_uid(), steps.as_slice()))
                    .collect();
                let ops = ops::batch(&by_uid);
                s.ensure_folders(ops::folders(&ops).into_iter()).await?;
                s.apply(&ops).await
            }
            Source::Maildir(m) => {
                let by_name: Vec<(String, &[Step])> = items
                    .iter()
                    .map(|(k, steps)| (k.name.clone(), steps.as_slice()))
                    .collect();
                let ops = ops::batch(&by_name);
                blocking(m, move |m| {
                    m.ensure_folders(ops::folders(&ops).into_iter())?;
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

    /// Whether `folder` already holds the message (by Message-ID on IMAP, by unique name on Maildir);
    /// a copy found has its flags checked and repaired: `want` present, `foreign` absent.
    pub async fn repair_copy(
        &mut self,
        folder: &str,
        key: &Key,
        message_id: &str,
        want: Vec<String>,
        foreign: Vec<String>,
    ) -> Result<bool> {
        match self {
            Source::Imap(s) => s.repair_copy(folder, message_id, &want, &foreign).await,
            Source::Maildir(m) => {
                let (folder, name) = (folder.to_owned(), key.name.clone());
                blocking(m, move |m| m.repair_copy(&folder, &name, &want, &foreign)).await
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
    use super::{connection_failed, imap::Silent, uid_set};
    use async_imap::error::Error as ImapError;

    #[test]
    fn a_dropped_or_silent_connection_is_told_from_a_refusal() -> anyhow::Result<()> {
        let lost = anyhow::Error::new(ImapError::ConnectionLost).context("UID MOVE 1:4 to \"A\"");
        assert!(connection_failed(&lost));
        let io = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "bytes remaining");
        assert!(connection_failed(&anyhow::Error::new(ImapError::Io(io))));
        let silent =
            anyhow::Error::new(Silent(std::time::Duration::from_secs(3))).context("UID STORE");
        assert!(connection_failed(&silent));
        assert_eq!(
            format!("{silent:#}"),
            "UID STORE: no reply from the server for 3s"
        );
        let refused = anyhow::Error::new(ImapError::No("[TRYCREATE] no such folder".into()));
        assert!(!connection_failed(&refused.context("UID COPY")));
        let maildir = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "rename");
        assert!(!connection_failed(&anyhow::Error::new(maildir)));
        Ok(())
    }

    #[test]
    fn uid_sets_collapse_runs() -> anyhow::Result<()> {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[10, 9, 9, 1]), "1,9:10");
        assert_eq!(uid_set(&[]), "");
        Ok(())
    }
}
