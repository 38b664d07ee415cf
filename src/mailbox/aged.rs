//! The mailbox side of the retention practice, over IMAP or a Maildir: open the configured account on a
//! connection of its own, select a bucket folder, list the messages received before a cutoff (their
//! INTERNALDATE, which IMAP keeps across MOVE and COPY), and purge chosen ones: on IMAP by UID STORE
//! `\Deleted` then UID EXPUNGE only, on a Maildir by removing the files. It decides nothing about which
//! messages go; `records::retention` does.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::imap::Imap;
use super::maildir::Maildir;
use super::{Key, Source, blocking};
use crate::clock::mono_ms;
use crate::config::{MailboxConfig, MailboxSource};

/// A message received before a cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aged {
    pub key: Key,
    /// Its INTERNALDATE (a Maildir file's modification time), ms since the epoch.
    pub internal_ms: i64,
    /// It already carries `\Deleted` (another client's doing).
    pub deleted: bool,
}

fn uids(keys: &[Key]) -> Vec<u32> {
    keys.iter().map(Key::imap_uid).collect()
}

fn names(keys: &[Key]) -> Vec<String> {
    keys.iter().map(|k| k.name.clone()).collect()
}

impl Source {
    /// Opens the configured mailbox on a connection of its own (beside the watcher's).
    pub async fn connect(config: &MailboxConfig) -> Result<Source> {
        match &config.source {
            MailboxSource::Imap { .. } => {
                let last_read = Arc::new(AtomicI64::new(mono_ms()));
                let (imap, _) = Imap::connect(config, last_read).await?;
                Ok(Source::Imap(Box::new(imap)))
            }
            MailboxSource::Maildir { path } => Ok(Source::Maildir(Maildir::open(path)?)),
        }
    }

    /// Selects `folder` (a Sieve name) for what follows, read-only (IMAP EXAMINE) unless `write`; its
    /// UIDVALIDITY (0 on a Maildir), or `None` when it does not exist.
    pub async fn open_folder(&mut self, folder: &str, write: bool) -> Result<Option<i64>> {
        match self {
            Source::Imap(s) => Ok(s.open_folder(folder, write).await?.map(|s| s.uidvalidity)),
            Source::Maildir(m) => Ok(m.enter(folder).then_some(0)),
        }
    }

    /// The messages of the selected folder received before `before`.
    pub async fn aged(&mut self, before: DateTime<Utc>) -> Result<Vec<Aged>> {
        match self {
            Source::Imap(s) => s.aged(before).await,
            Source::Maildir(m) => {
                let before_ms = before.timestamp_millis();
                blocking(m, move |m| m.aged(before_ms)).await
            }
        }
    }

    /// Marks `keys` of the selected folder `\Deleted` (nothing to do on a Maildir).
    pub async fn mark_deleted(&mut self, keys: &[Key]) -> Result<()> {
        match self {
            Source::Imap(s) => s.mark_deleted(&uids(keys)).await,
            Source::Maildir(_) => Ok(()),
        }
    }

    /// Takes `\Deleted` off `keys` of the selected folder again (nothing to do on a Maildir).
    pub async fn unmark_deleted(&mut self, keys: &[Key]) -> Result<()> {
        match self {
            Source::Imap(s) => s.unmark_deleted(&uids(keys)).await,
            Source::Maildir(_) => Ok(()),
        }
    }

    /// Removes `keys` from the selected folder: UID EXPUNGE of those marked `\Deleted` on IMAP (never a
    /// plain EXPUNGE), the files on a Maildir.
    pub async fn expunge(&mut self, keys: &[Key]) -> Result<()> {
        match self {
            Source::Imap(s) => s.uid_expunge(&uids(keys)).await,
            Source::Maildir(m) => {
                let names = names(keys);
                blocking(m, move |m| m.remove(&names)).await
            }
        }
    }

    /// Logs out of IMAP; nothing to do on a Maildir.
    pub async fn close(self) {
        if let Source::Imap(imap) = self {
            imap.logout().await;
        }
    }
}
