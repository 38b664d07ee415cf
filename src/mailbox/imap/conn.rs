//! The IMAP byte stream: TCP, implicit TLS or STARTTLS (verified against the system roots plus the
//! configured CA), wrapped so every byte read from the server stamps a shared "last heard" time.
//!
//! The stamp is how liveness is judged: async-imap's IDLE wait swallows `* OK Still here` keepalives, so
//! the only reliable sign of life is the stream itself. This module must not speak IMAP beyond the
//! greeting and the STARTTLS exchange.

use crate::clock::mono_ms;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::ImapSecurity;

/// How long connecting, the TLS handshake and the STARTTLS exchange may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connection to the server, plain or TLS, stamping `last_read` on every byte received.
#[derive(Debug)]
pub struct Conn {
    inner: Inner,
    /// `mono_ms()` of the last successful read; shared with the watchdog and the metrics.
    last_read: Arc<AtomicI64>,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.last_read.store(mono_ms(), Ordering::Relaxed);
        }
        poll
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, data),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: ImapSecurity,
    pub ca_file: Option<&'a Path>,
}

/// Opens the connection; returns it and whether the greeting is still unread (not after STARTTLS).
pub async fn connect(ep: &Endpoint<'_>, last_read: Arc<AtomicI64>) -> Result<(Conn, bool)> {
    let addr = format!("{}:{}", ep.host, ep.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
        .await
        .with_context(|| format!("connect to {addr}: timed out"))?
        .with_context(|| format!("connect to {addr}"))?;
    tcp.set_nodelay(true).ok();
    last_read.store(mono_ms(), Ordering::Relaxed);
    let (inner, greeting_pending) = match ep.security {
        ImapSecurity::Plaintext => (Inner::Plain(tcp), true),
        ImapSecurity::Tls => (Inner::Tls(Box::new(tls(ep, tcp).await?)), true),
        ImapSecurity::StartTls => {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, starttls(tcp))
                .await
                .with_context(|| format!("STARTTLS with {addr}: timed out"))??;
            (Inner::Tls(Box::new(tls(ep, tcp).await?)), false)
        }
    };
    Ok((Conn { inner, last_read }, greeting_pending))
}

async fn tls(ep: &Endpoint<'_>, tcp: TcpStream) -> Result<TlsStream<TcpStream>> {
    let config = client_config(ep.ca_file)?;
    let name = ServerName::try_from(ep.host.to_owned())
        .with_context(|| format!("{:?} is not a valid TLS server name", ep.host))?;
    let handshake = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .with_context(|| format!("TLS handshake with {}: timed out", ep.host))?
        .with_context(|| format!("TLS handshake with {}", ep.host))
}

/// The system roots plus `ca_file`; certificates are always verified.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A broken system certificate should not stop the configured CA from working.
        roots.add(cert).ok();
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("read CA file {}", path.display()))?;
        for cert in certs {
            let cert = cert.with_context(|| format!("parse CA file {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("add CA from {}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Reads the greeting, sends STARTTLS and waits for its tagged OK, on the bare TCP stream. Bytes the
/// server sent after the OK would be plaintext injected before the handshake: they are discarded with
/// the buffer (RFC 3501 section 6.2.1 / RFC 7817).
async fn starttls(tcp: TcpStream) -> Result<TcpStream> {
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .context("read IMAP greeting")?;
    if !line.starts_with("* OK") {
        bail!("unexpected IMAP greeting: {}", line.trim_end());
    }
    reader
        .get_mut()
        .write_all(b"s0 STARTTLS\r\n")
        .await
        .context("send STARTTLS")?;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .await
            .context("read STARTTLS reply")?;
        if n == 0 {
            bail!("server closed the connection during STARTTLS");
        }
        if let Some(status) = line.strip_prefix("s0 ") {
            if status.starts_with("OK") {
                return Ok(reader.into_inner());
            }
            bail!("server refused STARTTLS: {}", status.trim_end());
        }
    }
}
