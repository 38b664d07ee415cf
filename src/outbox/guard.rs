//! The RFC 3834 guard for automatic replies (acknowledgements, Sieve `vacation`): decides from a received
//! message's headers whether it may be answered automatically, and to whom.
//!
//! [`check`] is a pure function of the headers; the "one per sender per period" rule needs the store and
//! lives in [`check_period_in`], which takes the sender's period inside the caller's transaction. Neither
//! sends anything.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use lettre::message::Mailbox;

use crate::message::MessageInfo;
use crate::store::{Store, Tx};

/// Why an automatic reply is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Decline {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834 §2).
    #[error("the message is automatic (Auto-Submitted: {0})")]
    AutoSubmitted(String),
    /// A delivery report or other bounce: empty or MAILER-DAEMON return path, multipart/report.
    #[error("the message is a bounce ({0})")]
    Bounce(String),
    /// Mailing-list or bulk mail: `List-Id`, `Precedence: bulk|junk|list`.
    #[error("the message is list or bulk mail ({0})")]
    List(String),
    /// From the team's own address: answering it would start a loop.
    #[error("the message is from the team's own address {0}")]
    OwnAddress(String),
    /// No usable address to answer to.
    #[error("the message has no usable sender address")]
    NoSender,
    /// The sender already got one within `[ack] period`.
    #[error("{sender} was already answered automatically at {at} (one per period)")]
    AlreadyAnswered { sender: String, at: String },
}

/// Checks the RFC 3834 rules that depend only on the message; on success returns whom to answer: the
/// return path when there is one (RFC 3834 §4), else `From`. It reads the header values the message
/// module extracted once (`MessageInfo`), so the worker never parses a message twice.
pub fn check(info: &MessageInfo, own: &Mailbox) -> Result<Mailbox, Decline> {
    if let Some(value) = &info.auto_submitted {
        let token = value.split(';').next().unwrap_or("").trim();
        if !token.eq_ignore_ascii_case("no") {
            return Err(Decline::AutoSubmitted(token.to_owned()));
        }
    }
    if let Some(value) = &info.precedence {
        let p = value.trim().to_ascii_lowercase();
        if matches!(p.as_str(), "bulk" | "junk" | "list") {
            return Err(Decline::List(format!("Precedence: {p}")));
        }
    }
    if let Some(value) = &info.list_id {
        return Err(Decline::List(format!("List-Id: {}", value.trim())));
    }
    if info.report {
        return Err(Decline::Bounce("multipart/report".to_owned()));
    }
    let return_path = info.return_path.as_deref().map(str::trim);
    if return_path == Some("") {
        return Err(Decline::Bounce("empty return path".to_owned()));
    }
    let from_address = info.from.as_deref().map(str::trim);
    for address in return_path.into_iter().chain(from_address) {
        if is_daemon(address) {
            return Err(Decline::Bounce(format!("sent by {address}")));
        }
    }
    let target = return_path.or(from_address).ok_or(Decline::NoSender)?;
    let mailbox: Mailbox = target.parse().map_err(|_| Decline::NoSender)?;
    let own_address = own.email.to_string();
    for address in return_path.into_iter().chain(from_address) {
        if address.eq_ignore_ascii_case(&own_address) {
            return Err(Decline::OwnAddress(own_address));
        }
    }
    let name = info
        .from_name
        .as_deref()
        .filter(|_| from_address.is_some_and(|x| x.eq_ignore_ascii_case(target)))
        .filter(|n| !n.contains(|c: char| c.is_control()))
        .map(str::to_owned);
    Ok(Mailbox::new(name, mailbox.email))
}

fn is_daemon(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("").to_ascii_lowercase();
    matches!(local.as_str(), "mailer-daemon" | "postmaster")
}

/// The key the period rule uses for a sender: its lowercased address.
pub fn sender_key(to: &Mailbox) -> String {
    to.email.to_string().to_ascii_lowercase()
}

/// At most one automatic reply per sender per `period`: declines when one was sent after `now - period`,
/// else takes the period for the reply `tx` is about to queue, so that a concurrent transaction
/// answering the same sender is declined (the sender's row in the store is the key).
pub async fn check_period_in(
    tx: &mut Tx,
    to: &Mailbox,
    period: Duration,
    now: DateTime<Utc>,
) -> Result<Result<(), Decline>> {
    let at = now.timestamp_millis();
    let last = Store::claim_auto_reply_in(tx, &sender_key(to), at, since(period, now)).await?;
    Ok(period_decision(to, last))
}

/// [`check_period_in`] outside a transaction, for a dry run.
pub async fn check_period(
    store: &Store,
    to: &Mailbox,
    period: Duration,
    now: DateTime<Utc>,
) -> Result<Result<(), Decline>> {
    let last = store
        .auto_replied_since(&sender_key(to), since(period, now))
        .await?;
    Ok(period_decision(to, last))
}

fn since(period: Duration, now: DateTime<Utc>) -> i64 {
    now.timestamp_millis() - i64::try_from(period.as_millis()).unwrap_or(i64::MAX)
}

fn period_decision(to: &Mailbox, last: Option<i64>) -> Result<(), Decline> {
    match last {
        None => Ok(()),
        Some(ms) => Err(Decline::AlreadyAnswered {
            sender: sender_key(to),
            at: Utc
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
