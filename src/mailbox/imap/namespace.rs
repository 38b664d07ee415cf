//! The server's namespaces (RFC 2342 NAMESPACE): which folder names belong to the logged-in account and
//! which are other users' or shared folders seen through it (Dovecot's `shared/USER/...`). Rights are
//! applied to the account's own tree only, so those other namespaces must be told apart.
//!
//! imap-proto 0.16 has no parser for the NAMESPACE reply, and async-imap cannot skip a reply it fails to
//! parse (the bytes stay in its buffer), so the command is exchanged on the bare stream, right after a
//! completed command, when nothing else is in flight. This module must not send anything else.

use anyhow::{Context as _, Result, bail};
use async_imap::Session;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::conn::Conn;

/// A tag async-imap never uses (its own are `A0001`...).
const TAG: &str = "triaged-ns";

/// The namespaces the server reported, each as (prefix, hierarchy delimiter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub personal: Vec<(String, Option<char>)>,
    pub other_users: Vec<(String, Option<char>)>,
    pub shared: Vec<(String, Option<char>)>,
}

impl Namespaces {
    /// Whether a folder name (as the server spells it) lies in another user's or a shared namespace.
    pub fn is_foreign(&self, server_name: &str) -> bool {
        self.other_users
            .iter()
            .chain(&self.shared)
            .filter(|(prefix, _)| !prefix.is_empty())
            .any(|(prefix, delimiter)| {
                // The namespace root itself (`shared` for `shared/`) belongs to it as well.
                let root = delimiter.map_or(prefix.as_str(), |d| prefix.trim_end_matches(d));
                server_name.starts_with(prefix.as_str()) || server_name == root
            })
    }
}

/// Sends NAMESPACE on the bare stream and reads until its tagged completion. Must be called with no
/// command in flight and nothing left unread.
pub async fn fetch(session: &mut Session<Conn>) -> Result<Namespaces> {
    let stream = session.get_mut();
    stream
        .write_all(format!("{TAG} NAMESPACE\r\n").as_bytes())
        .await
        .context("send NAMESPACE")?;
    stream.flush().await.context("send NAMESPACE")?;
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    let completion = loop {
        if let Some(done) = tagged_line(&text) {
            break done;
        }
        let n = stream.read(&mut chunk).await.context("read NAMESPACE")?;
        if n == 0 {
            bail!("the server closed the connection during NAMESPACE");
        }
        text.extend_from_slice(&chunk[..n]);
        if text.len() > 64 * 1024 {
            bail!("NAMESPACE reply longer than 64 KB");
        }
    };
    let text = String::from_utf8_lossy(&text);
    if !completion.starts_with("OK") {
        bail!("NAMESPACE refused: {completion}");
    }
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("* NAMESPACE "))
        .context("NAMESPACE completed without its reply")?;
    parse(line).with_context(|| format!("parse NAMESPACE reply {line:?}"))
}

/// The text after the tag once the tagged completion line has arrived in full.
fn tagged_line(text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let start = if text.starts_with(TAG) {
        0
    } else {
        text.find(&format!("\n{TAG} "))? + 1
    };
    let line = &text[start..];
    let end = line.find("\r\n")?;
    Some(line[TAG.len()..end].trim().to_owned())
}

/// Parses `(("" "/")) (("shared/" "/")) NIL`: three groups, each NIL or a list of (prefix delimiter
/// extensions...) entries.
pub fn parse(line: &str) -> Result<Namespaces> {
    let mut tokens = tokenize(line)?.into_iter().peekable();
    let mut groups = Vec::new();
    for _ in 0..3 {
        groups.push(group(&mut tokens)?);
    }
    let mut groups = groups.into_iter();
    Ok(Namespaces {
        personal: groups.next().unwrap_or_default(),
        other_users: groups.next().unwrap_or_default(),
        shared: groups.next().unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Nil,
    Str(String),
}

fn tokenize(line: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.push(chars.next().context("unterminated string")?),
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => bail!("unterminated string"),
                    }
                }
                out.push(Token::Str(s));
            }
            '{' => bail!("literals are not supported in a NAMESPACE reply"),
            _ => {
                let mut atom = c.to_string();
                while let Some(&n) = chars.peek() {
                    if matches!(n, ' ' | '(' | ')') {
                        break;
                    }
                    atom.push(n);
                    chars.next();
                }
                if !atom.eq_ignore_ascii_case("NIL") {
                    bail!("unexpected {atom:?}");
                }
                out.push(Token::Nil);
            }
        }
    }
    Ok(out)
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

/// One group: NIL, or `(` entries `)` where an entry is `(` prefix delimiter extension* `)`.
fn group(tokens: &mut Tokens) -> Result<Vec<(String, Option<char>)>> {
    match tokens.next() {
        Some(Token::Nil) => return Ok(Vec::new()),
        Some(Token::Open) => {}
        other => bail!("expected NIL or a list, found {other:?}"),
    }
    let mut entries = Vec::new();
    loop {
        match tokens.next() {
            Some(Token::Close) => return Ok(entries),
            Some(Token::Open) => {}
            other => bail!("expected a namespace entry, found {other:?}"),
        }
        let Some(Token::Str(prefix)) = tokens.next() else {
            bail!("a namespace entry without its prefix");
        };
        let delimiter = match tokens.next() {
            Some(Token::Str(d)) => d.chars().next(),
            Some(Token::Nil) => None,
            other => bail!("expected a delimiter, found {other:?}"),
        };
        skip_to_close(tokens)?;
        entries.push((prefix, delimiter));
    }
}

/// Skips namespace response extensions up to the entry's closing parenthesis.
fn skip_to_close(tokens: &mut Tokens) -> Result<()> {
    let mut depth = 0usize;
    loop {
        match tokens.next() {
            Some(Token::Open) => depth += 1,
            Some(Token::Close) if depth == 0 => return Ok(()),
            Some(Token::Close) => depth -= 1,
            Some(_) => {}
            None => bail!("unterminated namespace entry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecots_reply_and_tells_shared_folders_apart() -> Result<()> {
        let ns = parse(r#"(("" "/")) (("shared/" "/")) NIL"#)?;
        assert_eq!(ns.personal, vec![(String::new(), Some('/'))]);
        assert_eq!(ns.other_users, vec![("shared/".to_owned(), Some('/'))]);
        assert!(ns.shared.is_empty());
        assert!(ns.is_foreign("shared/alice/Bucket"));
        assert!(ns.is_foreign("shared"));
        assert!(!ns.is_foreign("sharedfolder"));
        assert!(!ns.is_foreign("INBOX"));
        assert!(!ns.is_foreign("Lang/Fran&AOc-ais"));
        Ok(())
    }

    #[test]
    fn parses_extensions_escapes_and_nil_delimiters() -> Result<()> {
        let ns = parse(
            r##"(("INBOX." "." "X-PARAM" ("FLAG1" "FLAG2"))) NIL (("#pub\"lic/" NIL)("" "/"))"##,
        )?;
        assert_eq!(ns.personal, vec![("INBOX.".to_owned(), Some('.'))]);
        assert!(ns.other_users.is_empty());
        assert_eq!(
            ns.shared,
            vec![("#pub\"lic/".to_owned(), None), (String::new(), Some('/'))]
        );
        // An empty prefix never makes every name foreign.
        assert!(!ns.is_foreign("INBOX.Sent"));
        assert!(ns.is_foreign("#pub\"lic/x"));
        Ok(())
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse(r#"(("" "/")) NIL"#).is_err());
        assert!(parse(r#"(("" "/")) NIL {3}"#).is_err());
        assert!(parse(r#"(("" "/" NIL"#).is_err());
        assert!(parse(r#"(("" "/")) NIL GARBAGE"#).is_err());
    }

    #[test]
    fn finds_the_tagged_completion_only_when_whole() {
        assert_eq!(
            tagged_line(b"* NAMESPACE NIL NIL NIL\r\ntriaged-ns OK"),
            None
        );
        assert_eq!(
            tagged_line(b"* NAMESPACE NIL NIL NIL\r\ntriaged-ns OK done\r\n").as_deref(),
            Some("OK done")
        );
        assert_eq!(
            tagged_line(b"triaged-ns BAD unknown\r\n").as_deref(),
            Some("BAD unknown")
        );
    }
}
