//! Input normalisation applied before mail-parser sees a message, for mail-parser behaviour that differs
//! from Pigeonhole's. Every rewrite keeps the message length (the Sieve `size` test sees the stored size)
//! and touches only bytes mail-parser would otherwise misread. It must not change anything else.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, HeaderName, HeaderValue};
use std::borrow::Cow;
use std::ops::Range;

/// mail-parser leaves an RFC 2047 encoded-word undecoded when its base64 has stray characters or when
/// splits a word around an encoded-word (`Pass=?UTF-8?Q?wort?=problem` becomes `Pass wort problem`);
/// Pigeonhole (Dovecot's header decoder) decodes a bad base64 word up to the first invalid character and
/// an encoded-word inside a word in place. Every top-level unstructured header with an encoded-word is
/// decoded again that way. Applied to the parsed
/// message, so the raw bytes and the size stay as stored.
/// `header` is the message's raw header block: when it has no encoded-word at all (most mail), nothing
/// else is looked at.
pub(crate) fn lenient_encoded_words(msg: &mut mail_parser::Message<'_>, header: &[u8]) {
    if !has_encoded_word(header) {
        return;
    }
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
        if !has_encoded_word(value) {
            continue;
        }
        let decoded = decode_words(value);
        if decoded != *text {
            header.value = HeaderValue::Text(Cow::Owned(decoded));
        }
    }
}

/// Whether `bytes` has an `=?` (`?` is rare in a header outside encoded-words: look for it, then at the
/// byte before).
fn has_encoded_word(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'?', bytes).any(|i| i > 0 && bytes[i - 1] == b'=')
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
        let unquote = |a: &mut mail_parser::Addr<'_>| {
            let Some(address) = a.address.as_deref() else {
                return;
            };
            let fixed = if address.starts_with('@') && a.name.is_some() {
                a.name.as_deref().map(|n| format!("{n}{address}"))
            } else {
                unquote_local(address)
            };
            if let Some(fixed) = fixed {
                a.address = Some(Cow::Owned(fixed));
            }
        };
        match addr {
            Address::List(list) => list.iter_mut().for_each(unquote),
            Address::Group(groups) => groups
                .iter_mut()
                .flat_map(|g| g.addresses.iter_mut())
                .for_each(unquote),
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

/// The first Subject of the message's own header as Pigeonhole reads it for a vacation reply's
/// default subject: line breaks dropped, each tab a space (Dovecot's one-line header cleaning),
/// encoded-words decoded leniently; `None` without a Subject field.
pub(crate) fn subject_as_pigeonhole_reads_it(msg: &mail_parser::Message<'_>) -> Option<String> {
    let header = msg
        .parts
        .first()?
        .headers
        .iter()
        .find(|h| h.name == mail_parser::HeaderName::Subject)?;
    let value = msg
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    let clean: Vec<u8> = value
        .iter()
        .filter(|&&b| b != b'\r' && b != b'\n')
        .map(|&b| if b == b'\t' { b' ' } else { b })
        .collect();
    // Dovecot writes one replacement character for a run of bytes that are not UTF-8, never two in
    // a row.
    let mut out = String::new();
    for c in decode_words(&clean).chars() {
        if !(c == char::REPLACEMENT_CHARACTER && out.ends_with(char::REPLACEMENT_CHARACTER)) {
            out.push(c);
        }
    }
    Some(out)
}

/// Unfolds and decodes a header value, encoded-words anywhere; whitespace between two encoded-words
/// is dropped (RFC 2047 6.2).
pub(crate) fn decode_words(value: &[u8]) -> String {
    let unfolded: Cow<'_, [u8]> = if memchr::memchr2(b'\r', b'\n', value).is_some() {
        Cow::Owned(
            value
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    };
    let text = String::from_utf8_lossy(&unfolded);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.trim();
    // Whitespace seen since the last word, written out only if plain text follows.
    let mut pending = "";
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = rest.strip_prefix("=?").and_then(encoded_word) {
            if !last_was_word {
                out.push_str(pending);
            }
            pending = "";
            out.push_str(&decoded);
            rest = &rest[used + 2..];
            last_was_word = true;
            continue;
        }
        let blank = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if blank > 0 {
            (pending, rest) = rest.split_at(blank);
            continue;
        }
        // Plain text up to the next blank or possible encoded-word (at least one character).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let run = first
            + rest[first..]
                .find([' ', '\t', '='])
                .unwrap_or(rest.len() - first);
        out.push_str(pending);
        pending = "";
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        last_was_word = false;
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
        "Q" | "q" => q_decode(text),
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let decoded = match charset_decoder(charset.as_bytes()) {
        Some(decode) => decode(&bytes),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Some((decoded, charset.len() + enc.len() + end + 4))
}

/// Decodes the text of a `Q` encoded-word (RFC 2047 4.2) as Dovecot does: `_` is a space, `=XY` the
/// byte XY, and an `=` not followed by two hex digits stays as written (`Caf=E` is not dropped).
fn q_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A same-length replacement of the bytes at an offset of the raw message.
pub(crate) type Fix = (usize, &'static [u8]);

/// mail-parser 0.11 reads an alphabetic time zone as exactly three bytes (`obs_zone` in
/// `parsers/fields/date.rs`), so a one-letter military zone (`Z`) before a line end, or `UT` before a
/// bare LF, swallows the line end and the next header field disappears into the Date. Pigeonhole reads
/// them as RFC 5322 4.3 says (`UT`, `Z` = +0000; other military zones = -0000). The zone letters are
/// replaced by a numeric zone of the same length (`+` / `+0`, which mail-parser reads as +0000), in Date,
/// Resent-Date and the date part of Received, and the message is parsed again.
///
/// The fixes are found after a first parse, in the fields mail-parser read as Date, Resent-Date or
/// Received: a swallowed line ends up inside the field that swallowed it, and the rest of the header is
/// never looked at. Fields swallowed in turn are fixed in the same pass (each line is judged by the
/// field it starts or continues).
pub(crate) fn zone_fixes(parsed: &mail_parser::Message<'_>) -> Vec<Fix> {
    let raw: &[u8] = parsed.raw_message.as_ref();
    let mut fixes = Vec::new();
    let headers = parsed
        .parts
        .first()
        .map_or(&[][..], |p| p.headers.as_slice());
    for h in headers {
        if !matches!(
            h.name,
            HeaderName::Date | HeaderName::ResentDate | HeaderName::Received
        ) {
            continue;
        }
        let end = (h.offset_end as usize).min(raw.len());
        let mut line_start = h.offset_field as usize;
        let mut field = line_start..line_start;
        while line_start < end {
            let Some(line_end) = memchr::memchr(b'\n', &raw[line_start..]).map(|i| line_start + i)
            else {
                break;
            };
            if !matches!(raw[line_start], b' ' | b'\t') {
                field = line_start..line_end;
            }
            if let Some(fix) = zone_fix(raw, field.clone(), line_start..line_end) {
                fixes.push(fix);
            }
            line_start = line_end + 1;
        }
    }
    fixes
}

/// The fix for one header line, if it ends in a zone mail-parser misreads: `field` is the first line of
/// the field the line belongs to, `line` the line without its LF, both ranges of `raw`.
fn zone_fix(raw: &[u8], field: Range<usize>, line: Range<usize>) -> Option<Fix> {
    // The shape of the line first (cheap, and rarely there), then which field it belongs to.
    let fix = short_zone(&raw[line.clone()], line.start)?;
    is_date_field(&raw[field.clone()], &raw[field.start..line.end]).then_some(fix)
}

/// A copy of `raw` with the fixes applied.
pub(crate) fn apply_fixes(raw: &[u8], fixes: &[Fix]) -> Vec<u8> {
    let mut copy = raw.to_vec();
    for &(at, with) in fixes {
        copy[at..at + with.len()].copy_from_slice(with);
    }
    copy
}

/// Is the field whose first line is `first` Date, Resent-Date, or a Received whose date part (after
/// the `;`) has begun by the end of `so_far` (the field up to the line being looked at)?
fn is_date_field(first: &[u8], so_far: &[u8]) -> bool {
    let name_end = memchr::memchr(b':', first).unwrap_or(0);
    let name = first[..name_end].trim_ascii_end();
    if name.eq_ignore_ascii_case(b"date") || name.eq_ignore_ascii_case(b"resent-date") {
        return true;
    }
    name.eq_ignore_ascii_case(b"received") && memchr::memchr(b';', so_far).is_some()
}

/// A trailing 1–2 letter zone that mail-parser would misread, as (offset, replacement).
fn short_zone(line: &[u8], line_start: usize) -> Option<Fix> {
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
    use crate::message::Message;

    fn parse(raw: &[u8]) -> anyhow::Result<Message<'_>> {
        Ok(Message::parse(raw, 0)?)
    }

    fn unfixed(raw: &[u8]) -> anyhow::Result<mail_parser::Message<'_>> {
        mail_parser::MessageParser::new()
            .parse(raw)
            .ok_or(anyhow::anyhow!("parse"))
    }

    #[test]
    fn date_with_ut_zone_keeps_next_header() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 UT\nMessage-ID: <a@b>\nSubject: s\n\nbody\n";
        // What goes wrong without the fix: the Message-ID disappears into the Date.
        assert_eq!(unfixed(raw)?.message_id(), None);
        let msg = parse(raw)?;
        assert_eq!(msg.parsed().message_id(), Some("a@b"));
        assert_eq!(
            msg.parsed().date().map(|d| d.to_rfc3339()),
            Some("2024-01-01T10:00:00Z".to_string())
        );
        // The digest is of the bytes as stored, not of the copy that was parsed.
        let stored = crate::message::Message::parse(b"Subject: s\n\nbody\n", 0)?;
        assert_ne!(msg.digest(), stored.digest());
        assert_eq!(msg.digest(), crate::message::sha256_hex(raw));
        Ok(())
    }

    #[test]
    fn date_with_z_zone_and_crlf_keeps_next_header() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 Z\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(unfixed(raw)?.subject(), None);
        assert_eq!(parse(raw)?.parsed().subject(), Some("s"));
        Ok(())
    }

    #[test]
    fn received_date_on_a_continuation_line_is_fixed() -> anyhow::Result<()> {
        let raw = b"Received: from a.example\n\tby b.example; Mon, 1 Jan 2024 10:00:00 Z\n\
Subject: s\n\nbody\n";
        let parsed = unfixed(raw)?;
        assert_eq!(super::zone_fixes(&parsed).len(), 1);
        assert_eq!(parse(raw)?.parsed().subject(), Some("s"));
        Ok(())
    }

    #[test]
    fn a_field_swallowed_by_a_broken_date_is_fixed_too() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 Z\nResent-Date: Tue, 2 Jan 2024 10:00:00 Z\n\
Subject: s\n\nbody\n";
        assert_eq!(parse(raw)?.parsed().subject(), Some("s"));
        Ok(())
    }

    #[test]
    fn unaffected_messages_need_no_fix() -> anyhow::Result<()> {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: UT\n\nZ\n";
        assert!(super::zone_fixes(&unfixed(raw)?).is_empty());
        let crlf = b"Date: Mon, 1 Jan 2024 10:00:00 UT\r\nSubject: s\r\n\r\n";
        assert!(super::zone_fixes(&unfixed(crlf)?).is_empty());
        // A letter zone in the body, or in a field that is not a date, is left alone.
        let body = b"Subject: a Z\nX-Note: at 10:00 Z\n\nDate: Mon, 1 Jan 2024 10:00:00 Z\n";
        assert!(super::zone_fixes(&unfixed(body)?).is_empty());
        Ok(())
    }
}
