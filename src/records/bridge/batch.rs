//! The disputes a fetch batch's mail can reach, read once per batch and kept up to date in memory as the
//! batch's messages file themselves under disputes, open new ones, and give them tickets and case
//! numbers: so each message finds the disputes it would have found had the batch's earlier messages been
//! recorded one by one, without a lookup of its own. Writes no SQL itself.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::actions::Classified;
use crate::config::DisputesConfig;
use crate::records::retention::{bare_id, numbers};
use crate::store::{Store, Tx};

/// What one message can match disputes by.
pub(super) struct Keys {
    /// Its own Message-ID (without angle brackets), empty when it has none.
    pub own: String,
    /// Its own and those it answers, without empty ones.
    pub ids: Vec<String>,
    /// Ticket and case numbers it names in its subject or text.
    pub tickets: Vec<String>,
    pub cases: Vec<String>,
}

impl Keys {
    pub(super) fn of(item: &Classified) -> Keys {
        let own = bare_id(item.message_id());
        let mut ids: Vec<String> = item.answers().iter().map(|id| bare_id(id)).collect();
        ids.push(own.clone());
        ids.retain(|id| !id.is_empty());
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
            own,
            ids,
            tickets: named('s'),
            cases: named('a'),
        }
    }
}

/// The disputes a batch's mail can reach, between [`Batch::read_in`] and the batch's end.
#[derive(Debug, Default)]
pub struct Batch {
    /// Message-ID → the disputes it is filed under.
    filed: BTreeMap<String, BTreeSet<i64>>,
    /// Dispute → (ticket, case number), empty for none yet.
    numbers: BTreeMap<i64, (String, String)>,
}

impl Batch {
    /// Reads, in `tx`, what the mail of `items` (a fetch batch) can match: nothing when the bridge is
    /// off.
    pub async fn read_in(
        tx: &mut Tx,
        config: &DisputesConfig,
        items: &[Classified],
    ) -> Result<Batch> {
        if !super::enabled(config) {
            return Ok(Batch::default());
        }
        let (mut ids, mut tickets, mut cases) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for item in items.iter().filter(|i| !i.verdict.is_error()) {
            let keys = Keys::of(item);
            ids.extend(keys.ids);
            tickets.extend(keys.tickets);
            cases.extend(keys.cases);
        }
        let list = |s: BTreeSet<String>| -> Vec<String> { s.into_iter().collect() };
        let found = Store::disputes_keyed_in(tx, &list(ids), &list(tickets), &list(cases)).await?;
        let mut batch = Batch::default();
        for (message_id, dispute) in found.links {
            batch.filed.entry(message_id).or_default().insert(dispute);
        }
        for (id, ticket, case) in found.numbers {
            batch.numbers.insert(id, (ticket, case));
        }
        Ok(batch)
    }

    /// The disputes whose threads hold any of `keys.ids`, or whose ticket or case number `keys` names,
    /// by id (oldest first), as `Store::disputes_matching_in` would answer now.
    pub(super) fn matching(&self, keys: &Keys) -> Vec<i64> {
        let mut found: BTreeSet<i64> = keys
            .ids
            .iter()
            .filter_map(|id| self.filed.get(id))
            .flatten()
            .copied()
            .collect();
        for (id, (ticket, case)) in &self.numbers {
            if (!ticket.is_empty() && keys.tickets.contains(ticket))
                || (!case.is_empty() && keys.cases.contains(case))
            {
                found.insert(*id);
            }
        }
        found.into_iter().collect()
    }

    /// Dispute `id` was recorded (or found recorded) with first message `own`.
    pub(super) fn received(&mut self, id: i64, own: &str) {
        self.filed.entry(own.to_owned()).or_default().insert(id);
        self.numbers.entry(id).or_default();
    }

    /// Files `message_id` under dispute `id`; false when it was (or is empty: nothing to file).
    pub(super) fn filed(&mut self, id: i64, message_id: &str) -> bool {
        !message_id.is_empty()
            && self
                .filed
                .entry(message_id.to_owned())
                .or_default()
                .insert(id)
    }

    /// Gives dispute `id` `ticket` unless it has one; whether it changed.
    pub(super) fn ticket(&mut self, id: i64, ticket: &str) -> bool {
        let slot = &mut self.numbers.entry(id).or_default().0;
        let changed = slot.is_empty();
        if changed {
            *slot = ticket.to_owned();
        }
        changed
    }

    /// Gives dispute `id` case number `case` unless it has one; whether it changed.
    pub(super) fn case(&mut self, id: i64, case: &str) -> bool {
        let slot = &mut self.numbers.entry(id).or_default().1;
        let changed = slot.is_empty();
        if changed {
            *slot = case.to_owned();
        }
        changed
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
