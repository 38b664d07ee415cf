//! A worker paused past its lease (SIGSTOP, as a long GC pause or a frozen VM) and then continued must
//! apply nothing for the mailbox another worker took meanwhile. The pause comes at the fail point
//! between the lease check and the IMAP command it guards (`after-lease-check`): the worst moment, since
//! the IMAP server is not fenced. The test checks that the paused worker says it lost the lease, that
//! it recorded nothing after it continued, that every message has one verdict and that Dovecot's log
//! shows each message moved once.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};

use super::harness::wait_until;
use super::leases::{Shared, process_state};
use crate::it::support::Backend;

const MESSAGES: usize = 40;

crate::both_stores!(a_worker_paused_past_its_lease_applies_nothing_after_it_was_taken);

/// Guards against: a worker waking from a pause and committing or applying for a mailbox another
/// worker holds now, and a message moved twice by the two.
async fn a_worker_paused_past_its_lease_applies_nothing_after_it_was_taken(
    backend: Backend,
) -> Result<()> {
    if backend == Backend::Sqlite {
        // One worker at a time on SQLite: the paused worker keeps its file lock, so a second one is
        // refused while it is stopped, and nothing can be taken from it.
        return sqlite_keeps_the_paused_worker_alone().await;
    }
    let world = Shared::new("fence", backend, 1, 2).await?;
    let (mut paused, pid) = paused_worker(&world).await?;
    let stopped = Instant::now();
    let committed: Vec<(i64,)> = world.store.rows("SELECT COUNT(*) FROM verdicts").await?;
    ensure!(
        committed[0].0 == 10,
        "{} verdicts committed before the pause, expected one batch of 10",
        committed[0].0
    );

    // Worker 1 takes the lease once it expires, re-applies the paused worker's batch, sorts the rest.
    let mut taker = world.start(1, &[])?;
    wait_until(Duration::from_secs(60), || async {
        world.inbox_empty(0).await
    })
    .await
    .with_context(|| format!("the new holder did not sort the mailbox\n{}", world.logs()))?;
    eprintln!(
        "taken over and sorted {:?} after the pause",
        stopped.elapsed()
    );
    let tokens: Vec<(String, i64)> = world.store.rows("SELECT holder, token FROM leases").await?;
    ensure!(
        tokens[0].1 >= 2
            && tokens[0]
                .0
                .contains(&format!(":{}:", taker.id().context("pid")?)),
        "the lease is not the new worker's under a higher token: {tokens:?}"
    );

    // Continue the paused worker: its IMAP command finds nothing left to move, and its next write is
    // refused by the fence.
    let continued_ms = now_ms();
    std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()?;
    wait_until(Duration::from_secs(20), || async {
        Ok(world.logs().contains("lease lost"))
    })
    .await
    .with_context(|| format!("the continued worker never noticed\n{}", world.logs()))?;
    // Let it run on for a while: it must stay quiet for this mailbox.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in MESSAGES..MESSAGES + 5 {
        world.deliver(0, n).await?;
    }
    wait_until(Duration::from_secs(30), || async {
        world.inbox_empty(0).await
    })
    .await?;
    for child in [&mut paused, &mut taker] {
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().context("pid")?.to_string()])
            .status()?;
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    }

    let logs = world.logs();
    let paused_log = logs
        .split("== ")
        .find(|part| part.contains("fail point after-lease-check reached"))
        .context("the paused worker's log")?;
    ensure!(
        paused_log.contains("continued after fail point")
            && paused_log.contains("write refused by the lease's fencing token")
            && paused_log.contains("is stale"),
        "the paused worker's log:\n{paused_log}"
    );
    let late: Vec<(i64,)> = world
        .store
        .rows(&format!(
            "SELECT COUNT(*) FROM verdicts WHERE created_ms >= {continued_ms} AND uid <= {MESSAGES}"
        ))
        .await?;
    ensure!(
        late[0].0 == 0,
        "{} verdicts recorded after the pause for mail the new holder had",
        late[0].0
    );
    let verdicts: Vec<(String, i64)> = world
        .store
        .rows("SELECT message_id, COUNT(*) FROM verdicts GROUP BY message_id")
        .await?;
    ensure!(
        verdicts.len() == MESSAGES + 5 && verdicts.iter().all(|(_, n)| *n == 1),
        "{} messages with verdicts, doubled: {:?}",
        verdicts.len(),
        verdicts.iter().filter(|(_, n)| *n > 1).collect::<Vec<_>>()
    );
    let sorted = world.ids_in(0, "Sorted").await?;
    ensure!(sorted.len() == MESSAGES + 5, "{} in Sorted", sorted.len());
    let copies = world.mail_log("copy", "Sorted")?;
    let expunges = world.mail_log("expunge", "INBOX")?;
    for id in &sorted {
        ensure!(
            copies.get(id) == Some(&1) && expunges.get(id) == Some(&1),
            "{id} moved {:?} times ({:?} expunges from INBOX)",
            copies.get(id),
            expunges.get(id)
        );
    }
    Ok(())
}

/// On SQLite a second worker is refused while the first is paused, and the first, continued, sorts
/// everything itself.
async fn sqlite_keeps_the_paused_worker_alone() -> Result<()> {
    let world = Shared::new("fence", Backend::Sqlite, 1, 2).await?;
    let (mut paused, pid) = paused_worker(&world).await?;
    let mut second = world.start(1, &[])?;
    let status = tokio::time::timeout(Duration::from_secs(20), second.wait()).await??;
    ensure!(!status.success(), "a second worker ran beside a paused one");
    ensure!(world.logs().contains("is already using the SQLite store"));
    std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()?;
    wait_until(Duration::from_secs(60), || async {
        world.inbox_empty(0).await
    })
    .await
    .with_context(|| format!("the continued worker did not finish\n{}", world.logs()))?;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    tokio::time::timeout(Duration::from_secs(30), paused.wait()).await??;
    let verdicts: Vec<(String, i64)> = world
        .store
        .rows("SELECT message_id, COUNT(*) FROM verdicts GROUP BY message_id")
        .await?;
    ensure!(verdicts.len() == MESSAGES && verdicts.iter().all(|(_, n)| *n == 1));
    Ok(())
}

/// Delivers the backlog and starts worker 0, which commits a batch of 10, checks its lease before
/// moving them, and stops right there; returns it once it is stopped.
async fn paused_worker(world: &Shared) -> Result<(tokio::process::Child, u32)> {
    for n in 0..MESSAGES {
        world.deliver(0, n).await?;
    }
    let paused = world.start(
        0,
        &[
            ("TRIAGED_FAILPOINT", "after-lease-check"),
            ("TRIAGED_FAILPOINT_ACTION", "stop"),
            ("TRIAGED_FAILPOINT_BATCH", "10"),
        ],
    )?;
    let pid = paused.id().context("pid")?;
    wait_until(Duration::from_secs(30), || async {
        Ok(process_state(pid) == Some('T'))
    })
    .await
    .with_context(|| format!("worker 0 never stopped at the fail point\n{}", world.logs()))?;
    Ok((paused, pid))
}

fn now_ms() -> i64 {
    triaged::clock::Clock::system().now_ms()
}
