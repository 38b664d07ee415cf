//! What the response-time records ask of the team's sent folders: the header blocks of the messages
//! added since the last look, read on a connection of their own. Over IMAP only the header is fetched
//! (`BODY.PEEK[HEADER]`, which leaves `\Seen` alone); a Maildir file is read and cut at its header's
//! end. Decides nothing about which messages are replies; `records::sla` does.

use anyhow::Result;

use super::{Source, blocking};

/// One message's header block and its place in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentHeader {
    /// Its IMAP UID, or a Maildir file's modification time in ms: what the next look starts after.
    pub position: i64,
    /// The header block, up to and including the empty line that ends it.
    pub header: Vec<u8>,
}

/// Where a header block ends: after its empty line, or the whole message when it has none.
pub fn header_end(raw: &[u8]) -> usize {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(raw, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => raw.len(),
    }
}

impl Source {
    /// The header blocks of the selected folder's messages past `after`, by position, at most `limit`:
    /// UIDs above `after` over IMAP, files modified at or after `after` in a Maildir (the caller
    /// recognises one it already saw by its Message-ID).
    pub async fn headers_after(&mut self, after: i64, limit: usize) -> Result<Vec<SentHeader>> {
        match self {
            Source::Imap(s) => s.headers_after(after, limit).await,
            Source::Maildir(m) => {
                blocking(m, move |m| {
                    let mut aged: Vec<_> = m
                        .aged(i64::MAX)?
                        .into_iter()
                        .filter(|a| a.internal_ms >= after)
                        .collect();
                    aged.sort_by_key(|a| a.internal_ms);
                    aged.truncate(limit);
                    let names: Vec<String> = aged.iter().map(|a| a.key.name.clone()).collect();
                    let fetched = m.fetch(&names)?;
                    Ok(fetched
                        .into_iter()
                        .filter_map(|f| {
                            let at = aged.iter().find(|a| a.key.name == f.name)?;
                            let end = header_end(&f.raw);
                            Some(SentHeader {
                                position: at.internal_ms,
                                header: f.raw[..end].to_vec(),
                            })
                        })
                        .collect())
                })
                .await
            }
        }
    }
}
