//! The disputes bridge end to end, against the real Dovecot, Postfix and Mailman 3 core: an ABC filing is
//! sent by triaged's outbox to the team's own mailbox and, with `[disputes] forward = true`, to the
//! arbitration list; the list's own copy, delivered by Mailman with the headers it adds, moves the
//! dispute `on-list`; a reply carrying a case number in its text moves it to `acknowledged`. A second
//! filing, which the list holds for moderation so its copy never comes, is escalated to the team leader
//! once the clock is moved past `escalate_after.forwarded`, and never again. A dispute sorted from a
//! Maildir is forwarded to the list byte for byte, once. On SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::json;

use super::super::support::{
    Backend, ConfigBuilder, TestUser, list_id, mailman, mailserver, new_user, smtp_send,
    wait_for_messages,
};
use super::super::team::env::Env;

/// List mail takes three runners and two trips through Postfix; runners poll every second.
const WAIT: Duration = Duration::from_secs(60);

/// A header of `raw`, unfolded.
fn header(raw: &[u8], name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw)?;
    parsed
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The Message-ID `dispute abc` printed: `queued outbox ID <MESSAGE-ID> to ...`.
fn queued_id(out: &str) -> Result<String> {
    out.lines()
        .find(|l| l.starts_with("queued outbox"))
        .and_then(|l| l.split_whitespace().nth(3))
        .map(str::to_owned)
        .with_context(|| format!("no queued filing in: {out}"))
}

struct World {
    env: Env,
    support: TestUser,
    leader: TestUser,
    list: String,
}

async fn world(backend: Backend) -> Result<World> {
    let server = mailserver().await?;
    let mm = mailman().await?;
    let list = mm.new_list("arbitration").await?;
    let leader = new_user("dispute-leader").await?;
    let env = Env::imap(backend, "disputes", &[]).await?;
    let support = env.user.clone().context("an IMAP user")?;
    mm.subscribe(&list, &support.address).await?;
    let member = mm
        .member(&list, &support.address)
        .await?
        .context("the team's subscription")?;
    let prefs = format!(
        "members/{}/preferences",
        member["member_id"].as_str().context("member_id")?
    );
    mm.expect(
        "PATCH",
        &prefs,
        Some(json!({ "receive_own_postings": true, "receive_list_copy": true })),
        204,
    )
    .await?;
    let disputes = format!(
        "[disputes]\naddress = \"Support <{support}>\"\nclaimant = \"Team Leader <{leader}>\"\n\
         buckets = [\"Support/Disputes\"]\nlist = \"Arbitration <{list}>\"\nforward = true\n\
         arbitration_addresses = [\"arbitration@{domain}\"]\n\n\
         [disputes.escalate_after]\nforwarded = \"1d\"\non-list = \"7d\"\n",
        support = support.address,
        leader = leader.address,
        domain = mm.domain,
    );
    ConfigBuilder::new()
        .imap(server, &support)
        .store(env.store.url())
        .outbox(&format!(
            "transport = \"smtp://localhost:{}\"\nca_file = \"{}\"\n",
            server.smtp_port,
            server.ca.display()
        ))
        .from(&format!("Support <{}>", support.address))
        .section(&disputes)
        .write(env.dir.path(), Some(&support))?;
    let check = env.run(&["check"]).await?;
    ensure!(check.code == Some(0), "check: {}", check.all());
    Ok(World {
        env,
        support,
        leader,
        list,
    })
}

impl World {
    /// Files an ABC request over `name`; returns the filing's Message-ID (with angle brackets).
    async fn file(&self, name: &str) -> Result<String> {
        let candidate = format!(
            "{name} <{}@example.org>",
            name.to_lowercase().replace(' ', ".")
        );
        let out = self
            .env
            .ok(&[
                "dispute",
                "abc",
                "--candidate",
                &candidate,
                "--alias",
                name,
                "--current-role",
                "triage",
                "--proposed-role",
                "se",
            ])
            .await?;
        ensure!(
            out.contains(&self.list),
            "the filing goes to the list too: {out}"
        );
        queued_id(&out)
    }

    /// One pass (sort, escalate, send) with the clock moved by `offset`.
    async fn pass(&self, offset: Option<&str>) -> Result<String> {
        let out = self.env.run_at(&["run", "--once"], offset).await?;
        ensure!(out.code == Some(0), "run --once: {}", out.all());
        Ok(out.stdout)
    }

    /// `(stage columns, case number, escalated stages)` of the dispute whose first message is `id`.
    async fn dispute(&self, id: &str) -> Result<(i64, i64, i64, String, String, Vec<String>)> {
        let bare = id.trim_matches(['<', '>']);
        let rows: Vec<(i64, i64, i64, i64, String, String)> = self
            .env
            .store
            .rows(&format!(
                "SELECT id, forwarded_ms, on_list_ms, acknowledged_ms, acknowledged_by, case_number \
                 FROM disputes WHERE message_id = '{bare}'"
            ))
            .await?;
        let [(d, fwd, on_list, ack, by, case)] = rows.as_slice() else {
            bail!("one dispute for {id}, found {rows:?}");
        };
        let escalated: Vec<(String,)> = self
            .env
            .store
            .rows(&format!(
                "SELECT stage FROM dispute_escalations WHERE dispute_id = {d} ORDER BY at_ms"
            ))
            .await?;
        Ok((
            *fwd,
            *on_list,
            *ack,
            by.clone(),
            case.clone(),
            escalated.into_iter().map(|e| e.0).collect(),
        ))
    }

    async fn escalation_mails(&self) -> Result<i64> {
        let n: Vec<(i64,)> = self
            .env
            .store
            .rows("SELECT COUNT(*) FROM outbox_mails WHERE template = 'dispute-escalation'")
            .await?;
        Ok(n.first().map_or(0, |r| r.0))
    }
}

/// Waits until Mailman holds `n` posts on `list`.
async fn held(list: &str, n: usize) -> Result<()> {
    let mm = mailman().await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let held = mm.held(list).await?;
        if held.len() >= n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "Mailman holds {} post(s) on {list}, expected {n}",
                held.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn the_bridge_follows_a_filing_to_arbitration(backend: Backend) -> Result<()> {
    let w = world(backend).await?;
    let first = w.file("Santa Claus").await?;
    let (fwd, on_list, ..) = w.dispute(&first).await?;
    ensure!(
        fwd > 0 && on_list == 0,
        "forwarded as it is queued: {fwd} {on_list}"
    );
    w.pass(None).await?;
    // The team's own copy, and the list's copy from Mailman.
    let inbox = wait_for_messages(&w.support, "INBOX", 2, WAIT).await?;
    let copy = inbox
        .iter()
        .find(|m| header(m, "List-Id").is_some())
        .context("the list's copy came back")?;
    assert_eq!(header(copy, "Message-ID").as_deref(), Some(first.as_str()));
    ensure!(
        header(copy, "List-Id").is_some_and(|l| l.contains(&format!("<{}>", list_id(&w.list)))),
        "{:?}",
        header(copy, "List-Id")
    );
    ensure!(
        header(copy, "X-Mailman-Version").is_some(),
        "a copy from Mailman"
    );
    w.pass(None).await?;
    let (_, on_list, ack, ..) = w.dispute(&first).await?;
    ensure!(on_list > 0 && ack == 0, "on the list: {on_list} {ack}");
    let open = w.env.ok(&["report", "disputes"]).await?;
    ensure!(open.contains("on-list"), "{open}");

    // A case manager's reply in the thread, the case number in its text.
    let cm = format!("case.manager@{}", mailman().await?.domain);
    let reply = format!(
        "From: Case Manager <{cm}>\r\nTo: {to}\r\nSubject: Re: your filing\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <reply-{r}@test.example>\r\n\
         In-Reply-To: {first}\r\nReferences: {first}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Opened as case a20261130.7; the arbitrator will be in touch.\r\n",
        to = w.support.address,
        r = rand::random::<u32>(),
    );
    smtp_send(&cm, &[&w.support.address], reply.as_bytes()).await?;
    wait_for_messages(&w.support, "INBOX", 1, WAIT).await?;
    w.pass(None).await?;
    let (_, _, ack, by, case, _) = w.dispute(&first).await?;
    ensure!(ack > 0, "acknowledged");
    assert_eq!((by.as_str(), case.as_str()), ("case-number", "a20261130.7"));
    let open = w.env.ok(&["report", "disputes"]).await?;
    assert_eq!(open.trim(), "no open disputes");

    // The second filing: the list now holds the team's posts, so its copy never comes.
    let mm = mailman().await?;
    let member = mm
        .member(&w.list, &w.support.address)
        .await?
        .context("the team's subscription")?;
    let path = format!(
        "members/{}",
        member["member_id"].as_str().context("member_id")?
    );
    mm.expect(
        "PATCH",
        &path,
        Some(json!({ "moderation_action": "hold" })),
        204,
    )
    .await?;
    let second = w.file("Rudolph Reindeer").await?;
    w.pass(None).await?;
    held(&w.list, 1).await?;
    wait_for_messages(&w.support, "INBOX", 1, WAIT).await?;
    w.pass(None).await?;
    let (fwd, on_list, ack, _, _, escalated) = w.dispute(&second).await?;
    ensure!(fwd > 0 && on_list == 0 && ack == 0, "waits forwarded");
    ensure!(
        escalated.is_empty(),
        "not yet past the limit: {escalated:?}"
    );
    assert_eq!(w.escalation_mails().await?, 0);

    // A day and an hour later: escalated once, to the team leader, through the outbox.
    w.pass(Some("25h")).await?;
    let (.., escalated) = w.dispute(&second).await?;
    assert_eq!(escalated, ["forwarded"]);
    assert_eq!(w.escalation_mails().await?, 1);
    let (.., first_escalated) = w.dispute(&first).await?;
    ensure!(
        first_escalated.is_empty(),
        "an acknowledged dispute is never escalated"
    );
    // The leader got both filings (the Claimant is copied) and the escalation.
    let mail = wait_for_messages(&w.leader, "INBOX", 3, WAIT).await?;
    let escalation = mail
        .iter()
        .find(|m| header(m, "X-Triaged-Template").as_deref() == Some("dispute-escalation"))
        .context("the escalation reached the team leader")?;
    ensure!(
        header(escalation, "References").is_some_and(|r| r.contains(&second)),
        "the escalation names the filing"
    );
    assert_eq!(
        header(escalation, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    // Later passes, still stuck in the same stage: never again.
    w.pass(Some("3d")).await?;
    w.pass(Some("9d")).await?;
    let (.., escalated) = w.dispute(&second).await?;
    assert_eq!(escalated, ["forwarded"]);
    assert_eq!(w.escalation_mails().await?, 1);
    let out = w.env.run_at(&["report", "disputes"], Some("3d")).await?;
    ensure!(
        out.stdout.contains("forwarded") && out.stdout.contains(second.as_str()),
        "{}",
        out.all()
    );
    ensure!(!out.stdout.contains(first.as_str()), "{}", out.all());
    w.env.store.assert_backend("dispute_escalations").await?;
    Ok(())
}

crate::both_stores!(the_bridge_follows_a_filing_to_arbitration);

/// Guards against: a sorted dispute not forwarded when `forward = true`, forwarded with a new
/// Message-ID (its list copy could not be recognised), changed on the way, or forwarded twice when it
/// is sorted again.
async fn a_sorted_dispute_is_forwarded_byte_for_byte(backend: Backend) -> Result<()> {
    let disputes = "[disputes]\nbuckets = [\"Support/Disputes\"]\n\
                    list = \"Arbitration <arbitration@lists.test.example>\"\nforward = true\n";
    let env = Env::maildir(backend, &[disputes]).await?;
    let raw = "From: Claire Claimant <claire@example.net>\r\nTo: support@test.example\r\n\
               Subject: I want to file a dispute\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\
               Message-ID: <sorted-dispute@example.net>\r\nMIME-Version: 1.0\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nPlease file a dispute against Bob.\r\n";
    let new = env.dir.path().join("mail/new");
    std::fs::write(new.join("1.dispute"), raw)?;
    let out = env.ok(&["run", "--once"]).await?;
    ensure!(out.contains("Support/Disputes"), "{out}");
    let forwards: Vec<(String, String)> = env
        .store
        .rows(
            "SELECT message_id, envelope_from FROM outbox_mails WHERE template = 'dispute-forward'",
        )
        .await?;
    assert_eq!(
        forwards,
        [(
            "<sorted-dispute@example.net>".to_owned(),
            "support@test.example".to_owned()
        )]
    );
    let recipients: Vec<(String, String)> = env
        .store
        .rows(
            "SELECT r.address, r.state FROM outbox_recipients r \
             JOIN outbox_mails m ON m.id = r.mail_id WHERE m.template = 'dispute-forward'",
        )
        .await?;
    assert_eq!(
        recipients,
        [(
            "arbitration@lists.test.example".to_owned(),
            "sent".to_owned()
        )]
    );
    let sent = std::fs::read_dir(env.dir.path().join("outbox"))?
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .find(|m| m.windows(22).any(|w| w == b"sorted-dispute@example"))
        .context("the forward written by the file transport")?;
    ensure!(
        sent.ends_with(raw.as_bytes()),
        "the original bytes are forwarded unchanged"
    );
    let rows: Vec<(String, String)> = env
        .store
        .rows("SELECT origin, forwarded_by FROM disputes")
        .await?;
    assert_eq!(rows, [("bucket".to_owned(), "outbox".to_owned())]);
    // The same message sorted again (put back by a person) is the same dispute: no second forward.
    std::fs::write(new.join("2.dispute"), raw.replace("Bob.", "Bob!"))?;
    env.ok(&["run", "--once"]).await?;
    let n: Vec<(i64,)> = env
        .store
        .rows("SELECT COUNT(*) FROM outbox_mails WHERE template = 'dispute-forward'")
        .await?;
    assert_eq!(n, [(1,)]);
    Ok(())
}

crate::both_stores!(a_sorted_dispute_is_forwarded_byte_for_byte);
