//! SIGTERM in the middle of a backlog: the signal must come while work remains (the store shows a
//! first batch committed, not the last), `triaged run` must exit 0 within 10 s, and every verdict it
//! committed must be applied before it exits or be re-applied by the restart, which then finishes the
//! backlog with one verdict per message. Checked copy by copy against the recorded plans.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};

use super::harness::{
    Opts, World, append_all, assert_placed, bulk, imap_placement, predict, verdict_rows,
};
use super::plans::{Settled, check_world, verdicts, wait_for_count};
use crate::it::support::{Backend, imap_login};

/// Four batches: the signal comes after the first commit, the drain finishes at most the next.
const MESSAGES: usize = 2000;

crate::both_stores!(sigterm_mid_backlog_exits_cleanly_and_a_restart_finishes_exactly_once);

/// Guards against: SIGTERM killing a batch half-done, a committed verdict neither applied nor
/// recovered, or a restart redoing part of the backlog.
async fn sigterm_mid_backlog_exits_cleanly_and_a_restart_finishes_exactly_once(
    backend: Backend,
) -> Result<()> {
    let world = World::imap(
        "sigterm",
        Opts {
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = bulk("sigterm", MESSAGES)?;
    let ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
    let expected = predict(&messages).await?;
    append_all(user, "INBOX", &messages).await?;
    let log = std::fs::File::create(world.dir.path().join("run.log"))?;
    let mut child = world
        .command(&["run"])
        .stderr(log)
        .spawn()
        .context("start triaged run")?;
    let pid = child.id().context("child pid")?;
    let committed = wait_for_count(&world, "SELECT COUNT(*) FROM verdicts", 1, &mut child).await?;
    let start = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .context("triaged did not exit within 10 s of SIGTERM")??;
    ensure!(status.success(), "exit status {status} after SIGTERM");
    eprintln!(
        "SIGTERM with {committed} verdicts committed; exited {:?} later",
        start.elapsed()
    );

    let recorded = verdicts(&world).await?;
    ensure!(
        committed < MESSAGES as i64 && recorded.len() < MESSAGES,
        "no work remained: {} of {MESSAGES} messages had verdicts at exit",
        recorded.len()
    );
    let login = || imap_login(user, false);
    check_world(&world, login, &ids, Settled::No)
        .await
        .context("after SIGTERM")?;
    let unapplied = recorded.values().flatten().filter(|r| !r.applied).count();
    let out = world.run_once().await?;
    let reapplied = format!("{unapplied} verdict(s) from an earlier run re-applied");
    ensure!(
        (unapplied == 0 && !out.contains("re-applied")) || out.contains(&reapplied),
        "{unapplied} verdicts were committed but not applied at exit; the restart said: {out}"
    );
    check_world(&world, login, &ids, Settled::Yes).await?;
    assert_placed(&imap_placement(user).await?, &expected)?;
    ensure!(
        verdict_rows(&world).await?.len() == MESSAGES,
        "one verdict per message"
    );
    world.assert_backend().await
}
