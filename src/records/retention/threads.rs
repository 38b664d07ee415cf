//! The seam between the retention holds and the records of threads and disputes: the two questions the
//! holds ask, answered from what the store knows today.
//!
//! - [`open_dispute_ids`]: which of these Message-IDs belong to a thread with an open dispute, as the
//!   disputes bridge records them (`records::bridge`): a dispute is open until Arbitration
//!   acknowledges it, and one with a case number stays held after. Mail the bridge never filed counts
//!   as before it kept records: sorted into a `[disputes] buckets` bucket, or an ABC filing triaged
//!   sent. The holds ask it with a message's own Message-ID and those it answers (In-Reply-To,
//!   References), so replies to a dispute are found through their headers.
//! - [`ticket_thread_ids`]: the Message-IDs of a support ticket's thread, from the thread records
//!   (`records::threads`): every message the thread has and every one they answer. A ticket handed out
//!   before threads were recorded is known by the acknowledgement that carried it: its own Message-ID
//!   and those it answered.
//!
//! Reads only.

use std::collections::BTreeSet;

use anyhow::Result;

use super::scan::bare_id;
use crate::config::Config;
use crate::store::Store;

/// Which of `ids` (Message-IDs without angle brackets) belong to a thread with an open dispute. The
/// disputes bridge answers for the mail it has filed under a dispute: held while the dispute is not yet
/// acknowledged, and after that while it carries an arbitration case number. Mail it does not know
/// (sorted before the bridge kept records) counts as before: a message sorted into a `[disputes]
/// buckets` bucket, or an ABC filing triaged sent, is an open dispute.
pub async fn open_dispute_ids(
    store: &Store,
    config: &Config,
    ids: &[String],
) -> Result<BTreeSet<String>> {
    let (known, mut held) = store.dispute_holds_among(ids).await?;
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !known.contains(*id))
        .cloned()
        .collect();
    held.extend(
        store
            .dispute_ids_among(&config.disputes.buckets, &unknown)
            .await?,
    );
    Ok(held)
}

/// Which of `ids` the disputes bridge has filed under a dispute that is closed: acknowledged by
/// Arbitration without a case number. Mail in a `[disputes] buckets` folder is no longer held for
/// being there once its dispute is closed.
pub async fn closed_dispute_ids(store: &Store, ids: &[String]) -> Result<BTreeSet<String>> {
    let (known, held) = store.dispute_holds_among(ids).await?;
    Ok(known.difference(&held).cloned().collect())
}

/// Whether mail in `folder` is itself a dispute: a folder `[disputes] buckets` names.
pub fn is_dispute_folder(config: &Config, folder: &str) -> bool {
    config.disputes.buckets.iter().any(|b| b == folder)
}

/// The Message-IDs (without angle brackets) of the thread of support ticket `ticket`.
pub async fn ticket_thread_ids(store: &Store, ticket: &str) -> Result<BTreeSet<String>> {
    let mut ids = crate::records::threads::thread_ids(store, ticket).await?;
    if !ids.is_empty() {
        return Ok(ids);
    }
    for (ack, raw) in store.ticket_mails(ticket).await? {
        ids.insert(bare_id(&ack));
        if raw.is_empty() {
            continue;
        }
        let facts = super::scan::scan(&raw);
        ids.extend(facts.refs);
    }
    Ok(ids)
}
