//! Input normalisation applied before mail-parser sees a message, for mail-parser behaviour that differs
//! from Pigeonhole's. Every rewrite keeps the message length (the Sieve `size` test sees the stored size)
//! and touches only bytes mail-parser would otherwise misread. It must not change anything else.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, HeaderValue};
use std::borrow::Cow;

/// mail-parser leaves an RFC 2047 encoded-word undecoded when its base64 has stray characters or when
/// splits a word around an encoded-word (`Pass=?UTF-8?Q?wort?=problem` becomes `Pass wort problem`);
/// Pigeonhole (Dovecot's header decoder) decodes a bad base64 word up to the first invalid character and
/// an encoded-word inside a word in place. Every top-level unstructured header with an encoded-word is
/// decoded again that way. Applied to the parsed
/// message, so the raw bytes and the size stay as stored.
pub(crate) fn lenient_encoded_words(msg: &mut mail_parser::Message<'_>) {
    let raw = &msg.raw_message;
    let Some(part) = msg.parts.first_mut() else {
        return;
    };
    for header in &mut part.headers {
        let HeaderValue::Text(text) = &header.value else {
            continue;
        };
        let Some(value) = raw.get(header.offset_start as usize..header.offset_end as usize) else {
            continue;
        };
        if !value.windows(2).any(|w| w == b"=?") {
            continue;
        }
        let decoded = decode_words(value);
        if decoded != *text {
            header.value = HeaderValue::Text(Cow::Owned(decoded));
        }
    }
}

/// Pigeonhole's address parts see a quoted local part unquoted (`"john doe"@example.com` has the
/// local part `john doe`); mail-parser keeps the quotes, or loses the local part when the address has
/// no angle brackets. Every top-level address is rewritten to its unquoted form.
pub(crate) fn unquote_local_parts(msg: &mut mail_parser::Message<'_>) {
    let Some(part) = msg.parts.first_mut() else {
        return;
    };
    for header in &mut part.headers {
        let HeaderValue::Address(addr) = &mut header.value else {
            continue;
        };
        let list = match addr {
            Address::List(list) => list.iter_mut().collect::<Vec<_>>(),
            Address::Group(groups) => groups
                .iter_mut()
                .flat_map(|g| g.addresses.iter_mut())
                .collect(),
        };
        for a in list {
            let Some(address) = a.address.as_deref() else {
                continue;
            };
            let fixed = if address.starts_with('@') && a.name.is_some() {
                a.name.as_deref().map(|n| format!("{n}{address}"))
            } else {
                unquote_local(address)
            };
            if let Some(fixed) = fixed {
                a.address = Some(Cow::Owned(fixed));
            }
        }
    }
}

/// `"local"@domain` (RFC 5321 quoted-string local part) as `local@domain`, escapes removed.
pub(crate) fn unquote_local(address: &str) -> Option<String> {
    let rest = address.strip_prefix('"')?;
    let at = rest.rfind("\"@")?;
    let mut local = String::new();
    let mut escaped = false;
    for c in rest[..at].chars() {
        if escaped || c != '\\' {
            local.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    Some(format!("{local}{}", &rest[at + 1..]))
}

/// Unfolds and decodes a header value, encoded-words anywhere; whitespace between two encoded-words
/// is dropped (RFC 2047 6.2).
pub(crate) fn decode_words(value: &[u8]) -> String {
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let text = String::from_utf8_lossy(&unfolded);
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut rest = text.trim();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = rest.strip_prefix("=?").and_then(encoded_word) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used + 2..];
            last_was_word = true;
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if ch == ' ' || ch == '\t' {
            pending_space.push(ch);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(ch);
            last_was_word = false;
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// `charset?enc?text?=` after `=?`: the decoded text and the length used.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let mut parts = s.splitn(3, '?');
    let charset = parts.next()?;
    let enc = parts.next()?;
    let tail = parts.next()?;
    let end = tail.find("?=")?;
    let text = &tail[..end];
    if charset.is_empty() || charset.contains(' ') || text.contains(' ') {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => {
            let valid: Vec<u8> = text
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
                .collect();
            let mut padded = valid;
            while !padded.len().is_multiple_of(4) {
                padded.push(b'=');
            }
            base64_decode(&padded).or_else(|| {
                let whole = padded.len() / 4 * 4;
                base64_decode(&padded[..whole.saturating_sub(4)])
            })?
        }
        "Q" | "q" => quoted_printable_decode(text.replace('_', " ").as_bytes())?,
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let decoded = match charset_decoder(charset.as_bytes()) {
        Some(decode) => decode(&bytes),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Some((decoded, charset.len() + enc.len() + end + 4))
}

/// mail-parser 0.11 reads an alphabetic time zone as exactly three bytes (`obs_zone` in
/// `parsers/fields/date.rs`), so a one-letter military zone (`Z`) before a line end, or `UT` before a
/// bare LF, swallows the line end and the next header field disappears into the Date. Pigeonhole reads
/// them as RFC 5322 4.3 says (`UT`, `Z` = +0000; other military zones = -0000). The zone letters are
/// replaced by a numeric zone of the same length (`+` / `+0`, which mail-parser reads as +0000), in Date,
/// Resent-Date and the date part of Received. Returns the input untouched when nothing needs fixing.
pub(crate) fn obsolete_zones(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut fixes: Vec<(usize, &'static [u8])> = Vec::new();
    let mut in_date = false;
    let mut pos = 0;
    while pos < raw.len() {
        let end = crate::message::find_byte(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i);
        let line = &raw[pos..end];
        if line.is_empty() || line == b"\r" {
            break;
        }
        if !matches!(line[0], b' ' | b'\t') {
            in_date = is_date_field(line);
        }
        if in_date
            && end < raw.len()
            && let Some(fix) = short_zone(line, pos)
        {
            fixes.push(fix);
        }
        pos = end + 1;
    }
    if fixes.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut copy = raw.to_vec();
    for (at, with) in fixes {
        copy[at..at + with.len()].copy_from_slice(with);
    }
    Cow::Owned(copy)
}

fn is_date_field(line: &[u8]) -> bool {
    let name_end = line.iter().position(|&b| b == b':').unwrap_or(0);
    let name = line[..name_end].trim_ascii_end();
    if name.eq_ignore_ascii_case(b"date") || name.eq_ignore_ascii_case(b"resent-date") {
        return true;
    }
    name.eq_ignore_ascii_case(b"received") && line.contains(&b';')
}

/// A trailing 1–2 letter zone that mail-parser would misread, as (offset, replacement).
fn short_zone(line: &[u8], line_start: usize) -> Option<(usize, &'static [u8])> {
    let crlf = line.last() == Some(&b'\r');
    let body = if crlf { &line[..line.len() - 1] } else { line };
    let letters = body
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let before = body.len().checked_sub(letters + 1).map(|i| body[i])?;
    if !matches!(before, b' ' | b'\t') {
        return None;
    }
    let at = line_start + body.len() - letters;
    match (letters, crlf) {
        (1, _) => Some((at, b"+")),
        (2, false) => Some((at, b"+0")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::obsolete_zones;

    #[test]
    fn date_with_ut_zone_keeps_next_header() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 UT\nMessage-ID: <a@b>\nSubject: s\n\nbody\n";
        let fixed = obsolete_zones(raw);
        assert_eq!(fixed.len(), raw.len());
        let msg = mail_parser::MessageParser::new()
            .parse(fixed.as_ref())
            .ok_or(anyhow::anyhow!("parse"))?;
        assert_eq!(msg.message_id(), Some("a@b"));
        assert_eq!(
            msg.date().map(|d| d.to_rfc3339()),
            Some("2024-01-01T10:00:00Z".to_string())
        );
        Ok(())
    }

    #[test]
    fn date_with_z_zone_and_crlf_keeps_next_header() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 Z\r\nSubject: s\r\n\r\nbody\r\n";
        let fixed = obsolete_zones(raw);
        let msg = mail_parser::MessageParser::new()
            .parse(fixed.as_ref())
            .ok_or(anyhow::anyhow!("parse"))?;
        assert_eq!(msg.subject(), Some("s"));
        Ok(())
    }

    #[test]
    fn unaffected_messages_are_not_copied() {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: UT\n\nZ\n";
        assert!(matches!(obsolete_zones(raw), std::borrow::Cow::Borrowed(_)));
        let crlf = b"Date: Mon, 1 Jan 2024 10:00:00 UT\r\nSubject: s\r\n\r\n";
        assert!(matches!(
            obsolete_zones(crlf),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
