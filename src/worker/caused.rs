//! What a newly recorded verdict causes besides itself, inside its transaction: its place in a support
//! ticket's thread (`records::threads`), the mail it causes (`actions::Effects`: an acknowledgement
//! carrying the ticket the message opened, recorded in the thread as automatic mail), and what it means
//! for the disputes bridge (`records::bridge`, told the ticket the message joined). Shared by the pass
//! over new mail and by releases from quarantine, so both do all three. Writes no SQL itself.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::actions::{Classified, Effects};
use crate::config::{Config, DisputesConfig};
use crate::records::bridge;
use crate::records::threads::{self, Joined, Threads};
use crate::store::{Store, Tx};

/// The rooms a recorded verdict reaches, for one mailbox.
pub(super) struct Caused {
    store: Store,
    threads: Threads,
    effects: Arc<Effects>,
    disputes: DisputesConfig,
}

impl Caused {
    pub(super) fn new(
        config: &Config,
        store: Store,
        effects: Arc<Effects>,
        mailbox: &str,
    ) -> Caused {
        Caused {
            store,
            threads: Threads::new(config, mailbox),
            effects,
            disputes: config.disputes.clone(),
        }
    }

    /// Threads `item` (verdict `verdict_id`), queues the mail it causes and moves its dispute on, in
    /// `tx`; returns the ticket it joined.
    pub(super) async fn record_in(
        &self,
        tx: &mut Tx,
        item: &Classified,
        verdict_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Joined>> {
        let joined = self.threads.record_in(tx, item, verdict_id, now).await?;
        let opened = joined.as_ref().filter(|j| j.new).map(|j| j.ticket.as_str());
        let ack = self
            .effects
            .in_tx(tx, &self.store, item, opened, now)
            .await?;
        if let (Some(ticket), Some(ack)) = (opened, ack) {
            let team = self.effects.team_address();
            threads::note_queued_in(tx, ticket, &ack.message_id, &team, true, now).await?;
        }
        let ticket = joined.as_ref().map(|j| j.ticket.as_str());
        bridge::observe_in(tx, &self.disputes, self.effects.outbox(), item, ticket, now).await?;
        Ok(joined)
    }
}
