//! The URL-shaped config values: the mailbox source, the store, the outbox transport.
//!
//! Owns the rules for local paths in URLs (relative to the config file's directory, or absolute with
//! `scheme:///path`) and for plaintext, which is allowed only to a loopback host and only when asked.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::value::Table;

/// How the IMAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// `imaps://`: TLS from the first byte.
    Tls,
    /// `imap://`: STARTTLS, required.
    StartTls,
    /// `imap://` with `allow_plaintext = true`, loopback hosts only.
    Plaintext,
}

/// Where the watched mail lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxSource {
    Imap {
        security: ImapSecurity,
        host: String,
        port: u16,
        /// Login name, percent-decoded from the URL's user part.
        user: String,
        /// The watched folder (the URL path; `INBOX` when empty).
        folder: String,
    },
    /// A local Maildir++ directory; its top level is `INBOX`.
    Maildir { path: PathBuf },
}

impl MailboxSource {
    /// The account and folder, as the store knows the mailbox (`imap://user@host:port/folder`,
    /// `maildir:/abs/path`): what verdicts and leases are keyed by, whatever the mailbox's name.
    pub fn identity(&self) -> String {
        match self {
            MailboxSource::Imap {
                host,
                port,
                user,
                folder,
                ..
            } => format!("imap://{user}@{host}:{port}/{folder}"),
            MailboxSource::Maildir { path } => format!("maildir:{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://` with `allow_plaintext = true`, loopback hosts only.
    Plaintext,
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Smtp {
        security: SmtpSecurity,
        host: String,
        port: u16,
    },
    /// Each mail written as `DIR/<outbox id>.eml`, the embedded default.
    File { dir: PathBuf },
}

/// Resolves `scheme:rel/path` against `base` and `scheme:///abs/path` as absolute.
fn local_path(base: &Path, rest: &str) -> PathBuf {
    match rest.strip_prefix("//") {
        Some(abs) => super::value::resolve(Path::new("/"), abs),
        None => super::value::resolve(base, rest),
    }
}

pub(super) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks the plaintext rule and reports it under `allow_plaintext`.
fn plaintext_ok(t: &mut Table<'_>, host: &str) -> bool {
    if is_loopback(host) {
        return true;
    }
    t.error(
        "allow_plaintext",
        format!("plaintext is allowed only to a loopback host, not {host:?}"),
    );
    false
}

pub(super) fn mailbox_source(
    t: &mut Table<'_>,
    text: &str,
    allow_plaintext: bool,
) -> Option<MailboxSource> {
    if let Some(rest) = text.strip_prefix("maildir:") {
        if allow_plaintext {
            t.error("allow_plaintext", "applies only to imap:// URLs");
        }
        return Some(MailboxSource::Maildir {
            path: local_path(t_base(t), rest),
        });
    }
    let url = match ::url::Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            t.error("url", format!("{text:?} is not a URL: {e}"));
            return None;
        }
    };
    let (security, default_port) = match (url.scheme(), allow_plaintext) {
        ("imaps", false) => (ImapSecurity::Tls, 993),
        ("imaps", true) => {
            t.error(
                "allow_plaintext",
                "imaps:// is always TLS; remove allow_plaintext",
            );
            (ImapSecurity::Tls, 993)
        }
        ("imap", false) => (ImapSecurity::StartTls, 143),
        ("imap", true) => (ImapSecurity::Plaintext, 143),
        (other, _) => {
            t.error(
                "url",
                format!("scheme {other:?} is not imaps, imap or maildir"),
            );
            return None;
        }
    };
    let Some(host) = url.host_str().map(str::to_owned) else {
        t.error("url", "needs a host");
        return None;
    };
    if security == ImapSecurity::Plaintext && !plaintext_ok(t, &host) {
        return None;
    }
    let user = percent_decode(url.username());
    if user.is_empty() {
        t.error(
            "url",
            "needs a user (imaps://user@host/INBOX; write @ in the user as %40)",
        );
        return None;
    }
    let folder = percent_decode(url.path().trim_start_matches('/'));
    Some(MailboxSource::Imap {
        security,
        host,
        port: url.port().unwrap_or(default_port),
        user,
        folder: if folder.is_empty() {
            "INBOX".to_owned()
        } else {
            folder
        },
    })
}

pub(super) fn store_url(t: &mut Table<'_>, text: &str) -> Option<String> {
    if let Some(rest) = text.strip_prefix("sqlite:") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() || path == ":memory:" {
            t.error(
                "url",
                "an in-memory SQLite store would lose everything; give a file",
            );
            return None;
        }
        let path = local_path(t_base(t), path);
        let query = if query.is_empty() { "mode=rwc" } else { query };
        return Some(format!("sqlite://{}?{query}", path.display()));
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return Some(text.to_owned());
    }
    t.error(
        "url",
        format!("{text:?} is neither sqlite:PATH nor postgres://..."),
    );
    None
}

pub(super) fn transport(t: &mut Table<'_>, text: &str, allow_plaintext: bool) -> Option<Transport> {
    if let Some(rest) = text.strip_prefix("file:") {
        return Some(Transport::File {
            dir: local_path(t_base(t), rest),
        });
    }
    let url = match ::url::Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            t.error("transport", format!("{text:?} is not a URL: {e}"));
            return None;
        }
    };
    let (security, default_port) = match (url.scheme(), allow_plaintext) {
        ("smtps", _) => (SmtpSecurity::Tls, 465),
        ("smtp", false) => (SmtpSecurity::StartTls, 587),
        ("smtp", true) => (SmtpSecurity::Plaintext, 25),
        (other, _) => {
            t.error(
                "transport",
                format!("scheme {other:?} is not smtp, smtps or file"),
            );
            return None;
        }
    };
    let Some(host) = url.host_str().map(str::to_owned) else {
        t.error("transport", "needs a host");
        return None;
    };
    if security == SmtpSecurity::Plaintext && !plaintext_ok(t, &host) {
        return None;
    }
    Some(Transport::Smtp {
        security,
        host,
        port: url.port().unwrap_or(default_port),
    })
}

fn t_base<'a>(t: &'a Table<'_>) -> &'a Path {
    t.base()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
