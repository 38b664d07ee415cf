//! The MIME parts of RFC 8551: `multipart/signed` with an `application/pkcs7-signature` part (§3.5.3),
//! and the `application/pkcs7-mime; smime-type=enveloped-data` entity (§3.3).
//!
//! Owns the part layout only; the signatures and encryption come from `Smime`, the message headers
//! from `compose`.

use anyhow::{Context, Result};
use lettre::message::header::{ContentDisposition, ContentTransferEncoding, ContentType};
use lettre::message::{Body, MultiPart, SinglePart};

use super::{Certificate, MICALG, Smime};

/// `multipart/signed` over the body part's canonical bytes: what lettre writes between the opening
/// boundary and the CRLF that belongs to the next boundary (RFC 2046 §5.1.1), signed as they are.
pub(in crate::outbox) fn signed(smime: &Smime, body: SinglePart) -> Result<MultiPart> {
    let mut canonical = body.formatted();
    canonical.truncate(canonical.len().saturating_sub(2));
    let signature = smime.sign_detached(&canonical)?;
    let part = binary_part(
        "application/pkcs7-signature; name=\"smime.p7s\"",
        "smime.p7s",
        signature,
    )?;
    Ok(
        MultiPart::signed("application/pkcs7-signature".to_owned(), MICALG.to_owned())
            .singlepart(body)
            .singlepart(part),
    )
}

/// The enveloped-data entity holding `inner` (a complete MIME entity, usually the signed one).
pub(in crate::outbox) fn enveloped(
    smime: &Smime,
    inner: &[u8],
    to: &[&Certificate],
) -> Result<SinglePart> {
    let der = smime.encrypt(inner, to)?;
    binary_part(
        "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
        "smime.p7m",
        der,
    )
}

fn binary_part(content_type: &str, file_name: &str, der: Vec<u8>) -> Result<SinglePart> {
    let content_type = ContentType::parse(content_type).context("S/MIME content type")?;
    let body = Body::new_with_encoding(der, ContentTransferEncoding::Base64)
        .map_err(|_| anyhow::anyhow!("base64 body for {file_name}"))?;
    Ok(SinglePart::builder()
        .header(content_type)
        .header(ContentDisposition::attachment(file_name))
        .body(body))
}
