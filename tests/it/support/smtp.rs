//! SMTP for tests: lettre's async transport pointed at the test Postfix, without TLS. Errors keep lettre's
//! own error underneath, so a test can `downcast_ref::<lettre::transport::smtp::Error>()` and ask
//! `is_permanent()`.

use anyhow::{Context as _, Result};
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use super::mailserver;

/// A transport to the test Postfix on 127.0.0.1 (plain SMTP, no authentication).
pub async fn smtp_transport() -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let port = mailserver().await?.smtp_port;
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build(),
    )
}

/// Sends `raw` from `from` to every address in `to` through the test Postfix.
pub async fn smtp_send(from: &str, to: &[&str], raw: &[u8]) -> Result<()> {
    let from: Address = from
        .parse()
        .with_context(|| format!("parse sender {from:?}"))?;
    let to = to
        .iter()
        .map(|a| a.parse().with_context(|| format!("parse recipient {a:?}")))
        .collect::<Result<Vec<Address>>>()?;
    let envelope = Envelope::new(Some(from), to).context("smtp envelope")?;
    smtp_transport()
        .await?
        .send_raw(&envelope, raw)
        .await
        .context("send through the test postfix")?;
    Ok(())
}
