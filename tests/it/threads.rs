//! Support tickets end to end, on real Dovecot and on SQLite and PostgreSQL: a new thread opens a ticket
//! and its acknowledgement carries that same number; a reply (References), mail naming the ticket, and a
//! member's answer join it; junk and list mail open none; `ticket show` lists the thread (text, JSON).

use anyhow::{Context as _, Result, ensure};

use super::retention::env::Env;
use super::support::{Backend, append_at};

/// Junk by subject, everything else into Support.
pub const SCRIPT: &str = "require [\"fileinto\"];\n\
     if header :contains \"Subject\" \"viagra\" { fileinto \"Junk\"; stop; }\n\
     fileinto \"Support\";\n";

/// A message from `from` with Message-ID `<id>` and extra header lines `headers`.
pub fn message(id: &str, from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: support@test.example\r\nSubject: {subject}\r\n\
         Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n{headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

crate::both_stores!(a_thread_keeps_one_ticket_and_the_ack_carries_it);

/// Guards against: an acknowledgement with a number of its own, a reply or a mention opening a second
/// ticket, junk or list mail opening one, and `ticket show` missing the thread's messages.
async fn a_thread_keeps_one_ticket_and_the_ack_carries_it(backend: Backend) -> Result<()> {
    let sections = "[ack]\nbuckets = [\"Support\"]\n";
    let env = Env::with_script("threads", backend, sections, SCRIPT).await?;
    let (first, reply, spam, list) = (env.id("q1"), env.id("q2"), env.id("spam"), env.id("list"));
    let ann = "Ann <ann@example.net>";
    let now = triaged::clock::Clock::system().now();
    let mut session = env.session().await?;
    append_at(
        &mut session,
        "INBOX",
        &message(&first, ann, "cannot log in", "", "help"),
        &[],
        now,
    )
    .await?;
    append_at(
        &mut session,
        "INBOX",
        &message(&spam, ann, "viagra", "", "x"),
        &[],
        now,
    )
    .await?;
    let list_headers = "List-Id: <news.example.net>\r\n";
    append_at(
        &mut session,
        "INBOX",
        &message(&list, ann, "news", list_headers, "x"),
        &[],
        now,
    )
    .await?;
    env.ok(&["run", "--once"], &[]).await?;
    let tickets: Vec<(String, String)> = env
        .store
        .rows("SELECT ticket, bucket FROM tickets ORDER BY ticket")
        .await?;
    ensure!(tickets.len() == 1, "one ticket for one thread: {tickets:?}");
    let ticket = tickets[0].0.clone();
    ensure!(tickets[0].1 == "Support", "{tickets:?}");
    let acks: Vec<(String,)> = env.store.rows("SELECT ticket FROM auto_replies").await?;
    ensure!(
        acks == [(ticket.clone(),)],
        "the ack carries the thread's ticket: {acks:?}"
    );

    let refs = format!("In-Reply-To: <{first}>\r\nReferences: <{first}>\r\n");
    append_at(
        &mut session,
        "INBOX",
        &message(&reply, ann, "Re: cannot log in", &refs, "more"),
        &[],
        now,
    )
    .await?;
    let bob = env.id("bob");
    let named = format!("Ann's case, {ticket}, is mine too");
    append_at(
        &mut session,
        "INBOX",
        &message(&bob, "bob@example.net", "same", "", &named),
        &[],
        now,
    )
    .await?;
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[]).await?;
    let count: Vec<(i64,)> = env.store.rows("SELECT COUNT(*) FROM tickets").await?;
    ensure!(count == [(1,)], "no second ticket: {count:?}");
    let acks: Vec<(String,)> = env.store.rows("SELECT ticket FROM auto_replies").await?;
    ensure!(acks.len() == 1, "no second acknowledgement: {acks:?}");

    let text = env.ok(&["ticket", "show", &ticket], &[]).await?;
    for id in [&first, &reply, &bob] {
        ensure!(text.contains(&format!("<{id}>")), "{id} missing:\n{text}");
    }
    ensure!(!text.contains(&spam) && !text.contains(&list), "{text}");
    ensure!(
        text.contains("(team, automatic)"),
        "the ack is listed:\n{text}"
    );
    let json = env
        .ok(&["ticket", "show", &ticket, "--format", "json"], &[])
        .await?;
    let value: serde_json::Value = serde_json::from_str(&json).context("json")?;
    let messages = value["messages"].as_array().context("messages")?;
    ensure!(messages.len() == 4, "three received and the ack: {json}");
    ensure!(value["ticket"] == ticket.as_str(), "{json}");
    let (code, _, err) = env
        .triaged(&["ticket", "show", "s20000101.001"], &[])
        .await?;
    ensure!(code == 1 && err.contains("no ticket"), "exit {code}: {err}");
    env.store.assert_backend("tickets").await?;
    Ok(())
}

crate::both_stores!(a_backlog_threads_across_and_within_its_batches);

/// Guards against: the worker's batching of thread records giving another result than one message at a
/// time: a reply in the same fetch batch as its original opening a ticket of its own, a reply in a later
/// batch missing it, ticket numbers repeated or skipped from one batch to the next, or an acknowledgement
/// carrying a number other than its thread's.
async fn a_backlog_threads_across_and_within_its_batches(backend: Backend) -> Result<()> {
    let sections = "[ack]\nbuckets = [\"Support\"]\n";
    let env = Env::with_script("batches", backend, sections, SCRIPT).await?;
    let names = ["a1", "a2", "b1", "c1", "b2", "d1", "a3"];
    let ids: Vec<String> = names.iter().map(|n| env.id(n)).collect();
    let id = |n: &str| ids[names.iter().position(|m| *m == n).unwrap_or(0)].clone();
    let refs = |to: &str| format!("In-Reply-To: <{}>\r\nReferences: <{}>\r\n", id(to), id(to));
    // One sender per thread: an acknowledgement goes once per sender and period.
    let from = |name: &str| format!("{0} <{0}@example.net>", &name[..1]);
    let now = triaged::clock::Clock::system().now();
    let mut session = env.session().await?;
    // Batches of three: [a1, a2 (answers a1), b1], [c1, b2 (answers b1), d1], [a3 (answers a2)].
    for name in names {
        let headers = match name {
            "a2" => refs("a1"),
            "b2" => refs("b1"),
            "a3" => refs("a2"),
            _ => String::new(),
        };
        let subject = format!("thread {}", &name[..1]);
        append_at(
            &mut session,
            "INBOX",
            &message(&id(name), &from(name), &subject, &headers, "text"),
            &[],
            now,
        )
        .await?;
    }
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[("TRIAGED_FAILPOINT_BATCH", "3")])
        .await?;
    let rows: Vec<(String, String)> = env
        .store
        .rows(
            "SELECT m.message_id, m.ticket FROM thread_messages m \
             WHERE m.origin = 'received' ORDER BY m.id",
        )
        .await?;
    let tickets: Vec<(String,)> = env
        .store
        .rows("SELECT ticket FROM tickets ORDER BY ticket")
        .await?;
    ensure!(
        tickets.len() == 4,
        "four threads, four tickets: {tickets:?}"
    );
    let day = &tickets[0].0[..tickets[0].0.len() - 3];
    let numbers: Vec<String> = tickets.iter().map(|(t,)| t.clone()).collect();
    let want: Vec<String> = (1..=4).map(|n| format!("{day}{n:03}")).collect();
    ensure!(numbers == want, "consecutive numbers: {numbers:?}");
    let ticket_of = |n: &str| {
        rows.iter()
            .find(|(m, _)| *m == id(n))
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    for (name, ticket) in [
        ("a1", 1),
        ("a2", 1),
        ("b1", 2),
        ("c1", 3),
        ("b2", 2),
        ("d1", 4),
        ("a3", 1),
    ] {
        let want = format!("{day}{ticket:03}");
        ensure!(ticket_of(name) == want, "{name} in {want}: {rows:?}");
    }
    let acks: Vec<(String,)> = env
        .store
        .rows("SELECT ticket FROM auto_replies ORDER BY ticket")
        .await?;
    ensure!(
        acks.iter().map(|(t,)| t.clone()).collect::<Vec<_>>() == want,
        "one acknowledgement per ticket, carrying it: {acks:?}"
    );
    env.store.assert_backend("tickets").await?;
    Ok(())
}
