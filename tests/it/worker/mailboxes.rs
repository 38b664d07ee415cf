//! Several `[[mailbox]]` entries in one worker: a mailbox whose password is wrong backs off and is
//! reported alone (in `status`, `/healthz` and `/metrics`) while the other's mail is sorted; `run --once`
//! beside a running worker sorts only what it can lease and says which mailboxes it skipped (on
//! PostgreSQL), or is refused (on SQLite, which has one worker).

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use super::connection::http_get;
use super::harness::wait_until;
use super::leases::Shared;
use crate::it::support::Backend;

crate::both_stores!(a_mailbox_with_a_wrong_password_is_reported_alone_and_the_other_is_sorted);

/// Guards against: one broken mailbox stopping the worker or the other mailboxes, a broken mailbox
/// reported nowhere, and `/healthz` failing the whole worker for one mailbox.
async fn a_mailbox_with_a_wrong_password_is_reported_alone_and_the_other_is_sorted(
    backend: Backend,
) -> Result<()> {
    let world = Shared::new("pair", backend, 2, 1).await?;
    // The second mailbox's password file is wrong.
    std::fs::write(world.dir.path().join("pw1"), "not-the-password")?;
    let mut worker = world.start(0, &[])?;
    let port = world.ports[0];
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(world.deliver(0, n).await?);
    }
    world.deliver(1, 100).await?;
    wait_until(Duration::from_secs(30), || async {
        Ok(world.ids_in(0, "Sorted").await?.len() == ids.len())
    })
    .await
    .with_context(|| format!("the good mailbox was not sorted\n{}", world.logs()))?;
    ensure!(worker.try_wait()?.is_none(), "the worker exited");
    ensure!(
        world.ids_in(1, "INBOX").await?.len() == 1,
        "the broken mailbox's mail moved"
    );

    // Dovecot answers a failed login only after its auth failure delay.
    wait_until(Duration::from_secs(30), || async {
        Ok(http_get(port, "/healthz").await?.1.contains("m1 down: "))
    })
    .await
    .with_context(|| format!("m1's failure never reached /healthz\n{}", world.logs()))?;
    let (code, body) = http_get(port, "/healthz").await?;
    ensure!(
        code == 200,
        "/healthz {code} with one mailbox live:\n{body}"
    );
    ensure!(body.contains("m0 live"), "{body}");
    let broken = body
        .lines()
        .find(|l| l.starts_with("m1 "))
        .with_context(|| format!("no line for m1:\n{body}"))?;
    ensure!(
        broken.starts_with("m1 down: ") && broken.contains("uthenticat"),
        "m1's line names the failure: {broken:?} in\n{body}\n{}",
        world.logs()
    );
    ensure!(
        !body.contains("not-the-password"),
        "/healthz shows the password"
    );
    let (_, metrics) = http_get(port, "/metrics").await?;
    for line in [
        "triaged_mailbox_live{mailbox=\"m0\"} 1",
        "triaged_mailbox_live{mailbox=\"m1\"} 0",
        "triaged_messages_sorted_total{mailbox=\"m0\",bucket=\"Sorted\"} 5",
    ] {
        ensure!(
            metrics.lines().any(|l| l == line),
            "/metrics lacks {line:?}:\n{metrics}"
        );
    }
    let errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("triaged_errors_total{mailbox=\"m1\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    ensure!(errors >= 1, "no error counted for m1:\n{metrics}");

    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"))
        .args(["status", "--config"])
        .arg(&world.configs[0])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&status.stdout);
    ensure!(
        status.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let m1 = text
        .split("mailbox ")
        .find(|part| part.starts_with("m1 "))
        .with_context(|| format!("status has no m1:\n{text}"))?;
    ensure!(
        m1.contains("lease         held by") && m1.contains("error ") && m1.contains("uthenticat"),
        "status of m1:\n{m1}"
    );
    let m0 = text
        .split("mailbox ")
        .find(|part| part.starts_with("m0 "))
        .context("status has no m0")?;
    ensure!(m0.contains("today         Sorted 5"), "status of m0:\n{m0}");
    ensure!(
        text.contains("workers\n") && text.contains("live, pid") && text.contains("holds m0, m1"),
        "status lists the worker with its mailboxes:\n{text}\n{:?}\n{:?}",
        world
            .store
            .rows::<(String, String, i64)>("SELECT name, holder, expires_ms FROM leases")
            .await,
        world
            .store
            .rows::<(String, i64, i64)>("SELECT id, heartbeat_ms, ttl_ms FROM workers")
            .await
    );

    // Beside the running worker: skipped on PostgreSQL, refused on SQLite.
    let once = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"))
        .args(["run", "--once", "--config"])
        .arg(&world.configs[0])
        .output()
        .await?;
    let (out, err) = (
        String::from_utf8_lossy(&once.stdout),
        String::from_utf8_lossy(&once.stderr),
    );
    match backend {
        Backend::Postgres => {
            ensure!(once.status.success(), "run --once failed: {err}");
            for name in ["m0", "m1"] {
                ensure!(
                    out.contains(&format!("{name}: skipped, held by worker ")),
                    "run --once does not say it skipped {name}:\n{out}"
                );
            }
        }
        Backend::Sqlite => {
            ensure!(!once.status.success(), "a second run on SQLite ran: {out}");
            ensure!(
                err.contains("is already using the SQLite store"),
                "the refusal does not say why: {err}"
            );
        }
    }

    std::process::Command::new("kill")
        .args(["-TERM", &worker.id().context("pid")?.to_string()])
        .status()?;
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait()).await??;
    ensure!(status.success(), "exit {status} after SIGTERM");
    Ok(())
}
