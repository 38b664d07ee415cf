//! Retention beyond the IMAP purge: a Maildir source, and triaged's own records under `[retention]
//! records` (verdict rows cut down to a content-free key once their message has left the watched
//! folder, sent outbox bodies emptied), on SQLite and PostgreSQL.

use std::time::SystemTime;

use anyhow::{Context as _, Result, ensure};

use super::env::{Env, days_ago, listed, mail};
use crate::it::support::{Backend, ImapSession, append_at};

crate::both_stores!(a_maildir_is_purged_by_file_time);

/// Guards against: a Maildir message aged from when it was sorted, or a purge that leaves its file.
async fn a_maildir_is_purged_by_file_time(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, "[retention.buckets]\nJunk = \"30d\"\n").await?;
    let root = env.dir.path().join("mail");
    let junk = root.join(".Junk");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub))?;
        std::fs::create_dir_all(junk.join(sub))?;
    }
    let at = |days: i64| SystemTime::from(days_ago(days));
    let put = |path: std::path::PathBuf, raw: Vec<u8>, time: SystemTime| -> Result<()> {
        std::fs::write(&path, raw)?;
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(time)?;
        Ok(())
    };
    let spam = mail(&env.id("spam"), "win", "X-Spam-Flag: YES\r\n", "win");
    put(root.join("new/1.spam.host"), spam, at(40))?;
    put(
        junk.join("cur/2.young.host:2,S"),
        mail(&env.id("young"), "y", "", "y"),
        at(10),
    )?;
    put(
        junk.join("cur/3.old.host:2,S"),
        mail(&env.id("old"), "o", "", "o"),
        at(31),
    )?;
    let sorted = env.ok(&["run", "--once"], &[]).await?;
    ensure!(sorted.contains("Junk"), "{sorted}");
    let dry = env.ok(&["retention", "run"], &[]).await?;
    let due: Vec<String> = listed(&dry, "purge").into_keys().collect();
    ensure!(due == [env.id("old"), env.id("spam")], "{dry}");
    let applied = env.ok(&["retention", "run", "--apply"], &[]).await?;
    ensure!(listed(&applied, "purged").len() == 2, "{applied}");
    let left: Vec<String> = std::fs::read_dir(junk.join("cur"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    ensure!(left == ["2.young.host:2,S"], "left in Junk: {left:?}");
    ensure!(env.events("purged").await?.len() == 2, "events");
    Ok(())
}

const KEEP_OR_TRIAGE: &str = "require [\"fileinto\"];\n\
     if header :contains \"Subject\" \"keep\" { keep; stop; }\nfileinto \"Triage\";\n";

async fn move_message(session: &mut ImapSession, from: &str, id: &str, to: &str) -> Result<()> {
    session
        .select(from)
        .await
        .with_context(|| format!("select {from}"))?;
    let uids = session
        .uid_search(format!("HEADER Message-ID \"{id}\""))
        .await
        .context("search")?;
    let uid = uids
        .into_iter()
        .next()
        .with_context(|| format!("{id} not in {from}"))?;
    session
        .uid_mv(uid.to_string(), to)
        .await
        .with_context(|| format!("move {id} to {to}"))
}

crate::both_stores!(records_are_pruned_to_a_key_that_stops_a_second_sorting);

/// Guards against: pruning the verdict of a message still in the watched folder; deleting a verdict
/// outright, so that a message moved back is sorted and acknowledged again; keeping sent bodies.
async fn records_are_pruned_to_a_key_that_stops_a_second_sorting(backend: Backend) -> Result<()> {
    let sections = "[ack]\nbuckets = [\"Triage\"]\n\n[retention]\nrecords = \"30d\"\n";
    let env = Env::with_script("prune", backend, sections, KEEP_OR_TRIAGE).await?;
    let (asked, kept, archived) = (env.id("asked"), env.id("kept"), env.id("archived"));
    let mut session = env.session().await?;
    for (id, subject) in [
        (&asked, "a question"),
        (&kept, "keep me"),
        (&archived, "keep too"),
    ] {
        append_at(
            &mut session,
            "INBOX",
            &mail(id, subject, "", "hello"),
            &[],
            days_ago(1),
        )
        .await?;
    }
    session.logout().await.ok();
    let sorted = env.ok(&["run", "--once"], &[]).await?;
    ensure!(
        sorted.contains("sorted 3 message(s)") && sorted.contains("1 sent"),
        "{sorted}"
    );
    let mut session = env.session().await?;
    session.create("Archive").await.context("create Archive")?;
    move_message(&mut session, "INBOX", &archived, "Archive").await?;
    session.logout().await.ok();
    let later = [("TRIAGED_CLOCK_OFFSET", "40d")];
    let dry = env.ok(&["retention", "run"], &later).await?;
    let counts = "2 verdict row(s) and 1 outbox body(ies)";
    ensure!(dry.contains(&format!("would prune {counts}")), "{dry}");
    let applied = env.ok(&["retention", "run", "--apply"], &later).await?;
    ensure!(applied.contains(&format!("pruned {counts}")), "{applied}");
    let rows: Vec<(String, String, String)> = env
        .store
        .rows("SELECT message_id, plan, state FROM verdicts ORDER BY id")
        .await?;
    let states: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    ensure!(states == ["pruned", "applied", "pruned"], "{rows:?}");
    ensure!(
        rows[1].0 == kept && rows[0].0.is_empty() && rows[0].1.is_empty(),
        "{rows:?}"
    );
    let empty: Vec<(i64,)> = env
        .store
        .rows("SELECT COUNT(*) FROM outbox_mails WHERE length(raw) = 0 AND source = ''")
        .await?;
    ensure!(empty == [(1,)], "outbox bodies: {empty:?}");
    ensure!(
        env.events("records-pruned").await?.len() == 1,
        "no records-pruned event"
    );
    let mut session = env.session().await?;
    move_message(&mut session, "Triage", &asked, "INBOX").await?;
    session.logout().await.ok();
    let again = env.ok(&["run", "--once"], &later).await?;
    ensure!(
        again.contains("sorted 0 message(s)") && again.contains("1 already sorted before"),
        "{again}"
    );
    let mails: Vec<(i64,)> = env.store.rows("SELECT COUNT(*) FROM outbox_mails").await?;
    ensure!(mails == [(1,)], "acknowledged again: {mails:?}");
    Ok(())
}
