//! What a newly recorded verdict causes besides itself, inside its transaction: its place in a support
//! ticket's thread (`records::threads`), then the mail it causes (`actions::Effects`), an acknowledgement
//! carrying the ticket the message opened, recorded in the thread as automatic mail. Shared by the pass
//! over new mail and by releases from quarantine. Writes no SQL itself.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::actions::{Classified, Effects};
use crate::records::threads::{self, Joined, Threads};
use crate::store::{Store, Tx};

/// Threads `item` (verdict `verdict_id`) and queues the mail it causes, in `tx`; returns the ticket it
/// joined.
pub(super) async fn thread_and_effects_in(
    tx: &mut Tx,
    store: &Store,
    threads: &Threads,
    effects: &Effects,
    item: &Classified,
    verdict_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Joined>> {
    let joined = threads.record_in(tx, item, verdict_id, now).await?;
    let opened = joined.as_ref().filter(|j| j.new).map(|j| j.ticket.as_str());
    let ack = effects.in_tx(tx, store, item, opened, now).await?;
    if let (Some(ticket), Some(ack)) = (opened, ack) {
        threads::note_queued_in(
            tx,
            ticket,
            &ack.message_id,
            &effects.team_address(),
            true,
            now,
        )
        .await?;
    }
    Ok(joined)
}
