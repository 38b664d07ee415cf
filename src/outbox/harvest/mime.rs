//! Finds the signature of a received message: the top-level entity only (a signed message forwarded
//! inside another is the forwarder's, not theirs), as `multipart/signed` (S/MIME or PGP/MIME) or opaque
//! S/MIME signed-data; and the From address and attached OpenPGP keys.
//!
//! Owns the MIME reading: the signed content is cut from the raw bytes by its boundary (RFC 2046
//! §5.1.1: the line break before a boundary belongs to the boundary), never re-encoded; mail-parser
//! decodes the signature part and reads the headers. It verifies nothing.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::Rejected;

/// The signature found and what it covers.
pub(super) enum Signed {
    /// `multipart/signed` with an (x-)pkcs7-signature: the first part's bytes, the decoded signature.
    Smime {
        content: Vec<u8>,
        signature: Vec<u8>,
    },
    /// `application/(x-)pkcs7-mime; smime-type=signed-data`: the decoded PKCS#7 blob.
    SmimeOpaque { der: Vec<u8> },
    /// `multipart/signed` with application/pgp-signature.
    OpenPgp {
        content: Vec<u8>,
        signature: Vec<u8>,
    },
}

/// The top-level signature of `raw`, if it has one triaged reads.
pub(super) fn find(raw: &[u8]) -> Result<Option<Signed>, Rejected> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(None);
    };
    let Some(root) = message.parts.first() else {
        return Ok(None);
    };
    let Some(ct) = root.content_type() else {
        return Ok(None);
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let subtype = ct.subtype().unwrap_or("");
    if is(ct.ctype(), "application") && (is(subtype, "pkcs7-mime") || is(subtype, "x-pkcs7-mime")) {
        let kind = ct.attribute("smime-type").unwrap_or("");
        if !is(kind, "signed-data") {
            return Ok(None);
        }
        return Ok(Some(Signed::SmimeOpaque {
            der: root.contents().to_vec(),
        }));
    }
    if !(is(ct.ctype(), "multipart") && is(subtype, "signed")) {
        return Ok(None);
    }
    let protocol = ct.attribute("protocol").unwrap_or("").to_ascii_lowercase();
    let smime = match protocol.as_str() {
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => true,
        "application/pgp-signature" => false,
        _ => return Ok(None),
    };
    let boundary = ct
        .attribute("boundary")
        .ok_or_else(|| Rejected::Malformed("multipart/signed without a boundary".to_owned()))?;
    let PartType::Multipart(children) = &root.body else {
        return Err(Rejected::Malformed(
            "multipart/signed without parts".to_owned(),
        ));
    };
    let signature = children
        .get(1)
        .and_then(|&i| message.parts.get(i as usize))
        .map(|p| p.contents().to_vec())
        .ok_or_else(|| {
            Rejected::Malformed("multipart/signed without a signature part".to_owned())
        })?;
    let start = root.offset_body as usize;
    let end = (root.offset_end as usize).min(raw.len());
    let body = raw.get(start..end).unwrap_or_default();
    let content = first_part(body, boundary)
        .ok_or_else(|| Rejected::Malformed("the signed part has no closing boundary".to_owned()))?
        .to_vec();
    Ok(Some(if smime {
        Signed::Smime { content, signature }
    } else {
        Signed::OpenPgp { content, signature }
    }))
}

/// The one From address of `raw`, lowercased.
pub(super) fn from_address(raw: &[u8]) -> Result<String, Rejected> {
    let message = MessageParser::default()
        .parse_headers(raw)
        .ok_or(Rejected::NoFrom)?;
    let from = message.from().ok_or(Rejected::NoFrom)?;
    let mut addresses = from.iter().filter_map(|a| a.address());
    match (addresses.next(), addresses.next()) {
        (Some(one), None) => Ok(one.to_ascii_lowercase()),
        _ => Err(Rejected::NoFrom),
    }
}

/// The decoded bodies of every `application/pgp-keys` part inside the signed content.
pub(super) fn attached_keys(content: &[u8]) -> Vec<Vec<u8>> {
    let Some(entity) = MessageParser::default().parse(content) else {
        return Vec::new();
    };
    entity
        .parts
        .iter()
        .filter(|p| {
            p.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("application")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("pgp-keys"))
            })
        })
        .map(|p| p.contents().to_vec())
        .collect()
}

/// The first body part of a multipart body, exactly as it is: from the line after the first
/// `--boundary` line up to the line break before the next one.
pub(crate) fn first_part<'a>(body: &'a [u8], boundary: &str) -> Option<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut lines = Lines { bytes: body, at: 0 };
    let start = lines
        .find(|&(s, e)| is_delimiter(&body[s..e], &delimiter))?
        .1;
    let start = start + line_break_at(body, start);
    let mut lines = Lines {
        bytes: body,
        at: start,
    };
    let (next, _) = lines.find(|&(s, e)| is_delimiter(&body[s..e], &delimiter))?;
    // The line break before the delimiter belongs to the delimiter.
    let mut end = next;
    if end > start && body[end - 1] == b'\n' {
        end -= 1;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    Some(&body[start..end.max(start)])
}

/// A delimiter line: `--boundary`, maybe `--` after it, then only white space (RFC 2046 §5.1.1).
fn is_delimiter(line: &[u8], delimiter: &str) -> bool {
    line.strip_prefix(delimiter.as_bytes()).is_some_and(|rest| {
        let rest = rest.strip_prefix(b"--").unwrap_or(rest);
        rest.iter().all(|b| matches!(b, b' ' | b'\t'))
    })
}

fn line_break_at(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at..) {
        Some([b'\r', b'\n', ..]) => 2,
        Some([b'\n', ..]) => 1,
        _ => 0,
    }
}

/// Lines as (start, end) offsets, without their line breaks.
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let start = self.at;
        let rest = &self.bytes[start..];
        let (end, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let end = if i > 0 && rest[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                (start + end, start + i + 1)
            }
            None => (self.bytes.len(), self.bytes.len()),
        };
        self.at = next;
        Some((start, end))
    }
}
