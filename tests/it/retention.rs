//! `triaged retention` against the real Dovecot: mail APPENDed with past internal dates into bucket
//! folders; the dry run lists exactly what is past its bucket's limit and changes nothing; `--apply`
//! purges exactly that with UID EXPUNGE, never a held message (open dispute, case number, manual hold);
//! a purge killed at a fail point is finished once by the next run; `max_per_run`; the schedule inside
//! `triaged run`; a Maildir; and the pruning of triaged's own records. State is read back with the
//! tests' own IMAP client and SQL, on SQLite and PostgreSQL.

pub(super) mod env;
mod records;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use self::env::{Env, days_ago, listed, mail};
use super::support::{Backend, append_at};

const RULES: &str = "[disputes]\nbuckets = [\"Support/Disputes\"]\n\n[retention.buckets]\n\
                     Junk = \"30d\"\nBounces = \"60d\"\n";

/// The Message-IDs a test places, by what should become of them.
struct Placed {
    due: BTreeSet<String>,
    held: BTreeMap<String, &'static str>,
    young: String,
    kept: BTreeSet<String>,
}

/// Places the mail of the main test: due, held for each reason, too young, without a rule, and a young
/// message another client marked `\Deleted`.
async fn place(env: &Env) -> Result<Placed> {
    let p = |s: &str| env.id(s);
    let mut session = env.session().await?;
    let dispute = p("dispute");
    append_at(
        &mut session,
        "INBOX",
        &mail(
            &dispute,
            "I want to file a dispute",
            "",
            "Please arbitrate.",
        ),
        &[],
        days_ago(1),
    )
    .await?;
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[]).await?;
    let mut session = env.session().await?;
    let junk = [
        (p("old-1"), 40, String::new(), "buy now"),
        (p("old-2"), 45, String::new(), "cheap"),
        (
            p("case"),
            50,
            String::new(),
            "about case a20261001.3, as agreed",
        ),
        (
            p("reply"),
            50,
            format!("In-Reply-To: <{dispute}>\r\n"),
            "me too",
        ),
        (p("manual"), 50, String::new(), "keep me"),
        (p("ticket"), 50, String::new(), "[s20261001.004] spam?"),
        (p("young"), 20, String::new(), "new"),
    ];
    for (id, age, headers, body) in &junk {
        append_at(
            &mut session,
            "Junk",
            &mail(id, body, headers, body),
            &[],
            days_ago(*age),
        )
        .await?;
    }
    let anonymous = b"Subject: no id\r\n\r\nold and anonymous\r\n";
    append_at(&mut session, "Junk", anonymous, &[], days_ago(41)).await?;
    let marked = p("marked");
    append_at(
        &mut session,
        "Junk",
        &mail(&marked, "x", "", "x"),
        &["\\Deleted"],
        days_ago(5),
    )
    .await?;
    append_at(
        &mut session,
        "Bounces",
        &mail(&p("bounce-old"), "b", "", "b"),
        &[],
        days_ago(70),
    )
    .await?;
    append_at(
        &mut session,
        "Bounces",
        &mail(&p("bounce-mid"), "b", "", "b"),
        &[],
        days_ago(50),
    )
    .await?;
    append_at(
        &mut session,
        "Triage",
        &mail(&p("triage-old"), "t", "", "t"),
        &[],
        days_ago(400),
    )
    .await?;
    session.logout().await.ok();
    env.ok(
        &[
            "retention",
            "hold",
            "--message-id",
            &format!("<{}>", p("manual")),
            "--reason",
            "legal request",
        ],
        &[],
    )
    .await?;
    env.ok(
        &[
            "retention",
            "hold",
            "--ticket",
            "s20261001.004",
            "--reason",
            "court order",
        ],
        &[],
    )
    .await?;
    Ok(Placed {
        due: [
            p("old-1"),
            p("old-2"),
            p("bounce-old"),
            "(no Message-ID".to_owned(),
        ]
        .into(),
        held: BTreeMap::from([
            (p("case"), "carries arbitration case number a20261001.3"),
            (p("reply"), "open dispute in its thread"),
            (p("manual"), "manual hold 1 on this message: legal request"),
            (
                p("ticket"),
                "manual hold 2 on ticket s20261001.004: court order",
            ),
        ]),
        young: p("young"),
        kept: [marked, p("bounce-mid"), p("triage-old"), dispute].into(),
    })
}

crate::both_stores!(dry_run_lists_exactly_the_aged_and_apply_purges_exactly_those);

/// Guards against: a dry run that lists the wrong mail or changes anything; a purge of a held message,
/// of a message within its limit, of a folder without a rule, or of another client's `\Deleted` mail
/// (a plain EXPUNGE); a purge without its one audit event; a second run that does anything.
async fn dry_run_lists_exactly_the_aged_and_apply_purges_exactly_those(
    backend: Backend,
) -> Result<()> {
    let env = Env::new("retention", backend, RULES).await?;
    let placed = place(&env).await?;
    let before = env.state().await?;
    let dry = env.ok(&["retention", "run"], &[]).await?;
    ensure!(
        listed(&dry, "purge")
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
            == placed.due,
        "dry run:\n{dry}"
    );
    let held = listed(&dry, "held");
    for (id, why) in &placed.held {
        ensure!(
            held.get(id).is_some_and(|r| r.starts_with(why)),
            "{id} not held for {why:?}:\n{dry}"
        );
    }
    ensure!(held.len() == placed.held.len(), "held:\n{dry}");
    ensure!(
        !dry.contains("Triage"),
        "a folder without a rule was listed:\n{dry}"
    );
    ensure!(
        env.state().await? == before,
        "the dry run changed the mailbox"
    );
    let moved = env
        .ok(&["retention", "run"], &[("TRIAGED_CLOCK_OFFSET", "15d")])
        .await?;
    let due: BTreeSet<String> = listed(&moved, "purge").into_keys().collect();
    let also = [placed.young.clone(), env.id("bounce-mid")];
    let want: BTreeSet<String> = placed.due.iter().chain(&also).cloned().collect();
    ensure!(due == want, "clock moved 15 days:\n{moved}");

    let applied = env.ok(&["retention", "run", "--apply"], &[]).await?;
    let purged: BTreeSet<String> = listed(&applied, "purged").into_keys().collect();
    ensure!(purged == placed.due, "applied:\n{applied}");
    let after = env.ids_everywhere().await?;
    for id in placed
        .held
        .keys()
        .chain(&placed.kept)
        .chain([&placed.young])
    {
        ensure!(after.contains(id), "{id} was purged:\n{applied}");
    }
    ensure!(
        after.len() == placed.held.len() + placed.kept.len() + 1,
        "left: {after:?}"
    );
    let marked = env
        .listed("Junk")
        .await?
        .into_iter()
        .find(|l| l.message_id == env.id("marked"));
    ensure!(
        marked.is_some_and(|l| l.flags == ["Deleted"]),
        "another client's \\Deleted mail"
    );
    let events = env.events("purged").await?;
    ensure!(
        events.len() == 4,
        "{} purge events: {events:?}",
        events.len()
    );
    ensure!(
        events
            .iter()
            .all(|(subject, reason, detail)| subject.starts_with("message:")
                && reason.starts_with("retention:")
                && detail.contains("received ")
                && !detail.contains('@')),
        "events: {events:?}"
    );
    let counts: Vec<(String, i64)> = env
        .store
        .rows("SELECT folder, COUNT(*) FROM retention_purges WHERE state = 'purged' GROUP BY folder ORDER BY folder")
        .await?;
    ensure!(
        counts == [("Bounces".to_owned(), 1), ("Junk".to_owned(), 3)],
        "{counts:?}"
    );

    let again = env.ok(&["retention", "run", "--apply"], &[]).await?;
    ensure!(
        listed(&again, "purged").is_empty() && env.events("purged").await?.len() == 4,
        "{again}"
    );
    let manual = format!("<{}>", env.id("manual"));
    env.ok(&["retention", "release", "--message-id", &manual], &[])
        .await?;
    let released = env.ok(&["retention", "run", "--apply"], &[]).await?;
    let purged: Vec<String> = listed(&released, "purged").into_keys().collect();
    ensure!(
        purged == [env.id("manual")],
        "after the release:\n{released}"
    );
    Ok(())
}

crate::both_stores!(a_killed_purge_is_finished_once_and_never_takes_a_held_message);

/// Guards against: a purge killed between batches, after its expunge or after its `\Deleted`, that
/// purges a message twice, records it twice or never, or purges a message held while it was down.
async fn a_killed_purge_is_finished_once_and_never_takes_a_held_message(
    backend: Backend,
) -> Result<()> {
    for point in [
        "retention-between-batches",
        "retention-after-expunge",
        "retention-after-flag",
    ] {
        let env = Env::new("crash", backend, RULES).await?;
        let mut session = env.session().await?;
        for i in 0..250 {
            let id = env.id(&format!("bulk-{i:03}"));
            append_at(
                &mut session,
                "Junk",
                &mail(&id, "old", "", "old"),
                &[],
                days_ago(40),
            )
            .await?;
        }
        for i in 0..2 {
            let id = env.id(&format!("case-{i}"));
            append_at(
                &mut session,
                "Junk",
                &mail(&id, "a20260101.7", "", "x"),
                &[],
                days_ago(40),
            )
            .await?;
        }
        session.logout().await.ok();
        env.crash(&["retention", "run", "--apply"], point).await?;
        let left = env.listed("Junk").await?;
        let expunged = if point == "retention-after-flag" {
            0
        } else {
            100
        };
        ensure!(
            left.len() == 252 - expunged,
            "{point}: {} left after the crash",
            left.len()
        );
        let flagged: Vec<&str> = left
            .iter()
            .filter(|l| l.flags.iter().any(|f| f == "Deleted"))
            .map(|l| l.message_id.as_str())
            .collect();
        let expect_flagged = if point == "retention-after-flag" {
            100
        } else {
            0
        };
        ensure!(
            flagged.len() == expect_flagged,
            "{point}: {} flagged",
            flagged.len()
        );
        let mut held = None;
        if let Some(id) = flagged.first() {
            env.ok(
                &[
                    "retention",
                    "hold",
                    "--message-id",
                    id,
                    "--reason",
                    "just in time",
                ],
                &[],
            )
            .await?;
            held = Some((*id).to_owned());
        }
        let out = env.ok(&["retention", "run", "--apply"], &[]).await?;
        let left = env.listed("Junk").await?;
        let want = 2 + usize::from(held.is_some());
        ensure!(left.len() == want, "{point}: {} left:\n{out}", left.len());
        ensure!(
            left.iter().all(|l| l.flags.is_empty()),
            "{point}: flags left: {left:?}"
        );
        if let Some(id) = &held {
            ensure!(
                left.iter().any(|l| &l.message_id == id),
                "{point}: the held message went"
            );
        }
        let events = env.events("purged").await?;
        let subjects: BTreeSet<&String> = events.iter().map(|e| &e.0).collect();
        let purged = 250 - usize::from(held.is_some());
        ensure!(
            events.len() == purged && subjects.len() == purged,
            "{point}: {} events, {} messages",
            events.len(),
            subjects.len()
        );
        if point == "retention-after-expunge" {
            ensure!(
                out.contains("finished an interrupted run: 100 purge(s) recorded"),
                "{out}"
            );
        }
    }
    Ok(())
}

crate::both_stores!(more_than_max_per_run_stops_unless_forced);

/// Guards against: a rule that would purge more than `max_per_run` purging anything without `--force`.
async fn more_than_max_per_run_stops_unless_forced(backend: Backend) -> Result<()> {
    let env = Env::new(
        "max",
        backend,
        &format!("[retention]\nmax_per_run = 3\n\n{RULES}"),
    )
    .await?;
    let mut session = env.session().await?;
    for i in 0..5 {
        let id = env.id(&format!("m{i}"));
        append_at(
            &mut session,
            "Junk",
            &mail(&id, "old", "", "old"),
            &[],
            days_ago(31),
        )
        .await?;
    }
    session.logout().await.ok();
    let out = env.triaged(&["retention", "run", "--apply"], &[]).await?;
    ensure!(
        out.0 == 1
            && out.1.contains(
                "stopped: 5 message(s) are past their limits, more than [retention] max_per_run = 3"
            ),
        "{out:?}"
    );
    ensure!(env.listed("Junk").await?.len() == 5, "something was purged");
    let usage = env.triaged(&["retention", "run", "--force"], &[]).await?;
    ensure!(usage.0 == 2, "--force without --apply: {usage:?}");
    let forced = env
        .ok(&["retention", "run", "--apply", "--force"], &[])
        .await?;
    ensure!(
        listed(&forced, "purged").len() == 5 && env.listed("Junk").await?.is_empty(),
        "{forced}"
    );
    Ok(())
}

crate::both_stores!(sorting_keeps_the_inbox_internaldate_and_age_counts_from_it);

/// Guards against: counting a message's age from when it was sorted into its bucket instead of from its
/// arrival (Dovecot keeps INTERNALDATE across MOVE; the test checks it still does).
async fn sorting_keeps_the_inbox_internaldate_and_age_counts_from_it(
    backend: Backend,
) -> Result<()> {
    let env = Env::new("internaldate", backend, RULES).await?;
    let id = env.id("spam");
    let raw = mail(&id, "win", "X-Spam-Flag: YES\r\n", "win");
    let arrived = days_ago(35);
    let mut session = env.session().await?;
    append_at(&mut session, "INBOX", &raw, &[], arrived).await?;
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[]).await?;
    let junk = env.listed("Junk").await?;
    ensure!(
        junk.len() == 1 && junk[0].message_id == id,
        "sorted: {junk:?}"
    );
    let kept = junk[0].internal.map(|d| d.timestamp());
    ensure!(
        kept == Some(arrived.timestamp()),
        "INTERNALDATE {kept:?}, arrived {}",
        arrived.timestamp()
    );
    let dry = env.ok(&["retention", "run"], &[]).await?;
    ensure!(listed(&dry, "purge").contains_key(&id), "{dry}");
    Ok(())
}

crate::both_stores!(the_schedule_purges_inside_triaged_run);

/// Guards against: `[retention] schedule` not running inside `triaged run`, or running outside the
/// worker's scheduler (it would not stop with it).
async fn the_schedule_purges_inside_triaged_run(backend: Backend) -> Result<()> {
    let env = Env::new(
        "schedule",
        backend,
        &format!("[retention]\nschedule = \"1d\"\n\n{RULES}"),
    )
    .await?;
    let mut session = env.session().await?;
    append_at(
        &mut session,
        "Junk",
        &mail(&env.id("old"), "o", "", "o"),
        &[],
        days_ago(31),
    )
    .await?;
    append_at(
        &mut session,
        "Junk",
        &mail(&env.id("new"), "n", "", "n"),
        &[],
        days_ago(3),
    )
    .await?;
    session.logout().await.ok();
    let mut child = env
        .command(&["run"], &[])
        .spawn()
        .context("start triaged run")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ids: Vec<String> = env
            .listed("Junk")
            .await?
            .into_iter()
            .map(|l| l.message_id)
            .collect();
        if ids == [env.id("new")] {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "not purged within 30 s: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = child.id().context("triaged run has no pid")?;
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()?;
    let status = tokio::time::timeout(Duration::from_secs(40), child.wait()).await??;
    ensure!(status.success(), "triaged run exited {status}");
    let runs: Vec<(String, String, i64)> = env
        .store
        .rows("SELECT actor, outcome, purged FROM retention_runs")
        .await?;
    ensure!(
        runs == [("schedule".to_owned(), "done".to_owned(), 1)],
        "{runs:?}"
    );
    Ok(())
}
