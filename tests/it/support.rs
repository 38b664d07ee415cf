//! Test support shared by every integration test: starts the private Dovecot and Postfix once per test
//! process (`scripts/mailserver up`), creates a fresh mail user per test, and re-exports the LMTP, IMAP,
//! SMTP and Mailman helpers, the fault proxy and the quiet-mailbox waits. It never skips: a server that cannot be started is an error carrying the
//! script's output.

mod config;
mod imap;
mod lmtp;
mod mailman;
mod private;
mod proxy;
mod quiet;
mod smtp;
mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::sync::OnceCell;

// The helper set every test module draws from; a given build need not use each one.
#[allow(unused_imports)]
pub use config::ConfigBuilder;
#[allow(unused_imports)]
pub use imap::{
    ImapSession, Listed, append, append_at, append_many, fetch_all, folder_state, getacl,
    imap_connect_tls, imap_login, list_folders, message_ids, test_ca_roots, wait_for_messages,
};
#[allow(unused_imports)]
pub use lmtp::{deliver_lmtp, deliver_lmtp_from};
#[allow(unused_imports)]
pub use mailman::{MailmanServer, list_id, mailman};
#[allow(unused_imports)]
pub use private::{PrivateServer, private_mailserver, private_mailserver_with};
#[allow(unused_imports)]
pub use proxy::{Fault, Proxy};
#[allow(unused_imports)]
pub use quiet::{QUIET, wait_for_exactly, wait_quiet, wait_quiet_with};
#[allow(unused_imports)]
pub use smtp::{smtp_send, smtp_transport};
#[allow(unused_imports)]
pub use store::{Backend, TestStore, pg_url};

/// The domain every test address lives in; Postfix accepts it and hands it to Dovecot.
pub const DOMAIN: &str = "test.example";

/// Where a running set of test servers is, as `scripts/mailserver env` reports it.
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
    /// The environment `scripts/mailserver` runs with for this instance (its directory and ports).
    env: Vec<(String, String)>,
}

/// The ports one instance listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub imap: u16,
    pub imaps: u16,
    pub lmtp: u16,
    pub smtp: u16,
}

/// Which servers an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Servers {
    /// Dovecot and Postfix (`scripts/mailserver up`), installing what is missing.
    All,
    /// Dovecot alone (`start-dovecot`): for a test that stops or restarts its server.
    Dovecot,
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

impl MailServer {
    /// Starts the `servers` of the instance in `dir` on `ports` (a running one is left running) and
    /// says where it is. This is the one start-up every test instance goes through.
    pub async fn start(dir: &Path, ports: Ports, servers: Servers) -> Result<MailServer> {
        let env = vec![
            (
                "TRIAGED_MAILSERVER_DIR".to_owned(),
                dir.display().to_string(),
            ),
            ("TRIAGED_IMAP_PORT".to_owned(), ports.imap.to_string()),
            ("TRIAGED_IMAPS_PORT".to_owned(), ports.imaps.to_string()),
            ("TRIAGED_LMTP_PORT".to_owned(), ports.lmtp.to_string()),
            ("TRIAGED_SMTP_PORT".to_owned(), ports.smtp.to_string()),
        ];
        let command = match servers {
            Servers::All => "up",
            Servers::Dovecot => "start-dovecot",
        };
        run_ctl(&env, command).await?;
        let mut server = parse_env(&run_ctl(&env, "env").await?).with_context(|| {
            format!("read the environment of the instance in {}", dir.display())
        })?;
        server.env = env;
        Ok(server)
    }

    /// Runs `scripts/mailserver COMMAND` (`status`, `flush-postfix`, `stop-dovecot`, ...) against this
    /// instance and returns its standard output; a failure carries its standard error. Stopping a
    /// server affects every test using the instance, so a test that does so runs a private one.
    pub async fn ctl(&self, command: &str) -> Result<String> {
        run_ctl(&self.env, command).await
    }

    /// Creates a mail account nobody else uses: `prefix-PID-N`, usable at once for IMAP and LMTP. Its
    /// passwd-file is written aside and renamed into place, so Dovecot never reads half of it; its
    /// mailbox appears on first login or delivery.
    pub fn new_user(&self, prefix: &str) -> Result<TestUser> {
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
        let file = self.users.join(&name);
        let staged = self.users.join(format!(".{name}.new"));
        std::fs::write(&staged, format!("{name}:{{PLAIN}}{password}::::::\n"))
            .and_then(|()| std::fs::rename(&staged, &file))
            .with_context(|| format!("add user {name} as {}", file.display()))?;
        Ok(TestUser {
            address: format!("{name}@{DOMAIN}"),
            name,
            password,
        })
    }
}

/// The shared instance: its directory and ports from the environment (so that two checkouts testing
/// at once can keep apart), else `scripts/mailserver`'s defaults.
fn shared_instance() -> Result<(PathBuf, Ports)> {
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let port = |k: &str, default: u16| -> Result<u16> {
        var(k, &default.to_string())
            .parse()
            .with_context(|| format!("{k} is not a port"))
    };
    Ok((
        var("TRIAGED_MAILSERVER_DIR", "/tmp/triaged-mailserver").into(),
        Ports {
            imap: port("TRIAGED_IMAP_PORT", 10143)?,
            imaps: port("TRIAGED_IMAPS_PORT", 10993)?,
            lmtp: port("TRIAGED_LMTP_PORT", 10024)?,
            smtp: port("TRIAGED_SMTP_PORT", 10025)?,
        },
    ))
}

/// Starts the shared test servers once per process and says where they are. A failure is
/// remembered, so every test reports the same clear message instead of retrying the install.
pub async fn mailserver() -> Result<&'static MailServer> {
    SERVER
        .get_or_init(|| async {
            let start = async {
                let (dir, ports) = shared_instance()?;
                MailServer::start(&dir, ports, Servers::All).await
            };
            start.await.map_err(|e| format!("{e:#}"))
        })
        .await
        .as_ref()
        .map_err(|e| anyhow!("test mail servers are not available: {e}"))
}

/// `scripts/mailserver COMMAND` against the shared instance.
pub async fn mailserver_ctl(command: &str) -> Result<String> {
    mailserver().await?.ctl(command).await
}

/// A mail account of the shared instance nobody else uses.
pub async fn new_user(prefix: &str) -> Result<TestUser> {
    mailserver().await?.new_user(prefix)
}

async fn run_ctl(env: &[(String, String)], command: &str) -> Result<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver");
    let out = tokio::process::Command::new(script)
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k, v)))
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
        env: Vec::new(),
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
