//! The disputes a fetch batch's mail can reach, read once per batch and kept up to date in memory as the
//! batch's messages open disputes and give them tickets and case numbers: so each message finds the
//! disputes it would have found had the batch's earlier messages been recorded one by one, without a
//! lookup of its own. A message reaches the disputes keyed by the ticket whose thread it joined, and the
//! dispute it is the first message of. Writes no SQL itself.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::actions::Classified;
use crate::config::DisputesConfig;
use crate::records::retention::{bare_id, numbers};
use crate::store::{Store, Tx};

/// What one message brings to the bridge besides the ticket it joined.
pub(super) struct Keys {
    /// Its own Message-ID (without angle brackets), empty when it has none.
    pub own: String,
    /// Ticket and case numbers it names in its subject or text.
    pub tickets: Vec<String>,
    pub cases: Vec<String>,
}

impl Keys {
    pub(super) fn of(item: &Classified) -> Keys {
        let subject = item.info.subject.as_deref().unwrap_or_default();
        // Ticket and case numbers named in the subject or text, read when the message was classified.
        let named = |prefix: char| -> Vec<String> {
            let mut found: Vec<String> = item
                .mentions
                .iter()
                .filter(|m| m.starts_with(prefix))
                .cloned()
                .collect();
            found.extend(numbers(subject, prefix));
            found.sort();
            found.dedup();
            found
        };
        Keys {
            own: bare_id(item.message_id()),
            tickets: named('s'),
            cases: named('a'),
        }
    }
}

/// The disputes a batch's mail can reach, between [`Batch::read_in`] and the batch's end.
#[derive(Debug, Default)]
pub struct Batch {
    /// Ticket → the disputes keyed by it.
    by_ticket: BTreeMap<String, BTreeSet<i64>>,
    /// A dispute's first Message-ID → the dispute.
    by_first: BTreeMap<String, i64>,
    /// Dispute → (ticket, case number), empty for none yet.
    numbers: BTreeMap<i64, (String, String)>,
}

impl Batch {
    /// Reads, in `tx`, the disputes the mail of `items` (a fetch batch) can reach: those keyed by
    /// `tickets` (every stored ticket the batch's messages can join, from the thread records' read)
    /// and those whose first message is one of them. Nothing when the bridge is off.
    pub async fn read_in(
        tx: &mut Tx,
        config: &DisputesConfig,
        items: &[Classified],
        tickets: &[String],
    ) -> Result<Batch> {
        if !super::enabled(config) {
            return Ok(Batch::default());
        }
        let firsts: Vec<String> = items
            .iter()
            .filter(|i| !i.verdict.is_error())
            .map(|i| bare_id(i.message_id()))
            .filter(|id| !id.is_empty())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let mut batch = Batch::default();
        for d in Store::disputes_reached_in(tx, tickets, &firsts).await? {
            batch.by_first.insert(d.message_id, d.id);
            batch.ticket(d.id, &d.ticket);
            batch.case(d.id, &d.case_number);
        }
        Ok(batch)
    }

    /// The disputes keyed by `joined` (the ticket the message joined) and the one whose first message
    /// is `own`, by id (oldest first).
    pub(super) fn matching(&self, joined: Option<&str>, own: &str) -> Vec<i64> {
        let mut found: BTreeSet<i64> = joined
            .and_then(|t| self.by_ticket.get(t))
            .cloned()
            .unwrap_or_default();
        found.extend(self.by_first.get(own));
        found.into_iter().collect()
    }

    /// Dispute `id` was recorded (or found recorded) with first message `own`.
    pub(super) fn received(&mut self, id: i64, own: &str) {
        self.by_first.insert(own.to_owned(), id);
        self.numbers.entry(id).or_default();
    }

    /// Gives dispute `id` `ticket` unless it has one; whether it changed.
    pub(super) fn ticket(&mut self, id: i64, ticket: &str) -> bool {
        let slot = &mut self.numbers.entry(id).or_default().0;
        let changed = slot.is_empty() && !ticket.is_empty();
        if changed {
            *slot = ticket.to_owned();
            self.by_ticket
                .entry(ticket.to_owned())
                .or_default()
                .insert(id);
        }
        changed
    }

    /// Gives dispute `id` case number `case` unless it has one; whether it changed.
    pub(super) fn case(&mut self, id: i64, case: &str) -> bool {
        let slot = &mut self.numbers.entry(id).or_default().1;
        let changed = slot.is_empty() && !case.is_empty();
        if changed {
            *slot = case.to_owned();
        }
        changed
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
