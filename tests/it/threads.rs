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
