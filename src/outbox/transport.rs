//! Delivery of one stored mail to one recipient: SMTP through lettre (one transaction per recipient), or
//! the file transport (`DIR/<outbox id>.eml`, written aside and renamed so a retry overwrites).
//!
//! Owns the connection settings (STARTTLS required, implicit TLS, plaintext only where the config allows
//! it, an extra trust root, AUTH) and the sorting of failures into transient and permanent by lettre's own
//! predicates, never by message text. It never reads or writes the store.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{OutboxConfig, SmtpSecurity, Transport};

/// How long one SMTP command may take before the attempt counts as a (transient) timeout.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an attempt failed, as the retry logic needs it.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later: 4xx, refused or dropped connections, TLS failures, timeouts.
    #[error("transient: {0}")]
    Transient(String),
    /// Never try again: 5xx for this recipient.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Where mail goes, built once from the config.
pub enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sender::Smtp(_) => f.write_str("Sender::Smtp"),
            Sender::File(dir) => write!(f, "Sender::File({})", dir.display()),
        }
    }
}

impl Sender {
    pub fn new(config: &OutboxConfig) -> Result<Sender> {
        match &config.transport {
            Transport::File { dir } => Ok(Sender::File(dir.clone())),
            Transport::Smtp {
                security,
                host,
                port,
            } => smtp(config, *security, host, *port).map(Sender::Smtp),
        }
    }

    /// Delivers `raw` to `to` with MAIL FROM `from` (empty: the null sender `<>`).
    pub async fn send(
        &self,
        mail_id: i64,
        from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Sender::File(dir) => {
                write_file(dir, mail_id, raw).map_err(|e| SendError::Transient(format!("{e:#}")))
            }
            Sender::Smtp(transport) => {
                let envelope =
                    envelope(from, to).map_err(|e| SendError::Permanent(format!("{e:#}")))?;
                transport
                    .send_raw(&envelope, raw)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }
        }
    }
}

/// A permanent failure only when lettre says so (a 5xx reply); everything else is worth another try.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

fn envelope(from: &str, to: &str) -> Result<Envelope> {
    let from = if from.is_empty() {
        None
    } else {
        Some(
            from.parse::<Address>()
                .with_context(|| format!("envelope sender {from:?}"))?,
        )
    };
    let to = to
        .parse::<Address>()
        .with_context(|| format!("envelope recipient {to:?}"))?;
    Envelope::new(from, vec![to]).context("smtp envelope")
}

fn smtp(
    config: &OutboxConfig,
    security: SmtpSecurity,
    host: &str,
    port: u16,
) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls = match security {
        SmtpSecurity::Plaintext => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters(config, host)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config, host)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &config.user {
        let password = config
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        builder = builder
            .credentials(Credentials::new(user.clone(), password))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.build())
}

fn tls_parameters(config: &OutboxConfig, host: &str) -> Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("read ca_file {}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .with_context(|| format!("parse ca_file {}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .with_context(|| format!("TLS settings for {host}"))
}

/// Writes `DIR/<id>.eml` through a temporary file and a rename, so a reader never sees half a mail and
/// a second attempt replaces the first instead of adding a copy.
fn write_file(dir: &std::path::Path, mail_id: i64, raw: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create outbox dir {}", dir.display()))?;
    let path = dir.join(format!("{mail_id}.eml"));
    let tmp = dir.join(format!(".{mail_id}.eml.tmp"));
    std::fs::write(&tmp, raw).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("sync {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}
