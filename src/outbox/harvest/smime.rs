//! Verifies an S/MIME signature for harvesting, in three steps so each failure has its own reason: the
//! signature over the content (PKCS#7 `NOVERIFY | BINARY`: the bytes as received), the signer's chain
//! to the trust roots at the given time for S/MIME signing, and the certificate's address against From.
//!
//! The signer's certificate comes from `openssl::pkcs7` (`signers`, `certificates`): `CmsContentInfo`
//! does not expose it and the crate forbids `unsafe`. Owns verification only; never panics on input.

use chrono::{DateTime, Utc};
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509, X509PurposeId, X509Ref, X509StoreContext};

use super::{Harvested, Rejected, crlf};
use crate::config::Scheme;
use crate::outbox::smime::cert::reason;
use crate::outbox::smime::{Certificate, Usage};

/// Verifies `der` (a detached signature over `content`, or opaque signed-data when `content` is
/// `None`) from `from`, chaining to `ca` at `now`.
pub(super) fn verify(
    der: &[u8],
    content: Option<&[u8]>,
    ca: &[X509],
    from: &str,
    now: DateTime<Utc>,
) -> Result<Harvested, Rejected> {
    let malformed = |what: &str, e: openssl::error::ErrorStack| {
        Rejected::Malformed(format!("{what}: {}", reason(&e)))
    };
    let p7 = Pkcs7::from_der(der).map_err(|e| malformed("not a PKCS#7 structure", e))?;
    let signed = p7
        .signed()
        .ok_or_else(|| Rejected::Malformed("PKCS#7 but not signed-data".to_owned()))?;
    let mut carried = Stack::new().map_err(|e| malformed("certificate stack", e))?;
    for cert in signed.certificates().into_iter().flatten() {
        carried
            .push(cert.to_owned())
            .map_err(|e| malformed("certificate stack", e))?;
    }
    check_signature(&p7, content)?;
    let none = Stack::new().map_err(|e| malformed("certificate stack", e))?;
    let signers = p7
        .signers(&none, Pkcs7Flags::empty())
        .map_err(|e| malformed("no signer certificate in the signature", e))?;
    let signers: Vec<Certificate> = signers
        .iter()
        .filter_map(|c| Certificate::from_x509(c.to_owned()).ok())
        .collect();
    let first = signers
        .first()
        .ok_or_else(|| Rejected::Malformed("no readable signer certificate".to_owned()))?;
    let Some(signer) = signers.iter().find(|c| c.has_address(from)) else {
        return Err(Rejected::WrongAddress {
            from: from.to_owned(),
            certificate: shown_addresses(first),
        });
    };
    check_chain(signer.x509(), &carried, ca, now, Usage::Sign)?;
    let certificate = signer
        .to_der()
        .map_err(|e| Rejected::Malformed(format!("{e:#}")))?;
    Ok(Harvested {
        scheme: Scheme::Smime,
        address: from.to_owned(),
        certificate,
        fingerprint: signer.fingerprint().to_owned(),
        expires: Some(signer.not_after()),
    })
}

/// The signature over the content as received; over its CRLF form only when it arrived with bare LF.
fn check_signature(p7: &Pkcs7, content: Option<&[u8]>) -> Result<(), Rejected> {
    let flags = Pkcs7Flags::NOVERIFY | Pkcs7Flags::BINARY;
    let none = Stack::new().map_err(|e| Rejected::Malformed(reason(&e)))?;
    let store = X509StoreBuilder::new()
        .map_err(|e| Rejected::Malformed(reason(&e)))?
        .build();
    let first = p7.verify(&none, &store, content, None, flags);
    let Err(e) = first else {
        return Ok(());
    };
    if let Some(canonical) = content.and_then(crlf)
        && p7
            .verify(&none, &store, Some(&canonical), None, flags)
            .is_ok()
    {
        return Ok(());
    }
    Err(Rejected::BadSignature(reason(&e)))
}

/// The chain of `cert` to `ca` at `now`, for S/MIME signing or encryption (which also checks the
/// certificate's key usage and extended key usage for that purpose).
pub(super) fn check_chain(
    cert: &X509Ref,
    carried: &Stack<X509>,
    ca: &[X509],
    now: DateTime<Utc>,
    usage: Usage,
) -> Result<(), Rejected> {
    if ca.is_empty() {
        return Err(Rejected::NoTrustRoots);
    }
    let purpose = match usage {
        Usage::Sign => X509PurposeId::SMIME_SIGN,
        Usage::Encrypt => X509PurposeId::SMIME_ENCRYPT,
    };
    let store = trust_store(ca, now, purpose).map_err(|e| Rejected::Untrusted(reason(&e)))?;
    let mut ctx = X509StoreContext::new().map_err(|e| Rejected::Untrusted(reason(&e)))?;
    let outcome = ctx.init(&store, cert, carried, |c| {
        let ok = c.verify_cert()?;
        Ok((ok, c.error().error_string().to_owned()))
    });
    match outcome {
        Ok((true, _)) => Ok(()),
        Ok((false, why)) => Err(Rejected::Untrusted(why)),
        Err(e) => Err(Rejected::Untrusted(reason(&e))),
    }
}

/// A store trusting `ca`, checking validity at `now` (not the system clock) for `purpose`.
fn trust_store(
    ca: &[X509],
    now: DateTime<Utc>,
    purpose: X509PurposeId,
) -> Result<X509Store, openssl::error::ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    for cert in ca {
        builder.add_cert(cert.clone())?;
    }
    let mut param = X509VerifyParam::new()?;
    param.set_time(now.timestamp());
    param.set_purpose(purpose)?;
    builder.set_param(&param)?;
    Ok(builder.build())
}

fn shown_addresses(cert: &Certificate) -> String {
    if cert.addresses().is_empty() {
        "no address".to_owned()
    } else {
        cert.addresses().join(", ")
    }
}
