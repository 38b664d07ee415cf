//! The worker's one scheduler: a long-lived task that dies (the outbox sender, panicking at a fail
//! point) stops the whole group, and `triaged run` exits 1 naming the task, instead of carrying on half
//! alive with its watcher still sorting and nothing sending.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use super::harness::{Opts, World};
use crate::it::support::Backend;

crate::both_stores!(a_task_that_dies_stops_the_whole_worker_with_exit_1);

/// Guards against: a task of the worker dying while the process lives on, or being only logged.
async fn a_task_that_dies_stops_the_whole_worker_with_exit_1(backend: Backend) -> Result<()> {
    let port = super::connection::free_port()?;
    let world = World::maildir(Opts {
        metrics: Some(port),
        backend,
        ..Opts::default()
    })
    .await?;
    let child = world
        .command(&["run"])
        .env("TRIAGED_FAILPOINT", "outbox-sender-panic")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("start triaged run")?;
    let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .context("triaged run kept running after one of its tasks died")??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(1),
        "exit status {} (wanted 1): {stderr}",
        out.status
    );
    ensure!(
        stderr.contains("fail point outbox-sender-panic reached"),
        "the fail point was not armed (a build without `--features failpoints`?): {stderr}"
    );
    ensure!(
        stderr.contains("outbox sender panicked"),
        "the error does not name the task: {stderr}"
    );
    ensure!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the metrics listener outlived the worker"
    );
    world.assert_backend().await?;
    Ok(())
}
