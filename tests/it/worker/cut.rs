//! The connection cut under `triaged run`: a proxy before Dovecot (plaintext IMAP on loopback, so it
//! can read the commands) closes both sides the first time triaged sends `UID FETCH` (mid-fetch of the
//! backlog), `UID MOVE` (the server has moved the messages, triaged never hears so) or `IDLE` (while
//! waiting for new mail), once per test, and the test asserts that it cut. Then the worker must recover
//! by itself: the backlog and a message delivered afterwards end up exactly where their verdicts say,
//! each copy with its flags, one verdict each, after exactly one reconnect.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use super::connection::{free_port, has_line, http_get};
use super::harness::{Opts, World, append_all, bulk};
use super::plans::{Settled, check_world, wait_settled};
use crate::it::support::{
    Backend, Fault, Proxy, deliver_lmtp, imap_login, mailserver, new_user, wait_quiet,
};

/// Sorts a backlog and a later delivery through a proxy that cuts on `command`.
async fn cut_on(backend: Backend, command: &'static str) -> Result<()> {
    let server = mailserver().await?;
    let prefix = format!("cut-{}", command.replace(' ', "-").to_ascii_lowercase());
    let user = new_user(&prefix).await?;
    let commands: &'static [&'static str] = match command {
        "UID FETCH" => &["UID FETCH"],
        "UID MOVE" => &["UID MOVE"],
        _ => &["IDLE"],
    };
    let proxy = Proxy::start(server.imap_port, Fault::CutOn(commands)).await?;
    let metrics = free_port()?;
    let url = format!("imap://USER@127.0.0.1:{}/INBOX", proxy.port);
    let world = World::imap_at(
        server,
        user.clone(),
        Opts {
            url: Some(&url),
            mailbox_extra: "allow_plaintext = true\npoll_interval = \"10m\"\n",
            metrics: Some(metrics),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let mut messages = bulk(&prefix, 301)?;
    let late = messages.pop().context("a message to deliver")?;
    append_all(&user, "INBOX", &messages).await?;
    let mut ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();

    let mut child = world.command(&["run"]).spawn().context("start triaged")?;
    let cut = proxy.wait_fired(Duration::from_secs(60)).await?;
    ensure!(cut == command, "the proxy cut on {cut}, not {command}");
    let login = || imap_login(&user, false);
    wait_settled(&world, login, &ids, Duration::from_secs(60))
        .await
        .with_context(|| format!("the backlog was not sorted after the cut on {command}"))?;
    deliver_lmtp(&user, &late.1).await?;
    ids.push(late.0.clone());
    wait_settled(&world, login, &ids, Duration::from_secs(30))
        .await
        .with_context(|| format!("a delivery after the cut on {command} was not sorted"))?;
    wait_quiet(&user).await?;
    check_world(&world, login, &ids, Settled::Yes).await?;

    ensure!(child.try_wait()?.is_none(), "triaged exited after the cut");
    let (_, text) = http_get(metrics, "/metrics").await?;
    ensure!(
        has_line(&text, "triaged_reconnects_total{mailbox=\"default\"} 1"),
        "not exactly one reconnect after the cut on {command}:\n{text}"
    );
    ensure!(
        proxy.connections() == 2,
        "{} connections through the proxy, expected the cut one and one more",
        proxy.connections()
    );
    child.start_kill().ok();
    world.assert_backend().await
}

crate::both_stores!(a_connection_cut_mid_uid_fetch_is_recovered_with_nothing_lost_or_doubled);

/// Guards against: a fetch cut off half-way losing the batch, or a verdict recorded for half a message.
async fn a_connection_cut_mid_uid_fetch_is_recovered_with_nothing_lost_or_doubled(
    backend: Backend,
) -> Result<()> {
    cut_on(backend, "UID FETCH").await
}

crate::both_stores!(a_connection_cut_mid_uid_move_is_recovered_with_nothing_lost_or_doubled);

/// Guards against: a MOVE the server carried out but never confirmed being done again (two copies),
/// or the rest of its group left in the watched folder.
async fn a_connection_cut_mid_uid_move_is_recovered_with_nothing_lost_or_doubled(
    backend: Backend,
) -> Result<()> {
    cut_on(backend, "UID MOVE").await
}

crate::both_stores!(a_connection_cut_during_idle_is_recovered_and_new_mail_is_sorted);

/// Guards against: a worker that stays deaf after its IDLE connection is cut.
async fn a_connection_cut_during_idle_is_recovered_and_new_mail_is_sorted(
    backend: Backend,
) -> Result<()> {
    cut_on(backend, "IDLE").await
}
