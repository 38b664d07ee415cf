//! One X.509 certificate as triaged sees it: the addresses it is for, when it is valid, its fingerprint,
//! and whether its key usage allows signing or encrypting mail. Used for the team's own certificate,
//! members' certificates (configured, recorded or harvested) and the expiry listing.
//!
//! Owns reading certificates (PEM or DER) and reading their fields; it verifies no chain (that is
//! `harvest`) and never touches private keys.

use std::fmt;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509, X509ExtendedKeyUsage, X509KeyUsage};

/// A parsed certificate with the fields triaged reads from it, read once.
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
    /// Lowercased e-mail addresses: the subjectAltName rfc822Names, or, when it has none, the subject's
    /// legacy emailAddress attributes (RFC 8550 §3 asks receivers to accept both).
    addresses: Vec<String>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    /// SHA-256 of the DER encoding, uppercase hex without separators.
    fingerprint: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("addresses", &self.addresses)
            .field("not_after", &self.not_after)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// What a certificate is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Sign mail (keyUsage digitalSignature or nonRepudiation).
    Sign,
    /// Have mail encrypted to it (keyUsage keyEncipherment, or keyAgreement for EC keys).
    Encrypt,
}

impl Certificate {
    /// Reads the fields of `x509`.
    pub fn from_x509(x509: X509) -> Result<Certificate> {
        let not_before = to_utc(x509.not_before()).context("read notBefore")?;
        let not_after = to_utc(x509.not_after()).context("read notAfter")?;
        let fingerprint = x509
            .digest(MessageDigest::sha256())
            .context("fingerprint the certificate")?
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let addresses = addresses(&x509);
        Ok(Certificate {
            x509,
            addresses,
            not_before,
            not_after,
            fingerprint,
        })
    }

    /// Every certificate in `bytes`: one or more PEM blocks, or one DER certificate.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<Certificate>> {
        let x509s = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            X509::stack_from_pem(bytes)
                .map_err(|e| anyhow::anyhow!("bad PEM certificate: {}", reason(&e)))?
        } else {
            let der = X509::from_der(bytes).map_err(|e| {
                anyhow::anyhow!("neither PEM nor a DER certificate: {}", reason(&e))
            })?;
            vec![der]
        };
        anyhow::ensure!(!x509s.is_empty(), "holds no certificate");
        x509s.into_iter().map(Certificate::from_x509).collect()
    }

    /// Exactly one certificate from `bytes` (PEM or DER), as `team record NAME smime-cert FILE` takes it.
    pub fn parse_one(bytes: &[u8]) -> Result<Certificate> {
        let mut all = Certificate::parse_all(bytes)?;
        anyhow::ensure!(
            all.len() == 1,
            "holds {} certificates; give the member's own certificate alone",
            all.len()
        );
        all.pop().context("holds no certificate")
    }

    pub fn x509(&self) -> &X509 {
        &self.x509
    }

    /// The DER encoding, the form the store keeps.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        self.x509.to_der().context("encode the certificate")
    }

    pub fn to_pem(&self) -> Result<Vec<u8>> {
        self.x509.to_pem().context("encode the certificate")
    }

    /// Lowercased addresses the certificate is for.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// Whether the certificate is for `address` (compared without regard to ASCII case).
    pub fn has_address(&self, address: &str) -> bool {
        let want = address.to_ascii_lowercase();
        self.addresses.contains(&want)
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// When the certificate expires: what `team list` and the metrics count down to.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The subject's common name, else the whole subject, for listings.
    pub fn subject(&self) -> String {
        let name = self.x509.subject_name();
        let cn = name
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok());
        cn.unwrap_or_else(|| {
            name.entries()
                .filter_map(|e| e.data().to_string().ok())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// Why the certificate's key usage or extended key usage does not allow `usage` for mail; empty
    /// when it does. An absent extension allows everything (RFC 5280 §4.2.1.3, §4.2.1.12).
    pub fn usage_problems(&self, usage: Usage) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ku) = self.x509.key_usage() {
            let (wanted, words) = match usage {
                Usage::Sign => (
                    X509KeyUsage::DIGITAL_SIGNATURE | X509KeyUsage::NON_REPUDIATION,
                    "signing (digitalSignature)",
                ),
                Usage::Encrypt => (
                    X509KeyUsage::KEY_ENCIPHERMENT | X509KeyUsage::KEY_AGREEMENT,
                    "encryption (keyEncipherment)",
                ),
            };
            if !ku.intersects(wanted) {
                out.push(format!("its key usage does not allow {words}"));
            }
        }
        if let Some(eku) = self.x509.extended_key_usage()
            && !eku.intersects(X509ExtendedKeyUsage::SMIME | X509ExtendedKeyUsage::ANYEKU)
        {
            out.push("its extended key usage does not include emailProtection".to_owned());
        }
        out
    }

    /// Whether mail may be encrypted to this certificate at `at`.
    pub fn can_encrypt_at(&self, at: DateTime<Utc>) -> bool {
        self.is_valid_at(at) && self.usage_problems(Usage::Encrypt).is_empty()
    }
}

/// An ASN.1 time as UTC, through its distance from the epoch (the crate exposes no direct conversion).
pub(crate) fn to_utc(time: &Asn1TimeRef) -> Result<DateTime<Utc>> {
    let epoch = Asn1Time::from_unix(0).context("the epoch as an ASN.1 time")?;
    let diff = epoch.diff(time).context("compare with the epoch")?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0).context("time out of range")
}

/// OpenSSL's reasons, without its codes, file names and line numbers.
pub(crate) fn reason(e: &openssl::error::ErrorStack) -> String {
    let reasons: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    if reasons.is_empty() {
        "unknown OpenSSL error".to_owned()
    } else {
        reasons.join("; ")
    }
}

/// A time in the form messages show it.
pub(crate) fn show(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn addresses(x509: &X509) -> Vec<String> {
    let mut out: Vec<String> = x509
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.email().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out = x509
            .subject_name()
            .entries_by_nid(Nid::PKCS9_EMAILADDRESS)
            .filter_map(|e| e.data().to_string().ok())
            .map(|s| s.to_ascii_lowercase())
            .collect();
    }
    out.dedup();
    out
}
