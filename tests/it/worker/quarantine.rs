//! Quarantine over IMAP: an error verdict moves the message to `Quarantine`, flagged, with its error
//! recorded; it is not re-classified while the rules stay the same; new rules release it (unflagged,
//! into its bucket) exactly once across a crash; a message the new rules still fail waits out its
//! backoff instead of being retried on every change.

use anyhow::{Context as _, Result, ensure};
use futures::TryStreamExt as _;

use super::harness::{Opts, World, append_all, imap_placement, store_rows, verdict_rows};
use crate::it::support::Backend;
use crate::it::support::{TestUser, imap_login};

const FAILING: &str = r#"require ["ihave", "fileinto"];
if header :contains "subject" ["boom", "still-bad"] { error "cannot decide"; }
fileinto "Done";
"#;

const FIXED: &str = r#"require ["ihave", "fileinto"];
if header :contains "subject" "still-bad" { error "still cannot decide"; }
if header :contains "subject" "boom" { fileinto "Fixed"; } else { fileinto "Done"; }
"#;

fn message(id: &str, subject: &str) -> (String, Vec<u8>) {
    let raw = format!(
        "Message-ID: <{id}>\r\nFrom: someone@example.net\r\nTo: support@test.example\r\n\
         Subject: {subject}\r\n\r\nBody.\r\n"
    );
    (id.to_owned(), raw.into_bytes())
}

/// Whether the message with this Message-ID carries \Flagged in `folder`.
async fn flagged(user: &TestUser, folder: &str, id: &str) -> Result<bool> {
    let mut session = imap_login(user, false).await?;
    session.examine(folder).await.context("examine")?;
    let uids = session
        .uid_search(format!("HEADER Message-ID \"{id}\""))
        .await?;
    let uid = uids.into_iter().next().context("message not in folder")?;
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "FLAGS")
        .await?
        .try_collect()
        .await?;
    session.logout().await.ok();
    Ok(fetches.iter().any(|f| {
        f.flags()
            .any(|fl| matches!(fl, async_imap::types::Flag::Flagged))
    }))
}

/// (Message-ID, reason, attempts, state) per quarantine row.
async fn quarantine_rows(world: &World) -> Result<Vec<(String, String, i64, String)>> {
    store_rows(
        world,
        "SELECT v.message_id, q.reason, q.attempts, q.state FROM quarantine q \
         JOIN verdicts v ON v.id = q.verdict_id ORDER BY v.message_id",
    )
    .await
}

fn folder_of(
    placed: &std::collections::BTreeMap<String, Vec<super::harness::FolderFlags>>,
    id: &str,
) -> Vec<String> {
    placed
        .get(id)
        .map(|copies| copies.iter().map(|(f, _)| f.clone()).collect())
        .unwrap_or_default()
}

crate::both_stores!(
    quarantined_mail_is_released_once_when_the_rules_change_and_not_retried_otherwise
);

/// Guards against: an error verdict losing the message or leaving it unmarked, a hot retry loop on
/// the same rules, and a release from quarantine done twice or lost across a crash.
async fn quarantined_mail_is_released_once_when_the_rules_change_and_not_retried_otherwise(
    backend: Backend,
) -> Result<()> {
    let scripts = tempfile::tempdir()?;
    let script = scripts.path().join("rules.sieve");
    std::fs::write(&script, FAILING)?;
    let world = World::imap(
        "quarantine",
        Opts {
            script: Some(&script),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = vec![
        message("q-boom@test.example", "boom"),
        message("q-bad@test.example", "still-bad"),
        message("q-fine@test.example", "fine"),
    ];
    append_all(user, "INBOX", &messages).await?;
    let out = world.run_once().await?;
    ensure!(out.contains("2 with errors"), "first run: {out}");
    let placed = imap_placement(user).await?;
    for id in ["q-boom@test.example", "q-bad@test.example"] {
        ensure!(folder_of(&placed, id) == ["Quarantine"], "{id}: {placed:?}");
        ensure!(flagged(user, "Quarantine", id).await?, "{id} not flagged");
    }
    ensure!(folder_of(&placed, "q-fine@test.example") == ["Done"]);
    let rows = quarantine_rows(&world).await?;
    ensure!(
        rows.iter()
            .all(|r| r.1 == "script-error" && r.2 == 0 && r.3 == "held")
            && rows.len() == 2,
        "after the first run: {rows:?}"
    );

    world.run_once().await?;
    ensure!(
        quarantine_rows(&world).await? == rows,
        "re-classified with unchanged rules"
    );

    std::fs::write(&script, FIXED)?;
    world.crash_at("after-release-commit").await?;
    let out = world.run_once().await?;
    ensure!(out.contains("1 released"), "after the fix: {out}");
    let placed = imap_placement(user).await?;
    ensure!(
        folder_of(&placed, "q-boom@test.example") == ["Fixed"],
        "{placed:?}"
    );
    ensure!(
        !flagged(user, "Fixed", "q-boom@test.example").await?,
        "the released message is still flagged"
    );
    ensure!(folder_of(&placed, "q-bad@test.example") == ["Quarantine"]);
    let rows = quarantine_rows(&world).await?;
    ensure!(
        rows == [
            (
                "q-bad@test.example".to_owned(),
                "script-error".to_owned(),
                1,
                "held".to_owned()
            ),
            (
                "q-boom@test.example".to_owned(),
                "script-error".to_owned(),
                1,
                "released".to_owned()
            ),
        ],
        "after the fix: {rows:?}"
    );

    // Rules edited again at once: the message that still fails waits out its backoff.
    std::fs::write(&script, format!("{FIXED}# edited\n"))?;
    world.run_once().await?;
    ensure!(
        quarantine_rows(&world).await? == rows,
        "retried within the backoff"
    );
    let verdicts = verdict_rows(&world).await?;
    ensure!(
        verdicts.len() == 3,
        "{} verdicts for 3 messages",
        verdicts.len()
    );
    world.assert_backend().await?;
    Ok(())
}
