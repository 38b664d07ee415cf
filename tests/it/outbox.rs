//! Outgoing mail end to end: the `triaged` binary queues and sends through the test Postfix, and the tests
//! read what arrived back over IMAP from Dovecot. Each test has its own users, temp dir, config and
//! store, and runs once on SQLite and once on PostgreSQL (`both_stores!`); the Postfix-down test runs a
//! private Postfix instance so other tests keep theirs, and the stall and claims tests put a proxy
//! before Postfix.

mod ack;
mod claims;
mod delivery;
mod durability;
mod harvest;
pub mod pgp;
pub mod pki;
mod queue;
mod recorded;
mod smime;
mod stall;

use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context as _, Result};
use mail_parser::MimeHeaders as _;
use triaged::store::{OutboxRecipient, Store};

use super::support::{Backend, ConfigBuilder, TestStore, mailserver};

/// One test's private triaged: a temp dir with a config, and a migrated store on the backend the test
/// asked for.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub test_store: TestStore,
}

/// What goes into a test config besides the defaults: the transport, the disputes addresses, extra TOML.
pub struct Setup<'a> {
    /// The `[outbox]` lines naming the transport (`transport = "..."` and its options).
    pub transport: &'a str,
    pub disputes_address: &'a str,
    pub claimant: &'a str,
    pub extra: &'a str,
    /// The store's backend.
    pub backend: Backend,
}

impl Env {
    pub async fn new(setup: &Setup<'_>) -> Result<Env> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let test_store = TestStore::new(setup.backend, dir.path()).await?;
        let config = ConfigBuilder::new()
            .store(test_store.url())
            .outbox(&format!("{}\nretry = [\"1m\"]\n", setup.transport))
            .from("Support <support@example.org>")
            .section("[ack]\nperiod = \"1d\"\n")
            .section(&format!(
                "[disputes]\naddress = \"{}\"\nclaimant = \"{}\"\n",
                setup.disputes_address, setup.claimant
            ))
            .section(setup.extra)
            .write(dir.path(), None)?;
        let env = Env {
            dir,
            config,
            test_store,
        };
        let out = env.run(&["migrate"]).await?;
        anyhow::ensure!(out.status.success(), "migrate failed: {}", text_of(&out));
        Ok(env)
    }

    /// An env sending through the shared test Postfix, its store on `backend`.
    pub async fn with_postfix(
        disputes_address: &str,
        claimant: &str,
        extra: &str,
        backend: Backend,
    ) -> Result<Env> {
        let port = mailserver().await?.smtp_port;
        Env::new(&Setup {
            transport: &plaintext(port),
            disputes_address,
            claimant,
            extra,
            backend,
        })
        .await
    }

    /// Fails unless the outbox kept its records on the backend the test asked for (see
    /// `TestStore::assert_backend`).
    pub async fn assert_backend(&self) -> Result<()> {
        self.test_store.assert_backend("outbox_mails").await
    }

    /// The command to run `triaged ARGS --config CONFIG`.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"));
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .env("TRIAGED_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        self.command(args)
            .output()
            .await
            .with_context(|| format!("run triaged {args:?}"))
    }

    pub async fn store(&self) -> Result<Store> {
        self.test_store.open().await
    }

    /// Waits until no worker registered in the store is live. After `kill -9` of `outbox flush` its
    /// worker row stays live until its heartbeat is a ttl old, and what it claimed returns to the queue
    /// only then (README "Outbox"): a retry before that rightly sends nothing.
    pub async fn wait_claims_lapse(&self) -> Result<()> {
        let store = self.store().await?;
        loop {
            let (workers, now) = store.workers().await?;
            let left = workers
                .iter()
                .filter(|w| w.live_at(now))
                .map(|w| w.heartbeat_ms + w.ttl_ms - now)
                .max();
            let Some(ms) = left else { break };
            anyhow::ensure!(ms <= 60_000, "a worker stays live for {ms} ms more");
            tokio::time::sleep(std::time::Duration::from_millis(ms.unsigned_abs() + 20)).await;
        }
        store.close().await;
        Ok(())
    }

    /// Every recipient of every queued mail, oldest mail first.
    pub async fn recipients(&self) -> Result<Vec<OutboxRecipient>> {
        let store = self.store().await?;
        let mut all = Vec::new();
        for mail in store.outbox_mails(1000).await?.into_iter().rev() {
            all.extend(mail.recipients);
        }
        store.close().await;
        Ok(all)
    }
}

/// The transport lines for plaintext SMTP to a loopback Postfix.
pub fn plaintext(port: u16) -> String {
    format!("transport = \"smtp://127.0.0.1:{port}\"\nallow_plaintext = true")
}

/// stdout and stderr of a run, for assertion messages.
pub fn text_of(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Message-ID printed by `queued outbox N <ID> to ...`.
pub fn queued_message_id(out: &Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("queued outbox "))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|id| id.trim_matches(['<', '>']).to_owned())
        .with_context(|| format!("no queued line in {}", text_of(out)))
}

/// Parses a fetched message.
pub fn parse(raw: &[u8]) -> Result<mail_parser::Message<'_>> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .context("parse a fetched message")
}

/// The raw bytes between the first two boundaries of a multipart message: (first part, second part),
/// exactly as they arrived (RFC 2046: the CRLF before a boundary belongs to the boundary).
pub fn split_parts(raw: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let msg = parse(raw)?;
    let boundary = msg
        .content_type()
        .and_then(|ct| ct.attribute("boundary"))
        .context("no boundary")?
        .to_owned();
    let delimiter = format!("--{boundary}\r\n");
    let next = format!("\r\n--{boundary}");
    let start = find(raw, delimiter.as_bytes(), 0).context("no first boundary")? + delimiter.len();
    let end = find(raw, next.as_bytes(), start).context("no second boundary")?;
    let second_start = end + next.len() + 2;
    let second_end = find(raw, next.as_bytes(), second_start).context("no closing boundary")?;
    Ok((
        raw[start..end].to_vec(),
        raw[second_start..second_end].to_vec(),
    ))
}

/// The body of a raw MIME part (7bit, as the armored parts are): what follows its blank line.
pub fn part_body(part: &[u8]) -> Result<&[u8]> {
    let at = find(part, b"\r\n\r\n", 0).context("part has no blank line")?;
    Ok(&part[at + 4..])
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Writes `text` (LF line endings turned into CRLF) to `dir/name` and returns the path.
pub fn write_eml(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text.replace('\n', "\r\n")).with_context(|| format!("write {name}"))?;
    Ok(path)
}
