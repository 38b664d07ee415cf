//! Mail that verdicts cause, end to end over IMAP with the file transport: Sieve `redirect :copy` queues
//! the original bytes once per address, `vacation` answers each sender once per `:days` under the
//! RFC 3834 guard, and a kill -9 between the verdict commit and the MOVE queues nothing twice.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, ensure};

use super::harness::{Opts, World, append_all, imap_placement, store_rows};
use crate::it::support::Backend;

const SCRIPT: &str = r#"require ["copy", "vacation", "fileinto", "mailbox"];
if header :contains "subject" "redirect-me" {
    redirect :copy "se-team@test.example";
    redirect :copy "lead@test.example";
    vacation :days 7 :subject "Away" "The team is away until Monday.";
    fileinto :create "Redirected";
}
"#;

/// Ten messages from four senders that ask for both, one bulk message (redirected, never answered) and
/// one the script leaves alone.
fn messages() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..10 {
        let id = format!("rv-{i}@test.example");
        let raw = format!(
            "Message-ID: <{id}>\r\nFrom: Sender {s} <sender{s}@example.net>\r\nTo: support@test.example\r\n\
             Subject: redirect-me {i}\r\nDate: Sat, 28 Nov 2026 10:00:0{i} +0000\r\n\r\nPlease help ({i}).\r\n",
            s = i % 4
        );
        out.push((id, raw.into_bytes()));
    }
    out.push((
        "rv-bulk@test.example".to_owned(),
        b"Message-ID: <rv-bulk@test.example>\r\nFrom: news@example.net\r\nTo: support@test.example\r\n\
          Precedence: bulk\r\nSubject: redirect-me newsletter\r\n\r\nNews.\r\n"
            .to_vec(),
    ));
    out.push((
        "rv-other@test.example".to_owned(),
        b"Message-ID: <rv-other@test.example>\r\nFrom: sender0@example.net\r\nTo: support@test.example\r\n\
          Subject: unrelated\r\n\r\nHello.\r\n"
            .to_vec(),
    ));
    out
}

/// (template, recipient, Message-ID of the stored mail, outbox id) for every queued mail.
async fn queued(world: &World) -> Result<Vec<(String, String, String, i64)>> {
    store_rows(
        world,
        "SELECT m.template, r.address, m.message_id, m.id FROM outbox_mails m \
         JOIN outbox_recipients r ON r.mail_id = m.id ORDER BY m.id",
    )
    .await
}

crate::both_stores!(redirect_copy_and_vacation_are_queued_once_each_across_a_crash);

/// Guards against: redirects and vacation replies dropped, sent twice after a crash, or a vacation
/// reply going to a list or twice to one sender within its period.
async fn redirect_copy_and_vacation_are_queued_once_each_across_a_crash(
    backend: Backend,
) -> Result<()> {
    let scripts = tempfile::tempdir()?;
    let script = scripts.path().join("redirect.sieve");
    std::fs::write(&script, SCRIPT)?;
    let world = World::imap(
        "redirect",
        Opts {
            script: Some(&script),
            backend,
            ..Opts::default()
        },
    )
    .await?;
    let user = world.user()?;
    let messages = messages();
    append_all(user, "INBOX", &messages).await?;
    world.crash_at("after-verdict-commit").await?;
    world.run_once().await?;
    world.run_once().await?;

    let rows = queued(&world).await?;
    let redirects: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| r.0 == "redirect")
        .map(|r| (r.2.clone(), r.1.clone()))
        .collect();
    let n_redirects = rows.iter().filter(|r| r.0 == "redirect").count();
    ensure!(
        n_redirects == 22 && redirects.len() == 22,
        "{n_redirects} redirects queued ({} distinct), expected 11 messages × 2 addresses",
        redirects.len()
    );
    let originals: BTreeMap<String, &Vec<u8>> = messages
        .iter()
        .map(|(id, raw)| (format!("<{id}>"), raw))
        .collect();
    let outbox = world.dir.path().join("outbox");
    let files = std::fs::read_dir(&outbox)?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .count();
    ensure!(
        files == rows.len(),
        "{files} files for {} mails",
        rows.len()
    );
    for (template, _, message_id, id) in rows.iter().filter(|r| r.0 == "redirect") {
        let sent = std::fs::read(outbox.join(format!("{id}.eml")))?;
        let original = originals
            .get(message_id)
            .with_context(|| format!("{template} of unknown {message_id}"))?;
        ensure!(
            &sent == *original,
            "redirect {id} of {message_id} is not the original bytes"
        );
    }

    let vacations: Vec<&(String, String, String, i64)> =
        rows.iter().filter(|r| r.0 == "vacation").collect();
    let answered: BTreeSet<&str> = vacations.iter().map(|r| r.1.as_str()).collect();
    let want: BTreeSet<String> = (0..4).map(|s| format!("sender{s}@example.net")).collect();
    ensure!(
        vacations.len() == 4 && answered == want.iter().map(String::as_str).collect(),
        "vacation replies to {answered:?} ({} mails), expected one to each of {want:?}",
        vacations.len()
    );
    for (_, to, _, id) in &vacations {
        let text = std::fs::read_to_string(outbox.join(format!("{id}.eml")))?;
        let first = to
            .trim_start_matches("sender")
            .trim_end_matches("@example.net");
        for needle in [
            "Auto-Submitted: auto-replied\r\n".to_owned(),
            "Subject: Away\r\n".to_owned(),
            format!("In-Reply-To: <rv-{first}@test.example>\r\n"),
            "The team is away until Monday.".to_owned(),
        ] {
            ensure!(
                text.contains(&needle),
                "vacation {id} lacks {needle:?}:\n{text}"
            );
        }
    }

    let placed = imap_placement(user).await?;
    for (id, _) in &messages {
        let want = if id == "rv-other@test.example" {
            "INBOX"
        } else {
            "Redirected"
        };
        // Nothing in the script sets a flag: the one copy has none (not even \Seen).
        ensure!(
            placed.get(id) == Some(&vec![(want.to_owned(), Default::default())]),
            "{id} is in {:?}, expected {want} without flags",
            placed.get(id)
        );
    }
    world.assert_backend().await?;
    Ok(())
}
