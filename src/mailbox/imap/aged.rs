//! What the retention practice asks of an IMAP folder: select it, find the messages whose INTERNALDATE is
//! before a cutoff, and purge chosen ones by UID: `UID STORE +FLAGS.SILENT (\Deleted)` then `UID EXPUNGE`
//! (RFC 4315), never a plain EXPUNGE, which would also remove what other clients marked `\Deleted`.
//! Decides nothing about which messages go.

use anyhow::{Result, bail};
use async_imap::types::Flag;
use chrono::{DateTime, Days, Utc};
use futures::TryStreamExt;

use super::super::{Aged, Key, Selected, uid_set};
use super::Imap;

/// UIDs per FETCH of dates and flags.
const FETCH_CHUNK: usize = 1000;

impl Imap {
    /// Selects `folder` (a Sieve name), or opens it read-only (EXAMINE) unless `write`; `None` when it
    /// does not exist.
    pub async fn open_folder(&mut self, folder: &str, write: bool) -> Result<Option<Selected>> {
        if !self.existing.contains(folder) && !folder.eq_ignore_ascii_case("INBOX") {
            return Ok(None);
        }
        if write {
            return self.select_folder(folder).await.map(Some);
        }
        let name = self.server_name(folder);
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let what = format!("examine {folder:?}");
        let mb = Self::io(&lr, limit, &what, self.session.examine(&name)).await?;
        self.drain();
        Ok(Some(Selected {
            uidvalidity: i64::from(mb.uid_validity.unwrap_or(0)),
            uidnext: i64::from(mb.uid_next.unwrap_or(0)),
            exists: mb.exists,
        }))
    }

    /// The messages of the selected folder whose INTERNALDATE is before `before`, by UID. SEARCH BEFORE
    /// compares dates only, in a zone of the server's choosing (RFC 3501 6.4.4), so it is asked for two
    /// days more and each INTERNALDATE is then compared to the instant.
    pub async fn aged(&mut self, before: DateTime<Utc>) -> Result<Vec<Aged>> {
        let day = before
            .checked_add_days(Days::new(2))
            .unwrap_or(before)
            .format("%d-%b-%Y");
        let uids = self.search(&format!("BEFORE {day}")).await?;
        let cutoff = before.timestamp_millis();
        let mut out = Vec::new();
        for chunk in uids.chunks(FETCH_CHUNK) {
            let fetches = self
                .fetch_items(&uid_set(chunk), "(UID FLAGS INTERNALDATE)")
                .await?;
            for f in &fetches {
                let (Some(uid), Some(date)) = (f.uid, f.internal_date()) else {
                    continue;
                };
                let internal_ms = date.timestamp_millis();
                if internal_ms < cutoff {
                    out.push(Aged {
                        key: Key {
                            uid: i64::from(uid),
                            name: String::new(),
                        },
                        internal_ms,
                        deleted: f.flags().any(|flag| flag == Flag::Deleted),
                    });
                }
            }
        }
        out.sort_by_key(|a| a.key.uid);
        Ok(out)
    }

    /// Marks `uids` of the selected folder `\Deleted`, for [`Imap::uid_expunge`]: refused, before
    /// anything is marked, on a server without UIDPLUS.
    pub async fn mark_deleted(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.require_uidplus()?;
        self.store(uids, "+FLAGS.SILENT (\\Deleted)").await
    }

    fn require_uidplus(&self) -> Result<()> {
        if !self.caps.uidplus {
            bail!(
                "the server lacks UIDPLUS (RFC 4315): retention purges only with UID EXPUNGE, \
                 since a plain EXPUNGE would also remove other clients' \\Deleted mail"
            );
        }
        Ok(())
    }

    /// Takes `\Deleted` off `uids` of the selected folder again.
    pub async fn unmark_deleted(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.store(uids, "-FLAGS.SILENT (\\Deleted)").await
    }

    /// Expunges exactly `uids` (those marked `\Deleted`) with UID EXPUNGE; refuses a server without
    /// UIDPLUS rather than fall back to a plain EXPUNGE.
    pub async fn uid_expunge(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.require_uidplus()?;
        let (lr, limit) = (self.last_read.clone(), self.liveness);
        let set = uid_set(uids);
        let what = format!("UID EXPUNGE {set}");
        Self::io(&lr, limit, &what, async {
            let replies = self.session.uid_expunge(&set).await?;
            futures::pin_mut!(replies);
            while replies.try_next().await?.is_some() {}
            Ok(())
        })
        .await?;
        self.drain();
        Ok(())
    }
}
