//! Two flushers sharing one outbox, through a slow SMTP path to the test Postfix: a proxy holds the
//! server's reply to the end of each message for longer than the first retry delay and longer than the
//! flushers' ttl. Each flusher is the sender loop of `triaged run`, with a worker row of its own (as
//! `run --once` and `outbox flush` have), and its own connection pool to the store, as two processes
//! would. Each recipient must arrive exactly once (counted in Dovecot, by Message-ID) after exactly
//! one SMTP transaction and one attempt, and the proxy must have stalled every transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use triaged::clock::Clock;
use triaged::outbox::{Flusher, run_sender};
use triaged::store::RecipientState;

use super::super::support::{Backend, mailserver, new_user, wait_for_exactly};
use super::{Env, Setup, parse, plaintext, queued_message_id, text_of};

/// How long the proxy holds each reply to the end of a message.
const STALL: Duration = Duration::from_secs(3);
/// The first retry delay: a third of the stall.
const RETRY: Duration = Duration::from_secs(1);
/// The flushers' ttl: a third of the stall, so a claim outlives it only by the flusher's heartbeat.
const TTL: Duration = Duration::from_secs(1);
const RECIPIENTS: usize = 3;
const WAIT: Duration = Duration::from_secs(25);

crate::both_stores!(two_flushers_through_a_slow_server_deliver_each_recipient_once);

/// Guards against: a second flusher sending a recipient again while the first one's SMTP transaction
/// stalls past the retry delay (its schedule said it was due again), or past the ttl (its claim lapsed
/// because nothing beat its worker row during the transaction).
async fn two_flushers_through_a_slow_server_deliver_each_recipient_once(
    backend: Backend,
) -> Result<()> {
    let proxy = SlowProxy::start(mailserver().await?.smtp_port, STALL).await?;
    let env = Env::new(&Setup {
        transport: &plaintext(proxy.port),
        disputes_address: "Arbitration <arbitration@test.example>",
        claimant: "Team Leader <stl@test.example>",
        extra: "",
        backend,
    })
    .await?;
    let mut users = Vec::new();
    for _ in 0..RECIPIENTS {
        let user = new_user("claims").await?;
        let to = format!("Claimed <{}>", user.address);
        let queued = env
            .run(&["send", "welcome", "--role", "triage", "--to", &to])
            .await?;
        ensure!(queued.status.success(), "{}", text_of(&queued));
        users.push((user, queued_message_id(&queued)?));
    }

    let mut config = triaged::config::Config::load(&env.config)
        .map_err(|e| anyhow!("{e}"))?
        .outbox;
    config.retry = vec![RETRY];
    let cancel = CancellationToken::new();
    let mut flushers = Vec::new();
    for _ in 0..2 {
        let loop_ = run_sender(
            env.store().await?,
            config.clone(),
            Clock::system(),
            cancel.clone(),
            Flusher::Own(TTL),
        );
        flushers.push(tokio::spawn(loop_));
    }
    let sent = all_sent(&env).await;
    cancel.cancel();
    for f in flushers {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .context("a flusher did not stop")???;
    }
    sent?;

    let recipients = env.recipients().await?;
    for (user, message_id) in &users {
        let got = wait_for_exactly(user, "INBOX", 1, WAIT).await?;
        ensure!(
            parse(&got[0])?.message_id() == Some(message_id.as_str()),
            "{} got a mail that is not the one queued for them",
            user.address
        );
    }
    for r in recipients {
        ensure!(
            (r.state, r.attempts, r.claimed_by.as_str()) == (RecipientState::Sent, 1, ""),
            "{r:?}: expected sent after one attempt, the claim cleared"
        );
    }
    ensure!(
        proxy.stalled() == RECIPIENTS as u64,
        "{} SMTP transactions stalled, expected one per recipient ({RECIPIENTS})",
        proxy.stalled()
    );
    env.assert_backend().await?;
    Ok(())
}

/// Waits until every recipient in the store is sent; fails after [`WAIT`].
async fn all_sent(env: &Env) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let recipients = env.recipients().await?;
        if recipients.len() == RECIPIENTS
            && recipients.iter().all(|r| r.state == RecipientState::Sent)
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "not all sent within {WAIT:?}: {recipients:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A TCP proxy before the test Postfix that forwards every byte unchanged, but holds the server's
/// reply to the end of each message (`CRLF . CRLF` after `DATA`) for a while before passing it on: the
/// server has the mail, the client waits.
struct SlowProxy {
    port: u16,
    /// Replies held so far: one per SMTP transaction that reached its end.
    stalled: Arc<AtomicU64>,
}

impl SlowProxy {
    async fn start(upstream: u16, stall: Duration) -> Result<SlowProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("bind the proxy")?;
        let port = listener.local_addr()?.port();
        let stalled = Arc::new(AtomicU64::new(0));
        let count = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, stall, count.clone()));
            }
        });
        Ok(SlowProxy { port, stalled })
    }

    fn stalled(&self) -> u64 {
        self.stalled.load(Ordering::SeqCst)
    }
}

/// Forwards one connection until either side closes it.
async fn serve(
    client: TcpStream,
    upstream: u16,
    stall: Duration,
    stalled: Arc<AtomicU64>,
) -> Result<()> {
    let server = TcpStream::connect(("127.0.0.1", upstream)).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut scan = Scan::default();
    let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        tokio::select! {
            n = cr.read(&mut up) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                scan.client(&up[..n]);
                sw.write_all(&up[..n]).await?;
            }
            n = sr.read(&mut down) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                if std::mem::take(&mut scan.ended) {
                    stalled.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(stall).await;
                }
                cw.write_all(&down[..n]).await?;
            }
        }
    }
}

/// Follows what the client sends: its command lines, and the message after `DATA` up to its end.
#[derive(Default)]
struct Scan {
    /// The command line read so far.
    line: Vec<u8>,
    /// Inside the message after `DATA`.
    data: bool,
    /// The message's last bytes, to find its end across reads.
    tail: Vec<u8>,
    /// The end of a message went to the server; its reply is the next thing it sends.
    ended: bool,
}

impl Scan {
    fn client(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.data {
                self.tail.push(b);
                if self.tail.len() > 5 {
                    self.tail.remove(0);
                }
                if self.tail == b"\r\n.\r\n" {
                    (self.data, self.ended) = (false, true);
                }
                continue;
            }
            self.line.push(b);
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.line)
                    .trim()
                    .to_ascii_uppercase();
                self.line.clear();
                if line == "DATA" {
                    // The CRLF ending `DATA` also begins the end of an empty message.
                    (self.data, self.tail) = (true, b"\r\n".to_vec());
                }
            }
        }
    }
}
