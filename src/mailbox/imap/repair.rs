//! Re-applying after a crash: a copy an interrupted apply already made is found by Message-ID in its
//! folder, and its flags are checked and repaired (its own added, another copy's taken off). It
//! decides nothing about which flags a copy should carry: the plan says.

use anyhow::Result;

use super::{Imap, flag_name};
use crate::mailbox::uid_set;

impl Imap {
    /// Whether `folder` holds a message with this Message-ID (re-applying after a crash); when it does,
    /// its flags are repaired: `want` added where missing, `foreign` taken off where present (a copy
    /// made by an interrupted apply may carry the flags meant for another copy).
    pub async fn repair_copy(
        &mut self,
        folder: &str,
        message_id: &str,
        want: &[String],
        foreign: &[String],
    ) -> Result<bool> {
        if message_id.is_empty() || !self.existing.contains(folder) {
            return Ok(false);
        }
        self.select_folder(folder).await?;
        let found = self.repair_selected(message_id, want, foreign).await;
        self.select().await?;
        found
    }

    async fn repair_selected(
        &mut self,
        message_id: &str,
        want: &[String],
        foreign: &[String],
    ) -> Result<bool> {
        let quoted = message_id.replace(['"', '\\'], "");
        let uids = self
            .search(&format!("HEADER Message-ID \"{quoted}\""))
            .await?;
        if uids.is_empty() {
            return Ok(false);
        }
        let fetches = self.fetch_items(&uid_set(&uids), "(UID FLAGS)").await?;
        for f in &fetches {
            let Some(uid) = f.uid else { continue };
            let has: Vec<String> = f.flags().filter_map(|flag| flag_name(&flag)).collect();
            let held = |flag: &String| has.iter().any(|h| h.eq_ignore_ascii_case(flag));
            let add: Vec<&str> = want
                .iter()
                .filter(|f| !held(f))
                .map(String::as_str)
                .collect();
            let drop: Vec<&str> = foreign
                .iter()
                .filter(|f| held(f))
                .map(String::as_str)
                .collect();
            if !add.is_empty() {
                let query = format!("+FLAGS.SILENT ({})", add.join(" "));
                self.store(&[uid], &query).await?;
            }
            if !drop.is_empty() {
                let query = format!("-FLAGS.SILENT ({})", drop.join(" "));
                self.store(&[uid], &query).await?;
            }
            if !add.is_empty() || !drop.is_empty() {
                tracing::info!(
                    uid,
                    added = add.len(),
                    removed = drop.len(),
                    "repaired the flags of a copy"
                );
            }
        }
        Ok(true)
    }
}
