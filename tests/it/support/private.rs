//! A private Dovecot for a test that restarts or stops the server, which would disturb every other test
//! sharing the common instance: `scripts/mailserver start-dovecot` with its own `TRIAGED_MAILSERVER_DIR`
//! and ports derived from the name (and the checkout, so two checkouts testing at once do not meet).
//! Only Dovecot runs there; mail arrives by LMTP. It never touches the shared instance.

use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::{ImapSession, MailServer, Ports, Servers, TestUser, imap::ImapStream, mailserver};

/// A Dovecot of one test's own.
#[derive(Debug, Clone)]
pub struct PrivateServer {
    pub server: MailServer,
}

/// Starts (or reuses) the private Dovecot `name` and says where it is. Installing the packages is left
/// to the shared instance's start, which runs first.
pub async fn private_mailserver(name: &str) -> Result<PrivateServer> {
    mailserver().await?;
    let (dir, ports) = instance(name);
    let server = MailServer::start(&dir, ports, Servers::Dovecot).await?;
    Ok(PrivateServer { server })
}

/// [`private_mailserver`] with `settings` added to its Dovecot config (`dovecot/local.conf`, which
/// the config includes): a server lacking a capability, one keeping a raw log. An instance that last
/// ran with other settings is restarted. Tests of one process set up such servers one at a time, so
/// none restarts a server another test already uses.
pub async fn private_mailserver_with(name: &str, settings: &str) -> Result<PrivateServer> {
    static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = SETUP.lock().await;
    mailserver().await?;
    let (dir, ports) = instance(name);
    let local = dir.join("dovecot/local.conf");
    let changed = std::fs::read_to_string(&local).ok().as_deref() != Some(settings);
    if changed {
        std::fs::create_dir_all(dir.join("dovecot"))
            .with_context(|| format!("create {}", dir.display()))?;
        let staged = dir.join("dovecot/.local.conf.new");
        std::fs::write(&staged, settings)
            .and_then(|()| std::fs::rename(&staged, &local))
            .with_context(|| format!("write {}", local.display()))?;
    }
    let server = MailServer::start(&dir, ports, Servers::Dovecot).await?;
    if changed {
        server.ctl("restart-dovecot").await?;
    }
    Ok(PrivateServer { server })
}

/// The directory and ports of the private instance `name`, derived from the name and the checkout.
fn instance(name: &str) -> (PathBuf, Ports) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut h);
    name.hash(&mut h);
    let key = h.finish();
    let base = 20_000 + u16::try_from(key % 2_000).unwrap_or(0) * 4;
    let dir: PathBuf = format!("/tmp/triaged-private-{name}-{:08x}", key & 0xffff_ffff).into();
    let ports = Ports {
        imap: base,
        imaps: base + 1,
        lmtp: base + 2,
        smtp: base + 3,
    };
    (dir, ports)
}

impl PrivateServer {
    /// Runs `scripts/mailserver COMMAND` against this instance; returns its standard output.
    pub async fn ctl(&self, command: &str) -> Result<String> {
        self.server.ctl(command).await
    }

    /// A mail account of this instance nobody else uses.
    pub fn new_user(&self, prefix: &str) -> Result<TestUser> {
        self.server.new_user(prefix)
    }

    /// Restarts Dovecot the way a service manager does: the master and every process it started go.
    /// `dovecot stop` alone left IMAP processes serving their clients here (Dovecot 2.3.19), so the
    /// processes the log names for `user` are ended too, by their pids.
    pub async fn restart_like_a_service_manager(&self, user: &TestUser) -> Result<()> {
        let log = self.server.dir.join("dovecot/dovecot.log");
        let text =
            std::fs::read_to_string(&log).with_context(|| format!("read {}", log.display()))?;
        let marker = format!("Login: user=<{}>", user.name);
        let pids: Vec<String> = text
            .lines()
            .filter(|l| l.contains(&marker))
            .filter_map(|l| l.split("mpid=").nth(1))
            .filter_map(|rest| rest.split(',').next())
            .map(str::to_owned)
            .collect();
        self.ctl("stop-dovecot").await?;
        for pid in &pids {
            // Already gone is fine: only survivors matter.
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", pid])
                .stderr(std::process::Stdio::null())
                .status()
                .await;
        }
        self.ctl("start-dovecot").await.map(|_| ())
    }

    /// Logs `user` in over plaintext IMAP (loopback allows it).
    pub async fn login(&self, user: &TestUser) -> Result<ImapSession> {
        let port = self.server.imap_port;
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .with_context(|| format!("connect to private imap 127.0.0.1:{port}"))?;
        let mut client = async_imap::Client::new(ImapStream::Plain(tcp));
        client
            .read_response()
            .await
            .context("read greeting")?
            .context("no greeting")?;
        client
            .login(&user.name, &user.password)
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("log in as {}", user.name))
    }

    /// Delivers `raw` into `user`'s INBOX over LMTP (RFC 2033), as a mail server would.
    pub async fn deliver(&self, user: &TestUser, raw: &[u8]) -> Result<()> {
        let port = self.server.lmtp_port;
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .with_context(|| format!("connect to private lmtp 127.0.0.1:{port}"))?;
        let mut conn = BufReader::new(tcp);
        reply(&mut conn, "220").await?;
        let rcpt = format!("RCPT TO:<{}>\r\n", user.address);
        for (line, code) in [
            ("LHLO localhost\r\n", "250"),
            ("MAIL FROM:<lmtp-sender@test.example>\r\n", "250"),
            (rcpt.as_str(), "250"),
            ("DATA\r\n", "354"),
        ] {
            conn.get_mut().write_all(line.as_bytes()).await?;
            reply(&mut conn, code).await?;
        }
        let mut data = Vec::with_capacity(raw.len() + 8);
        for line in raw.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        conn.get_mut().write_all(&data).await?;
        reply(&mut conn, "250").await?;
        conn.get_mut().write_all(b"QUIT\r\n").await?;
        Ok(())
    }
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn reply(conn: &mut BufReader<TcpStream>, code: &str) -> Result<()> {
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            bail!("the private lmtp server closed the connection");
        }
        if !line.starts_with(code) {
            bail!("lmtp: expected {code}, got {}", line.trim_end());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}
