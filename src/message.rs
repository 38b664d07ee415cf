//! The parsed message the rest of triaged sees: raw bytes validated, then parsed once with mail-parser,
//! plus the few header values the worker records. It must not keep the raw bytes longer than the caller
//! lends them: `Message` borrows them, `MessageInfo` owns only short header values.

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Why a message could not be made sense of; each becomes an `error:REASON` verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("message has no blank line between header and body")]
    NoHeaderSeparator,
    #[error("message has no header fields")]
    NoHeaders,
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
            MessageError::NoHeaderSeparator => "no-header-separator",
            MessageError::NoHeaders => "no-headers",
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
    /// Size of the raw message in bytes.
    pub size: u64,
}

/// A validated, parsed message borrowing the caller's raw bytes.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    parsed: mail_parser::Message<'a>,
    /// Read from the parsed header on first use: classification does not need it.
    info: std::cell::OnceCell<MessageInfo>,
    size: u64,
}

impl<'a> Message<'a> {
    /// Validates `raw` and parses it. `max_size` of 0 means no limit.
    pub fn parse(raw: &'a [u8], max_size: u64) -> Result<Self, MessageError> {
        validate(raw, max_size)?;
        let normalised = crate::classify::normalise::obsolete_zones(raw);
        let parsed = match normalised {
            Cow::Borrowed(raw) => MessageParser::new()
                .parse(raw)
                .ok_or(MessageError::Unparsable)?,
            Cow::Owned(copy) => MessageParser::new()
                .parse(&copy)
                .ok_or(MessageError::Unparsable)?
                .into_owned(),
        };
        let mut parsed = parsed;
        crate::classify::normalise::lenient_encoded_words(&mut parsed);
        crate::classify::normalise::unquote_local_parts(&mut parsed);
        Ok(Message {
            parsed,
            info: std::cell::OnceCell::new(),
            size: raw.len() as u64,
        })
    }

    /// The header values the worker keeps.
    pub fn info(&self) -> &MessageInfo {
        self.info.get_or_init(|| info_of(&self.parsed, self.size))
    }

    /// Drops the parsed message (and the borrow of the raw bytes), keeping the header values.
    pub fn into_info(self) -> MessageInfo {
        let Message { parsed, info, size } = self;
        info.into_inner().unwrap_or_else(|| info_of(&parsed, size))
    }

    /// sha256 of the raw bytes, hex; computed on demand because classification does not need it.
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.parsed.raw_message.as_ref());
        hash.iter().fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The first address of the first header named `name` (e.g. "Delivered-To", "To").
    pub fn first_address(&self, name: &str) -> Option<String> {
        let header = self.parsed.header(name)?;
        first_address_of(header)
    }

    pub(crate) fn parsed(&self) -> &mail_parser::Message<'a> {
        &self.parsed
    }

    /// The parsed message itself, for the Sieve engine that takes it by value.
    pub(crate) fn into_parsed(self) -> mail_parser::Message<'a> {
        self.parsed
    }
}

/// Checks the raw bytes before mail-parser sees them: mail-parser makes a best effort of anything, and
/// triaged must not sort a message it has only guessed at.
pub fn validate(raw: &[u8], max_size: u64) -> Result<(), MessageError> {
    if max_size > 0 && raw.len() as u64 > max_size {
        return Err(MessageError::TooLarge {
            size: raw.len() as u64,
            limit: max_size,
        });
    }
    let header_end = header_end(raw).ok_or(MessageError::NoHeaderSeparator)?;
    let header = &raw[..header_end];
    if let Some(pos) = find_byte(0, header) {
        return Err(MessageError::NulInHeaders(pos));
    }
    if !header.split(|&b| b == b'\n').any(is_field_line) {
        return Err(MessageError::NoHeaders);
    }
    Ok(())
}

/// Offset of the blank line ending the header (the header block may be empty).
fn header_end(raw: &[u8]) -> Option<usize> {
    let blank = |at: usize| matches!(raw.get(at..), Some([b'\n', ..] | [b'\r', b'\n', ..]));
    if blank(0) {
        return Some(0);
    }
    let mut pos = 0;
    while let Some(i) = find_byte(b'\n', &raw[pos..]) {
        pos += i + 1;
        if blank(pos) {
            return Some(pos);
        }
    }
    None
}

/// Position of the first `needle` in `hay`, eight bytes at a time (every message's header is scanned
/// for line ends before parsing, so this is on the per-message path).
pub(crate) fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut start = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ pattern;
        if word.wrapping_sub(LO) & !word & HI != 0 {
            break;
        }
        start += 8;
    }
    hay[start..]
        .iter()
        .position(|&b| b == needle)
        .map(|i| start + i)
}

/// `name:` with a printable field name (RFC 5322 2.2).
fn is_field_line(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
    }
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
        subject: parsed.subject().map(str::to_string),
        date: parsed.date().map(|d| d.to_timestamp()),
        return_path: return_path(parsed),
        auto_submitted: text(HeaderName::AutoSubmitted),
        list_id: text(HeaderName::ListId),
        precedence: text(HeaderName::Other("Precedence".into())),
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
    let raw = parsed
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    let raw = String::from_utf8_lossy(raw);
    let value = raw.trim();
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value,
    };
    // A source route (`<@a,@b:user@host>`) is obsolete syntax; the mailbox follows the colon.
    let inner = inner.rsplit(':').next().unwrap_or(inner).trim();
    Some(crate::classify::normalise::unquote_local(inner).unwrap_or_else(|| inner.to_string()))
}

fn first_address_of(value: &HeaderValue<'_>) -> Option<String> {
    let addr = match value {
        HeaderValue::Address(Address::List(list)) => list.iter().find_map(|a| a.address.as_deref()),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .find_map(|a| a.address.as_deref()),
        // Headers mail-parser does not know as address fields (Delivered-To) come back as text.
        HeaderValue::Text(text) => {
            let text = text.trim();
            let inner = match (text.find('<'), text.rfind('>')) {
                (Some(a), Some(b)) if a < b => &text[a + 1..b],
                _ => text,
            };
            return (!inner.is_empty()).then(|| inner.trim().to_string());
        }
        _ => None,
    };
    addr.map(str::to_string)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
