//! What the holds need to know of a message past its limit, read once from its bytes: its Message-ID and
//! digest (how the audit trail names it), the Message-IDs it answers (In-Reply-To, References), and the
//! arbitration case numbers `aYYYYMMDD.N` and support tickets `sYYYYMMDD.NNN` in its subject or text.
//!
//! Keeps no content: only identifiers leave this file.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::message::{Message, sha256_hex};

/// The identifiers of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Without angle brackets; empty when it has none.
    pub message_id: String,
    /// sha256 of the bytes, hex: names the message in the audit trail when it has no Message-ID.
    pub digest: String,
    /// The Message-IDs it answers, without angle brackets.
    pub refs: Vec<String>,
    /// Arbitration case numbers, lower case.
    pub cases: BTreeSet<String>,
    /// Support ticket numbers, lower case.
    pub tickets: BTreeSet<String>,
}

impl Facts {
    /// The message's own Message-ID and those it answers.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.message_id.as_str())
            .filter(|id| !id.is_empty())
            .chain(self.refs.iter().map(String::as_str))
    }
}

/// A Message-ID as the store keeps it: trimmed, without angle brackets.
pub fn bare_id(id: &str) -> String {
    id.trim().trim_matches(['<', '>']).to_owned()
}

/// Reads the facts from `raw`. A message mail-parser cannot read is searched as text for its numbers.
pub fn scan(raw: &[u8]) -> Facts {
    let mut facts = Facts {
        digest: sha256_hex(raw),
        ..Facts::default()
    };
    let Ok(msg) = Message::parse(raw, 0) else {
        let text = String::from_utf8_lossy(raw);
        facts.cases = numbers(&text, 'a');
        facts.tickets = numbers(&text, 's');
        return facts;
    };
    let info = msg.info();
    facts.message_id = info.message_id.as_deref().map(bare_id).unwrap_or_default();
    facts.refs = info
        .in_reply_to
        .iter()
        .chain(&info.references)
        .map(|id| bare_id(id))
        .filter(|id| !id.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let parsed = msg.parsed();
    let mut texts: Vec<String> = info.subject.iter().cloned().collect();
    texts.extend(
        (0..parsed.text_body_count()).filter_map(|i| parsed.body_text(i).map(String::from)),
    );
    texts.extend(
        (0..parsed.html_body_count()).filter_map(|i| parsed.body_html(i).map(String::from)),
    );
    // A header that runs to the end (no empty line) may hold lines that are no header fields, which
    // a parser skips: the whole message is searched as text too, so no case number goes unseen.
    if crate::message::validate(raw, 0).is_ok_and(|end| end == raw.len()) {
        texts.push(String::from_utf8_lossy(raw).into_owned());
    }
    for text in &texts {
        facts.cases.extend(numbers(text, 'a'));
        facts.tickets.extend(numbers(text, 's'));
    }
    facts
}

/// Every `PYYYYMMDD.N` in `text` (P the prefix letter, either case; a real date; digits after the dot),
/// standing on its own: no letter or digit right before or after it.
pub fn numbers(text: &str, prefix: char) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    // Dots are rarer than the prefix letters in prose: look for `.` after eight digits after the
    // prefix, then check the edges.
    for (dot, _) in text.match_indices('.') {
        let Some(at) = dot.checked_sub(9) else {
            continue;
        };
        if !bytes[at].eq_ignore_ascii_case(&(prefix as u8))
            || !bytes[at + 1..dot].iter().all(u8::is_ascii_digit)
            || (at > 0 && bytes[at - 1].is_ascii_alphanumeric())
        {
            continue;
        }
        let tail = bytes[dot + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = dot + 1 + tail;
        if tail == 0 || bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let date = std::str::from_utf8(&bytes[at + 1..dot]).unwrap_or_default();
        let valid = NaiveDate::parse_from_str(date, "%Y%m%d")
            .is_ok_and(|d| (1990..2100).contains(&chrono::Datelike::year(&d)));
        if valid {
            let number = std::str::from_utf8(&bytes[at + 1..end]).unwrap_or_default();
            found.insert(format!("{}{number}", prefix.to_ascii_lowercase()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_and_tickets_stand_on_their_own() {
        let text = "Re: a20071225.1 and s20120418.179, not xa20071225.1 nor a20071225.1x \
                    nor a20071325.1 (no 13th month) nor a2007122.1; A20260101.12.";
        let cases: Vec<String> = numbers(text, 'a').into_iter().collect();
        assert_eq!(cases, ["a20071225.1", "a20260101.12"]);
        let tickets: Vec<String> = numbers(text, 's').into_iter().collect();
        assert_eq!(tickets, ["s20120418.179"]);
        assert!(numbers("a20071225.", 'a').is_empty());
        // At the very start and end, after non-ASCII text, and a dot too early to have eight digits.
        let edges: Vec<String> = numbers("s20260101.5 é s20260102.6 .s2026.1 s20260103.7", 's')
            .into_iter()
            .collect();
        assert_eq!(edges, ["s20260101.5", "s20260102.6", "s20260103.7"]);
        assert!(!numbers("ös20260101.5", 's').is_empty());
        assert!(numbers("9s20260101.5", 's').is_empty());
    }

    #[test]
    fn facts_come_from_headers_and_decoded_text() {
        let raw = b"Message-ID: <m1@example.org>\r\nIn-Reply-To: <d1@example.org>\r\n\
References: <d0@example.org> <d1@example.org>\r\nSubject: =?utf-8?q?Fall_a20260301.2?=\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
VGlja2V0IHMyMDI2MTAwMS4wMDQgaXMgb3Blbi4=\r\n";
        let facts = scan(raw);
        assert_eq!(facts.message_id, "m1@example.org");
        assert_eq!(facts.refs, ["d0@example.org", "d1@example.org"]);
        assert_eq!(facts.cases.iter().collect::<Vec<_>>(), ["a20260301.2"]);
        assert_eq!(facts.tickets.iter().collect::<Vec<_>>(), ["s20261001.004"]);
        assert_eq!(facts.digest.len(), 64);
        let ids: Vec<&str> = facts.ids().collect();
        assert_eq!(ids, ["m1@example.org", "d0@example.org", "d1@example.org"]);
    }

    #[test]
    fn a_message_without_a_header_separator_is_searched_as_text() {
        let facts = scan(b"no header separator, case a20260301.2");
        assert!(facts.message_id.is_empty());
        assert!(facts.cases.contains("a20260301.2"));
    }
}
