//! Test-only certificates made in memory with the `openssl` crate: a CA and certificates it issues with
//! chosen addresses, validity and key usage, so no committed certificate ever expires. Compiled for
//! unit tests only.

use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};

/// The time the unit tests pretend it is.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// What a certificate issued by [`Ca::issue`] says.
#[derive(Debug, Clone)]
pub struct Spec {
    pub email: String,
    /// Validity relative to [`now`].
    pub from: Duration,
    pub until: Duration,
    /// keyUsage, as openssl names them; `None` leaves the extension out.
    pub key_usage: Option<Vec<&'static str>>,
    /// extendedKeyUsage; `None` leaves the extension out.
    pub eku: Option<Vec<&'static str>>,
    /// Put the address in subjectAltName (else only in the subject's emailAddress).
    pub san: bool,
}

impl Spec {
    /// A usual S/MIME certificate for `email`, valid a year around [`now`].
    pub fn mail(email: &str) -> Spec {
        Spec {
            email: email.to_owned(),
            from: Duration::days(-1),
            until: Duration::days(365),
            key_usage: Some(vec!["digitalSignature", "keyEncipherment"]),
            eku: Some(vec!["emailProtection"]),
            san: true,
        }
    }
}

pub struct Ca {
    pub cert: X509,
    key: PKey<Private>,
}

pub fn rsa_key() -> Result<PKey<Private>> {
    Ok(PKey::from_rsa(Rsa::generate(2048)?)?)
}

fn time(at: DateTime<Utc>) -> Result<Asn1Time> {
    Ok(Asn1Time::from_unix(at.timestamp())?)
}

fn serial() -> Result<Asn1Integer> {
    let mut bn = BigNum::new()?;
    bn.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

impl Ca {
    pub fn new(name: &str) -> Result<Ca> {
        let key = rsa_key()?;
        let mut subject = X509NameBuilder::new()?;
        subject.append_entry_by_text("CN", name)?;
        let subject = subject.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let serial = serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(&subject)?;
        b.set_pubkey(&key)?;
        let t = time(now() - Duration::days(3650))?;
        b.set_not_before(&t)?;
        let t = time(now() + Duration::days(3650))?;
        b.set_not_after(&t)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(KeyUsage::new().key_cert_sign().crl_sign().build()?)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Ca {
            cert: b.build(),
            key,
        })
    }

    /// A certificate for `spec` with a fresh key.
    pub fn issue(&self, spec: &Spec) -> Result<(X509, PKey<Private>)> {
        let key = rsa_key()?;
        Ok((self.issue_for(spec, &key)?, key))
    }

    /// A certificate for `spec` over `key`.
    pub fn issue_for(&self, spec: &Spec, key: &PKey<Private>) -> Result<X509> {
        let mut subject = X509NameBuilder::new()?;
        subject.append_entry_by_text("CN", &spec.email)?;
        if !spec.san {
            subject.append_entry_by_text("emailAddress", &spec.email)?;
        }
        let subject = subject.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let serial = serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.set_pubkey(key)?;
        let t = time(now() + spec.from)?;
        b.set_not_before(&t)?;
        let t = time(now() + spec.until)?;
        b.set_not_after(&t)?;
        if let Some(usages) = &spec.key_usage {
            let mut ku = KeyUsage::new();
            for u in usages {
                match *u {
                    "digitalSignature" => ku.digital_signature(),
                    "nonRepudiation" => ku.non_repudiation(),
                    "keyEncipherment" => ku.key_encipherment(),
                    "keyAgreement" => ku.key_agreement(),
                    other => anyhow::bail!("unknown key usage {other}"),
                };
            }
            b.append_extension(ku.build()?)?;
        }
        if let Some(usages) = &spec.eku {
            let mut eku = ExtendedKeyUsage::new();
            for u in usages {
                match *u {
                    "emailProtection" => eku.email_protection(),
                    "serverAuth" => eku.server_auth(),
                    "clientAuth" => eku.client_auth(),
                    other => anyhow::bail!("unknown extended key usage {other}"),
                };
            }
            b.append_extension(eku.build()?)?;
        }
        if spec.san {
            let san = SubjectAlternativeName::new()
                .email(&spec.email)
                .build(&b.x509v3_context(Some(&self.cert), None))?;
            b.append_extension(san)?;
        }
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok(b.build())
    }
}
