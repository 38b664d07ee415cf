//! Verifies a PGP/MIME signature (RFC 3156) with the OpenPGP key attached to the same signed content:
//! the key must have a user ID with the From address, be valid and not revoked now, and have made the
//! signature over the content as received.
//!
//! Owns verification only (sequoia's detached verifier under the standard policy at the given time);
//! never panics on input, and returns the key without any secret key material a sender attached.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Address;
use openpgp::cert::{Cert, CertParser};
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationHelper,
};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::types::RevocationStatus;
use openpgp::{Fingerprint, KeyHandle};
use sequoia_openpgp as openpgp;

use super::{Harvested, Rejected, crlf};
use crate::config::Scheme;
use crate::outbox::openpgp::cert_has_address;

/// Verifies `signature` over `content` with the attached `keys` for `from` at `now`.
pub(super) fn verify(
    content: &[u8],
    signature: &[u8],
    keys: &[Vec<u8>],
    from: &str,
    now: DateTime<Utc>,
) -> Result<Harvested, Rejected> {
    let certs: Vec<Cert> = keys
        .iter()
        .filter_map(|k| CertParser::from_bytes(k).ok())
        .flat_map(|parser| parser.filter_map(Result::ok))
        .collect();
    if certs.is_empty() {
        return Err(Rejected::Malformed(
            "the application/pgp-keys part holds no OpenPGP key".to_owned(),
        ));
    }
    let address: Address = from.parse().map_err(|_| Rejected::NoFrom)?;
    let candidates: Vec<Cert> = certs
        .iter()
        .filter(|c| cert_has_address(c, &address))
        .cloned()
        .collect();
    if candidates.is_empty() {
        return Err(Rejected::WrongAddress {
            from: from.to_owned(),
            certificate: user_ids(&certs),
        });
    }
    let time = SystemTime::from(now);
    let signer = verified_signer(content, signature, &candidates, time)?;
    let cert = candidates
        .into_iter()
        .find(|c| c.fingerprint() == signer)
        .ok_or_else(|| Rejected::BadSignature("signed by another key".to_owned()))?;
    let expires = check_valid(&cert, time)?;
    let cert = cert.strip_secret_key_material();
    let certificate = cert
        .to_vec()
        .map_err(|e| Rejected::Malformed(format!("the attached key: {e}")))?;
    Ok(Harvested {
        scheme: Scheme::OpenPgp,
        address: from.to_owned(),
        certificate,
        fingerprint: cert.fingerprint().to_hex(),
        expires,
    })
}

/// The fingerprint of the candidate whose key made a good signature over `content` as received (or
/// over its CRLF form when it arrived with bare LF).
fn verified_signer(
    content: &[u8],
    signature: &[u8],
    candidates: &[Cert],
    time: SystemTime,
) -> Result<Fingerprint, Rejected> {
    let first = verify_once(content, signature, candidates, time);
    match (first, crlf(content)) {
        (Ok(fp), _) => Ok(fp),
        (Err(e), Some(canonical)) => {
            verify_once(&canonical, signature, candidates, time).map_err(|_| e)
        }
        (Err(e), None) => Err(e),
    }
}

fn verify_once(
    content: &[u8],
    signature: &[u8],
    candidates: &[Cert],
    time: SystemTime,
) -> Result<Fingerprint, Rejected> {
    let policy = StandardPolicy::new();
    let helper = Helper {
        certs: candidates.to_vec(),
        good: None,
        errors: Vec::new(),
    };
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .map_err(|e| Rejected::Malformed(format!("the OpenPGP signature: {e}")))?
        .with_policy(&policy, time, helper)
        .map_err(|e| Rejected::Malformed(format!("the OpenPGP signature: {e}")))?;
    let outcome = verifier.verify_bytes(content);
    let helper = verifier.into_helper();
    match (outcome, helper.good) {
        (Ok(()), Some(fp)) => Ok(fp),
        (Err(e), _) => Err(Rejected::BadSignature(e.to_string())),
        (Ok(()), None) => Err(Rejected::BadSignature(if helper.errors.is_empty() {
            "no signature by the attached key".to_owned()
        } else {
            helper.errors.join("; ")
        })),
    }
}

/// Valid under the standard policy at `time`, alive and not revoked; returns when it expires.
fn check_valid(cert: &Cert, time: SystemTime) -> Result<Option<DateTime<Utc>>, Rejected> {
    let policy = StandardPolicy::new();
    let valid = cert
        .with_policy(&policy, time)
        .map_err(|e| Rejected::InvalidKey(e.to_string()))?;
    valid
        .alive()
        .map_err(|e| Rejected::InvalidKey(e.to_string()))?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(Rejected::InvalidKey("the key is revoked".to_owned()));
    }
    Ok(valid
        .primary_key()
        .key_expiration_time()
        .map(DateTime::<Utc>::from))
}

fn user_ids(certs: &[Cert]) -> String {
    let ids: Vec<String> = certs
        .iter()
        .flat_map(|c| c.userids())
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        .collect();
    if ids.is_empty() {
        "no user ID".to_owned()
    } else {
        ids.join(", ")
    }
}

/// Hands sequoia the candidate keys and notes which made a good signature.
struct Helper {
    certs: Vec<Cert>,
    good: Option<Fingerprint>,
    errors: Vec<String>,
}

impl VerificationHelper for Helper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                for result in results {
                    match result {
                        Ok(good) if self.good.is_none() => {
                            self.good = Some(good.ka.cert().fingerprint());
                        }
                        Ok(_) => {}
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
        }
        Ok(())
    }
}
