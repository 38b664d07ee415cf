//! `triaged run` against the real Dovecot (and a Maildir): a backlog sorted exactly as `triaged
//! classify` predicts, delivery while idling, crashes at fail points, UIDVALIDITY changes, SIGTERM,
//! a silent connection, and the Maildir source. Each test has its own mail user or Maildir and store.

mod capabilities;
mod caused_mail;
mod connection;
mod cut;
mod fencing;
mod harness;
mod keywords;
mod kill;
mod leases;
mod mailboxes;
mod plans;
mod quarantine;
mod scheduler;
mod sigterm;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use self::harness::{
    FolderFlags, Opts, World, append_all, assert_placed, bulk, imap_placement, in_inbox_only,
    predict, predict_with, verdict_rows, wait_until,
};
use super::support::{Backend, deliver_lmtp, wait_quiet};

crate::both_stores!(backlog_is_left_as_sieve_test_predicts_and_a_second_run_changes_nothing);

/// Guards against: a backlog sorted differently from what Pigeonhole's `sieve-test` says, a copy with
/// another copy's flags (or with flags merged across copies, or `\Seen` no rule set), header-only
/// mail quarantined, or a second run that moves or re-records anything; on both stores.
async fn backlog_is_left_as_sieve_test_predicts_and_a_second_run_changes_nothing(
    backend: Backend,
) -> Result<()> {
    let script = std::path::Path::new(harness::MANIFEST).join("tests/sieve/per-copy-flags.sieve");
    let world = World::imap(
        "backlog",
        Opts {
            backend,
            script: Some(&script),
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = bulk("backlog", 2000)?;
    let expected = predict_with(&script, &messages).await?;
    let buckets: BTreeSet<&String> = expected.values().flatten().map(|(f, _)| f).collect();
    ensure!(
        buckets.len() >= 8,
        "the corpus spreads over only {} buckets",
        buckets.len()
    );
    let differing = expected
        .values()
        .filter(|copies| copies.len() >= 2 && copies.iter().any(|(_, f)| f != &copies[0].1))
        .count();
    ensure!(
        differing >= 100,
        "only {differing} messages are filed into two folders with different flags"
    );
    let header_only = messages
        .iter()
        .filter(|(_, raw)| !raw.windows(4).any(|w| w == b"\r\n\r\n"))
        .count();
    ensure!(header_only >= 40, "only {header_only} header-only messages");
    append_all(user, "INBOX", &messages).await?;
    let out = world.run_once().await?;
    ensure!(out.contains("sorted 2000 message(s)"), "summary: {out}");
    let placed = imap_placement(user).await?;
    assert_placed(&placed, &expected)?;
    world.assert_backend().await?;
    let rows = verdict_rows(&world).await?;
    ensure!(
        rows.len() == 2000,
        "{} verdict rows for 2000 messages",
        rows.len()
    );
    let again = world.run_once().await?;
    ensure!(again.contains("sorted 0 message(s)"), "second run: {again}");
    ensure!(
        imap_placement(user).await? == placed,
        "the second run changed the mailbox"
    );
    ensure!(
        verdict_rows(&world).await?.len() == 2000,
        "the second run recorded verdicts"
    );
    Ok(())
}

crate::both_stores!(delivery_while_idling_is_sorted_within_two_seconds);

/// Guards against: mail delivered while idling left unsorted until the next poll.
async fn delivery_while_idling_is_sorted_within_two_seconds(backend: Backend) -> Result<()> {
    let world = World::imap(
        "idle",
        Opts {
            mailbox_extra: "poll_interval = \"10m\"\n",
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let mut child = world
        .command(&["run"])
        .spawn()
        .context("start triaged run")?;
    let first = bulk("idle-warm", 1)?;
    deliver_lmtp(user, &first[0].1).await?;
    wait_until(Duration::from_secs(20), || async {
        Ok(imap_placement(user)
            .await?
            .get("idle-warm-0@test.example")
            .is_some_and(|f| !in_inbox_only(f)))
    })
    .await?;
    let msg = bulk("idle", 20)?.swap_remove(10);
    let expected = predict(std::slice::from_ref(&msg)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    deliver_lmtp(user, &msg.1).await?;
    let want = expected[&msg.0].clone();
    let took = wait_until(Duration::from_secs(2), || async {
        Ok(imap_placement(user).await?.get(&msg.0) == Some(&want))
    })
    .await
    .context("the delivered message was not sorted within 2 s")?;
    wait_quiet(user).await?;
    ensure!(
        imap_placement(user).await?.get(&msg.0) == Some(&want),
        "the delivered message was moved or copied again once sorted"
    );
    child.start_kill().ok();
    eprintln!("delivered → sorted in {took:?}");
    world.assert_backend().await?;
    Ok(())
}

crate::both_stores!(kill_at_each_fail_point_then_restart_sorts_each_message_exactly_once);

/// Guards against: a crash between a verdict's commit and its MOVE (or mid-batch, or after a batch)
/// losing a message, moving it twice or giving it two verdicts.
async fn kill_at_each_fail_point_then_restart_sorts_each_message_exactly_once(
    backend: Backend,
) -> Result<()> {
    for point in [
        "after-verdict-commit",
        "before-verdict-commit",
        "after-apply",
    ] {
        let world = World::imap(
            "crash",
            Opts {
                backend,
                ..Opts::default()
            },
        )
        .await?;
        let user = world.user()?;
        let messages = bulk(&format!("crash-{point}"), 600)?;
        let expected = predict(&messages).await?;
        append_all(user, "INBOX", &messages).await?;
        world.crash_at(point).await?;
        world.run_once().await?;
        assert_placed(&imap_placement(user).await?, &expected)
            .with_context(|| format!("fail point {point}"))?;
        let rows = verdict_rows(&world).await?;
        let ids: BTreeSet<&String> = rows.iter().map(|r| &r.3).collect();
        ensure!(
            rows.len() == 600 && ids.len() == 600,
            "{point}: {} verdicts for {} messages",
            rows.len(),
            ids.len()
        );
        world.assert_backend().await?;
    }
    Ok(())
}

crate::both_stores!(a_recreated_folder_is_resynced_without_reprocessing);

/// Guards against: a recreated folder (new UIDVALIDITY) making every message look new.
async fn a_recreated_folder_is_resynced_without_reprocessing(backend: Backend) -> Result<()> {
    let world = World::imap(
        "uidvalidity",
        Opts {
            url: Some("imap://USER@localhost:PORT/Incoming"),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    // A rule-free folder of kept messages: the script keeps nothing in place, so use Triage mail and
    // then put the sorted messages back into a recreated Incoming folder, as a restore would.
    let messages = bulk("uv", 40)?;
    let mut session = super::support::imap_login(user, false).await?;
    session
        .create("Incoming")
        .await
        .context("create Incoming")?;
    session.logout().await.ok();
    append_all(user, "Incoming", &messages).await?;
    world.run_once().await?;
    let first = verdict_rows(&world).await?;
    ensure!(first.len() == 40, "{} verdicts", first.len());
    let mut session = super::support::imap_login(user, false).await?;
    session
        .delete("Incoming")
        .await
        .context("delete Incoming")?;
    session
        .create("Incoming")
        .await
        .context("recreate Incoming")?;
    session.logout().await.ok();
    append_all(user, "Incoming", &messages[..10]).await?;
    let out = world.run_once().await?;
    ensure!(
        out.contains("sorted 0 message(s)") && out.contains("10 already sorted"),
        "after recreate: {out}"
    );
    let rows = verdict_rows(&world).await?;
    ensure!(rows.len() == 40, "{} verdicts after the resync", rows.len());
    let placed = imap_placement(user).await?;
    ensure!(
        placed
            .values()
            .filter(|f| f.iter().any(|(folder, _)| folder == "Incoming"))
            .count()
            == 10,
        "restored messages moved again"
    );
    world.assert_backend().await?;
    Ok(())
}

crate::both_stores!(maildir_backlog_is_sorted_and_survives_kill_at_the_fail_point);

/// Guards against: the Maildir source losing or duplicating mail across a crash.
async fn maildir_backlog_is_sorted_and_survives_kill_at_the_fail_point(
    backend: Backend,
) -> Result<()> {
    let world = World::maildir(Opts {
        backend,
        ..Opts::default()
    })
    .await?;
    let messages = bulk("maildir", 600)?;
    let expected = predict(&messages).await?;
    for (i, (_, raw)) in messages.iter().enumerate() {
        std::fs::write(
            world
                .maildir_path()
                .join("new")
                .join(format!("{}.M{i}P1.test", 1_700_000_000 + i)),
            raw,
        )?;
    }
    world.crash_at("after-verdict-commit").await?;
    world.run_once().await?;
    let placed = maildir_placement(&world)?;
    assert_placed(&placed, &expected)?;
    ensure!(
        verdict_rows(&world).await?.len() == 600,
        "one verdict per message"
    );
    let again = world.run_once().await?;
    ensure!(again.contains("sorted 0 message(s)"), "second run: {again}");
    world.assert_backend().await?;
    Ok(())
}

/// Message-ID → every copy with its flags, read from the Maildir files: system flags from the letters
/// of the `:2,` info part, keywords through each folder's `dovecot-keywords`.
fn maildir_placement(world: &World) -> Result<BTreeMap<String, Vec<FolderFlags>>> {
    let root = world.maildir_path();
    let mut out: BTreeMap<String, Vec<FolderFlags>> = BTreeMap::new();
    let mut dirs = vec![("INBOX".to_owned(), root.clone())];
    for e in std::fs::read_dir(&root)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(folder) = name.strip_prefix('.') {
            dirs.push((folder.replace('.', "/"), e.path()));
        }
    }
    for (folder, dir) in dirs {
        let keywords = triaged::mailbox::maildir::keywords::Keywords::load(&dir)?;
        for sub in ["cur", "new"] {
            for f in std::fs::read_dir(dir.join(sub))?.flatten() {
                let raw = std::fs::read(f.path())?;
                let text = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
                let id = text
                    .strip_prefix("Message-ID: <")
                    .and_then(|t| t.split('>').next())
                    .context("message without the test Message-ID")?;
                let file = f.file_name().to_string_lossy().into_owned();
                let (_, letters) = triaged::mailbox::maildir::split_name(&file);
                let flags: BTreeSet<String> =
                    triaged::mailbox::maildir::flag_names(letters, &keywords)
                        .into_iter()
                        .collect();
                out.entry(id.to_owned())
                    .or_default()
                    .push((folder.clone(), flags));
            }
        }
    }
    for copies in out.values_mut() {
        copies.sort();
    }
    Ok(out)
}
