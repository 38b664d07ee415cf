//! Learning a member's certificate from their signed mail, as mail clients do: a received message
//! signed with S/MIME (`multipart/signed` with `application/pkcs7-signature`, or opaque
//! `application/pkcs7-mime; smime-type=signed-data`) whose signature verifies over the bytes as received,
//! by a certificate for the From address that chains to `[smime] ca_file` and is valid now; or a
//! PGP/MIME-signed message carrying an `application/pgp-keys` part whose key made the signature and
//! has a user ID with the From address.
//!
//! Owns the verification only and never panics on what a sender wrote: every failure is a
//! [`Rejected`] with its reason. Whether the sender is an active member, recording the certificate and
//! ticking the checklist belong to the caller (the worker and the roster).

pub(crate) mod mime;
mod openpgp;
mod smime;

use chrono::{DateTime, Utc};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::Outbox;
use super::smime::cert::reason;
use super::smime::{Certificate, Usage};
use crate::config::Scheme;

/// What a received message teaches.
#[derive(Debug, Clone)]
pub enum Harvest {
    /// No signature to learn from: unsigned mail, or PGP/MIME signed mail without an attached key.
    Nothing,
    /// A certificate that verified, for the From address.
    Verified(Harvested),
    /// A signature or certificate that failed; the reason is for the log, nothing is recorded.
    Rejected(Rejected),
}

/// A verified certificate and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Harvested {
    pub scheme: Scheme,
    /// The From address (lowercased), which the certificate is for.
    pub address: String,
    /// S/MIME: the signer's X.509 certificate, DER. OpenPGP: the transferable public key (binary,
    /// without secret key material).
    pub certificate: Vec<u8>,
    /// S/MIME: SHA-256 of the DER, uppercase hex. OpenPGP: the key's fingerprint, uppercase hex.
    pub fingerprint: String,
    /// When the certificate stops being valid (`None`: an OpenPGP key that does not expire).
    pub expires: Option<DateTime<Utc>>,
}

/// Why a signed message taught nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the message has no single From address")]
    NoFrom,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("the signature does not verify over the content as received: {0}")]
    BadSignature(String),
    #[error("no [smime] ca_file to check the signer's certificate against")]
    NoTrustRoots,
    #[error("the signer's certificate is not trusted: {0}")]
    Untrusted(String),
    #[error("the certificate is for {certificate}, not for the From address {from}")]
    WrongAddress { from: String, certificate: String },
    #[error("the attached key is not valid now: {0}")]
    InvalidKey(String),
}

impl Rejected {
    /// A short kebab-case token for metrics and events.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::NoFrom => "no-from",
            Rejected::Malformed(_) => "malformed",
            Rejected::BadSignature(_) => "bad-signature",
            Rejected::NoTrustRoots => "no-trust-roots",
            Rejected::Untrusted(_) => "untrusted",
            Rejected::WrongAddress { .. } => "wrong-address",
            Rejected::InvalidKey(_) => "invalid-key",
        }
    }
}

/// The trust roots S/MIME signers must chain to.
#[derive(Clone, Default)]
pub struct Harvester {
    ca: Vec<X509>,
}

impl std::fmt::Debug for Harvester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harvester")
            .field("ca", &self.ca.len())
            .finish()
    }
}

impl Harvester {
    /// Trusting `ca` (for example `Smime::ca()`, the roots of `[smime] ca_file`); with none, every S/MIME
    /// signature is rejected, and OpenPGP keys are still learnt.
    pub fn new(ca: &[X509]) -> Harvester {
        Harvester { ca: ca.to_vec() }
    }

    /// Trusting the PEM certificates in `pem` (the contents of a `ca_file`).
    pub fn from_ca_pem(pem: &[u8]) -> anyhow::Result<Harvester> {
        use anyhow::Context as _;
        let ca = X509::stack_from_pem(pem).context("read the trust roots")?;
        anyhow::ensure!(!ca.is_empty(), "the trust roots hold no certificate");
        Ok(Harvester { ca })
    }

    /// Whether there are trust roots to check S/MIME certificates against.
    pub fn has_roots(&self) -> bool {
        !self.ca.is_empty()
    }

    /// What `raw`, a received message exactly as it arrived, teaches at `now`.
    pub fn harvest(&self, raw: &[u8], now: DateTime<Utc>) -> Harvest {
        match self.try_harvest(raw, now) {
            Ok(Some(found)) => Harvest::Verified(found),
            Ok(None) => Harvest::Nothing,
            Err(why) => Harvest::Rejected(why),
        }
    }

    /// Whether `cert` may be recorded for `address` at `now` (as `team record NAME smime-cert FILE`
    /// does): for that address, chaining to the trust roots, valid then, fit for `usage`.
    pub fn verify_certificate(
        &self,
        cert: &Certificate,
        address: &str,
        now: DateTime<Utc>,
        usage: Usage,
    ) -> Result<(), Rejected> {
        if !cert.has_address(address) {
            let certificate = if cert.addresses().is_empty() {
                "no address".to_owned()
            } else {
                cert.addresses().join(", ")
            };
            return Err(Rejected::WrongAddress {
                from: address.to_ascii_lowercase(),
                certificate,
            });
        }
        let none = Stack::new().map_err(|e| Rejected::Malformed(reason(&e)))?;
        smime::check_chain(cert.x509(), &none, &self.ca, now, usage)
    }

    fn try_harvest(&self, raw: &[u8], now: DateTime<Utc>) -> Result<Option<Harvested>, Rejected> {
        let Some(signed) = mime::find(raw)? else {
            return Ok(None);
        };
        let from = mime::from_address(raw)?;
        match signed {
            mime::Signed::Smime { content, signature } => {
                smime::verify(&signature, Some(&content), &self.ca, &from, now).map(Some)
            }
            mime::Signed::SmimeOpaque { der } => {
                smime::verify(&der, None, &self.ca, &from, now).map(Some)
            }
            mime::Signed::OpenPgp { content, signature } => {
                let keys = mime::attached_keys(&content);
                if keys.is_empty() {
                    return Ok(None);
                }
                openpgp::verify(&content, &signature, &keys, &from, now).map(Some)
            }
        }
    }
}

impl Outbox {
    /// A harvester trusting `[smime] ca_file` (none without `[smime]`: S/MIME signatures are then
    /// rejected, OpenPGP keys still learnt).
    pub fn harvester(&self) -> Harvester {
        Harvester::new(self.smime().map(super::Smime::ca).unwrap_or_default())
    }
}

/// `bytes` with every bare LF made CRLF, or `None` when it has none. A message stored with LF line
/// ends (a Maildir file) was signed in its canonical CRLF form (RFC 8551 §3.1.1, RFC 3156 §5), which is
/// what a CRLF transport would have delivered.
pub(crate) fn crlf(bytes: &[u8]) -> Option<Vec<u8>> {
    let bare = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'));
    if !bare {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    Some(out)
}

#[cfg(test)]
#[path = "harvest/harvest_tests.rs"]
mod tests;
