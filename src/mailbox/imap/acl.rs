//! IMAP access control lists (RFC 4314) over triaged's own login: GETACL, SETACL, DELETEACL and MYRIGHTS
//! on the folders of the account's own tree, which a fresh LIST finds (other users' and shared namespaces
//! left out). Folder names are Sieve names (Unicode, `/`), sent in modified UTF-7 with the server's
//! delimiter, as the rest of the IMAP code does.
//!
//! async-imap 0.11 has no ACL commands: each is sent with `Session::run_command` and its replies are read
//! with `read_response` up to the tagged completion, taking the `ACL` and `MYRIGHTS` replies imap-proto
//! parses. (Reading them from the unsolicited channel would not do: it holds 100 replies and drops the
//! rest.) Also a bare login check of the account (`check_login`), for a mailbox reached with a shared
//! password. It decides nothing about who should hold which rights.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use async_imap::Session;
use async_imap::imap_proto::{AclRight, Response, Status};
use futures::TryStreamExt as _;

use super::conn::Conn;
use super::namespace::{self, Namespaces};
use super::{bounded, open, utf7};
use crate::config::{MailboxConfig, MailboxSource};

/// The rights RFC 4314 defines, in the order its examples print them; others (digits, server
/// extensions) follow in character order.
const ORDER: &str = "lrswipkxtean";

/// A set of RFC 4314 rights, such as `lrswi`. Compared as a set: Dovecot reads `lrswipkxtea` back as
/// `akxeilprwtscd`. The obsolete `c` and `d` (RFC 2086's create and delete, which servers add as
/// unions of `k` and `x`/`t`/`e`) are dropped when parsed, so they never make two sets differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rights(BTreeSet<char>);

/// A rights string with something other than lowercase letters and digits in it (RFC 4314 section 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{right:?} in {text:?} is not an RFC 4314 right (lowercase letters and digits, e.g. \"lrswi\")"
)]
pub struct BadRights {
    pub text: String,
    pub right: char,
}

impl Rights {
    /// No rights at all.
    pub fn none() -> Rights {
        Rights::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, right: char) -> bool {
        self.0.contains(&right)
    }

    /// Whether every right here is also in `other`.
    pub fn is_subset(&self, other: &Rights) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The rights here that `other` lacks.
    pub fn minus(&self, other: &Rights) -> Rights {
        Rights(self.0.difference(&other.0).copied().collect())
    }

    /// The rights in either.
    pub fn union(&self, other: &Rights) -> Rights {
        Rights(self.0.union(&other.0).copied().collect())
    }

    fn from_chars(chars: impl IntoIterator<Item = char>) -> Rights {
        Rights(
            chars
                .into_iter()
                .filter(|c| !matches!(c, 'c' | 'd'))
                .collect(),
        )
    }

    fn from_proto(rights: &[AclRight]) -> Rights {
        Rights::from_chars(rights.iter().map(|r| char::from(*r)))
    }
}

impl FromStr for Rights {
    type Err = BadRights;

    fn from_str(text: &str) -> Result<Rights, BadRights> {
        if let Some(right) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        {
            return Err(BadRights {
                text: text.to_owned(),
                right,
            });
        }
        Ok(Rights::from_chars(text.chars()))
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in ORDER.chars().filter(|c| self.0.contains(c)) {
            write!(f, "{c}")?;
        }
        for c in self.0.iter().filter(|c| !ORDER.contains(**c)) {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The server answered an ACL command with NO or BAD: the command reached it and was turned down
/// (no `a` right on the folder, no such folder, no such identifier), as against a connection failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{command} on {folder:?} refused: {reply}")]
pub struct Refused {
    /// `GETACL`, `SETACL`, `DELETEACL` or `MYRIGHTS`.
    pub command: &'static str,
    /// The folder (Sieve name).
    pub folder: String,
    /// The server's text.
    pub reply: String,
}

/// triaged's own IMAP login, for reading and changing rights; nothing is selected.
pub struct AclSession {
    session: Session<Conn>,
    /// The login name: the account whose tree this is, and an identifier never to remove.
    user: String,
    namespaces: Namespaces,
    /// The personal namespace's delimiter; Sieve names use `/`.
    delimiter: char,
    last_read: Arc<AtomicI64>,
    /// No byte for this long while waiting on the server means the connection is dead.
    liveness: Duration,
}

impl fmt::Debug for AclSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AclSession")
            .field("user", &self.user)
            .finish()
    }
}

impl AclSession {
    /// Logs in with the `[mailbox]` account (IMAP only) and learns its namespaces.
    pub async fn connect(cfg: &MailboxConfig) -> Result<AclSession> {
        let MailboxSource::Imap { user, .. } = &cfg.source else {
            bail!("access control lists need an IMAP mailbox, not a Maildir");
        };
        let last_read = Arc::new(AtomicI64::new(0));
        let mut session = open(cfg, &last_read).await?;
        let limit = cfg.liveness_limit;
        let caps = bounded(&last_read, limit, async {
            session.capabilities().await.context("CAPABILITY")
        })
        .await?;
        if !caps.has_str("ACL") {
            bail!("the IMAP server does not offer ACL (RFC 4314)");
        }
        let namespaces = if caps.has_str("NAMESPACE") {
            bounded(&last_read, limit, namespace::fetch(&mut session)).await?
        } else {
            Namespaces::default()
        };
        let delimiter = namespaces
            .personal
            .first()
            .and_then(|(_, d)| *d)
            .unwrap_or('/');
        Ok(AclSession {
            session,
            user: user.clone(),
            namespaces,
            delimiter,
            last_read,
            liveness: limit,
        })
    }

    /// The login name the session acts as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Every selectable folder of the account's own tree, from a fresh LIST (Sieve names, sorted).
    /// Other users' and shared folders the login can see are left out.
    pub async fn tree(&mut self) -> Result<Vec<String>> {
        let session = &mut self.session;
        let names: Vec<_> = bounded(&self.last_read, self.liveness, async {
            let stream = session.list(Some(""), Some("*")).await?;
            stream.try_collect().await.context("LIST")
        })
        .await?;
        let mut tree = BTreeSet::new();
        for name in &names {
            let unselectable = name.attributes().iter().any(|a| {
                use async_imap::types::NameAttribute;
                match a {
                    NameAttribute::NoSelect => true,
                    NameAttribute::Extension(x) => x.eq_ignore_ascii_case("\\NonExistent"),
                    _ => false,
                }
            });
            if !unselectable && !self.namespaces.is_foreign(name.name()) {
                tree.insert(self.sieve_name(name.name()));
            }
        }
        Ok(tree.into_iter().collect())
    }

    /// Who holds which rights on `folder` (GETACL), by identifier. Needs the `a` right.
    pub async fn get_acl(&mut self, folder: &str) -> Result<BTreeMap<String, Rights>> {
        let server = self.server_name(folder);
        let command = format!("GETACL {}", quote(&server)?);
        let replies = self
            .exchange("GETACL", folder, &command, |r| match r {
                Response::Acl(acl) if same_folder(&acl.mailbox, &server) => Some(
                    acl.acls
                        .iter()
                        .map(|e| (e.identifier.to_string(), Rights::from_proto(&e.rights)))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .await?;
        Ok(replies.into_iter().flatten().collect())
    }

    /// Gives `identifier` exactly `rights` on `folder` (SETACL), replacing what it held. Empty rights are
    /// refused: that is [`AclSession::delete_acl`].
    pub async fn set_acl(&mut self, folder: &str, identifier: &str, rights: &Rights) -> Result<()> {
        if rights.is_empty() {
            bail!("SETACL on {folder:?} for {identifier:?} with no rights: use DELETEACL");
        }
        let server = self.server_name(folder);
        let command = format!(
            "SETACL {} {} {}",
            quote(&server)?,
            quote(identifier)?,
            quote(&rights.to_string())?
        );
        self.exchange("SETACL", folder, &command, |_| None::<()>)
            .await
            .with_context(|| format!("give {identifier:?} {rights:?} on {folder:?}"))?;
        Ok(())
    }

    /// Removes `identifier`'s entry from `folder` (DELETEACL). Removing an entry that is not there
    /// succeeds on Dovecot.
    pub async fn delete_acl(&mut self, folder: &str, identifier: &str) -> Result<()> {
        let server = self.server_name(folder);
        let command = format!("DELETEACL {} {}", quote(&server)?, quote(identifier)?);
        self.exchange("DELETEACL", folder, &command, |_| None::<()>)
            .await
            .with_context(|| format!("remove {identifier:?} from {folder:?}"))?;
        Ok(())
    }

    /// The rights the login itself holds on `folder` (MYRIGHTS).
    pub async fn my_rights(&mut self, folder: &str) -> Result<Rights> {
        let server = self.server_name(folder);
        let command = format!("MYRIGHTS {}", quote(&server)?);
        let replies = self
            .exchange("MYRIGHTS", folder, &command, |r| match r {
                Response::MyRights(my) if same_folder(&my.mailbox, &server) => {
                    Some(Rights::from_proto(&my.rights))
                }
                _ => None,
            })
            .await?;
        replies
            .into_iter()
            .next()
            .with_context(|| format!("MYRIGHTS on {folder:?} completed without its reply"))
    }

    /// Logs out politely, bounded by a short timeout.
    pub async fn logout(mut self) {
        let limit = self.liveness.min(Duration::from_secs(5));
        let session = &mut self.session;
        let out = bounded(&self.last_read, limit, async {
            session.logout().await.context("LOGOUT")
        })
        .await;
        if let Err(e) = out {
            tracing::debug!(error = %format!("{e:#}"), "logout");
        }
    }

    /// Sends `command` and reads every reply up to its tagged completion, keeping what `take` picks.
    /// A NO or BAD completion is a [`Refused`] error.
    async fn exchange<T>(
        &mut self,
        name: &'static str,
        folder: &str,
        command: &str,
        take: impl Fn(&Response<'_>) -> Option<T>,
    ) -> Result<Vec<T>> {
        let line = Line {
            name,
            folder,
            command,
        };
        exchange(
            &mut self.session,
            &self.last_read,
            self.liveness,
            line,
            take,
        )
        .await
    }

    /// The server's name for a Sieve folder name: each level in modified UTF-7, joined by the
    /// server's delimiter.
    fn server_name(&self, sieve: &str) -> String {
        sieve
            .split('/')
            .map(utf7::encode)
            .collect::<Vec<_>>()
            .join(&self.delimiter.to_string())
    }

    /// The Sieve name (`/` separator, Unicode) of a name the server listed.
    fn sieve_name(&self, server: &str) -> String {
        server
            .split(self.delimiter)
            .map(utf7::decode)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Logs in with the `[mailbox]` account as configured and out again: whether triaged's own login
/// works, for a mailbox reached with a shared password after it was rotated. The error says where it
/// logged in and what the server answered, never the password.
pub async fn check_login(cfg: &MailboxConfig) -> Result<()> {
    if !matches!(cfg.source, MailboxSource::Imap { .. }) {
        bail!("a login check needs an IMAP mailbox, not a Maildir");
    }
    let last_read = Arc::new(AtomicI64::new(0));
    let mut session = open(cfg, &last_read).await?;
    let limit = cfg.liveness_limit.min(Duration::from_secs(5));
    let out = bounded(&last_read, limit, async {
        session.logout().await.context("LOGOUT")
    })
    .await;
    if let Err(e) = out {
        tracing::debug!(error = %format!("{e:#}"), "logout");
    }
    Ok(())
}

/// One ACL command: its name, the folder (Sieve name, for errors) and the whole command line.
pub(super) struct Line<'a> {
    pub name: &'static str,
    pub folder: &'a str,
    pub command: &'a str,
}

/// Sends `line` on `session` and reads every reply up to its tagged completion, keeping what `take`
/// picks. A NO or BAD completion is a [`Refused`] error.
pub(super) async fn exchange<T>(
    session: &mut Session<Conn>,
    last_read: &Arc<AtomicI64>,
    liveness: Duration,
    line: Line<'_>,
    take: impl Fn(&Response<'_>) -> Option<T>,
) -> Result<Vec<T>> {
    let Line {
        name,
        folder,
        command,
    } = line;
    let done = bounded(last_read, liveness, async {
        let id = session.run_command(command).await.context("send")?;
        let mut picked = Vec::new();
        loop {
            let reply = session
                .read_response()
                .await
                .context("read")?
                .context("the server closed the connection")?;
            match reply.parsed() {
                Response::Done {
                    tag,
                    status,
                    information,
                    ..
                } if *tag == id => {
                    let text = information.as_deref().unwrap_or("").to_owned();
                    return Ok((matches!(status, Status::Ok), text, picked));
                }
                other => picked.extend(take(other)),
            }
        }
    })
    .await
    .with_context(|| format!("{name} on {folder:?}"))?;
    match done {
        (true, _, picked) => Ok(picked),
        (false, reply, _) => Err(Refused {
            command: name,
            folder: folder.to_owned(),
            reply,
        }
        .into()),
    }
}

/// Gives folder `to` the ACL entries of folder `from` (server names), except `owner`'s: how a folder
/// the worker creates gets the rights granted on the tree (Dovecot gives a new top-level folder only
/// the owner's rights unless `acl_defaults_from_inbox = yes`). Returns how many entries were copied.
pub(super) async fn copy_rights(
    session: &mut Session<Conn>,
    last_read: &Arc<AtomicI64>,
    liveness: Duration,
    (from, to): (&str, &str),
    owner: &str,
) -> Result<usize> {
    let command = format!("GETACL {}", quote(from)?);
    let line = Line {
        name: "GETACL",
        folder: from,
        command: &command,
    };
    let entries = exchange(session, last_read, liveness, line, |r| match r {
        Response::Acl(acl) if same_folder(&acl.mailbox, from) => Some(
            acl.acls
                .iter()
                .map(|e| (e.identifier.to_string(), Rights::from_proto(&e.rights)))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    })
    .await?;
    let mut copied = 0;
    for (identifier, rights) in entries.into_iter().flatten() {
        if identifier == owner || rights.is_empty() {
            continue;
        }
        let command = format!(
            "SETACL {} {} {}",
            quote(to)?,
            quote(&identifier)?,
            quote(&rights.to_string())?
        );
        let line = Line {
            name: "SETACL",
            folder: to,
            command: &command,
        };
        exchange(session, last_read, liveness, line, |_| None::<()>).await?;
        copied += 1;
    }
    Ok(copied)
}

/// INBOX is case-insensitive (RFC 3501 section 5.1); every other name is compared as sent.
fn same_folder(replied: &str, sent: &str) -> bool {
    replied == sent || (replied.eq_ignore_ascii_case("INBOX") && sent.eq_ignore_ascii_case("INBOX"))
}

/// An IMAP quoted string. Folder names reach here already in modified UTF-7, so anything outside
/// printable ASCII is refused rather than sent as a literal.
fn quote(text: &str) -> Result<String> {
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        bail!("{text:?} holds {c:?}, which an IMAP quoted string cannot carry");
    }
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(text: &str) -> Rights {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rights_compare_as_sets_without_the_obsolete_c_and_d() {
        // What Dovecot 2.3 reads back after SETACL ... lrswipkxtea.
        assert_eq!(rights("akxeilprwtscd"), rights("lrswipkxtea"));
        assert_eq!(rights("lrswipkxtea").to_string(), "lrswipkxtea");
        assert_eq!(rights("ilrws").to_string(), "lrswi");
        assert_ne!(rights("lrswi"), rights("lrsw"));
        assert_eq!(rights("cd"), Rights::none());
        assert!(rights("lr").is_subset(&rights("lrswi")));
        assert!(!rights("lra").is_subset(&rights("lrswi")));
        assert_eq!(rights("lrswi").minus(&rights("lr")).to_string(), "swi");
        assert_eq!(rights("lr").union(&rights("wi")).to_string(), "lrwi");
        assert_eq!(rights("9lr").to_string(), "lr9");
    }

    #[test]
    fn rights_refuse_what_is_not_a_right() {
        let err = "lrS".parse::<Rights>().err();
        assert_eq!(
            err,
            Some(BadRights {
                text: "lrS".to_owned(),
                right: 'S'
            })
        );
        assert!("lr wi".parse::<Rights>().is_err());
        assert!("".parse::<Rights>().is_ok_and(|r| r.is_empty()));
    }

    #[test]
    fn rights_from_imap_proto_drop_c_and_d() {
        let parsed = Rights::from_proto(&[
            AclRight::Administer,
            AclRight::OldCreate,
            AclRight::Lookup,
            AclRight::OldDelete,
            AclRight::Custom('9'),
        ]);
        assert_eq!(parsed.to_string(), "la9");
    }

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() -> Result<()> {
        assert_eq!(quote(r#"a"b\c"#)?, r#""a\"b\\c""#);
        assert_eq!(quote("Lang/Fran&AOc-ais")?, "\"Lang/Fran&AOc-ais\"");
        assert!(quote("x\r\nA1 DELETE INBOX").is_err());
        assert!(quote("Français").is_err());
        Ok(())
    }

    #[test]
    fn inbox_matches_in_any_case() {
        assert!(same_folder("INBOX", "inbox"));
        assert!(same_folder("Team", "Team"));
        assert!(!same_folder("team", "Team"));
    }
}
