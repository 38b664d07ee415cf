//! The durable outbox (DESIGN invariant 3): a rendered mail is composed once, with its final Message-ID
//! and Date, stored with one row per recipient, and only then attempted; the same bytes go out on every
//! attempt. Transient failures retry on `[outbox] retry` until `give_up_after`; a permanent one fails
//! that recipient at once.
//!
//! Owns the enqueue API (usable inside a caller's transaction), automatic replies under the RFC 3834
//! guard, the sender (`flush` for one pass, `run_sender` for the loop, each attempt claimed for the
//! worker that flushes, a [`Flusher`]), the signing and encryption schemes (OpenPGP, S/MIME) and the
//! verification of signed mail that teaches the team a member's certificate (`harvest`). It never
//! renders templates (that is `templates`) and writes no SQL itself (that is `store::outbox`).

mod admin;
pub mod compose;
mod flusher;
pub mod guard;
pub mod harvest;
pub mod openpgp;
mod reply;
pub mod scheme;
mod sender;
pub mod smime;
pub mod transport;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::Address;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, ConfigErrors, OutboxConfig};
use crate::store::{CertificateBytes, NewEvent, NewOutboxMail, Store, Tx};
use crate::templates::{AutoSubmitted, RenderedMail};

pub use self::admin::{Retried, cancel, list};
pub use self::compose::Composed;
pub use self::flusher::Flusher;
pub use self::guard::Decline;
pub use self::openpgp::Pgp;
pub use self::scheme::{CertLookup, KnownCerts};
pub use self::sender::{FlushReport, flush, run_sender};
pub use self::smime::Smime;

/// What composing and queueing mail needs, loaded once: the outbox settings and the unlocked team keys.
#[derive(Debug, Clone)]
pub struct Outbox {
    config: OutboxConfig,
    /// Present when `[openpgp]` is configured.
    pgp: Option<Arc<Pgp>>,
    /// Present when `[smime]` is configured.
    smime: Option<Arc<Smime>>,
}

/// A mail written to the outbox.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub message_id: String,
    /// The exact bytes every attempt sends (empty when held).
    pub raw: Vec<u8>,
    /// Why the mail is held instead of queued, if it is.
    pub held: Option<String>,
    pub recipients: Vec<String>,
}

/// A message queued as it is, not composed here: a Sieve `redirect` of a received message.
#[derive(Debug, Clone)]
pub struct RawMail<'a> {
    /// A label for listings and audit (`redirect`).
    pub label: &'a str,
    /// The message's own Message-ID (`<id@host>`), kept for listings.
    pub message_id: &'a str,
    pub subject: &'a str,
    /// SMTP MAIL FROM; `None` for the null sender.
    pub envelope_from: Option<&'a Address>,
    pub recipients: &'a [Address],
    /// The complete message, sent byte for byte.
    pub raw: &'a [u8],
}

/// The outcome of an automatic reply.
#[derive(Debug, Clone)]
pub enum AutoReply {
    Queued { queued: Queued, ticket: String },
    Declined(Decline),
}

impl Outbox {
    /// Reads the outbox settings and loads the OpenPGP keys and the S/MIME identity that are
    /// configured. A problem with `[smime]` is a [`ConfigErrors`] naming its keys.
    pub fn new(config: &Config) -> Result<Outbox> {
        let pgp = match &config.openpgp {
            Some(c) => Some(Arc::new(Pgp::load(c)?)),
            None => None,
        };
        let smime = match &config.smime {
            Some(c) => Some(Arc::new(Smime::load(c).map_err(|e| ConfigErrors {
                file: config.file.clone(),
                errors: e.0,
            })?)),
            None => None,
        };
        Ok(Outbox {
            config: config.outbox.clone(),
            pgp,
            smime,
        })
    }

    /// The S/MIME identity, when `[smime]` is configured (its trust roots serve harvesting).
    pub fn smime(&self) -> Option<&Smime> {
        self.smime.as_deref()
    }

    /// What `triaged check` reports about the loaded keys at `now`: the S/MIME certificate expired or
    /// not yet valid, or its key usage not allowing e-mail protection, each under its key.
    pub fn problems(&self, now: DateTime<Utc>) -> Vec<ConfigError> {
        let from = self.config.from.email.to_string();
        self.smime
            .as_ref()
            .map(|s| s.problems(now, &from))
            .unwrap_or_default()
    }

    pub fn config(&self) -> &OutboxConfig {
        &self.config
    }

    /// Composes `mail` as it would be stored, without queueing it; recipients' certificates come from
    /// the config (`[openpgp] keyring`, `[smime] certs_dir`).
    pub fn compose(
        &self,
        mail: &RenderedMail,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Composed> {
        self.compose_with(mail, message_id, at, &scheme::NoCerts)
    }

    /// [`Outbox::compose`], looking in `known` (certificates recorded on the roster, say) before the
    /// config's certificates.
    pub fn compose_with(
        &self,
        mail: &RenderedMail,
        message_id: &str,
        at: DateTime<Utc>,
        known: &dyn CertLookup,
    ) -> Result<Composed> {
        let configured = scheme::Configured {
            pgp: self.pgp.as_deref(),
            smime: self.smime.as_deref(),
        };
        compose::compose(
            mail,
            &compose::Envelope {
                from: &self.config.from,
                message_id,
                date: SystemTime::from(at),
                pgp: self.pgp.as_deref(),
                smime: self.smime.as_deref(),
                schemes: &self.config.schemes,
                certs: &scheme::Chain(known, &configured),
            },
        )
    }

    /// Composes `mail` exactly as [`Outbox::enqueue_in`] would store it (a fresh Message-ID, the date
    /// `now`, signed and encrypted as configured) and stores nothing: what a dry run shows.
    pub fn preview(&self, mail: &RenderedMail, now: DateTime<Utc>) -> Result<Composed> {
        self.compose(mail, &self.new_message_id(now), now)
    }

    /// A fresh Message-ID in the team's domain: `<TIME.RANDOM@domain>`.
    pub fn new_message_id(&self, at: DateTime<Utc>) -> String {
        format!(
            "<{}.{:016x}@{}>",
            at.timestamp_millis(),
            rand::random::<u64>(),
            self.config.from.email.domain()
        )
    }

    /// Composes and queues `mail` inside the caller's transaction, so it commits (or not) with whatever
    /// caused it; records a `queued` (or `held`) event. Header injection is refused with
    /// [`crate::templates::UnsafeValue`] in the error chain and nothing is written.
    pub async fn enqueue_in(
        &self,
        tx: &mut Tx,
        mail: &RenderedMail,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Queued> {
        let message_id = self.new_message_id(now);
        let known = recorded_certs_in(tx, mail).await?;
        let composed = self.compose_with(mail, &message_id, now, &known)?;
        let source = serde_json::to_string(mail).context("serialise the rendered mail")?;
        let recipients: Vec<String> = composed
            .recipients
            .iter()
            .map(ToString::to_string)
            .collect();
        let envelope_from = match mail.auto_submitted {
            // RFC 3834 §3.3: automatic replies go out with a null return path, so they cannot bounce back.
            AutoSubmitted::AutoReplied => String::new(),
            _ => self.config.from.email.to_string(),
        };
        let now_ms = now.timestamp_millis();
        let held = composed.hold_error.clone();
        let id = Store::insert_outbox_mail_in(
            tx,
            &NewOutboxMail {
                created_at_ms: now_ms,
                template: &mail.template,
                message_id: &message_id,
                subject: &mail.subject,
                envelope_from: &envelope_from,
                raw: &composed.raw,
                source: &source,
                hold_error: held.as_deref().unwrap_or(""),
                give_up_at_ms: now_ms + millis(self.config.give_up_after),
                recipients: &recipients,
            },
        )
        .await?;
        let subject = format!("outbox:{id}");
        let detail = format!("{} to {}", mail.template, recipients.join(", "));
        let event = NewEvent {
            at_ms: now_ms,
            actor,
            subject: &subject,
            action: if held.is_some() { "held" } else { "queued" },
            reason: held.as_deref().unwrap_or(&mail.template),
            detail: &detail,
        };
        Store::record_event_in(tx, &event).await?;
        tracing::info!(outbox_id = id, template = %mail.template, recipients = recipients.len(), held = held.is_some(), "mail queued");
        Ok(Queued {
            id,
            message_id,
            raw: composed.raw,
            held,
            recipients,
        })
    }

    /// Queues a message as it is (a Sieve `redirect`) inside the caller's transaction; it is delivered
    /// and retried like any other mail, and never composed, signed or held.
    pub async fn enqueue_raw_in(
        &self,
        tx: &mut Tx,
        mail: &RawMail<'_>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Queued> {
        anyhow::ensure!(
            !mail.recipients.is_empty(),
            "{} has no recipient",
            mail.label
        );
        let recipients: Vec<String> = mail.recipients.iter().map(ToString::to_string).collect();
        let subject = mail.subject.replace(|c: char| c.is_control(), " ");
        let now_ms = now.timestamp_millis();
        let envelope_from = mail
            .envelope_from
            .map(ToString::to_string)
            .unwrap_or_default();
        let id = Store::insert_outbox_mail_in(
            tx,
            &NewOutboxMail {
                created_at_ms: now_ms,
                template: mail.label,
                message_id: mail.message_id,
                subject: &subject,
                envelope_from: &envelope_from,
                raw: mail.raw,
                source: "",
                hold_error: "",
                give_up_at_ms: now_ms + millis(self.config.give_up_after),
                recipients: &recipients,
            },
        )
        .await?;
        let event_subject = format!("outbox:{id}");
        let detail = format!("{} to {}", mail.label, recipients.join(", "));
        let event = NewEvent {
            at_ms: now_ms,
            actor,
            subject: &event_subject,
            action: "queued",
            reason: mail.label,
            detail: &detail,
        };
        Store::record_event_in(tx, &event).await?;
        Ok(Queued {
            id,
            message_id: mail.message_id.to_owned(),
            raw: mail.raw.to_vec(),
            held: None,
            recipients,
        })
    }

    /// [`Outbox::enqueue_in`] in a transaction of its own.
    pub async fn enqueue(
        &self,
        store: &Store,
        mail: &RenderedMail,
        actor: &str,
        clock: &Clock,
    ) -> Result<Queued> {
        let mut tx = store.begin().await?;
        let queued = self.enqueue_in(&mut tx, mail, actor, clock.now()).await?;
        tx.commit().await.context("commit queued mail")?;
        Ok(queued)
    }
}

/// The certificates recorded on the roster (`team record NAME smime-cert FILE`, or learnt from signed
/// mail) for `mail`'s recipients, read in `tx`: what composing looks in before the config's.
pub async fn recorded_certs_in(tx: &mut Tx, mail: &RenderedMail) -> Result<KnownCerts> {
    let addresses = recipient_addresses(mail);
    if addresses.is_empty() {
        return Ok(KnownCerts::default());
    }
    let rows = Store::team_certificates_for_in(tx, &addresses).await?;
    Ok(known_certs(&rows))
}

/// [`recorded_certs_in`] outside a transaction (`outbox retry`).
pub async fn recorded_certs(store: &Store, mail: &RenderedMail) -> Result<KnownCerts> {
    let addresses = recipient_addresses(mail);
    if addresses.is_empty() {
        return Ok(KnownCerts::default());
    }
    let rows = store.team_certificates_for(&addresses).await?;
    Ok(known_certs(&rows))
}

fn recipient_addresses(mail: &RenderedMail) -> Vec<String> {
    mail.to
        .iter()
        .chain(&mail.cc)
        .map(|m| m.email.to_string().to_lowercase())
        .collect()
}

/// Parses stored certificates; one that no longer parses is skipped (and said so), never fatal.
fn known_certs(rows: &[CertificateBytes]) -> KnownCerts {
    use sequoia_openpgp::parse::Parse as _;
    let mut known = KnownCerts::default();
    for row in rows {
        match row.scheme.as_str() {
            "smime" => match smime::Certificate::parse_all(&row.certificate) {
                Ok(certs) => known.smime.extend(certs),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "a recorded S/MIME certificate does not parse: skipped")
                }
            },
            "openpgp" => match sequoia_openpgp::Cert::from_bytes(&row.certificate) {
                Ok(cert) => known.openpgp.push(cert),
                Err(e) => {
                    tracing::warn!(error = %e, "a recorded OpenPGP key does not parse: skipped")
                }
            },
            other => tracing::warn!(
                scheme = other,
                "a recorded certificate of an unknown scheme: skipped"
            ),
        }
    }
    known
}

/// A duration in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When the attempt after `attempts` attempts is due: the schedule's delay for that attempt (the last
/// delay repeats), counted from `now_ms`.
pub fn next_attempt_at(retry: &[Duration], attempts: i64, now_ms: i64) -> i64 {
    let index = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    let delay = retry
        .get(index)
        .or(retry.last())
        .copied()
        .unwrap_or(Duration::from_secs(60));
    now_ms.saturating_add(millis(delay))
}

#[cfg(test)]
#[path = "outbox/outbox_tests.rs"]
mod tests;
