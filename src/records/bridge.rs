//! The disputes bridge: following each dispute from Support to Arbitration, and telling the team leader,
//! once per stage, when one stalls.
//!
//! - A dispute is a message sorted into `[disputes] buckets`, or a filing triaged sends (`dispute abc`);
//!   a filing triaged sent and later sorts is the same dispute (found by its Message-ID).
//! - `received` → `forwarded`: triaged's outbox sends it to `[disputes] list` (the original bytes, its
//!   Message-ID kept, when `[disputes] forward = true`; a filing goes to the list as a copy), or a person
//!   is seen forwarding it (a `Fwd:` in its thread).
//! - `on-list`: mail in the thread carrying the list's List-Id came back to the watched mailbox (the list
//!   keeps the Message-ID of what it was sent, and replies name it in References).
//! - A dispute is keyed by its ticket: its thread's (`records::threads`), or the first ticket number its
//!   mail names. Later mail finds it through the thread it joined (by Message-ID, In-Reply-To,
//!   References, the ticket number or a case number the thread carried: the thread records' rules, not
//!   the bridge's), and a dispute's own first message (a filing's copies coming back) by its
//!   Message-ID. The Message-IDs of a dispute's mail are kept for retention's holds, not for finding it.
//! - `acknowledged`: mail in the thread from `[disputes] arbitration_addresses`, or carrying an arbitration
//!   case number (`aYYYYMMDD.N`, in the subject or the text).
//!
//! Owns the rules of the stages and the escalation; the filing itself is `disputes`'s, the SQL `store`'s.
//!
//! - `escalate`: the team leader told once per stage when a dispute waits too long in it.
//!
//! - `batch`: the disputes a fetch batch's mail can reach, read once per batch and kept in memory.
//!
//! Everything here runs in the caller's transaction (the verdicts' one, when the worker sorts), so a
//! dispute moves on exactly when its mail is recorded.

mod batch;
mod escalate;

use anyhow::Result;
use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::message::Mailbox;

use crate::actions::Classified;
use crate::config::DisputesConfig;
use crate::outbox::{Outbox, RawMail};
use crate::records::disputes::Stage;
use crate::store::{DisputeMark, DisputeRow, NewDispute, NewEvent, Store, Tx};

pub use self::batch::Batch;
use self::batch::Keys;
pub use self::escalate::{CHECK_EVERY, Escalated, escalate, limit, scheduled};

/// Who moved a dispute on, as the store records it.
const BY_OUTBOX: &str = "outbox";
const BY_PERSON: &str = "person";
const BY_ARBITRATION: &str = "arbitration";
const BY_CASE_NUMBER: &str = "case-number";

/// Whether triaged follows disputes at all: a bucket to sort them into, or a list to forward them to.
pub fn enabled(config: &DisputesConfig) -> bool {
    !config.buckets.is_empty() || config.list.is_some()
}

/// Whether triaged forwards mail sorted into `bucket` to the list itself (so the worker keeps its bytes).
pub fn forwards(config: &DisputesConfig, bucket: &str) -> bool {
    config.forward && config.list.is_some() && config.buckets.iter().any(|b| b == bucket)
}

/// The List-Id Mailman gives `list` (`disputes@lists.example.org` → `disputes.lists.example.org`).
pub fn list_id(list: &Address) -> String {
    format!("{}.{}", list.user(), list.domain()).to_ascii_lowercase()
}

/// Whether a `List-Id` header value names `list`.
fn is_from_list(list_id_header: Option<&str>, list: Option<&Mailbox>) -> bool {
    let (Some(header), Some(list)) = (list_id_header, list) else {
        return false;
    };
    let want = format!("<{}>", list_id(&list.email));
    header.to_ascii_lowercase().contains(&want)
}

fn is_forward(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    ["fwd:", "fw:", "[fwd:"].iter().any(|p| s.starts_with(p))
}

async fn event_in(tx: &mut Tx, id: i64, action: &str, reason: &str, at_ms: i64) -> Result<()> {
    Store::record_event_in(
        tx,
        &NewEvent {
            at_ms,
            actor: "worker",
            subject: &format!("dispute:{id}"),
            action,
            reason,
            detail: "",
        },
    )
    .await?;
    Ok(())
}

impl Batch {
    /// What the bridge makes of one sorted message of the batch: a new dispute, or the disputes of the
    /// thread it joined (`ticket`, from the thread records) moved on. Runs inside the verdict's
    /// transaction; `outbox` forwards new disputes when `[disputes] forward`.
    pub async fn observe_in(
        &mut self,
        tx: &mut Tx,
        config: &DisputesConfig,
        outbox: &Outbox,
        item: &Classified,
        ticket: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if !enabled(config) || item.verdict.is_error() {
            return Ok(());
        }
        let keys = Keys::of(item);
        let own = &keys.own;
        let subject = item.info.subject.clone().unwrap_or_default();
        let found = self.matching(ticket, own);
        let ticket = ticket.filter(|_| !own.is_empty()).map(str::to_owned);
        if found.is_empty() {
            if config.buckets.iter().any(|b| b == item.plan.bucket()) && !own.is_empty() {
                let (id, new) = receive_in(tx, config, outbox, item, own, now).await?;
                self.received(id, own);
                if let (true, Some(ticket)) = (new, &ticket)
                    && self.ticket(id, ticket)
                {
                    Store::dispute_set_ticket_in(tx, id, ticket).await?;
                }
            }
            return Ok(());
        }
        let now_ms = now.timestamp_millis();
        for &id in &found {
            // Filed for retention's holds only: mail finds its dispute by its thread's ticket.
            Store::dispute_add_messages_in(tx, id, std::slice::from_ref(own), now_ms).await?;
            // What the batch knows of each dispute found is what the store holds, so only changes are
            // written.
            if let Some(ticket) = ticket.as_ref().or(keys.tickets.first())
                && self.ticket(id, ticket)
            {
                Store::dispute_set_ticket_in(tx, id, ticket).await?;
            }
            if let Some(case) = keys.cases.first()
                && self.case(id, case)
            {
                Store::dispute_set_case_in(tx, id, case).await?;
            }
            advance_in(tx, config, id, item, &subject, &keys.cases, now_ms).await?;
        }
        Ok(())
    }
}

/// A new dispute sorted into a disputes bucket; forwarded to the list at once when triaged forwards.
/// Returns its id and whether it is new.
async fn receive_in(
    tx: &mut Tx,
    config: &DisputesConfig,
    outbox: &Outbox,
    item: &Classified,
    own: &str,
    now: DateTime<Utc>,
) -> Result<(i64, bool)> {
    let now_ms = now.timestamp_millis();
    let (id, new) = Store::dispute_insert_in(
        tx,
        &NewDispute {
            message_id: own,
            origin: "bucket",
            ticket: "",
            received_ms: now_ms,
        },
    )
    .await?;
    if !new {
        return Ok((id, false));
    }
    event_in(tx, id, "dispute-received", item.plan.bucket(), now_ms).await?;
    tracing::info!(uid = item.key.uid, dispute = id, "dispute received");
    let (Some(list), true, Some(raw)) = (&config.list, config.forward, &item.raw) else {
        return Ok((id, true));
    };
    let own_address = &outbox.config().from.email;
    let message_id = format!("<{own}>");
    let mail = RawMail {
        label: "dispute-forward",
        message_id: &message_id,
        subject: item.info.subject.as_deref().unwrap_or(""),
        envelope_from: Some(own_address),
        recipients: std::slice::from_ref(&list.email),
        raw,
    };
    let queued = outbox.enqueue_raw_in(tx, &mail, "worker", now).await?;
    Store::dispute_mark_in(tx, id, DisputeMark::Forwarded, now_ms, BY_OUTBOX).await?;
    event_in(
        tx,
        id,
        "dispute-forwarded",
        &format!("outbox:{}", queued.id),
        now_ms,
    )
    .await?;
    tracing::info!(
        dispute = id,
        outbox_id = queued.id,
        "dispute forwarded to the list"
    );
    Ok((id, true))
}

/// Moves dispute `id` on for mail in its thread (its case number already recorded).
async fn advance_in(
    tx: &mut Tx,
    config: &DisputesConfig,
    id: i64,
    item: &Classified,
    subject: &str,
    cases: &[String],
    now_ms: i64,
) -> Result<()> {
    let from_list = is_from_list(item.info.list_id.as_deref(), config.list.as_ref());
    let seen_forwarded = from_list || (is_forward(subject) && item.info.list_id.is_none());
    if seen_forwarded
        && Store::dispute_mark_in(tx, id, DisputeMark::Forwarded, now_ms, BY_PERSON).await?
    {
        event_in(tx, id, "dispute-forwarded", "seen in its thread", now_ms).await?;
    }
    if from_list && Store::dispute_mark_in(tx, id, DisputeMark::OnList, now_ms, "").await? {
        event_in(
            tx,
            id,
            "dispute-on-list",
            "the list's copy came back",
            now_ms,
        )
        .await?;
        tracing::info!(dispute = id, "dispute on the list");
    }
    let from = item.info.from.as_deref().unwrap_or("").to_ascii_lowercase();
    let from_arbitration = config
        .arbitration_addresses
        .iter()
        .any(|a| a.to_string().eq_ignore_ascii_case(&from));
    let by = if from_arbitration {
        Some(BY_ARBITRATION)
    } else if !cases.is_empty() {
        Some(BY_CASE_NUMBER)
    } else {
        None
    };
    if let Some(by) = by
        && Store::dispute_mark_in(tx, id, DisputeMark::Acknowledged, now_ms, by).await?
    {
        let why = match cases.first() {
            Some(case) => format!("{by} {case}"),
            None => by.to_owned(),
        };
        event_in(tx, id, "dispute-acknowledged", &why, now_ms).await?;
        tracing::info!(dispute = id, by, "dispute acknowledged");
    }
    Ok(())
}

/// The stage a stored dispute stands in, and since when (ms).
pub fn stage_of(d: &DisputeRow) -> (Stage, i64) {
    if d.acknowledged_ms > 0 {
        (Stage::Acknowledged, d.acknowledged_ms)
    } else if d.on_list_ms > 0 {
        (Stage::OnList, d.on_list_ms)
    } else if d.forwarded_ms > 0 {
        (Stage::Forwarded, d.forwarded_ms)
    } else {
        (Stage::Received, d.received_ms)
    }
}

/// How a dispute is named to people: its ticket, else its first Message-ID in angle brackets.
pub fn label(d: &DisputeRow) -> String {
    if d.ticket.is_empty() {
        format!("<{}>", d.message_id)
    } else {
        d.ticket.clone()
    }
}

/// An open dispute as `report disputes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenRow {
    /// Its thread's support ticket, once known.
    pub ticket: Option<String>,
    /// Its first message's Message-ID, in angle brackets.
    pub message_id: String,
    pub stage: Stage,
    /// Since it was received.
    #[serde(rename = "age_secs", serialize_with = "crate::records::stats::secs")]
    pub age: std::time::Duration,
    /// In its present stage.
    #[serde(
        rename = "in_stage_secs",
        serialize_with = "crate::records::stats::secs"
    )]
    pub in_stage: std::time::Duration,
    pub case: Option<String>,
    /// The stages the team leader was told about.
    pub escalated: Vec<String>,
}

/// The disputes not yet acknowledged at `now`, oldest first.
pub async fn open(store: &Store, now: DateTime<Utc>) -> Result<Vec<OpenRow>> {
    let now_ms = now.timestamp_millis();
    let since = |ms: i64| std::time::Duration::from_millis(u64::try_from(now_ms - ms).unwrap_or(0));
    let rows = store.disputes(i64::MAX, true).await?;
    Ok(rows
        .iter()
        .map(|d| {
            let (stage, since_ms) = stage_of(d);
            OpenRow {
                ticket: (!d.ticket.is_empty()).then(|| d.ticket.clone()),
                message_id: format!("<{}>", d.message_id),
                stage,
                age: since(d.received_ms),
                in_stage: since(since_ms),
                case: (!d.case_number.is_empty()).then(|| d.case_number.clone()),
                escalated: d.escalated.clone(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards against: a list copy missed because of the List-Id's description or case, another list's
    /// copy taken for it, or a reply taken for a forward.
    #[test]
    fn the_list_copy_and_a_forward_are_recognised() -> anyhow::Result<()> {
        let list: Mailbox = "Arbitration <Disputes@Lists.Example.org>".parse()?;
        assert_eq!(list_id(&list.email), "disputes.lists.example.org");
        let header = "\"Arbitration cases\" <disputes.lists.example.org>";
        assert!(is_from_list(Some(header), Some(&list)));
        assert!(is_from_list(
            Some("<DISPUTES.lists.example.org>"),
            Some(&list)
        ));
        assert!(!is_from_list(
            Some("<support.lists.example.org>"),
            Some(&list)
        ));
        assert!(!is_from_list(
            Some("<xdisputes.lists.example.org>"),
            Some(&list)
        ));
        assert!(!is_from_list(None, Some(&list)));
        assert!(!is_from_list(Some(header), None));
        assert!(is_forward("Fwd: Dispute over a certificate"));
        assert!(is_forward("  FW: dispute"));
        assert!(!is_forward("Re: Fwd: dispute"));
        Ok(())
    }

    /// Guards against: a stage named by a later stage's time, or an acknowledged dispute shown open.
    #[test]
    fn the_stage_is_the_last_one_reached() {
        let mut d = DisputeRow {
            id: 1,
            message_id: "m@x".to_owned(),
            origin: "bucket".to_owned(),
            ticket: String::new(),
            case_number: String::new(),
            received_ms: 10,
            forwarded_ms: 0,
            forwarded_by: String::new(),
            on_list_ms: 0,
            acknowledged_ms: 0,
            acknowledged_by: String::new(),
            escalated: Vec::new(),
        };
        assert_eq!(stage_of(&d), (Stage::Received, 10));
        assert_eq!(label(&d), "<m@x>");
        d.forwarded_ms = 20;
        assert_eq!(stage_of(&d), (Stage::Forwarded, 20));
        d.on_list_ms = 30;
        assert_eq!(stage_of(&d), (Stage::OnList, 30));
        d.acknowledged_ms = 40;
        d.ticket = "s20261130.001".to_owned();
        assert_eq!(stage_of(&d), (Stage::Acknowledged, 40));
        assert_eq!(label(&d), "s20261130.001");
    }
}
