//! The thread records of one fetch batch, made as if each message were recorded on its own, in order,
//! at a cost per batch: the roster, the keys and ticket numbers the batch's messages name, and the day's
//! ticket counter are read once; what earlier messages of the batch opened or joined is resolved in
//! memory; the tickets, messages and keys are written at [`Batch::finish_in`] in multi-row statements,
//! in the order the messages came, and the ticket numbers are taken from the counter at once.
//!
//! The rules are [`super::Threads`]'s; this only keeps their state for a batch. Writes no SQL itself.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Joined, Threads, bare_id, is_automatic, note_reply_in, own_and_answered};
use crate::actions::Classified;
use crate::store::{
    KEY_CASE, KEY_MESSAGE_ID, NewThreadMessage, NewTicket, OUTBOX, RECEIVED, Store, Tx,
};

/// Which ticket took a key first: a stored key's id, or the place of a key this batch adds (all later
/// than any stored one).
type Rank = (bool, i64);

/// A thread message waiting to be written.
struct Pending {
    ticket: String,
    message_id: String,
    folder: String,
    origin: &'static str,
    seen_ms: i64,
    date_ms: i64,
    sender: String,
    from_team: bool,
    member_id: i64,
    automatic: bool,
    verdict_id: i64,
    /// A reply from the team joining its ticket: it may be the ticket's first.
    reply: bool,
}

/// One batch's thread records, between [`Threads::batch_in`] and [`Batch::finish_in`], all inside the
/// verdict transaction.
pub struct Batch<'a> {
    threads: &'a Threads,
    now: DateTime<Utc>,
    /// Active members' addresses → their ids.
    roster: BTreeMap<String, i64>,
    /// (kind, key) → the ticket that took it first, with its rank: stored keys the batch names, then
    /// those the batch added.
    keys: BTreeMap<(&'static str, String), (Rank, String)>,
    /// Ticket → when it was opened: the stored tickets the batch names, and those it opened.
    tickets: BTreeMap<String, i64>,
    /// The day's last ticket number before this batch, once the counter is held (at the first ticket
    /// the batch opens).
    counter: Option<i64>,
    /// Tickets opened, in order: (ticket, bucket, opened by the team).
    opened: Vec<(String, String, bool)>,
    messages: Vec<Pending>,
    /// Keys to add, in order, each (kind, ticket, key) once.
    new_keys: Vec<(&'static str, String, String)>,
    added: BTreeSet<(&'static str, String, String)>,
}

impl Threads {
    /// Reads what recording `items` (a fetch batch, in order) needs from the store, in `tx`: the
    /// roster, the keys their Message-IDs, References and case numbers may match, and the tickets they
    /// name. Messages that take no part in threads cost nothing.
    pub async fn batch_in<'a>(
        &'a self,
        tx: &mut Tx,
        items: &[Classified],
        now: DateTime<Utc>,
    ) -> Result<Batch<'a>> {
        let mut batch = Batch {
            threads: self,
            now,
            roster: BTreeMap::new(),
            keys: BTreeMap::new(),
            tickets: BTreeMap::new(),
            counter: None,
            opened: Vec::new(),
            messages: Vec::new(),
            new_keys: Vec::new(),
            added: BTreeSet::new(),
        };
        let threaded: Vec<&Classified> = items
            .iter()
            .filter(|i| !i.verdict.is_error() && self.threads_bucket(i.plan.bucket()))
            .collect();
        if threaded.is_empty() {
            return Ok(batch);
        }
        if threaded.iter().any(|i| i.info.from.is_some()) {
            batch.roster = Store::active_members_in(tx).await?;
        }
        let mut keys = BTreeSet::new();
        let mut tickets = BTreeSet::new();
        for item in &threaded {
            keys.extend(own_and_answered(&item.info));
            for m in &item.mentions {
                if m.starts_with('a') {
                    keys.insert(m.clone());
                } else if m.starts_with('s') {
                    tickets.insert(m.clone());
                }
            }
        }
        let keys: Vec<String> = keys.into_iter().collect();
        for row in Store::thread_keys_among_in(tx, &keys).await? {
            let kind = match row.kind.as_str() {
                KEY_MESSAGE_ID => KEY_MESSAGE_ID,
                KEY_CASE => KEY_CASE,
                _ => continue,
            };
            let rank = (false, row.id);
            let slot = batch
                .keys
                .entry((kind, row.key))
                .or_insert((rank, row.ticket.clone()));
            if rank < slot.0 {
                *slot = (rank, row.ticket);
            }
        }
        if !tickets.is_empty() {
            let tickets: Vec<String> = tickets.into_iter().collect();
            batch.tickets = Store::tickets_opened_among_in(tx, &tickets).await?;
        }
        Ok(batch)
    }
}

impl Batch<'_> {
    /// Every stored ticket a message of the batch can join (by the keys and ticket numbers it names),
    /// as read by [`Threads::batch_in`].
    pub fn reachable(&self) -> Vec<String> {
        let mut tickets: BTreeSet<String> = self.tickets.keys().cloned().collect();
        tickets.extend(self.keys.values().map(|(_, t)| t.clone()));
        tickets.into_iter().collect()
    }

    /// Records `item` (verdict `verdict_id`) in its thread, as [`Threads::record_in`] would after the
    /// batch's earlier messages: joins the thread it belongs to, or opens a ticket for a new one. `None`
    /// when the message takes no part in threads. Written at [`Batch::finish_in`].
    pub async fn record_in(
        &mut self,
        tx: &mut Tx,
        item: &Classified,
        verdict_id: i64,
    ) -> Result<Option<Joined>> {
        let bucket = item.plan.bucket();
        if item.verdict.is_error() || !self.threads.threads_bucket(bucket) {
            return Ok(None);
        }
        let info = &item.info;
        let automatic = is_automatic(info, &self.threads.from);
        let sender = info
            .from
            .as_deref()
            .map(|f| f.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let member_id = if sender.is_empty() {
            None
        } else {
            self.roster.get(&sender.to_lowercase()).copied()
        };
        let from_team = !sender.is_empty() && (sender == self.threads.team || member_id.is_some());
        let ids = own_and_answered(info);
        let joined = match self.find(&ids, &item.mentions) {
            Some(ticket) => Joined { ticket, new: false },
            None if automatic => return Ok(None),
            None => {
                let ticket = self.open_in(tx, bucket, from_team).await?;
                Joined { ticket, new: true }
            }
        };
        let now_ms = self.now.timestamp_millis();
        self.messages.push(Pending {
            ticket: joined.ticket.clone(),
            message_id: info.message_id.as_deref().map(bare_id).unwrap_or_default(),
            folder: bucket.to_owned(),
            origin: RECEIVED,
            seen_ms: now_ms,
            date_ms: info.date.map_or(0, |s| s.saturating_mul(1000)),
            sender,
            from_team,
            member_id: member_id.unwrap_or(0),
            automatic,
            verdict_id,
            reply: !joined.new && from_team && !automatic,
        });
        for id in ids {
            self.add_key(KEY_MESSAGE_ID, &joined.ticket, id);
        }
        for case in item.mentions.iter().filter(|m| m.starts_with('a')) {
            self.add_key(KEY_CASE, &joined.ticket, case.clone());
        }
        tracing::info!(uid = item.key.uid, ticket = %joined.ticket, new = joined.new, from_team, automatic, "thread recorded");
        Ok(Some(joined))
    }

    /// Records mail triaged queued in `ticket`'s thread (an acknowledgement: `automatic`), as
    /// [`super::note_queued_in`] would at this point of the batch.
    pub fn note_queued(&mut self, ticket: &str, message_id: &str, sender: &str, automatic: bool) {
        let message_id = bare_id(message_id);
        let now_ms = self.now.timestamp_millis();
        self.messages.push(Pending {
            ticket: ticket.to_owned(),
            message_id: message_id.clone(),
            folder: "outbox".to_owned(),
            origin: OUTBOX,
            seen_ms: now_ms,
            date_ms: now_ms,
            sender: sender.to_ascii_lowercase(),
            from_team: true,
            member_id: 0,
            automatic,
            verdict_id: 0,
            reply: false,
        });
        self.add_key(KEY_MESSAGE_ID, ticket, message_id);
    }

    /// Writes the batch's records in `tx`: the ticket numbers taken at once, then the tickets, the
    /// messages and the keys, each in one statement (per `store::threads::CHUNK` values), and the
    /// first replies among the messages.
    pub async fn finish_in(self, tx: &mut Tx) -> Result<()> {
        if let Some(held) = self.counter {
            let day = self.day();
            let first = Store::take_ticket_numbers_in(tx, &day, self.opened.len() as i64).await?;
            if first != held + 1 {
                anyhow::bail!("ticket counter of {day} moved while held: {first} after {held}");
            }
        }
        let mailbox = self.threads.mailbox();
        let opened_ms = self.now.timestamp_millis();
        let tickets: Vec<NewTicket<'_>> = self
            .opened
            .iter()
            .map(|(ticket, bucket, by_team)| NewTicket {
                ticket,
                mailbox,
                bucket,
                opened_ms,
                opened_by_team: *by_team,
            })
            .collect();
        Store::open_tickets_in(tx, &tickets).await?;
        let rows: Vec<NewThreadMessage<'_>> = self
            .messages
            .iter()
            .map(|m| NewThreadMessage {
                ticket: &m.ticket,
                message_id: &m.message_id,
                folder: &m.folder,
                origin: m.origin,
                seen_ms: m.seen_ms,
                date_ms: m.date_ms,
                sender: &m.sender,
                from_team: m.from_team,
                member_id: m.member_id,
                automatic: m.automatic,
                verdict_id: m.verdict_id,
            })
            .collect();
        let ids = Store::add_thread_messages_in(tx, &rows).await?;
        let keys: Vec<(&str, &str, &str)> = self
            .new_keys
            .iter()
            .map(|(kind, ticket, key)| (*kind, ticket.as_str(), key.as_str()))
            .collect();
        Store::add_thread_key_rows_in(tx, &keys).await?;
        for (m, id) in self.messages.iter().zip(ids) {
            if m.reply {
                note_reply_in(tx, &m.ticket, id, m.seen_ms, m.date_ms).await?;
            }
        }
        Ok(())
    }

    /// The ticket a message with Message-IDs `ids` (its own and those it answers) and `mentions`
    /// belongs to: by Message-ID, then ticket number, then case number (`super::find_in`'s order).
    fn find(&self, ids: &BTreeSet<String>, mentions: &BTreeSet<String>) -> Option<String> {
        let first = |kind: &'static str, keys: &mut dyn Iterator<Item = &String>| {
            keys.filter_map(|k| self.keys.get(&(kind, k.clone())))
                .min_by_key(|(rank, _)| *rank)
                .map(|(_, ticket)| ticket.clone())
        };
        if let Some(t) = first(KEY_MESSAGE_ID, &mut ids.iter()) {
            return Some(t);
        }
        let named = mentions
            .iter()
            .filter(|m| m.starts_with('s'))
            .filter_map(|t| self.tickets.get(t).map(|opened| (*opened, t)))
            .min();
        if let Some((_, t)) = named {
            return Some(t.clone());
        }
        first(
            KEY_CASE,
            &mut mentions.iter().filter(|m| m.starts_with('a')),
        )
    }

    /// Opens the batch's next ticket: the counter is held at the first, and numbers follow it.
    async fn open_in(&mut self, tx: &mut Tx, bucket: &str, by_team: bool) -> Result<String> {
        let day = self.day();
        let held = match self.counter {
            Some(held) => held,
            None => {
                let held = Store::hold_ticket_counter_in(tx, &day).await?;
                self.counter = Some(held);
                held
            }
        };
        let n = held + self.opened.len() as i64 + 1;
        let ticket = format!("s{day}.{n:03}");
        self.tickets
            .insert(ticket.clone(), self.now.timestamp_millis());
        self.opened
            .push((ticket.clone(), bucket.to_owned(), by_team));
        Ok(ticket)
    }

    fn add_key(&mut self, kind: &'static str, ticket: &str, key: String) {
        if key.is_empty() || !self.added.insert((kind, ticket.to_owned(), key.clone())) {
            return;
        }
        let rank = (true, self.new_keys.len() as i64);
        self.keys
            .entry((kind, key.clone()))
            .or_insert_with(|| (rank, ticket.to_owned()));
        self.new_keys.push((kind, ticket.to_owned(), key));
    }

    fn day(&self) -> String {
        self.now.format("%Y%m%d").to_string()
    }
}
