//! Input normalisation applied before mail-parser sees a message, for mail-parser behaviour that differs
//! from Pigeonhole's. Every rewrite keeps the message length (the Sieve `size` test sees the stored size)
//! and touches only bytes mail-parser would otherwise misread. It must not change anything else.

use std::borrow::Cow;

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
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i);
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
