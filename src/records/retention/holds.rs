//! Why a message past its limit is still kept. A message is held while its thread has an open dispute,
//! while it carries an arbitration case number (`aYYYYMMDD.N`), or while a manual hold names it (by
//! Message-ID, or by the support ticket of its thread). Asked for a whole batch at once, and asked again
//! just before a batch is purged, so a hold placed while a run is under way still counts.
//!
//! Reads the store through `threads` and its own queries; changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::Result;

use super::scan::Facts;
use super::threads;
use crate::config::Config;
use crate::store::{HoldKind, HoldRow, Store};

/// Why a message is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// A manual hold names it or its ticket.
    Manual {
        id: i64,
        kind: HoldKind,
        target: String,
        reason: String,
    },
    /// It carries this arbitration case number.
    CaseNumber(String),
    /// Its thread has an open dispute: the dispute's Message-ID.
    Dispute(String),
    /// It is itself a dispute, in this `[disputes] buckets` folder.
    DisputeFolder(String),
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::Manual {
                id,
                kind: HoldKind::MessageId,
                reason,
                ..
            } => write!(f, "manual hold {id} on this message: {reason}"),
            Hold::Manual {
                id,
                kind: HoldKind::Ticket,
                target,
                reason,
            } => write!(f, "manual hold {id} on ticket {target}: {reason}"),
            Hold::CaseNumber(n) => write!(f, "carries arbitration case number {n}"),
            Hold::Dispute(id) => write!(f, "open dispute in its thread <{id}>"),
            Hold::DisputeFolder(folder) => write!(f, "a dispute in {folder}, still open"),
        }
    }
}

/// What the holds know at one moment, for one batch of messages.
struct Known {
    manual: Vec<HoldRow>,
    /// Per held ticket, the Message-IDs of its thread.
    tickets: BTreeMap<String, BTreeSet<String>>,
    /// Message-IDs of the batch that belong to a thread with an open dispute.
    disputes: BTreeSet<String>,
    /// Message-IDs of the batch whose dispute the bridge records as closed.
    closed: BTreeSet<String>,
}

impl Known {
    async fn load(store: &Store, config: &Config, batch: &[&Facts]) -> Result<Known> {
        let manual = store.active_holds().await?;
        let mut tickets = BTreeMap::new();
        for hold in manual.iter().filter(|h| h.kind == HoldKind::Ticket) {
            let ids = threads::ticket_thread_ids(store, &hold.target).await?;
            tickets.insert(hold.target.clone(), ids);
        }
        let ids: Vec<String> = batch
            .iter()
            .flat_map(|f| f.ids())
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let disputes = threads::open_dispute_ids(store, config, &ids).await?;
        let own: Vec<String> = batch
            .iter()
            .map(|f| f.message_id.clone())
            .filter(|id| !id.is_empty())
            .collect();
        let closed = threads::closed_dispute_ids(store, &own).await?;
        Ok(Known {
            manual,
            tickets,
            disputes,
            closed,
        })
    }

    fn manual(&self, facts: &Facts) -> Option<Hold> {
        let names = |hold: &HoldRow| match hold.kind {
            HoldKind::MessageId => !facts.message_id.is_empty() && facts.message_id == hold.target,
            HoldKind::Ticket => {
                facts.tickets.contains(&hold.target)
                    || self
                        .tickets
                        .get(&hold.target)
                        .is_some_and(|thread| facts.ids().any(|id| thread.contains(id)))
            }
        };
        self.manual.iter().find(|h| names(h)).map(|h| Hold::Manual {
            id: h.id,
            kind: h.kind,
            target: h.target.clone(),
            reason: h.reason.clone(),
        })
    }

    fn hold(&self, config: &Config, folder: &str, facts: &Facts) -> Option<Hold> {
        if let Some(hold) = self.manual(facts) {
            return Some(hold);
        }
        if let Some(case) = facts.cases.iter().next() {
            return Some(Hold::CaseNumber(case.clone()));
        }
        if threads::is_dispute_folder(config, folder) && !self.closed.contains(&facts.message_id) {
            return Some(Hold::DisputeFolder(folder.to_owned()));
        }
        facts
            .ids()
            .find(|id| self.disputes.contains(*id))
            .map(|id| Hold::Dispute(id.to_owned()))
    }
}

/// For each message of `batch` (in `folder`), why it is held, or `None` when it may be purged.
pub async fn check(
    store: &Store,
    config: &Config,
    folder: &str,
    batch: &[&Facts],
) -> Result<Vec<Option<Hold>>> {
    let known = Known::load(store, config, batch).await?;
    Ok(batch
        .iter()
        .map(|facts| known.hold(config, folder, facts))
        .collect())
}
