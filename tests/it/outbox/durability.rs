//! The outbox survives its server and itself: with a private Postfix stopped a queued mail stays queued,
//! `kill -9` of `triaged outbox flush` in between loses nothing, and once Postfix is back the mail is
//! delivered exactly once, with the Message-ID fixed at enqueue.

use crate::it::support::Backend;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use triaged::store::RecipientState;

use super::super::support::{mailserver, new_user, wait_for_exactly};
use super::{Env, Setup, plaintext, queued_message_id, text_of};

/// A Postfix of this test's own (`scripts/mailserver start-postfix` with its own state dir and port),
/// delivering into the shared Dovecot, so stopping it disturbs no other test. Stopped on drop.
struct PrivatePostfix {
    dir: tempfile::TempDir,
    port: u16,
    lmtp: u16,
}

impl PrivatePostfix {
    async fn start() -> Result<PrivatePostfix> {
        let server = mailserver().await?;
        let parent = server.dir.join("work");
        std::fs::create_dir_all(&parent).with_context(|| format!("create {}", parent.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("postfix-")
            .tempdir_in(&parent)?;
        // Postfix's daemons run as the postfix user and must reach their queue below this directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let postfix = PrivatePostfix {
            dir,
            port,
            lmtp: server.lmtp_port,
        };
        postfix.script("start-postfix")?;
        Ok(postfix)
    }

    fn script(&self, command: &str) -> Result<()> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mailserver");
        let out = std::process::Command::new(&script)
            .arg(command)
            .env("TRIAGED_MAILSERVER_DIR", self.dir.path())
            .env("TRIAGED_SMTP_PORT", self.port.to_string())
            .env("TRIAGED_LMTP_PORT", self.lmtp.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("run {} {command}", script.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "scripts/mailserver {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

impl Drop for PrivatePostfix {
    fn drop(&mut self) {
        let _ = self.script("stop-postfix");
    }
}

crate::both_stores!(a_queued_mail_survives_postfix_down_and_kill_9_and_arrives_exactly_once);

async fn a_queued_mail_survives_postfix_down_and_kill_9_and_arrives_exactly_once(
    backend: Backend,
) -> Result<()> {
    let user = new_user("durable").await?;
    let postfix = PrivatePostfix::start().await?;
    let env = Env::new(&Setup {
        transport: &plaintext(postfix.port),
        disputes_address: "Arbitration <arbitration@test.example>",
        claimant: "Team Leader <stl@test.example>",
        extra: "",
        backend,
    })
    .await?;
    postfix.script("stop-postfix")?;

    let to = format!("Durable <{}>", user.address);
    let queued = env
        .run(&["send", "welcome", "--role", "triage", "--to", &to])
        .await?;
    assert!(queued.status.success(), "{}", text_of(&queued));
    let message_id = queued_message_id(&queued)?;
    let store = env.store().await?;
    let mail_id = store
        .outbox_mails(1)
        .await?
        .first()
        .map(|m| m.id)
        .context("queued mail")?;
    let stored = store.outbox_raw(mail_id).await?;

    let flush = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("retrying 1"),
        "{}",
        text_of(&flush)
    );
    let r = env.recipients().await?.remove(0);
    assert_eq!((r.state, r.attempts), (RecipientState::Queued, 1));
    assert!(
        !r.last_error.is_empty(),
        "the refused connection is recorded"
    );

    // kill -9 while flushing, at different moments of its run: nothing may be lost or marked done.
    for delay in [0u64, 20, 60, 150] {
        let mut child = env
            .command(&["outbox", "flush", "--now"])
            .spawn()
            .context("spawn flush")?;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.start_kill().context("kill -9 flush")?;
        child.wait().await.context("reap flush")?;
    }
    let r = env.recipients().await?.remove(0);
    assert_eq!(
        r.state,
        RecipientState::Queued,
        "still queued after kill -9: {r:?}"
    );
    assert_eq!(
        store.outbox_raw(mail_id).await?,
        stored,
        "the stored bytes are untouched"
    );

    postfix.script("start-postfix")?;
    // A flush killed after claiming the recipient holds it until its worker's ttl has passed.
    env.wait_claims_lapse().await?;
    let flush = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(flush.status.success(), "{}", text_of(&flush));
    assert!(
        String::from_utf8_lossy(&flush.stdout).contains("sent 1"),
        "{}",
        text_of(&flush)
    );
    let again = env.run(&["outbox", "flush", "--now"]).await?;
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("attempted 0"),
        "{}",
        text_of(&again)
    );

    let got = wait_for_exactly(&user, "INBOX", 1, Duration::from_secs(30))
        .await
        .context("exactly once")?;
    assert_eq!(
        super::parse(&got[0])?.message_id(),
        Some(message_id.as_str()),
        "the Message-ID fixed at enqueue"
    );
    // Postfix and Dovecot prepend their trace headers; SMTP DATA may add a final CRLF. Between those,
    // the bytes are the stored ones.
    let core = stored.trim_ascii_end();
    let at = got[0].windows(core.len()).position(|w| w == core);
    assert!(
        at.is_some_and(|at| got[0][at + core.len()..]
            .iter()
            .all(|b| b.is_ascii_whitespace())),
        "the stored bytes arrived as they were stored"
    );
    let r = env.recipients().await?.remove(0);
    assert_eq!(r.state, RecipientState::Sent);
    env.assert_backend().await?;
    Ok(())
}
