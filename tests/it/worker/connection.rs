//! The connection under `triaged run`: Dovecot restarted while triaged idles (a private instance, as the
//! restart would disturb tests sharing the common one), a TCP proxy that stops forwarding without closing
//! (a dead NAT mapping, a hung server), and implicit TLS with and without a trusted CA.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::harness::{
    Opts, World, append_all, assert_placed, bulk, imap_placement, in_inbox_only, placement_with,
    predict, wait_until,
};
use crate::it::support::Backend;
use crate::it::support::{
    PrivateServer, QUIET, TestUser, mailserver, new_user, private_mailserver, wait_quiet,
    wait_quiet_with,
};

/// Where `msg` is on the private server equals where `classify` says it goes.
async fn sorted_on(ps: &PrivateServer, user: &TestUser, msg: &(String, Vec<u8>)) -> Result<bool> {
    let want = predict(std::slice::from_ref(msg)).await?[&msg.0].clone();
    Ok(placement_with(|| ps.login(user)).await?.get(&msg.0) == Some(&want))
}

crate::both_stores!(dovecot_restarted_while_idling_then_a_delivered_message_is_sorted);

/// Guards against: a worker that never comes back after the server restarts under its IDLE.
async fn dovecot_restarted_while_idling_then_a_delivered_message_is_sorted(
    backend: Backend,
) -> Result<()> {
    // One instance per backend: the two runs of this test each restart their server.
    let ps = private_mailserver(&format!("restart-{backend:?}").to_ascii_lowercase()).await?;
    let user = ps.new_user("restart")?;
    let metrics = free_port()?;
    let world = World::imap_at(
        &ps.server,
        user.clone(),
        Opts {
            mailbox_extra: "poll_interval = \"10m\"\n",
            metrics: Some(metrics),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let mut child = world.command(&["run"]).spawn().context("start triaged")?;
    let warm = bulk("restart-warm", 1)?.remove(0);
    ps.deliver(&user, &warm.1).await?;
    wait_until(Duration::from_secs(20), || sorted_on(&ps, &user, &warm)).await?;
    ps.restart_like_a_service_manager(&user).await?;
    let msg = bulk("restart-after", 7)?.remove(6);
    ps.deliver(&user, &msg.1).await?;
    let took = wait_until(Duration::from_secs(30), || sorted_on(&ps, &user, &msg))
        .await
        .context("the message delivered after the restart was not sorted within 30 s")?;
    eprintln!("sorted {took:?} after the restart");
    wait_quiet_with(|| ps.login(&user), QUIET, Duration::from_secs(60)).await?;
    ensure!(
        sorted_on(&ps, &user, &msg).await?,
        "the message was moved or copied again once sorted"
    );
    ensure!(
        child.try_wait()?.is_none(),
        "triaged exited after the restart"
    );
    let (_, text) = http_get(metrics, "/metrics").await?;
    ensure!(
        has_line(&text, "triaged_reconnects_total{mailbox=\"default\"} 1"),
        "not exactly one reconnect:\n{text}"
    );
    child.start_kill().ok();
    ps.ctl("stop-dovecot").await?;
    world.assert_backend().await?;
    Ok(())
}

/// A TCP proxy to `upstream` whose existing connections can be frozen: bytes are no longer forwarded
/// either way, yet nothing is closed. Connections opened after a freeze forward normally.
struct Proxy {
    port: u16,
    /// Connections numbered below this are frozen.
    frozen_below: Arc<AtomicU64>,
    next: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: u16) -> Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let frozen_below = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(0));
        let (f, n) = (frozen_below.clone(), next.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = n.fetch_add(1, Ordering::SeqCst);
                let f = f.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, id, f.clone()), pump(sr, cw, id, f));
                });
            }
        });
        Ok(Proxy {
            port,
            frozen_below,
            next,
        })
    }

    /// Stops forwarding on every connection open now, without closing any.
    fn freeze(&self) {
        self.frozen_below
            .store(self.next.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn connections(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }
}

/// Copies bytes until EOF; once frozen, holds them (and stops reading) forever.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    id: u64,
    frozen_below: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if id < frozen_below.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            continue;
        }
        let n = match tokio::time::timeout(Duration::from_millis(100), from.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        while id < frozen_below.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `GET path` on the metrics listener: (status code, body).
pub(super) async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("bad HTTP answer {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((code, body))
}

/// Whether `text` has `line` as a whole line (`triaged_reconnects_total 1` is not `... 12`).
pub(super) fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim_end() == line)
}

pub(super) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

crate::both_stores!(
    a_silent_connection_fails_healthz_and_triaged_reconnects_within_the_liveness_limit
);

/// Guards against: a connection that goes silent without closing keeping the worker "live" and deaf.
async fn a_silent_connection_fails_healthz_and_triaged_reconnects_within_the_liveness_limit(
    backend: Backend,
) -> Result<()> {
    let server = mailserver().await?;
    let user = new_user("proxy").await?;
    let proxy = Proxy::start(server.imap_port).await?;
    let metrics = free_port()?;
    let url = format!("imap://USER@localhost:{}/INBOX", proxy.port);
    let world = World::imap_at(
        server,
        user.clone(),
        Opts {
            url: Some(&url),
            mailbox_extra: "poll_interval = \"10m\"\nliveness_limit = \"3s\"\n",
            metrics: Some(metrics),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let mut child = world.command(&["run"]).spawn().context("start triaged")?;
    let warm = bulk("proxy-warm", 1)?;
    append_all(&user, "INBOX", &warm).await?;
    wait_until(Duration::from_secs(20), || async {
        Ok(imap_placement(&user)
            .await?
            .get(&warm[0].0)
            .is_some_and(|f| !in_inbox_only(f)))
    })
    .await?;
    ensure!(
        http_get(metrics, "/healthz").await?.0 == 200,
        "not live before the freeze"
    );
    let before = proxy.connections();
    proxy.freeze();
    let frozen = Instant::now();
    wait_until(Duration::from_secs(5), || async {
        Ok(http_get(metrics, "/healthz").await?.0 == 503)
    })
    .await
    .context("/healthz stayed 200 on a frozen connection")?;
    let failed_after = frozen.elapsed();
    let msg = bulk("proxy-after", 3)?.remove(2);
    let expected = predict(std::slice::from_ref(&msg)).await?;
    append_all(&user, "INBOX", std::slice::from_ref(&msg)).await?;
    let took = wait_until(Duration::from_secs(10), || async {
        Ok(http_get(metrics, "/healthz").await?.0 == 200
            && imap_placement(&user).await?.contains_key(&msg.0)
            && assert_placed(&imap_placement(&user).await?, &expected).is_ok())
    })
    .await
    .context("no reconnect and sort within 10 s of the freeze")?;
    wait_quiet(&user).await?;
    assert_placed(&imap_placement(&user).await?, &expected)
        .context("the message was moved or copied again once sorted")?;
    eprintln!("healthz 503 after {failed_after:?}; live and sorted again {took:?} later");
    ensure!(
        failed_after <= Duration::from_millis(4_500),
        "/healthz failed only {failed_after:?} after the freeze (limit 3 s)"
    );
    ensure!(
        proxy.connections() > before,
        "no new connection through the proxy"
    );
    let (_, text) = http_get(metrics, "/metrics").await?;
    for line in [
        "triaged_reconnects_total{mailbox=\"default\"} 1",
        "triaged_live 1",
    ] {
        ensure!(
            has_line(&text, line),
            "/metrics lacks the line {line:?}:\n{text}"
        );
    }
    for needle in [
        "triaged_errors_total",
        "triaged_server_silence_seconds",
        "triaged_outbox_depth",
        "triaged_messages_sorted_total{mailbox=\"default\",bucket=",
        "triaged_lease_held{mailbox=\"default\"} 1",
    ] {
        ensure!(text.contains(needle), "/metrics lacks {needle:?}:\n{text}");
    }
    child.start_kill().ok();
    world.assert_backend().await?;
    Ok(())
}

crate::both_stores!(implicit_tls_with_the_test_ca_sorts_the_backlog);

/// Guards against: implicit TLS (imaps://) not working with a private CA.
async fn implicit_tls_with_the_test_ca_sorts_the_backlog(backend: Backend) -> Result<()> {
    let server = mailserver().await?;
    let url = format!("imaps://USER@localhost:{}/INBOX", server.imaps_port);
    let world = World::imap(
        "imaps",
        Opts {
            url: Some(&url),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = bulk("imaps", 30)?;
    let expected = predict(&messages).await?;
    append_all(user, "INBOX", &messages).await?;
    let out = world.run_once().await?;
    ensure!(out.contains("sorted 30 message(s)"), "{out}");
    assert_placed(&imap_placement(user).await?, &expected)?;
    world.assert_backend().await
}

crate::both_stores!(implicit_tls_refuses_a_certificate_no_trusted_ca_signed);

/// Guards against: accepting a server certificate no trusted CA signed.
async fn implicit_tls_refuses_a_certificate_no_trusted_ca_signed(backend: Backend) -> Result<()> {
    let server = mailserver().await?;
    let url = format!("imaps://USER@localhost:{}/INBOX", server.imaps_port);
    let world = World::imap(
        "imaps-untrusted",
        Opts {
            url: Some(&url),
            no_ca: true,
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    append_all(user, "INBOX", &bulk("imaps-untrusted", 1)?).await?;
    let out = world
        .command(&["run", "--once"])
        .output()
        .await
        .context("run triaged")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(1),
        "exit {} without a trusted CA: {stderr}",
        out.status
    );
    ensure!(
        stderr.contains("certificate") && stderr.contains("UnknownIssuer"),
        "no certificate error in the log: {stderr}"
    );
    ensure!(
        imap_placement(user)
            .await?
            .values()
            .all(|f| in_inbox_only(f)),
        "mail was moved over an untrusted connection"
    );
    world.assert_backend().await?;
    Ok(())
}
