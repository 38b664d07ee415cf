//! Test support shared by every integration test: starts the private Dovecot and Postfix once per test
//! process (`scripts/mailserver up`), creates a fresh mail user per test, and re-exports the LMTP, IMAP,
//! SMTP and Mailman helpers. It never skips: a server that cannot be started is an error carrying the
//! script's output.

mod imap;
mod lmtp;
mod mailman;
mod private;
mod smtp;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::sync::OnceCell;

// The helper set every test module draws from; a given build need not use each one.
#[allow(unused_imports)]
pub use imap::{
    ImapSession, append, fetch_all, getacl, imap_connect_tls, imap_login, list_folders,
    message_ids, test_ca_roots, wait_for_messages,
};
#[allow(unused_imports)]
pub use lmtp::{deliver_lmtp, deliver_lmtp_from};
#[allow(unused_imports)]
pub use mailman::{MailmanServer, list_id, mailman};
#[allow(unused_imports)]
pub use private::{PrivateServer, private_mailserver};
#[allow(unused_imports)]
pub use smtp::{smtp_send, smtp_transport};

/// The domain every test address lives in; Postfix accepts it and hands it to Dovecot.
pub const DOMAIN: &str = "test.example";

/// Where the running test servers are, as `scripts/mailserver env` reports them.
#[derive(Debug, Clone)]
pub struct MailServer {
    /// State and config root (`TRIAGED_MAILSERVER_DIR`).
    pub dir: PathBuf,
    /// The generated test CA; the IMAPS and SMTP STARTTLS certificates chain to it.
    pub ca: PathBuf,
    /// Plaintext IMAP (STARTTLS offered, plaintext login allowed on loopback).
    pub imap_port: u16,
    /// Implicit-TLS IMAP.
    pub imaps_port: u16,
    /// Dovecot LMTP, for delivering straight into a mailbox.
    pub lmtp_port: u16,
    /// Postfix SMTP; `test.example` recipients go to Dovecot, `nosuch*` ones get a 550 at RCPT.
    pub smtp_port: u16,
    /// Private Pigeonhole config for `sieve-test -c` / `sieve-filter -c`.
    pub sieve_conf: PathBuf,
    /// Dovecot's passwd-files, one per user; `new_user` adds one.
    pub users: PathBuf,
}

/// One mail account, unique to the test that made it.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// IMAP login name (also the local part).
    pub name: String,
    /// `name@test.example`.
    pub address: String,
    pub password: String,
}

static SERVER: OnceCell<std::result::Result<MailServer, String>> = OnceCell::const_new();
static USER_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Starts the test servers once per process and says where they are. A failure is remembered, so every
/// test reports the same clear message instead of retrying the install.
pub async fn mailserver() -> Result<&'static MailServer> {
    SERVER
        .get_or_init(|| async { start().await.map_err(|e| format!("{e:#}")) })
        .await
        .as_ref()
        .map_err(|e| anyhow!("test mail servers are not available: {e}"))
}

async fn start() -> Result<MailServer> {
    let out = mailserver_ctl("up").await?;
    parse_env(&out).context("read the output of scripts/mailserver up")
}

/// Runs `scripts/mailserver COMMAND` (`status`, `flush-postfix`, `stop-postfix`, ...) and returns its
/// standard output; a failure carries its standard error. Stopping a server affects every test running in
/// this process, so a test that does so must not share the instance with tests running beside it.
pub async fn mailserver_ctl(command: &str) -> Result<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver");
    let out = tokio::process::Command::new(script)
        .arg(command)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("run {script} {command}"))?;
    if !out.status.success() {
        bail!(
            "{script} {command} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Reads the `export KEY=VALUE` lines of `scripts/mailserver env`.
fn parse_env(text: &str) -> Result<MailServer> {
    let vars: std::collections::BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| vars.get(k).copied().with_context(|| format!("missing {k}"));
    let port = |k: &str| -> Result<u16> { get(k)?.parse().with_context(|| format!("parse {k}")) };
    Ok(MailServer {
        dir: get("TRIAGED_MAILSERVER_DIR")?.into(),
        ca: get("TRIAGED_TEST_CA")?.into(),
        imap_port: port("TRIAGED_IMAP_PORT")?,
        imaps_port: port("TRIAGED_IMAPS_PORT")?,
        lmtp_port: port("TRIAGED_LMTP_PORT")?,
        smtp_port: port("TRIAGED_SMTP_PORT")?,
        sieve_conf: get("TRIAGED_SIEVE_CONF")?.into(),
        users: get("TRIAGED_MAILSERVER_USERS")?.into(),
    })
}

/// Creates a mail account nobody else uses: `prefix-PID-N`, usable at once for IMAP and LMTP. Its
/// passwd-file is written aside and renamed into place, so Dovecot never reads half of it; its mailbox
/// appears on first login or delivery.
pub async fn new_user(prefix: &str) -> Result<TestUser> {
    let server = mailserver().await?;
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let n = USER_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{clean}-{}-{n}", std::process::id());
    let password = format!("pw-{}", rand::random::<u64>());
    let file = server.users.join(&name);
    let staged = server.users.join(format!(".{name}.new"));
    std::fs::write(&staged, format!("{name}:{{PLAIN}}{password}::::::\n"))
        .and_then(|()| std::fs::rename(&staged, &file))
        .with_context(|| format!("add user {name} as {}", file.display()))?;
    Ok(TestUser {
        address: format!("{name}@{DOMAIN}"),
        name,
        password,
    })
}

/// A fresh directory (removed on drop) for files given to Pigeonhole's `sieve-test`/`sieve-filter`. Those
/// tools refuse to run as root and drop to the mail user before opening anything, so the directory is
/// world-readable and owned by that user, unlike a default temp dir.
pub async fn sieve_workdir() -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = mailserver().await?.dir.join("work");
    std::fs::create_dir_all(&parent).with_context(|| format!("create {}", parent.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("sieve-")
        .tempdir_in(&parent)
        .with_context(|| format!("create a temp dir in {}", parent.display()))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .with_context(|| format!("open up {}", dir.path().display()))?;
    Ok(dir)
}
