//! Automatic replies under the RFC 3834 guard: acknowledgements of receipt (the `ack` template with a
//! support ticket number) and any other automatic answer, such as a Sieve `vacation` reply.
//!
//! Owns the order of checks (headers, then the per-sender period), the threading of the answer and the
//! record that the sender was answered, all inside the caller's transaction. It renders only the `ack`
//! template and writes no SQL itself.

use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use super::{AutoReply, Composed, Outbox, guard};
use crate::message::MessageInfo;
use crate::store::{Store, Tx};
use crate::templates::{Ack, AutoSubmitted, RenderedMail, Templates, first_name};

impl Outbox {
    /// [`Outbox::acknowledge_in`] in a transaction of its own (`send ack`): committed when queued. The
    /// ticket is the one the message's thread has, or a new number when the worker never saw it.
    pub async fn acknowledge(
        &self,
        store: &Store,
        templates: &Templates,
        msg: &MessageInfo,
        period: Duration,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AutoReply> {
        let mut tx = store.begin().await?;
        let ticket = match thread_ticket_in(&mut tx, msg).await? {
            Some(ticket) => ticket,
            None => {
                let day = now.format("%Y%m%d").to_string();
                format!("s{day}.{:03}", Store::next_ticket_in(&mut tx, &day).await?)
            }
        };
        let reply = self
            .acknowledge_in(&mut tx, templates, msg, period, &ticket, actor, now)
            .await?;
        if let AutoReply::Queued { .. } = reply {
            tx.commit().await.context("commit acknowledgement")?;
        }
        Ok(reply)
    }

    /// The acknowledgement [`Outbox::acknowledge`] would queue, composed but not stored (a dry run):
    /// the guard and the period are checked, and the ticket number is the one it would take.
    pub async fn preview_ack(
        &self,
        store: &Store,
        templates: &Templates,
        msg: &MessageInfo,
        period: Duration,
        now: DateTime<Utc>,
    ) -> Result<Result<(Composed, String), guard::Decline>> {
        let to = match guard::check(msg, &self.config.from) {
            Ok(to) => to,
            Err(decline) => return Ok(Err(decline)),
        };
        if let Err(decline) = guard::check_period(store, &to, period, now).await? {
            return Ok(Err(decline));
        }
        let ticket = match store.ticket_of_message_id(&bare(msg)).await? {
            Some(ticket) => ticket,
            None => {
                let day = now.format("%Y%m%d").to_string();
                format!("s{day}.{:03}", store.peek_ticket(&day).await?)
            }
        };
        let ctx = ack_context(msg, &to, &ticket, &self.config.from, now);
        let mut mail = templates.render(&ctx)?;
        shape_reply(&mut mail, msg, &to);
        Ok(Ok((self.preview(&mail, now)?, ticket)))
    }

    /// Acknowledges a received message inside the caller's transaction: checks the RFC 3834 guard and
    /// the per-sender `period`, renders the `ack` template with the thread's support ticket `ticket`
    /// (`sYYYYMMDD.NNN`, opened by the caller) and queues it threaded to the message
    /// (In-Reply-To/References, subject `Re: ...`).
    #[allow(clippy::too_many_arguments)]
    pub async fn acknowledge_in(
        &self,
        tx: &mut Tx,
        templates: &Templates,
        msg: &MessageInfo,
        period: Duration,
        ticket: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AutoReply> {
        let to = match self.may_reply_in(tx, msg, period, now).await? {
            Ok(to) => to,
            Err(decline) => return Ok(AutoReply::Declined(decline)),
        };
        let ctx = ack_context(msg, &to, ticket, &self.config.from, now);
        let mail = templates.render(&ctx)?;
        self.queue_reply_in(tx, msg, mail, &to, ticket, actor, now)
            .await
    }

    /// Queues any automatic answer to `msg` (a Sieve `vacation` reply, say) under the same rules as an
    /// acknowledgement: `mail`'s recipients are replaced by whom the guard says to answer, it is threaded
    /// and marked `Auto-Submitted: auto-replied`, and the sender is recorded for the period rule.
    pub async fn auto_reply_in(
        &self,
        tx: &mut Tx,
        msg: &MessageInfo,
        mail: RenderedMail,
        period: Duration,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AutoReply> {
        match self.may_reply_in(tx, msg, period, now).await? {
            Ok(to) => {
                self.queue_reply_in(tx, msg, mail, &to, "", actor, now)
                    .await
            }
            Err(decline) => Ok(AutoReply::Declined(decline)),
        }
    }

    /// The guard, then the period: whom to answer, or why not.
    async fn may_reply_in(
        &self,
        tx: &mut Tx,
        msg: &MessageInfo,
        period: Duration,
        now: DateTime<Utc>,
    ) -> Result<Result<Mailbox, guard::Decline>> {
        let to = match guard::check(msg, &self.config.from) {
            Ok(to) => to,
            Err(decline) => return Ok(Err(decline)),
        };
        Ok(guard::check_period_in(tx, &to, period, now)
            .await?
            .map(|()| to))
    }

    #[allow(clippy::too_many_arguments)]
    async fn queue_reply_in(
        &self,
        tx: &mut Tx,
        msg: &MessageInfo,
        mut mail: RenderedMail,
        to: &Mailbox,
        ticket: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AutoReply> {
        shape_reply(&mut mail, msg, to);
        let queued = self.enqueue_in(tx, &mail, actor, now).await?;
        let at = now.timestamp_millis();
        Store::record_auto_reply_in(tx, &guard::sender_key(to), at, queued.id, ticket).await?;
        Ok(AutoReply::Queued {
            queued,
            ticket: ticket.to_owned(),
        })
    }
}

/// `msg`'s Message-ID without angle brackets; empty when it has none.
fn bare(msg: &MessageInfo) -> String {
    msg.message_id
        .as_deref()
        .unwrap_or("")
        .trim()
        .trim_matches(['<', '>'])
        .to_owned()
}

/// The ticket of the thread `msg` was recorded in, if the worker recorded it.
async fn thread_ticket_in(tx: &mut Tx, msg: &MessageInfo) -> Result<Option<String>> {
    let id = bare(msg);
    if id.is_empty() {
        return Ok(None);
    }
    Store::ticket_by_keys_in(tx, crate::store::KEY_MESSAGE_ID, &[id]).await
}

/// An automatic answer to `msg`: to whom the guard said, threaded, marked `auto-replied`.
fn shape_reply(mail: &mut RenderedMail, msg: &MessageInfo, to: &Mailbox) {
    mail.auto_submitted = AutoSubmitted::AutoReplied;
    mail.to = vec![to.clone()];
    mail.cc.clear();
    thread(mail, msg);
}

fn ack_context(
    msg: &MessageInfo,
    to: &Mailbox,
    ticket: &str,
    team: &Mailbox,
    now: DateTime<Utc>,
) -> Ack {
    let subject = msg
        .subject
        .as_deref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(no subject)".to_owned());
    let received = msg
        .date
        .and_then(|d| DateTime::from_timestamp(d, 0))
        .unwrap_or(now);
    Ack {
        requester: to.to_string(),
        requester_name: first_name(to),
        ticket: ticket.to_owned(),
        original_subject: strip_re(&subject).to_owned(),
        received: received.format("%Y-%m-%d %H:%M UTC").to_string(),
        team_address: team.email.to_string(),
    }
}

/// Drops leading `Re:` markers so an answer to an answer does not read `Re: Re: ...`.
fn strip_re(subject: &str) -> &str {
    let mut s = subject.trim();
    while s.len() >= 3 && s.is_char_boundary(3) && s[..3].eq_ignore_ascii_case("re:") {
        s = s[3..].trim_start();
    }
    s
}

/// Sets In-Reply-To and References (RFC 5322 §3.6.4) from the answered message.
fn thread(mail: &mut RenderedMail, msg: &MessageInfo) {
    let Some(id) = msg
        .message_id
        .as_deref()
        .map(|id| format!("<{}>", id.trim_matches(['<', '>'])))
    else {
        return;
    };
    let mut refs: Vec<String> = msg
        .references
        .iter()
        .map(|r| format!("<{}>", r.trim_matches(['<', '>'])))
        .collect();
    refs.retain(|r| !r.contains(|c: char| c.is_whitespace() || c.is_control()) && r.len() > 2);
    refs.push(id.clone());
    if id.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return;
    }
    mail.in_reply_to = Some(id);
    mail.references = refs;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_markers_are_not_stacked() {
        assert_eq!(strip_re("Re: RE:  re: help"), "help");
        assert_eq!(strip_re("Reply needed"), "Reply needed");
        assert_eq!(strip_re("Ré: x"), "Ré: x");
    }

    #[test]
    fn an_answer_is_threaded_to_the_message_and_its_references() -> anyhow::Result<()> {
        let raw = b"From: a@example.net\r\nMessage-ID: <m2@example.net>\r\nReferences: <m0@example.net> <m1@example.net>\r\nSubject: x\r\n\r\nbody\r\n";
        let msg = crate::message::Message::parse(raw.as_slice(), 0)?;
        let templates = Templates::load(None)?;
        let mut mail = templates.render_samples()?.remove(0);
        thread(&mut mail, msg.info());
        assert_eq!(mail.in_reply_to.as_deref(), Some("<m2@example.net>"));
        assert_eq!(
            mail.references,
            ["<m0@example.net>", "<m1@example.net>", "<m2@example.net>"]
        );
        Ok(())
    }
}
