//! What a newly recorded verdict causes besides itself, inside its transaction: its place in a support
//! ticket's thread (`records::threads`), the mail it causes (`actions::Effects`: an acknowledgement
//! carrying the ticket the message opened, recorded in the thread as automatic mail), and what it means
//! for the disputes bridge (`records::bridge`, told the ticket the message joined). Shared by the pass
//! over new mail, which records a fetch batch at a cost per batch ([`Caused::batch_in`], then
//! [`Caused::record_batched_in`] per message in order, then [`Caused::finish_in`]), and by releases from
//! quarantine, one message at a time ([`Caused::record_in`]), so both do all three. Writes no SQL itself.

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

/// What a fetch batch's messages cause, gathered between [`Caused::batch_in`] and
/// [`Caused::finish_in`].
pub(super) struct Batch<'a> {
    threads: threads::Batch<'a>,
    disputes: bridge::Batch,
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

    /// Reads once, in `tx`, what recording `items` (a fetch batch, in order) needs: the roster, the
    /// thread keys and tickets, the disputes keyed by those tickets or first sent as one of `items`.
    pub(super) async fn batch_in(
        &self,
        tx: &mut Tx,
        items: &[Classified],
        now: DateTime<Utc>,
    ) -> Result<Batch<'_>> {
        let threads = self.threads.batch_in(tx, items, now).await?;
        let reachable = threads.reachable();
        let disputes = bridge::Batch::read_in(tx, &self.disputes, items, &reachable).await?;
        Ok(Batch { threads, disputes })
    }

    /// Threads `item` (verdict `verdict_id`) in `batch`, queues the mail it causes and moves its
    /// dispute on, in `tx`; returns the ticket it joined. Its thread is written at
    /// [`Caused::finish_in`].
    pub(super) async fn record_batched_in(
        &self,
        tx: &mut Tx,
        batch: &mut Batch<'_>,
        item: &Classified,
        verdict_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Joined>> {
        let joined = batch.threads.record_in(tx, item, verdict_id).await?;
        let opened = joined.as_ref().filter(|j| j.new).map(|j| j.ticket.as_str());
        let ack = self
            .effects
            .in_tx(tx, &self.store, item, opened, now)
            .await?;
        if let (Some(ticket), Some(ack)) = (opened, ack) {
            let team = self.effects.team_address();
            batch
                .threads
                .note_queued(ticket, &ack.message_id, &team, true);
        }
        let ticket = joined.as_ref().map(|j| j.ticket.as_str());
        batch
            .disputes
            .observe_in(tx, &self.disputes, self.effects.outbox(), item, ticket, now)
            .await?;
        Ok(joined)
    }

    /// Writes the batch's thread records in `tx`.
    pub(super) async fn finish_in(&self, tx: &mut Tx, batch: Batch<'_>) -> Result<()> {
        batch.threads.finish_in(tx).await
    }

    /// [`Caused::record_batched_in`] for one message (a release from quarantine), written at once.
    pub(super) async fn record_in(
        &self,
        tx: &mut Tx,
        item: &Classified,
        verdict_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Joined>> {
        let mut batch = self.batch_in(tx, std::slice::from_ref(item), now).await?;
        let joined = self
            .record_batched_in(tx, &mut batch, item, verdict_id, now)
            .await?;
        self.finish_in(tx, batch).await?;
        Ok(joined)
    }
}
