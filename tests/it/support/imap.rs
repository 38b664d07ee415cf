//! IMAP for tests: connections to the test Dovecot (implicit TLS verified against the test CA only, or
//! plaintext), login, APPEND, and reading folders back. Read-only helpers use EXAMINE and BODY.PEEK so they
//! never change flags a test is about to assert on.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use futures::TryStreamExt as _;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{TestUser, mailserver};

/// A logged-in IMAP session on either port.
pub type ImapSession = async_imap::Session<ImapStream>;

/// The transport under an [`ImapSession`]: one type for both ports so helpers take either.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A trust store holding the test CA and nothing else.
pub async fn test_ca_roots() -> Result<RootCertStore> {
    let ca = &mailserver().await?.ca;
    let mut roots = RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(ca).with_context(|| format!("read {}", ca.display()))?
    {
        roots
            .add(cert.with_context(|| format!("parse {}", ca.display()))?)
            .with_context(|| format!("trust {}", ca.display()))?;
    }
    Ok(roots)
}

/// Opens the implicit-TLS port as `localhost`, trusting only `roots`; the handshake error is returned as is
/// (an `io::Error` wrapping a `rustls::Error`) so a test can check why a server was refused.
pub async fn imap_connect_tls(roots: RootCertStore) -> Result<ImapStream> {
    let port = mailserver().await?.imaps_port;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("tls protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connect to imaps 127.0.0.1:{port}"))?;
    let name = ServerName::try_from("localhost").context("server name")?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    Ok(ImapStream::Tls(Box::new(tls)))
}

/// Logs `user` in over implicit TLS (certificate checked against the test CA) or plaintext IMAP.
pub async fn imap_login(user: &TestUser, tls: bool) -> Result<ImapSession> {
    let stream = if tls {
        imap_connect_tls(test_ca_roots().await?).await?
    } else {
        let port = mailserver().await?.imap_port;
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .with_context(|| format!("connect to imap 127.0.0.1:{port}"))?;
        ImapStream::Plain(tcp)
    };
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await
        .context("read imap greeting")?
        .context("imap server closed before its greeting")?;
    client
        .login(&user.name, &user.password)
        .await
        .map_err(|(e, _)| anyhow!(e))
        .with_context(|| format!("imap login as {}", user.name))
}

/// Stores `raw` in `folder` of `user`'s mailbox (creating the folder), with IMAP `flags` such as `\Seen`.
pub async fn append(user: &TestUser, folder: &str, raw: &[u8], flags: &[&str]) -> Result<()> {
    let mut session = imap_login(user, false).await?;
    if !list_folders(&mut session)
        .await?
        .iter()
        .any(|f| f == folder)
    {
        session
            .create(folder)
            .await
            .with_context(|| format!("create folder {folder:?}"))?;
    }
    let flags = (!flags.is_empty()).then(|| format!("({})", flags.join(" ")));
    session
        .append(folder, flags.as_deref(), None, raw)
        .await
        .with_context(|| format!("append to {folder:?} of {}", user.name))?;
    session.logout().await.context("imap logout")?;
    Ok(())
}

/// Stores `messages` in `folder` (which must exist) of `user`'s mailbox on the server listening on
/// `port` (plaintext, loopback), in order, with few commands: MULTIAPPEND (RFC 3502) with
/// non-synchronising literals (RFC 7888), up to 500 messages per command. A backlog of thousands is
/// stored in about a second, where one APPEND each costs a round trip and a commit per message. Raw
/// bytes are sent as they are (async-imap takes commands as text only).
pub async fn append_many(
    port: u16,
    user: &TestUser,
    folder: &str,
    messages: &[&[u8]],
) -> Result<()> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connect to imap 127.0.0.1:{port}"))?;
    let mut conn = BufReader::new(tcp);
    // Reads up to the tagged reply of `tag`; fails unless it is OK.
    async fn done(conn: &mut BufReader<TcpStream>, tag: &str) -> Result<()> {
        let mut line = String::new();
        loop {
            line.clear();
            if conn.read_line(&mut line).await? == 0 {
                bail!("the server closed the connection before {tag} completed");
            }
            if let Some(rest) = line.strip_prefix(tag) {
                if rest.starts_with(" OK") {
                    return Ok(());
                }
                bail!("{tag}: {}", line.trim_end());
            }
        }
    }
    let mut greeting = String::new();
    conn.read_line(&mut greeting)
        .await
        .context("read greeting")?;
    let login = format!("L LOGIN \"{}\" \"{}\"\r\n", user.name, user.password);
    conn.get_mut().write_all(login.as_bytes()).await?;
    done(&mut conn, "L")
        .await
        .with_context(|| format!("log in as {}", user.name))?;
    for (n, chunk) in messages.chunks(500).enumerate() {
        let tag = format!("A{n}");
        let mut command = format!("{tag} APPEND \"{folder}\"").into_bytes();
        for raw in chunk {
            command.extend_from_slice(format!(" {{{}+}}\r\n", raw.len()).as_bytes());
            command.extend_from_slice(raw);
        }
        command.extend_from_slice(b"\r\n");
        conn.get_mut().write_all(&command).await?;
        done(&mut conn, &tag)
            .await
            .with_context(|| format!("append to {folder:?} of {}", user.name))?;
    }
    conn.get_mut().write_all(b"Z LOGOUT\r\n").await?;
    Ok(())
}

/// Every folder the session can see, shared ones included.
pub async fn list_folders(session: &mut ImapSession) -> Result<Vec<String>> {
    let names: Vec<_> = session
        .list(Some(""), Some("*"))
        .await
        .context("imap list")?
        .try_collect()
        .await?;
    Ok(names.iter().map(|n| n.name().to_owned()).collect())
}

/// The full text of every message in `folder`, in sequence order, without setting `\Seen`.
pub async fn fetch_all(session: &mut ImapSession, folder: &str) -> Result<Vec<Vec<u8>>> {
    let mailbox = session
        .examine(folder)
        .await
        .with_context(|| format!("examine {folder:?}"))?;
    if mailbox.exists == 0 {
        return Ok(Vec::new());
    }
    let fetches: Vec<_> = session
        .fetch("1:*", "BODY.PEEK[]")
        .await
        .with_context(|| format!("fetch {folder:?}"))?
        .try_collect()
        .await?;
    let mut bodies = Vec::with_capacity(fetches.len());
    for f in &fetches {
        let body = f
            .body()
            .with_context(|| format!("message {} of {folder:?} has no body", f.message))?;
        bodies.push(body.to_vec());
    }
    Ok(bodies)
}

/// The Message-ID of every message in `folder`, as mail-parser reads it (without the angle brackets).
pub async fn message_ids(session: &mut ImapSession, folder: &str) -> Result<Vec<String>> {
    let parser = mail_parser::MessageParser::default();
    fetch_all(session, folder)
        .await?
        .iter()
        .map(|raw| {
            let msg = parser
                .parse(raw.as_slice())
                .context("parse fetched message")?;
            Ok(msg
                .message_id()
                .context("fetched message has no Message-ID")?
                .to_owned())
        })
        .collect()
}

/// Waits until `folder` of `user` holds at least `n` messages and returns them all; a folder that does not
/// exist yet counts as empty. Fails after `timeout` saying how many arrived.
pub async fn wait_for_messages(
    user: &TestUser,
    folder: &str,
    n: usize,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>> {
    let mut session = imap_login(user, false).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let found = fetch_all(&mut session, folder).await;
        match found {
            Ok(messages) if messages.len() >= n => {
                session.logout().await.context("imap logout")?;
                return Ok(messages);
            }
            _ if Instant::now() >= deadline => {
                let seen =
                    found.map_or_else(|e| format!("{e:#}"), |m| format!("{} message(s)", m.len()));
                bail!(
                    "{folder:?} of {} did not reach {n} message(s) within {timeout:?}: {seen}",
                    user.name
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// GETACL with the test's own client: each identifier and its rights as the server spells them. Sent with
/// `run_command` and read up to the tagged completion, because async-imap has no ACL command.
pub async fn getacl(session: &mut ImapSession, folder: &str) -> Result<Vec<(String, String)>> {
    use async_imap::imap_proto::{Response, Status};
    let id = session
        .run_command(format!("GETACL \"{folder}\""))
        .await
        .with_context(|| format!("send GETACL {folder:?}"))?;
    let mut entries = Vec::new();
    loop {
        let reply = session
            .read_response()
            .await?
            .with_context(|| format!("connection closed during GETACL {folder:?}"))?;
        match reply.parsed() {
            Response::Acl(acl) => entries.extend(acl.acls.iter().map(|e| {
                let rights: String = e.rights.iter().map(|r| char::from(*r)).collect();
                (e.identifier.to_string(), rights)
            })),
            Response::Done {
                tag,
                status,
                information,
                ..
            } if *tag == id => {
                if *status != Status::Ok {
                    bail!("GETACL {folder:?}: {status:?} {information:?}");
                }
                return Ok(entries);
            }
            _ => {}
        }
    }
}

/// Stores `raw` in `folder` over `session` (creating the folder) with the INTERNALDATE `date` and IMAP
/// `flags`: how retention tests make mail that arrived long ago.
pub async fn append_at(
    session: &mut ImapSession,
    folder: &str,
    raw: &[u8],
    flags: &[&str],
    date: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if !list_folders(session).await?.iter().any(|f| f == folder) {
        session
            .create(folder)
            .await
            .with_context(|| format!("create folder {folder:?}"))?;
    }
    let flags = (!flags.is_empty()).then(|| format!("({})", flags.join(" ")));
    let date = format!("\"{}\"", date.format("%d-%b-%Y %H:%M:%S +0000"));
    session
        .append(folder, flags.as_deref(), Some(&date), raw)
        .await
        .with_context(|| format!("append to {folder:?} at {date}"))
}

/// One message as a folder lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    /// Message-ID without angle brackets; empty when it has none.
    pub message_id: String,
    pub uid: u32,
    pub internal: Option<chrono::DateTime<chrono::Utc>>,
    /// Flags as the server spells them, sorted (`\Recent` left out: it changes with every session).
    pub flags: Vec<String>,
}

/// Every message of `folder` (EXAMINE, nothing changed), by UID; a folder that does not exist is empty.
pub async fn folder_state(session: &mut ImapSession, folder: &str) -> Result<Vec<Listed>> {
    let Ok(mailbox) = session.examine(folder).await else {
        return Ok(Vec::new());
    };
    if mailbox.exists == 0 {
        return Ok(Vec::new());
    }
    let fetches: Vec<_> = session
        .uid_fetch("1:*", "(UID FLAGS INTERNALDATE ENVELOPE)")
        .await
        .with_context(|| format!("fetch {folder:?}"))?
        .try_collect()
        .await?;
    let mut out = Vec::new();
    for f in &fetches {
        let message_id = f
            .envelope()
            .and_then(|e| e.message_id.as_deref())
            .map(|id| {
                String::from_utf8_lossy(id)
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_owned()
            })
            .unwrap_or_default();
        let mut flags: Vec<String> = f
            .flags()
            .filter(|fl| *fl != async_imap::types::Flag::Recent)
            .map(|fl| format!("{fl:?}"))
            .collect();
        flags.sort();
        out.push(Listed {
            message_id,
            uid: f.uid.unwrap_or(0),
            internal: f.internal_date().map(|d| d.with_timezone(&chrono::Utc)),
            flags,
        });
    }
    out.sort_by_key(|l| l.uid);
    Ok(out)
}
