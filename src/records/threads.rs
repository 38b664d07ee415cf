//! Support tickets and their threads: the rules of what opens a ticket, what joins one, and who answered.
//!
//! - Every new thread the worker sees opens a ticket `sYYYYMMDD.NNN`, from the same per-day counter the
//!   acknowledgements use, so an acknowledgement carries its thread's ticket and there is one numbering.
//!   Mail sorted into junk or bounce folders (a bucket whose last part is `Junk`, `Spam` or `Bounces`),
//!   the quarantine and trash folders, mail that could not be read, and automatic mail (RFC 3834:
//!   `Auto-Submitted`, `Precedence: bulk|list|junk`, `List-Id`, bounces, the same rules that keep
//!   acknowledgements away from it) open no ticket. Automatic mail still joins a thread it names (a
//!   list's copy of a message, a bounce of an answer), recorded as automatic.
//! - Later mail joins a thread by, in this order: a Message-ID it has or answers (In-Reply-To,
//!   References) that the thread knows; a ticket number `sYYYYMMDD.NNN` in its subject or text; an
//!   arbitration case number `aYYYYMMDD.N` a message of the thread carried first.
//! - Each message of a thread is recorded with its ticket, Message-ID, folder (bucket), when it was seen,
//!   its Date, its sender, and whether the team sent it: the team's own address or an active roster
//!   member's.
//! - A reply from the team (not automatic) joining a ticket is noted as the ticket's first reply when
//!   none earlier is known: at its Date, kept between the opening and when it was seen.
//!   Team mail read from the sent folders and the outbox joins threads here too
//!   ([`Threads::record_team_mail_in`]); `sla` decides what the times mean.
//!
//! Recording happens in the verdict's own transaction (DESIGN invariant 2), so a verdict and its thread
//! record commit together, before the mailbox is touched.
//!
//! The worker records a whole fetch batch at a cost per batch ([`batch`]: one read of the roster, of
//! the keys and of the tickets the batch names, ticket numbers taken at once, multi-row writes), with
//! the same result as recording its messages one by one in order.
//!
//! # For the other records (the disputes bridge)
//! - [`Batch::record_in`], called by the worker once per newly recorded message inside the verdict
//!   transaction (`worker::caused`, which hands the result on), returns the [`Joined`] ticket and
//!   whether this message opened it (`new`); [`Threads::record_in`] does the same for one message.
//! - [`joined_in`] answers the same later in that transaction (or any other) from a Message-ID.
//! - [`ticket_of_message_id`] and [`ticket_of_case`] look a ticket up from a Message-ID (one the thread
//!   has or answers) or from an arbitration case number (the store's `Store::ticket_of_message_id`,
//!   `Store::ticket_of_case`, and `Store::ticket_by_keys_in` inside a transaction); [`thread_ids`]
//!   lists a thread's Message-IDs and [`show`] a ticket with its messages.
//!
//! Writes no SQL itself (that is `store`), and touches no mailbox.

mod batch;

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::retention::scan::{bare_id, numbers, scan};
use crate::actions::Classified;
use crate::config::Config;
use crate::message::MessageInfo;
use crate::outbox::guard::{self, Decline};
use crate::store::{
    KEY_CASE, KEY_MESSAGE_ID, NewThreadMessage, Store, ThreadMessageRow, TicketRow, Tx,
};

pub use self::batch::Batch;

/// The last part of a bucket name that marks it as junk or bounces: its mail opens no ticket.
const NO_TICKET_FOLDERS: [&str; 3] = ["junk", "spam", "bounces"];

/// The ticket a message joined, and whether the message opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Joined {
    pub ticket: String,
    pub new: bool,
}

/// What recording threads needs from the config; built once per worker.
#[derive(Debug, Clone)]
pub struct Threads {
    /// The store's identity of the watched mailbox.
    mailbox: String,
    /// The team's own address, lowercased: its mail is the team's.
    team: String,
    /// The team's address as the RFC 3834 guard wants it.
    from: lettre::message::Mailbox,
    /// The quarantine and trash folders: their mail is no thread.
    set_aside: Vec<String>,
}

impl Threads {
    pub fn new(config: &Config, mailbox: &str) -> Threads {
        Threads::for_team(
            mailbox,
            config.outbox.from.clone(),
            vec![
                config.mailbox.quarantine.clone(),
                config.mailbox.trash.clone(),
            ],
        )
    }

    /// Threads of `mailbox` for the team sending as `from`; mail in `set_aside` folders is no thread.
    pub fn for_team(
        mailbox: &str,
        from: lettre::message::Mailbox,
        set_aside: Vec<String>,
    ) -> Threads {
        Threads {
            mailbox: mailbox.to_owned(),
            team: from.email.to_string().to_ascii_lowercase(),
            from,
            set_aside,
        }
    }

    /// The store's identity of the watched mailbox.
    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// Records mail the team sent, known by its header block alone (a sent folder's message, a mail
    /// triaged queued), in the thread it answers or names in its subject, seen at `seen`; it opens no
    /// ticket. Mail not from the team's address or an active member's, mail in no known thread, and mail
    /// already recorded from the same `origin` are left out (`None`). A reply that is not automatic may
    /// be its ticket's first.
    pub async fn record_team_mail_in(
        &self,
        tx: &mut Tx,
        header: &[u8],
        folder: &str,
        origin: &str,
        seen: DateTime<Utc>,
    ) -> Result<Option<Joined>> {
        let Ok(msg) = crate::message::Message::parse(header, 0) else {
            return Ok(None);
        };
        let info = msg.into_info();
        let sender = info
            .from
            .as_deref()
            .map(|f| f.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if sender.is_empty() {
            return Ok(None);
        }
        let member_id = Store::active_member_in(tx, &sender).await?;
        if sender != self.team && member_id.is_none() {
            return Ok(None);
        }
        let message_id = info.message_id.as_deref().map(bare_id).unwrap_or_default();
        if !message_id.is_empty() && Store::thread_message_known_in(tx, &message_id, origin).await?
        {
            return Ok(None);
        }
        let mentions = mentions(&[], info.subject.as_deref());
        let Some(ticket) = find_in(tx, &info, &mentions).await? else {
            return Ok(None);
        };
        let automatic = is_automatic(&info, &self.from);
        let (seen_ms, date_ms) = (
            seen.timestamp_millis(),
            info.date.map_or(0, |s| s.saturating_mul(1000)),
        );
        let row = Store::add_thread_message_in(
            tx,
            &NewThreadMessage {
                ticket: &ticket,
                message_id: &message_id,
                folder,
                origin,
                seen_ms,
                date_ms,
                sender: &sender,
                from_team: true,
                member_id: member_id.unwrap_or(0),
                automatic,
                verdict_id: 0,
            },
        )
        .await?;
        add_keys_in(tx, &ticket, &info, &mentions).await?;
        if !automatic {
            note_reply_in(tx, &ticket, row, seen_ms, date_ms).await?;
        }
        tracing::info!(ticket = %ticket, origin, folder, automatic, "team mail recorded in its thread");
        Ok(Some(Joined { ticket, new: false }))
    }

    /// Whether mail sorted into `bucket` takes part in threads at all.
    pub fn threads_bucket(&self, bucket: &str) -> bool {
        if self.set_aside.iter().any(|f| f == bucket) || bucket == "(deleted)" {
            return false;
        }
        let last = bucket.rsplit(['/', '.']).next().unwrap_or(bucket);
        !NO_TICKET_FOLDERS
            .iter()
            .any(|f| last.eq_ignore_ascii_case(f))
    }

    /// Records a newly classified message in its thread, inside the verdict's transaction `tx`
    /// (`verdict_id` is the verdict just recorded): joins the thread it belongs to, or opens a ticket
    /// for a new one. `None` when the message takes no part in threads. A batch of one: the worker
    /// records a fetch batch through [`Threads::batch_in`].
    pub async fn record_in(
        &self,
        tx: &mut Tx,
        item: &Classified,
        verdict_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Joined>> {
        let mut batch = self.batch_in(tx, std::slice::from_ref(item), now).await?;
        let joined = batch.record_in(tx, item, verdict_id).await?;
        batch.finish_in(tx).await?;
        Ok(joined)
    }
}

/// Records team message `row` (seen at `seen_ms`, dated `date_ms`, 0 for none) as a reply to `ticket`:
/// its first, unless an earlier one is known.
async fn note_reply_in(
    tx: &mut Tx,
    ticket: &str,
    row: i64,
    seen_ms: i64,
    date_ms: i64,
) -> Result<()> {
    let Some(opened_ms) = Store::ticket_opened_in(tx, ticket).await? else {
        return Ok(());
    };
    let at = reply_time(opened_ms, seen_ms, date_ms);
    if Store::note_first_reply_in(tx, ticket, at, row).await? {
        tracing::info!(
            ticket,
            minutes = (at - opened_ms) / 60_000,
            "first reply recorded"
        );
    }
    Ok(())
}

/// When a reply was made: its Date, kept between the ticket's opening and when triaged saw it (a
/// client's clock may be off, and a sent folder is read some minutes late); when it was seen without one.
pub fn reply_time(opened_ms: i64, seen_ms: i64, date_ms: i64) -> i64 {
    if date_ms > 0 {
        date_ms.clamp(opened_ms.min(seen_ms), seen_ms)
    } else {
        seen_ms
    }
}

/// The ticket the message belongs to: by Message-ID, then ticket number, then case number.
async fn find_in(
    tx: &mut Tx,
    info: &MessageInfo,
    mentions: &BTreeSet<String>,
) -> Result<Option<String>> {
    let ids: Vec<String> = own_and_answered(info).into_iter().collect();
    if !ids.is_empty()
        && let Some(t) = Store::ticket_by_keys_in(tx, KEY_MESSAGE_ID, &ids).await?
    {
        return Ok(Some(t));
    }
    let tickets: Vec<String> = mentions
        .iter()
        .filter(|m| m.starts_with('s'))
        .cloned()
        .collect();
    if let Some(t) = Store::existing_ticket_in(tx, &tickets).await? {
        return Ok(Some(t));
    }
    let cases: Vec<String> = mentions
        .iter()
        .filter(|m| m.starts_with('a'))
        .cloned()
        .collect();
    if cases.is_empty() {
        return Ok(None);
    }
    Store::ticket_by_keys_in(tx, KEY_CASE, &cases).await
}

/// The message's own Message-ID and those it answers, without angle brackets.
fn own_and_answered(info: &MessageInfo) -> BTreeSet<String> {
    info.message_id
        .iter()
        .chain(&info.in_reply_to)
        .chain(&info.references)
        .map(|id| bare_id(id))
        .filter(|id| !id.is_empty())
        .collect()
}

async fn add_keys_in(
    tx: &mut Tx,
    ticket: &str,
    info: &MessageInfo,
    mentions: &BTreeSet<String>,
) -> Result<()> {
    Store::add_thread_keys_in(tx, ticket, KEY_MESSAGE_ID, &own_and_answered(info)).await?;
    let cases: BTreeSet<String> = mentions
        .iter()
        .filter(|m| m.starts_with('a'))
        .cloned()
        .collect();
    Store::add_thread_keys_in(tx, ticket, KEY_CASE, &cases).await
}

/// Whether the RFC 3834 guard calls the message automatic (an auto-reply, a bounce, list or bulk mail).
pub fn is_automatic(info: &MessageInfo, team: &lettre::message::Mailbox) -> bool {
    matches!(
        guard::check(info, team),
        Err(Decline::AutoSubmitted(_) | Decline::Bounce(_) | Decline::List(_))
    )
}

/// Records mail triaged queued in `ticket`'s thread (an acknowledgement: `automatic`), inside `tx`.
pub async fn note_queued_in(
    tx: &mut Tx,
    ticket: &str,
    message_id: &str,
    sender: &str,
    automatic: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let message_id = bare_id(message_id);
    Store::add_thread_message_in(
        tx,
        &NewThreadMessage {
            ticket,
            message_id: &message_id,
            folder: "outbox",
            origin: crate::store::OUTBOX,
            seen_ms: now.timestamp_millis(),
            date_ms: now.timestamp_millis(),
            sender: &sender.to_ascii_lowercase(),
            from_team: true,
            member_id: 0,
            automatic,
            verdict_id: 0,
        },
    )
    .await?;
    Store::add_thread_keys_in(tx, ticket, KEY_MESSAGE_ID, &BTreeSet::from([message_id])).await
}

/// The ticket numbers `sYYYYMMDD.NNN` and case numbers `aYYYYMMDD.N` a message names in its subject or
/// text, read at classification: the raw bytes are searched as text, and a message with encoded parts
/// (base64, quoted-printable) is decoded first, so a number in an encoded body is found too.
pub fn mentions(raw: &[u8], subject: Option<&str>) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(raw);
    let mut found = numbers(&text, 's');
    found.extend(numbers(&text, 'a'));
    if let Some(subject) = subject {
        found.extend(numbers(subject, 's'));
        found.extend(numbers(subject, 'a'));
    }
    if encoded(raw) {
        let facts = scan(raw);
        found.extend(facts.tickets);
        found.extend(facts.cases);
    }
    found
}

/// Whether `raw` names a base64 or quoted-printable transfer encoding (any case), without copying it:
/// only then is the message parsed again to search its decoded text.
fn encoded(raw: &[u8]) -> bool {
    static FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::LazyLock::new(|| {
            [
                "base64",
                "Base64",
                "BASE64",
                "quoted-printable",
                "Quoted-Printable",
                "QUOTED-PRINTABLE",
            ]
            .into_iter()
            .map(memchr::memmem::Finder::new)
            .collect()
        });
    FINDERS.iter().any(|f| f.find(raw).is_some())
}

/// The ticket the message with Message-ID `message_id` is recorded in, and whether it opened it; asked
/// inside the verdict's transaction after [`Threads::record_in`] (or in any other).
pub async fn joined_in(tx: &mut Tx, message_id: &str) -> Result<Option<Joined>> {
    let Some(row) = Store::thread_message_by_id_in(tx, &bare_id(message_id)).await? else {
        return Ok(None);
    };
    let first = Store::first_thread_message_in(tx, &row.ticket).await?;
    Ok(Some(Joined {
        new: first == Some(row.id),
        ticket: row.ticket,
    }))
}

/// The ticket whose thread has or answers Message-ID `id` (angle brackets optional).
pub async fn ticket_of_message_id(store: &Store, id: &str) -> Result<Option<String>> {
    store.ticket_of_message_id(&bare_id(id)).await
}

/// The ticket in whose thread arbitration case number `case` first appeared.
pub async fn ticket_of_case(store: &Store, case: &str) -> Result<Option<String>> {
    store
        .ticket_of_case(&case.trim().to_ascii_lowercase())
        .await
}

/// The Message-IDs (without angle brackets) of ticket `ticket`'s thread: its messages' own and those
/// they answer.
pub async fn thread_ids(store: &Store, ticket: &str) -> Result<BTreeSet<String>> {
    store.thread_ids(ticket).await
}

/// A ticket and its thread, as `ticket show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub ticket: String,
    pub bucket: String,
    pub opened: DateTime<Utc>,
    pub opened_by_team: bool,
    /// The first reply that counts toward the response target, when there is one.
    pub first_reply: Option<DateTime<Utc>>,
    pub messages: Vec<ThreadEntry>,
}

/// One message of a shown thread.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadEntry {
    pub message_id: String,
    pub folder: String,
    /// `received`, `sent-folder` or `outbox`.
    pub origin: String,
    pub seen: DateTime<Utc>,
    pub date: Option<DateTime<Utc>>,
    pub sender: String,
    pub from_team: bool,
    pub automatic: bool,
}

/// Ticket `ticket` and its thread; `None` when no such ticket is recorded.
pub async fn show(store: &Store, ticket: &str) -> Result<Option<TicketView>> {
    let ticket = ticket.trim().to_ascii_lowercase();
    let Some(row) = store.ticket(&ticket).await? else {
        return Ok(None);
    };
    let messages = store.thread_messages(&ticket).await?;
    Ok(Some(view(row, messages)))
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn view(row: TicketRow, messages: Vec<ThreadMessageRow>) -> TicketView {
    TicketView {
        ticket: row.ticket,
        bucket: row.bucket,
        opened: at(row.opened_ms),
        opened_by_team: row.opened_by_team,
        first_reply: (row.first_reply_ms > 0).then(|| at(row.first_reply_ms)),
        messages: messages
            .into_iter()
            .map(|m| ThreadEntry {
                message_id: m.message_id,
                folder: m.folder,
                origin: m.origin,
                seen: at(m.seen_ms),
                date: (m.date_ms > 0).then(|| at(m.date_ms)),
                sender: m.sender,
                from_team: m.from_team,
                automatic: m.automatic,
            })
            .collect(),
    }
}

/// Whether `text` is a ticket number `sYYYYMMDD.NNN` (either case).
pub fn is_ticket_number(text: &str) -> bool {
    let text = text.trim();
    numbers(text, 's').len() == 1 && numbers(text, 's').contains(&text.to_ascii_lowercase())
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod tests;
