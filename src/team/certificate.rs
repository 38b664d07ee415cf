//! Members' certificates on the roster: `team record NAME smime-cert FILE` (the certificate checked
//! for one of the person's addresses, valid now, fit for encryption, chaining to `[smime] ca_file`
//! when it is set), and what the worker learnt from a member's signed mail (a certificate or key the
//! outbox's harvester verified). Either stores the certificate beside the person, records the
//! `smime-cert` fact (its fingerprint) for S/MIME, which ticks the checklist item waiting for it, and
//! writes an audit event, in the caller's transaction. Certificates near expiry are listed from here.
//!
//! Verifies no signature itself (that is `outbox::harvest`) and writes no SQL (that is `store::team`).

use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone as _, Utc};

use super::checklist::{ItemRef, TRIAGED, tick_action_in};
use super::record::record_fact_in;
use super::roster::Roster;
use super::{Ev, Fact, Invalid, Person, event_in, find_in};
use crate::config::Scheme;
use crate::outbox::harvest::{Harvested, Harvester};
use crate::outbox::smime::{Certificate, Usage};
use crate::store::{NewCertificate, Store, Tx};

/// How far ahead `team list` and the metrics warn of a certificate's expiry.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The checklist action learning a member's S/MIME certificate performs.
pub const SMIME_ACTION: &str = "smime-cert";

/// What recording or learning a certificate did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learnt {
    /// Stored on this person; the items it ticked.
    Recorded {
        person: String,
        scheme: Scheme,
        fingerprint: String,
        ticked: Vec<ItemRef>,
    },
    /// The person already had this certificate: nothing written.
    Known { person: String },
    /// The address is nobody's on the roster: nothing written.
    NotMember,
    /// The address is a paused or retired member's: nothing written.
    NotActive { person: String },
}

/// Records what the worker's harvester verified from a message From `found.address`, inside the
/// verdict's transaction, when that address is an active member's.
pub async fn learn_in(tx: &mut Tx, found: &Harvested, now: DateTime<Utc>) -> Result<Learnt> {
    let Some(person) = super::by_address_in(tx, &found.address).await? else {
        return Ok(Learnt::NotMember);
    };
    if !person.is_active() {
        return Ok(Learnt::NotActive {
            person: person.name,
        });
    }
    let stored = Stored {
        scheme: found.scheme,
        address: &found.address,
        fingerprint: &found.fingerprint,
        der: &found.certificate,
        not_after: found.expires,
        source: "harvested",
        actor: TRIAGED,
    };
    store_in(tx, &person, &stored, now).await
}

/// `team record NAME smime-cert FILE`: `bytes` (PEM or DER, one certificate) must be for one of the
/// person's addresses, valid at `now` and allow encryption; with trust roots it must chain to them.
/// A certificate that fails is [`Invalid`] with the reason, and nothing is written.
pub async fn record_certificate(
    store: &Store,
    query: &str,
    bytes: &[u8],
    trust: &Harvester,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Learnt> {
    let cert = Certificate::parse_one(bytes).map_err(|e| Invalid(format!("{e:#}")))?;
    let mut tx = store.begin().await?;
    let person = find_in(&mut tx, query).await?;
    let address = person
        .addresses
        .iter()
        .find(|a| cert.has_address(a))
        .cloned()
        .ok_or_else(|| {
            Invalid(format!(
                "the certificate is for {}, none of {}'s addresses ({})",
                shown(cert.addresses()),
                person.name,
                person.addresses.join(", ")
            ))
        })?;
    check(&cert, &address, trust, now)?;
    let der = cert.to_der()?;
    let stored = Stored {
        scheme: Scheme::Smime,
        address: &address,
        fingerprint: cert.fingerprint(),
        der: &der,
        not_after: Some(cert.not_after()),
        source: "team record",
        actor,
    };
    let learnt = store_in(&mut tx, &person, &stored, now).await?;
    tx.commit().await?;
    Ok(learnt)
}

/// Valid now and fit for encryption; chaining to the trust roots when there are any.
fn check(cert: &Certificate, address: &str, trust: &Harvester, now: DateTime<Utc>) -> Result<()> {
    if trust.has_roots() {
        trust
            .verify_certificate(cert, address, now, Usage::Encrypt)
            .map_err(|why| Invalid(format!("the certificate is refused: {why}")))?;
        return Ok(());
    }
    if !cert.is_valid_at(now) {
        return Err(Invalid(format!(
            "the certificate is valid from {} to {}, not now",
            cert.not_before().format("%Y-%m-%d"),
            cert.not_after().format("%Y-%m-%d")
        ))
        .into());
    }
    if let Some(problem) = cert.usage_problems(Usage::Encrypt).into_iter().next() {
        return Err(Invalid(format!("the certificate is refused: {problem}")).into());
    }
    Ok(())
}

fn shown(addresses: &[String]) -> String {
    if addresses.is_empty() {
        "no address".to_owned()
    } else {
        addresses.join(", ")
    }
}

/// A certificate about to be stored.
struct Stored<'a> {
    scheme: Scheme,
    address: &'a str,
    fingerprint: &'a str,
    der: &'a [u8],
    not_after: Option<DateTime<Utc>>,
    source: &'a str,
    actor: &'a str,
}

/// Stores the certificate on `person` with its event; an S/MIME one also records the `smime-cert`
/// fact and ticks the items waiting for it.
async fn store_in(
    tx: &mut Tx,
    person: &Person,
    c: &Stored<'_>,
    now: DateTime<Utc>,
) -> Result<Learnt> {
    let scheme = c.scheme.to_string();
    let id = Store::team_insert_certificate_in(
        tx,
        &NewCertificate {
            person_id: person.id,
            scheme: &scheme,
            address: c.address,
            fingerprint: c.fingerprint,
            certificate: c.der,
            not_after_ms: c.not_after.map_or(0, |t| t.timestamp_millis()),
            source: c.source,
            recorded_ms: now.timestamp_millis(),
            actor: c.actor,
        },
    )
    .await?;
    if id.is_none() {
        return Ok(Learnt::Known {
            person: person.name.clone(),
        });
    }
    let until = c.not_after.map_or_else(
        || "no expiry".to_owned(),
        |t| t.format("%Y-%m-%d").to_string(),
    );
    let detail = format!("{scheme} {} for {} until {until}", c.fingerprint, c.address);
    let ev = Ev {
        actor: c.actor,
        action: "certificate-recorded",
        reason: c.source,
        detail: &detail,
    };
    event_in(tx, person, ev, now).await?;
    let mut ticked = Vec::new();
    if c.scheme == Scheme::Smime {
        let note = if c.source == "harvested" {
            "learnt from signed mail"
        } else {
            ""
        };
        let recorded = record_fact_in(
            tx,
            person,
            Fact::SMIME_CERT,
            c.fingerprint,
            note,
            c.actor,
            now,
        )
        .await?;
        ticked = recorded.ticked;
        let reason = "S/MIME certificate recorded";
        ticked.extend(tick_action_in(tx, &recorded.person, SMIME_ACTION, reason, now).await?);
    }
    Ok(Learnt::Recorded {
        person: person.name.clone(),
        scheme: c.scheme,
        fingerprint: c.fingerprint.to_owned(),
        ticked,
    })
}

/// A member's certificate that expires within [`EXPIRY_WARNING_DAYS`] (or has expired), with no
/// later one of the same scheme recorded to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub person_id: i64,
    pub name: String,
    pub scheme: String,
    pub fingerprint: String,
    pub not_after_ms: i64,
}

impl Expiring {
    /// `expires 2026-12-24` or `expired 2026-11-01`, as `team list` says it.
    pub fn when(&self, now: DateTime<Utc>) -> String {
        let at = Utc
            .timestamp_millis_opt(self.not_after_ms)
            .single()
            .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d").to_string());
        if self.not_after_ms < now.timestamp_millis() {
            format!("expired {at}")
        } else {
            format!("expires {at}")
        }
    }
}

/// A member's certificate from `[smime] certs_dir`: whom it is for and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredCert {
    pub addresses: Vec<String>,
    pub fingerprint: String,
    pub not_after_ms: i64,
}

/// The certificates in `[smime] certs_dir`; a file that cannot be read is left out here (`check`
/// reports it under `smime.certs_dir`).
pub fn configured_certs(config: &crate::config::Config) -> Vec<ConfiguredCert> {
    let Some(dir) = config.smime.as_ref().and_then(|s| s.certs_dir.as_ref()) else {
        return Vec::new();
    };
    let files = crate::outbox::smime::files_in(dir).unwrap_or_default();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter_map(|bytes| Certificate::parse_all(&bytes).ok())
        .flatten()
        .map(|c| ConfiguredCert {
            addresses: c.addresses().to_vec(),
            fingerprint: c.fingerprint().to_owned(),
            not_after_ms: c.not_after().timestamp_millis(),
        })
        .collect()
}

/// One certificate a member has, wherever it is kept.
struct Held<'a> {
    scheme: &'a str,
    fingerprint: &'a str,
    /// 0: never expires.
    not_after_ms: i64,
}

/// Active members' certificates near expiry at `now`: per person and scheme, of those recorded on the
/// roster and those in `certs_dir` for one of their addresses, the one that lasts longest, when it ends
/// within [`EXPIRY_WARNING_DAYS`].
pub fn expiring(
    roster: &Roster,
    configured: &[ConfiguredCert],
    now: DateTime<Utc>,
) -> Vec<Expiring> {
    let horizon = (now + Duration::days(EXPIRY_WARNING_DAYS)).timestamp_millis();
    let mut out = Vec::new();
    for p in roster.people.iter().filter(|p| p.is_active()) {
        let recorded = roster
            .certificates
            .iter()
            .filter(|c| c.person_id == p.id)
            .map(|c| Held {
                scheme: &c.scheme,
                fingerprint: &c.fingerprint,
                not_after_ms: c.not_after_ms,
            });
        let in_dir = configured
            .iter()
            .filter(|c| c.addresses.iter().any(|a| p.addresses.contains(a)))
            .map(|c| Held {
                scheme: "smime",
                fingerprint: &c.fingerprint,
                not_after_ms: c.not_after_ms,
            });
        let held: Vec<Held<'_>> = recorded.chain(in_dir).collect();
        for scheme in ["smime", "openpgp"] {
            // A key that never expires (0) outlasts every other.
            let last = held.iter().filter(|h| h.scheme == scheme).max_by_key(|h| {
                if h.not_after_ms == 0 {
                    i64::MAX
                } else {
                    h.not_after_ms
                }
            });
            if let Some(last) = last
                && last.not_after_ms != 0
                && last.not_after_ms <= horizon
            {
                out.push(Expiring {
                    person_id: p.id,
                    name: p.name.clone(),
                    scheme: scheme.to_owned(),
                    fingerprint: last.fingerprint.to_owned(),
                    not_after_ms: last.not_after_ms,
                });
            }
        }
    }
    out.sort_by_key(|e| (e.not_after_ms, e.person_id));
    out
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
