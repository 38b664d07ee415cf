//! Composes a rendered mail into the exact bytes the outbox stores and sends: headers through lettre's
//! builder (addresses as parsed mailboxes, subjects encoded), PGP/MIME signing and encryption (RFC 3156)
//! or S/MIME (RFC 8551), as `scheme::choose` decides.
//!
//! Owns the MIME structure and the header checks that guard against injection; it never renders
//! templates and never talks to a server or the store.

use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::{Address, Message};

use super::openpgp::{MICALG, Pgp};
use super::scheme::{self, Ask, CertLookup, Protection};
use super::smime::{self, Smime};
use crate::config::Scheme;
use crate::templates::{AutoSubmitted, RenderedMail, UnsafeValue, check_header_value};

/// A composed mail.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The complete message, CRLF line endings; empty when held.
    pub raw: Vec<u8>,
    /// Envelope recipients (bare addresses, To then Cc, without duplicates).
    pub recipients: Vec<Address>,
    /// Set when the mail must not be sent as it stands (encryption required, no key).
    pub hold_error: Option<String>,
    pub signed: bool,
    pub encrypted: bool,
    /// The scheme that signed or encrypted it, if any did.
    pub scheme: Option<Scheme>,
}

/// What composing needs beyond the mail itself.
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub message_id: &'a str,
    pub date: SystemTime,
    pub pgp: Option<&'a Pgp>,
    pub smime: Option<&'a Smime>,
    /// `[outbox] schemes`: the preference under `scheme = "auto"`.
    pub schemes: &'a [Scheme],
    /// Where recipients' certificates are found.
    pub certs: &'a dyn CertLookup,
}

/// Checks every value of `mail` that reaches a header, whoever built it.
pub fn check(mail: &RenderedMail) -> Result<(), UnsafeValue> {
    check_header_value("subject", &mail.subject)?;
    for (field, list) in [("to", &mail.to), ("cc", &mail.cc)] {
        for m in list.iter() {
            if let Some(name) = &m.name {
                check_header_value(field, name)?;
            }
        }
    }
    for (name, value) in &mail.headers {
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid {
            return Err(UnsafeValue::new(
                format!("header {name:?}"),
                "is not a header name",
            ));
        }
        check_header_value(&format!("header {name}"), value)?;
    }
    for id in mail.in_reply_to.iter().chain(&mail.references) {
        check_header_value("references", id)?;
        let ok = id.starts_with('<') && id.ends_with('>') && !id.contains(char::is_whitespace);
        if !ok {
            return Err(UnsafeValue::new(
                "references",
                format!("{id:?} is not a message id"),
            ));
        }
    }
    if mail.to.is_empty() && mail.cc.is_empty() {
        return Err(UnsafeValue::new("to", "the mail has no recipient"));
    }
    Ok(())
}

/// Composes `mail`: the body part, signed and/or encrypted as its policy and the keys allow.
pub fn compose(mail: &RenderedMail, env: &Envelope<'_>) -> Result<Composed> {
    check(mail)?;
    let recipients = recipients(mail);
    let body = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone());
    let configured: Vec<Scheme> = [
        env.smime.map(|_| Scheme::Smime),
        env.pgp.map(|_| Scheme::OpenPgp),
    ]
    .into_iter()
    .flatten()
    .collect();
    let ask = Ask {
        sign: mail.sign,
        encrypt: mail.encrypt,
        scheme: mail.scheme,
        preference: env.schemes,
        configured: &configured,
        recipients: &recipients,
        at: DateTime::<Utc>::from(env.date),
    };
    let protection = scheme::choose(&ask, env.certs);
    if let Protection::Held(why) = protection {
        return Ok(Composed {
            raw: Vec::new(),
            recipients,
            hold_error: Some(why),
            signed: false,
            encrypted: false,
            scheme: None,
        });
    }
    let builder = headers(mail, env)?;
    let (message, how) = protect(builder, body, protection, env)?;
    Ok(Composed {
        raw: message.formatted(),
        recipients,
        hold_error: None,
        signed: how.signed,
        encrypted: how.encrypted,
        scheme: how.scheme,
    })
}

/// How the body went out.
struct How {
    signed: bool,
    encrypted: bool,
    scheme: Option<Scheme>,
}

impl How {
    fn new(signed: bool, encrypted: bool, scheme: Option<Scheme>) -> How {
        How {
            signed,
            encrypted,
            scheme,
        }
    }
}

/// The message with its body protected as chosen, and how it was.
fn protect(
    builder: MessageBuilder,
    body: SinglePart,
    protection: Protection,
    env: &Envelope<'_>,
) -> Result<(Message, How)> {
    let pgp = || env.pgp.context("OpenPGP chosen without [openpgp]");
    let smime = || env.smime.context("S/MIME chosen without [smime]");
    let (message, how) = match protection {
        Protection::Plain | Protection::Held(_) => {
            (builder.singlepart(body), How::new(false, false, None))
        }
        Protection::Signed(Scheme::OpenPgp) => (
            builder.multipart(signed(pgp()?, body)?),
            How::new(true, false, Some(Scheme::OpenPgp)),
        ),
        Protection::Signed(Scheme::Smime) => (
            builder.multipart(smime::mime::signed(smime()?, body)?),
            How::new(true, false, Some(Scheme::Smime)),
        ),
        Protection::OpenPgp { sign, to } => {
            let pgp = pgp()?;
            let inner = if sign {
                signed(pgp, body)?.formatted()
            } else {
                body.formatted()
            };
            let to: Vec<&sequoia_openpgp::Cert> = to.iter().collect();
            let part = encrypted(pgp, &inner, &to)?;
            (
                builder.multipart(part),
                How::new(sign, true, Some(Scheme::OpenPgp)),
            )
        }
        Protection::Smime { sign, to } => {
            let smime = smime()?;
            let inner = if sign {
                smime::mime::signed(smime, body)?.formatted()
            } else {
                body.formatted()
            };
            let to: Vec<&smime::Certificate> = to.iter().collect();
            let part = smime::mime::enveloped(smime, &inner, &to)?;
            (
                builder.singlepart(part),
                How::new(sign, true, Some(Scheme::Smime)),
            )
        }
    };
    Ok((message.context("build the message")?, how))
}

fn recipients(mail: &RenderedMail) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    for m in mail.to.iter().chain(&mail.cc) {
        if !out
            .iter()
            .any(|a: &Address| AsRef::<str>::as_ref(a).eq_ignore_ascii_case(m.email.as_ref()))
        {
            out.push(m.email.clone());
        }
    }
    out
}

fn headers(mail: &RenderedMail, env: &Envelope<'_>) -> Result<MessageBuilder> {
    let mut b = Message::builder()
        .from(env.from.clone())
        .subject(mail.subject.clone())
        .date(env.date)
        .message_id(Some(env.message_id.to_owned()));
    for m in &mail.to {
        b = b.to(m.clone());
    }
    for m in &mail.cc {
        b = b.cc(m.clone());
    }
    if let Some(id) = &mail.in_reply_to {
        b = b.in_reply_to(id.clone());
    }
    if !mail.references.is_empty() {
        b = b.references(mail.references.join(" "));
    }
    if mail.auto_submitted != AutoSubmitted::No {
        b = b.raw_header(raw("Auto-Submitted", mail.auto_submitted.as_str())?);
    }
    for (name, value) in &mail.headers {
        b = b.raw_header(raw(name, value)?);
    }
    Ok(b)
}

fn raw(name: &str, value: &str) -> Result<HeaderValue> {
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|e| anyhow::anyhow!("header name {name:?}: {e}"))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

/// RFC 3156 §5: multipart/signed over the body part's canonical (CRLF) bytes, which are exactly the
/// bytes lettre writes between the opening boundary and the CRLF that precedes the next boundary.
fn signed(pgp: &Pgp, body: SinglePart) -> Result<MultiPart> {
    let mut canonical = body.formatted();
    // `formatted()` ends the part with the CRLF that belongs to the following boundary (RFC 2046 §5.1.1).
    canonical.truncate(canonical.len().saturating_sub(2));
    let signature = pgp.sign_detached(&canonical)?;
    let sig_part = SinglePart::builder()
        .header(
            ContentType::parse("application/pgp-signature; name=\"signature.asc\"")
                .context("signature content type")?,
        )
        .body(signature);
    Ok(
        MultiPart::signed("application/pgp-signature".to_owned(), MICALG.to_owned())
            .singlepart(body)
            .singlepart(sig_part),
    )
}

/// RFC 3156 §4: multipart/encrypted with the version part and the armored encrypted MIME entity.
fn encrypted(pgp: &Pgp, inner: &[u8], certs: &[&sequoia_openpgp::Cert]) -> Result<MultiPart> {
    let armored = pgp.encrypt(inner, certs)?;
    let version = SinglePart::builder()
        .header(ContentType::parse("application/pgp-encrypted").context("content type")?)
        .body("Version: 1\n".to_owned());
    let data = SinglePart::builder()
        .header(
            ContentType::parse("application/octet-stream; name=\"encrypted.asc\"")
                .context("content type")?,
        )
        .body(armored);
    Ok(MultiPart::encrypted("application/pgp-encrypted".to_owned())
        .singlepart(version)
        .singlepart(data))
}
