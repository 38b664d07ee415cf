//! The seam between the retention holds and the records of threads and disputes: the two questions the
//! holds ask, answered from what the store knows today.
//!
//! - [`open_dispute_ids`]: which of these Message-IDs belong to a thread with an open dispute. Today a
//!   dispute is a message sorted into a `[disputes] buckets` bucket or an ABC filing triaged sent, and
//!   every dispute counts as open (nothing records yet that Arbitration closed one), so mail in a
//!   dispute's thread is never purged. The holds ask it with a message's own Message-ID and those it
//!   answers (In-Reply-To, References), so replies to a dispute are found through their headers.
//! - [`ticket_thread_ids`]: the Message-IDs of a support ticket's thread, from the thread records
//!   (`records::threads`): every message the thread has and every one they answer. A ticket handed out
//!   before threads were recorded is known by the acknowledgement that carried it: its own Message-ID
//!   and those it answered.
//!
//! When the disputes bridge keeps its own records, [`open_dispute_ids`] asks them instead; nothing else
//! in `retention` changes. Reads only.

use std::collections::BTreeSet;

use anyhow::Result;

use super::scan::bare_id;
use crate::config::Config;
use crate::store::Store;

/// Which of `ids` (Message-IDs without angle brackets) belong to a thread with an open dispute.
pub async fn open_dispute_ids(
    store: &Store,
    config: &Config,
    ids: &[String],
) -> Result<BTreeSet<String>> {
    store.dispute_ids_among(&config.disputes.buckets, ids).await
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
