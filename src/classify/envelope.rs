//! The SMTP envelope of a stored message, derived from its header the way the Pigeonhole harness derives
//! it, and the forms in which sieve-rs is handed it. It must not read anything but the parsed header.

use crate::message::{Message, first_address_of, return_path_of};
use mail_parser::HeaderName;
use std::borrow::Cow;

/// The SMTP envelope as triaged derives it from a stored message (same rule as the differential harness):
/// from = the address in the first `Return-Path:`; when there is none or it is `<>`, the first `Sender:`
/// address, else the first `From:` address (what Pigeonhole's `sieve-test` does for a stored message:
/// it cannot be given an empty sender and falls back to Sender, then From);
/// to = the first `Delivered-To:` address, else the first `To:` address, else `support@example.org`.
/// A quoted local part is kept unquoted here (`john doe@example.com`); `smtp_from` quotes it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub to: String,
}

/// Recipient used when a message names none (no Delivered-To, no To).
pub const DEFAULT_RECIPIENT: &str = "support@example.org";

impl Envelope {
    pub fn derive(msg: &Message<'_>) -> Envelope {
        // One pass over the header, keeping the first field of each name the rule looks at.
        let [
            mut return_path,
            mut sender,
            mut from,
            mut delivered_to,
            mut to,
        ] = [None; 5];
        for h in msg.top_headers() {
            let slot = match h.name {
                HeaderName::ReturnPath => &mut return_path,
                HeaderName::Sender => &mut sender,
                HeaderName::From => &mut from,
                HeaderName::DeliveredTo => &mut delivered_to,
                HeaderName::To => &mut to,
                _ => continue,
            };
            slot.get_or_insert(h);
        }
        let address =
            |h: Option<&mail_parser::Header<'_>>| h.and_then(|h| first_address_of(&h.value));
        let from = return_path
            .and_then(|h| return_path_of(msg.parsed(), h))
            .filter(|rp| !rp.is_empty())
            .or_else(|| address(sender))
            .or_else(|| address(from))
            .unwrap_or_default();
        let to = address(delivered_to)
            .or_else(|| address(to))
            .unwrap_or_else(|| DEFAULT_RECIPIENT.to_string());
        Envelope { from, to }
    }

    /// Whether either address has a local part that is not a dot-atom (it is quoted in SMTP): such a
    /// message runs through the form of the rules that evaluates envelope address parts in triaged.
    pub fn has_quoted_address(&self) -> bool {
        [&self.from, &self.to]
            .iter()
            .any(|a| memchr::memrchr(b'@', a.as_bytes()).is_some_and(|at| !is_dot_atom(&a[..at])))
    }

    /// The sender as an SMTP reverse path (RFC 5321 4.1.2): a local part that is not a dot-atom is
    /// quoted. This is what Pigeonhole's `envelope :all` and `:domain` see and where a vacation reply
    /// goes; the plain `from` is what its `:localpart` sees.
    pub fn smtp_from(&self) -> Cow<'_, str> {
        match self.from.rsplit_once('@') {
            Some((local, domain)) if !is_dot_atom(local) => {
                let mut quoted = String::with_capacity(self.from.len() + 4);
                quoted.push('"');
                for c in local.chars() {
                    if c == '"' || c == '\\' {
                        quoted.push('\\');
                    }
                    quoted.push(c);
                }
                quoted.push_str("\"@");
                quoted.push_str(domain);
                Cow::Owned(quoted)
            }
            _ => Cow::Borrowed(&self.from),
        }
    }
}

/// RFC 5322 3.2.3 atext (and any non-ASCII byte, RFC 6532), by byte value.
const ATEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || c >= 0x80
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// RFC 5322 3.2.3 dot-atom: atext runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    local
        .as_bytes()
        .split(|&b| b == b'.')
        .all(|atom| !atom.is_empty() && atom.iter().all(|&b| ATEXT[usize::from(b)]))
}

#[cfg(test)]
mod tests {
    use super::Envelope;
    use crate::message::Message;

    #[test]
    fn the_first_field_of_each_name_counts() -> anyhow::Result<()> {
        let raw = b"From: First <first@example.com>\nFrom: second@example.com\n\
Delivered-To: <support@example.org>\nDelivered-To: other@example.org\nTo: to@example.org\n\n\n";
        let env = Envelope::derive(&Message::parse(raw, 0)?);
        assert_eq!(env.from, "first@example.com");
        assert_eq!(env.to, "support@example.org");
        let raw =
            b"Return-Path: <>\nSender: s@example.com\nFrom: f@example.com\nTo: t@example.org\n\n\n";
        let env = Envelope::derive(&Message::parse(raw, 0)?);
        assert_eq!(
            (env.from.as_str(), env.to.as_str()),
            ("s@example.com", "t@example.org")
        );
        Ok(())
    }

    fn env(from: &str) -> Envelope {
        Envelope {
            from: from.to_string(),
            to: String::new(),
        }
    }

    #[test]
    fn smtp_from_quotes_a_local_part_that_is_not_a_dot_atom() {
        assert_eq!(
            env("john doe@example.com").smtp_from(),
            "\"john doe\"@example.com"
        );
        assert_eq!(
            env("a\"b@example.com").smtp_from(),
            "\"a\\\"b\"@example.com"
        );
        assert_eq!(
            env(".lead@example.com").smtp_from(),
            "\".lead\"@example.com"
        );
        assert_eq!(
            env("john.doe+x@example.com").smtp_from(),
            "john.doe+x@example.com"
        );
        assert_eq!(env("MAILER-DAEMON").smtp_from(), "MAILER-DAEMON");
        assert_eq!(env("a..b@x").smtp_from(), "\"a..b\"@x");
        assert_eq!(env("trail.@x").smtp_from(), "\"trail.\"@x");
        assert_eq!(env("@x").smtp_from(), "\"\"@x");
        assert_eq!(env("o'neil{1}@x").smtp_from(), "o'neil{1}@x");
        assert_eq!(env("jörg@x").smtp_from(), "jörg@x");
        assert_eq!(env("").smtp_from(), "");
    }
}
