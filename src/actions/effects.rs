//! The mail a verdict causes, written inside the verdict's transaction so a verdict and its mail commit
//! together (and a restart never queues it twice, DESIGN invariant 2):
//! - a Sieve `redirect` (RFC 5228 §4.2) queues the original message, byte for byte, once per distinct
//!   address, with the team's address as envelope sender (the null sender when the original had one);
//!   a redirect to the team's own address is refused, as it would come straight back;
//! - a Sieve `vacation` (RFC 5230) goes through the outbox's RFC 3834 guard with the script's `:days`
//!   as the per-sender period, threaded and marked `Auto-Submitted: auto-replied`;
//! - an acknowledgement goes to a new thread (one that opened a support ticket, answering no message
//!   already seen) sorted into `[ack] buckets`, unless a vacation reply already answered the message;
//!   it carries the thread's ticket number (`records::threads` opens tickets, the worker passes it in).
//!
//! It works from the header values and envelope read when the message was classified (it never parses
//! a message again), renders no template of its own and writes no SQL itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::Address;

use super::Plan;
use crate::classify::{Envelope, Vacation, Verdict};
use crate::config::Config;
use crate::mailbox::Key;
use crate::message::MessageInfo;
use crate::outbox::harvest::{Harvest, Harvester};
use crate::outbox::{AutoReply, Outbox, Queued, RawMail};
use crate::store::{NewEvent, Store, Tx};
use crate::templates::{AutoSubmitted, Encrypt, RenderedMail, Templates};

/// One classified message, ready to record: what the store keeps and what the verdict causes.
#[derive(Debug, Clone)]
pub struct Classified {
    pub key: Key,
    /// sha256 of the raw bytes, hex: the message's identity beside its Message-ID.
    pub digest: String,
    pub plan: Plan,
    pub verdict: Verdict,
    /// Header values read when the message was classified (empty when it could not be read).
    pub info: MessageInfo,
    /// The envelope derived from the header (`None` when the message could not be read).
    pub envelope: Option<Envelope>,
    /// The raw bytes, kept only when the verdict causes mail (redirect, vacation, acknowledgement).
    pub raw: Option<Vec<u8>>,
    /// What the message's signature teaches (a member's certificate), checked when it was classified.
    pub harvest: Harvest,
    /// Ticket numbers `sYYYYMMDD.NNN` and case numbers `aYYYYMMDD.N` named in its subject or text,
    /// lower case: what threads it besides its headers.
    pub mentions: BTreeSet<String>,
}

impl Classified {
    /// The Message-ID without angle brackets; empty when the message has none.
    pub fn message_id(&self) -> &str {
        self.info.message_id.as_deref().unwrap_or("")
    }

    /// Message-IDs this message answers (In-Reply-To, then References), for threading.
    pub fn answers(&self) -> Vec<String> {
        self.info
            .in_reply_to
            .iter()
            .chain(&self.info.references)
            .cloned()
            .collect()
    }
}

/// What the worker needs to queue caused mail.
#[derive(Debug, Clone)]
pub struct Effects {
    outbox: Arc<Outbox>,
    templates: Arc<Templates>,
    /// Buckets whose new threads get an acknowledgement.
    ack_buckets: Vec<String>,
    /// At most one acknowledgement per sender per period.
    period: Duration,
    /// The store's identity of the mailbox, to look up known Message-IDs.
    mailbox: String,
}

impl Effects {
    /// Loads the outbox settings (and OpenPGP keys) and the templates once.
    pub fn new(config: &Config, mailbox: &str) -> Result<Effects> {
        Ok(Effects::with(Effects::load(config)?, config, mailbox))
    }

    /// The outbox settings (with the keys and the S/MIME identity) and the templates, loaded once
    /// per process and shared by every mailbox's effects.
    pub fn load(config: &Config) -> Result<(Arc<Outbox>, Arc<Templates>)> {
        Ok((
            Arc::new(Outbox::new(config).context("load the outbox settings")?),
            Arc::new(
                Templates::load(config.outbox.templates_dir.as_deref())
                    .context("load the templates")?,
            ),
        ))
    }

    /// The effects of `mailbox` (its `[ack]` from `config`) with the outbox and templates `loaded`.
    pub fn with(loaded: (Arc<Outbox>, Arc<Templates>), config: &Config, mailbox: &str) -> Effects {
        Effects {
            outbox: loaded.0,
            templates: loaded.1,
            ack_buckets: config.ack.buckets.clone(),
            period: config.ack.period,
            mailbox: mailbox.to_owned(),
        }
    }

    /// The outbox caused mail goes through (the disputes bridge forwards through it too).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// What signed mail is verified against: `[smime] ca_file`.
    pub fn harvester(&self) -> Harvester {
        self.outbox.harvester()
    }

    /// Whether `item`, which opened a ticket, is sorted into an acknowledged bucket and answers no
    /// message already seen (one seen before threads were recorded included).
    async fn wants_ack(&self, store: &Store, item: &Classified) -> Result<bool> {
        if item.verdict.is_error() || !self.ack_buckets.iter().any(|b| b == item.plan.bucket()) {
            return Ok(false);
        }
        let answers = item.answers();
        if answers.is_empty() {
            return Ok(true);
        }
        let known = store.known_message_ids(&self.mailbox, &answers).await?;
        Ok(known.is_empty())
    }

    /// Writes the mail `item` causes inside the verdict's transaction. `opened` is the support ticket
    /// the message opened (a new thread), which its acknowledgement carries; returns the acknowledgement
    /// queued, if one was.
    pub async fn in_tx(
        &self,
        tx: &mut Tx,
        store: &Store,
        item: &Classified,
        opened: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Queued>> {
        let (Some(raw), Some(envelope)) = (&item.raw, &item.envelope) else {
            return Ok(None);
        };
        self.redirects_in(tx, item, raw, envelope, now).await?;
        if self.vacation_in(tx, item, now).await? {
            return Ok(None);
        }
        let Some(ticket) = opened else {
            return Ok(None);
        };
        if !self.wants_ack(store, item).await? {
            return Ok(None);
        }
        let reply = self
            .outbox
            .acknowledge_in(
                tx,
                &self.templates,
                &item.info,
                self.period,
                ticket,
                "worker",
                now,
            )
            .await?;
        match reply {
            AutoReply::Queued { ticket, queued } => {
                tracing::info!(uid = item.key.uid, ticket = %ticket, "acknowledgement queued");
                Ok(Some(queued))
            }
            AutoReply::Declined(why) => {
                tracing::info!(uid = item.key.uid, reason = %why, "no acknowledgement");
                Ok(None)
            }
        }
    }

    /// The team's own address, which triaged's mail is sent from.
    pub fn team_address(&self) -> String {
        self.outbox.config().from.email.to_string()
    }

    /// Queues the original message once per distinct redirect address.
    async fn redirects_in(
        &self,
        tx: &mut Tx,
        item: &Classified,
        raw: &[u8],
        envelope: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if item.verdict.redirects.is_empty() {
            return Ok(());
        }
        let own = &self.outbox.config().from.email;
        // RFC 5228 §4.2: a message with an empty envelope sender is redirected with an empty one, so a
        // bounce of a redirect cannot loop.
        let envelope_from = (!envelope.from.is_empty()).then_some(own);
        let message_id = angle(item.message_id());
        let subject = item.info.subject.clone().unwrap_or_default();
        let mut seen = BTreeSet::new();
        for redirect in &item.verdict.redirects {
            let address: Address = match redirect.address.trim().parse() {
                Ok(a) => a,
                Err(e) => {
                    let why = format!("redirect to {:?}: {e}", redirect.address);
                    self.not_sent(tx, item, "invalid address", &why, now)
                        .await?;
                    continue;
                }
            };
            let key = address.to_string().to_ascii_lowercase();
            if !seen.insert(key.clone()) {
                continue;
            }
            if key == own.to_string().to_ascii_lowercase() {
                let why = format!("redirect to {key}");
                self.not_sent(tx, item, "redirect to the team's own address", &why, now)
                    .await?;
                continue;
            }
            let mail = RawMail {
                label: "redirect",
                message_id: &message_id,
                subject: &subject,
                envelope_from,
                recipients: std::slice::from_ref(&address),
                raw,
            };
            let queued = self.outbox.enqueue_raw_in(tx, &mail, "worker", now).await?;
            tracing::info!(uid = item.key.uid, outbox_id = queued.id, to = %key, "redirect queued");
        }
        Ok(())
    }

    /// Queues the script's vacation reply under the RFC 3834 guard; true when one was queued.
    async fn vacation_in(
        &self,
        tx: &mut Tx,
        item: &Classified,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(vacation) = item.verdict.vacations.first() else {
            return Ok(false);
        };
        let period = Duration::from_secs(vacation.period_seconds);
        let mail = vacation_mail(vacation);
        let reply = self
            .outbox
            .auto_reply_in(tx, &item.info, mail, period, "worker", now)
            .await?;
        Ok(match reply {
            AutoReply::Queued { queued, .. } => {
                tracing::info!(
                    uid = item.key.uid,
                    outbox_id = queued.id,
                    "vacation reply queued"
                );
                true
            }
            AutoReply::Declined(why) => {
                tracing::info!(uid = item.key.uid, reason = %why, "no vacation reply");
                false
            }
        })
    }

    /// Records mail the rules asked for that cannot go out, so none goes unnoticed.
    async fn not_sent(
        &self,
        tx: &mut Tx,
        item: &Classified,
        reason: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        tracing::warn!(
            uid = item.key.uid,
            reason,
            detail,
            "mail the rules asked for not sent"
        );
        let subject = format!("message:{}", item.message_id());
        Store::record_event_in(
            tx,
            &NewEvent {
                at_ms: now.timestamp_millis(),
                actor: "worker",
                subject: &subject,
                action: "not-sent",
                reason,
                detail,
            },
        )
        .await?;
        Ok(())
    }
}

/// `<id>` for a bare Message-ID; empty stays empty.
fn angle(id: &str) -> String {
    let id = id.trim().trim_matches(['<', '>']);
    if id.is_empty() {
        String::new()
    } else {
        format!("<{id}>")
    }
}

/// The vacation reply as a mail the outbox composes: the script's subject and reason text (the text
/// part of a `:mime` reason). Sent from the team's address; `:from` is not honoured, so answers to the
/// reply reach the watched mailbox.
pub fn vacation_mail(v: &Vacation) -> RenderedMail {
    let text = if v.mime {
        mail_parser::MessageParser::default()
            .parse(v.body.as_bytes())
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default()
    } else {
        v.body.clone()
    };
    RenderedMail {
        template: "vacation".to_owned(),
        subject: v.subject.replace(|c: char| c.is_control(), " "),
        to: Vec::new(),
        cc: Vec::new(),
        headers: Default::default(),
        in_reply_to: None,
        references: Vec::new(),
        sign: true,
        encrypt: Encrypt::Never,
        scheme: Default::default(),
        auto_submitted: AutoSubmitted::AutoReplied,
        body: tidy_body(&text),
    }
}

/// LF line ends, no trailing blanks, one final newline: the form the outbox expects of a body.
fn tidy_body(text: &str) -> String {
    let mut out: String = text
        .replace("\r\n", "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vacation(body: &str, mime: bool) -> Vacation {
        Vacation {
            recipient: "a@example.net".into(),
            from: None,
            subject: "Away\r\nBcc: x@example.net".into(),
            body: body.into(),
            mime,
            handle: None,
            period_seconds: 86_400,
            origin: None,
        }
    }

    #[test]
    fn a_vacation_reply_is_an_auto_reply_with_a_safe_subject_and_tidy_body() -> Result<()> {
        let mail = vacation_mail(&vacation("We are away.  \r\nBack soon.\r\n\r\n", false));
        assert_eq!(mail.auto_submitted, AutoSubmitted::AutoReplied);
        assert!(!mail.subject.contains('\n'), "{:?}", mail.subject);
        assert_eq!(mail.body, "We are away.\nBack soon.\n");
        Ok(())
    }

    #[test]
    fn a_mime_reason_contributes_its_text() -> Result<()> {
        let entity = "Content-Type: text/plain; charset=utf-8\r\n\r\nGone fishing.\r\n";
        assert_eq!(
            vacation_mail(&vacation(entity, true)).body,
            "Gone fishing.\n"
        );
        Ok(())
    }

    #[test]
    fn message_ids_get_angle_brackets_once() -> Result<()> {
        assert_eq!(angle("a@b"), "<a@b>");
        assert_eq!(angle("<a@b>"), "<a@b>");
        assert_eq!(angle(""), "");
        Ok(())
    }
}
