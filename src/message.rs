//! The parsed message the rest of triaged sees: raw bytes validated, then parsed once with mail-parser,
//! plus the few header values the worker records. It must not keep the raw bytes longer than the caller
//! lends them: `Message` borrows them, `MessageInfo` owns only short header values.

pub(crate) mod normalise;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser, MimeHeaders};
use memchr::memmem::Finder;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Why a message could not be made sense of; each becomes an `error:REASON` verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("message is empty")]
    Empty,
    #[error("message has a NUL byte in its header at offset {0}")]
    NulInHeaders(usize),
    #[error("message is {size} bytes, larger than the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("mail-parser could not parse the message")]
    Unparsable,
}

impl MessageError {
    /// The short kebab-case token used in `error:REASON`.
    pub fn reason(&self) -> &'static str {
        match self {
            MessageError::Empty => "empty",
            MessageError::NulInHeaders(_) => "nul-in-headers",
            MessageError::TooLarge { .. } => "too-large",
            MessageError::Unparsable => "unparsable",
        }
    }
}

/// Header values the worker records and acts on, owned so they outlive the raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessageInfo {
    /// Message-ID without angle brackets; identifies the message together with the digest.
    pub message_id: Option<String>,
    /// In-Reply-To ids, for threading replies to the tickets they answer.
    pub in_reply_to: Vec<String>,
    /// References ids, same purpose as `in_reply_to` when a client drops In-Reply-To.
    pub references: Vec<String>,
    /// First From address (lowercase domain untouched), for acknowledgements and loop checks.
    pub from: Option<String>,
    /// The display name beside that address, for greeting the sender in an answer.
    pub from_name: Option<String>,
    /// Decoded Subject, for ticket numbers and logs.
    pub subject: Option<String>,
    /// Date as seconds since the epoch, for the SLA clock when arrival time is unknown.
    pub date: Option<i64>,
    /// Address inside the first Return-Path (empty string for `<>`), the envelope sender.
    pub return_path: Option<String>,
    /// Auto-Submitted value (RFC 3834), to never answer automatic mail.
    pub auto_submitted: Option<String>,
    /// List-Id value, to never answer list traffic.
    pub list_id: Option<String>,
    /// Precedence value (bulk/list/junk), same purpose.
    pub precedence: Option<String>,
    /// The message is a `multipart/report` (a delivery or disposition report): never answered.
    pub report: bool,
    /// Size of the raw message in bytes.
    pub size: u64,
}

/// A validated, parsed message borrowing the caller's raw bytes.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    parsed: mail_parser::Message<'a>,
    /// The bytes as stored (mail-parser may have read a copy with obsolete date zones rewritten).
    raw: &'a [u8],
    /// Read from the parsed header on first use: classification does not need it. Boxed because the
    /// message is moved on its way into the Sieve engine, and it is read only when needed.
    info: std::cell::OnceCell<Box<MessageInfo>>,
}

impl<'a> Message<'a> {
    /// Validates `raw` and parses it. `max_size` of 0 means no limit.
    pub fn parse(raw: &'a [u8], max_size: u64) -> Result<Self, MessageError> {
        let header_end = validate(raw, max_size)?;
        let mut parsed = if header_end < raw.len() {
            MessageParser::new()
                .parse(raw)
                .ok_or(MessageError::Unparsable)?
        } else {
            // A header-only message (no empty line): mail-parser loses a last field without a line
            // end, and gives up on text with neither a header field nor an empty line, which Dovecot
            // reads as an empty header (such lines are skipped) and an empty body. Parsed from a
            // copy ending in an empty line, it reads as Dovecot reads it.
            let mut padded = raw.to_vec();
            if !padded.ends_with(b"\n") {
                padded.extend_from_slice(b"\r\n");
            }
            padded.extend_from_slice(b"\r\n");
            MessageParser::new()
                .parse(&padded)
                .ok_or(MessageError::Unparsable)?
                .into_owned()
        };
        let fixes = normalise::zone_fixes(&parsed);
        if !fixes.is_empty() {
            // Rare: parsed again from a copy with the zones rewritten (same length, same offsets).
            // From the bytes parsed (a header-only message's padded copy), not `raw`.
            let fixed = normalise::apply_fixes(&parsed.raw_message, &fixes);
            parsed = MessageParser::new()
                .parse(&fixed)
                .ok_or(MessageError::Unparsable)?
                .into_owned();
        }
        normalise::lenient_encoded_words(&mut parsed, &raw[..header_end]);
        normalise::unquote_local_parts(&mut parsed);
        Ok(Message {
            parsed,
            raw,
            info: std::cell::OnceCell::new(),
        })
    }

    /// The header values the worker keeps.
    pub fn info(&self) -> &MessageInfo {
        self.info
            .get_or_init(|| Box::new(info_of(&self.parsed, self.raw.len() as u64)))
    }

    /// The header values, owned, for a caller that hands the message itself on (to the Sieve engine).
    pub fn to_info(&self) -> MessageInfo {
        self.info.get().map_or_else(
            || info_of(&self.parsed, self.raw.len() as u64),
            |info| (**info).clone(),
        )
    }

    /// Drops the parsed message (and the borrow of the raw bytes), keeping the header values.
    pub fn into_info(self) -> MessageInfo {
        let Message { parsed, raw, info } = self;
        info.into_inner()
            .map_or_else(|| info_of(&parsed, raw.len() as u64), |info| *info)
    }

    /// sha256 of the raw bytes, hex; computed on demand because classification does not need it.
    pub fn digest(&self) -> String {
        sha256_hex(self.raw)
    }

    /// The fields of the message's own header (not of its MIME parts), in order.
    pub(crate) fn top_headers(&self) -> &[mail_parser::Header<'a>] {
        self.parsed
            .parts
            .first()
            .map_or(&[], |p| p.headers.as_slice())
    }

    pub(crate) fn parsed(&self) -> &mail_parser::Message<'a> {
        &self.parsed
    }

    /// The parsed message itself, for the Sieve engine that takes it by value.
    pub(crate) fn into_parsed(self) -> mail_parser::Message<'a> {
        self.parsed
    }
}

/// sha256 of `bytes`, lowercase hex: the message digest, and the rules fingerprint.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Checks the raw bytes before mail-parser sees them. Returns where the header ends: the offset of the
/// blank line that separates it from the body, or the end of the message when there is none. Every
/// message goes through this: it searches for the blank line in one sweep rather than line by line.
///
/// Only what cannot be read at all is refused: an empty file, a message past the size limit, a NUL in
/// the header. Everything else is sorted by the rules, as Pigeonhole sorts it (checked by the
/// differential test): a header-only message (RFC 5322 §3.5 makes the body optional) has an empty
/// body, and a line in the header that is not a field (no colon) is skipped, by mail-parser as by
/// Dovecot's header parser, so the header still ends only at the blank line.
pub fn validate(raw: &[u8], max_size: u64) -> Result<usize, MessageError> {
    if max_size > 0 && raw.len() as u64 > max_size {
        return Err(MessageError::TooLarge {
            size: raw.len() as u64,
            limit: max_size,
        });
    }
    if raw.is_empty() {
        return Err(MessageError::Empty);
    }
    let header_end = header_end(raw).unwrap_or(raw.len());
    let header = &raw[..header_end];
    if let Some(pos) = memchr::memchr(0, header) {
        return Err(MessageError::NulInHeaders(pos));
    }
    Ok(header_end)
}

/// Offset of the blank line ending the header (the header block may be empty).
fn header_end(raw: &[u8]) -> Option<usize> {
    static LF_LF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
    static LF_CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\r\n"));
    if matches!(raw, [b'\n', ..] | [b'\r', b'\n', ..]) {
        return Some(0);
    }
    // Search first for the blank line in the style of the first line end, then for the other style
    // only before it: the body (which may be long) is not read when the header ends as it began.
    let first_lf = memchr::memchr(b'\n', raw)?;
    let (likely, other) = if first_lf > 0 && raw[first_lf - 1] == b'\r' {
        (&*LF_CRLF, &*LF_LF)
    } else {
        (&*LF_LF, &*LF_CRLF)
    };
    let hit = likely.find(raw);
    let before = other.find(&raw[..hit.map_or(raw.len(), |i| (i + 3).min(raw.len()))]);
    [hit, before].into_iter().flatten().min().map(|i| i + 1)
}

fn info_of(parsed: &mail_parser::Message<'_>, size: u64) -> MessageInfo {
    let text = |name: HeaderName<'_>| parsed.header_raw(name).map(|s| s.trim().to_string());
    let ids = |v: Option<&HeaderValue<'_>>| match v {
        Some(HeaderValue::Text(t)) => vec![t.to_string()],
        Some(HeaderValue::TextList(l)) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    MessageInfo {
        message_id: parsed.message_id().map(str::to_string),
        in_reply_to: ids(parsed.header(HeaderName::InReplyTo)),
        references: ids(parsed.header(HeaderName::References)),
        from: parsed.header(HeaderName::From).and_then(first_address_of),
        from_name: parsed.header(HeaderName::From).and_then(first_name_of),
        subject: parsed.subject().map(str::to_string),
        date: parsed.date().map(|d| d.to_timestamp()),
        return_path: return_path(parsed),
        auto_submitted: text(HeaderName::AutoSubmitted),
        list_id: text(HeaderName::ListId),
        precedence: text(HeaderName::Other("Precedence".into())),
        report: parsed.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
        size,
    }
}

/// The address inside the first Return-Path: `Some("")` for `<>`.
pub(crate) fn return_path(parsed: &mail_parser::Message<'_>) -> Option<String> {
    let header = parsed
        .parts
        .first()?
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ReturnPath)?;
    return_path_of(parsed, header)
}

/// The address inside a Return-Path field of `parsed`, read from the raw bytes (mail-parser drops `<>`).
pub(crate) fn return_path_of(
    parsed: &mail_parser::Message<'_>,
    header: &mail_parser::Header<'_>,
) -> Option<String> {
    let value = parsed
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    let inner = &value[inside_angles(value)];
    // A source route (`<@a,@b:user@host>`) is obsolete syntax; the mailbox follows the colon.
    let inner = memchr::memrchr(b':', inner).map_or(inner, |i| &inner[i + 1..]);
    let inner = String::from_utf8_lossy(inner.trim_ascii());
    Some(normalise::unquote_local(&inner).unwrap_or_else(|| inner.into_owned()))
}

/// What lies between the first `<` and the last `>` of `value`, or all of it without both.
fn inside_angles(value: &[u8]) -> std::ops::Range<usize> {
    match (memchr::memchr(b'<', value), memchr::memrchr(b'>', value)) {
        (Some(a), Some(b)) if a < b => a + 1..b,
        _ => 0..value.len(),
    }
}

/// The display name of the first address in an address field that has an address.
fn first_name_of(value: &HeaderValue<'_>) -> Option<String> {
    let first = match value {
        HeaderValue::Address(Address::List(list)) => list.iter().find(|a| a.address.is_some()),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .find(|a| a.address.is_some()),
        _ => None,
    };
    first
        .and_then(|a| a.name.as_deref())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

pub(crate) fn first_address_of(value: &HeaderValue<'_>) -> Option<String> {
    let addr = match value {
        HeaderValue::Address(Address::List(list)) => list.iter().find_map(|a| a.address.as_deref()),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .find_map(|a| a.address.as_deref()),
        // Headers mail-parser does not know as address fields (Delivered-To) come back as text.
        HeaderValue::Text(text) => {
            let text = text.trim();
            // `<` and `>` are ASCII, so the range is on character boundaries.
            let inner = &text[inside_angles(text.as_bytes())];
            return (!inner.is_empty()).then(|| inner.trim().to_string());
        }
        _ => None,
    };
    addr.map(str::to_string)
}

#[cfg(test)]
#[path = "message/message_tests.rs"]
mod tests;
