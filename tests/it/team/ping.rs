//! Aliveness pings end to end: `team ping` queues one individual mail per active member; a member's
//! reply, delivered over LMTP to the watched INBOX of the real Dovecot, is sorted by the rules as any
//! message and marks that member alive; with the clock moved past `ping_grace` the silent members are
//! unresponsive, and the two-per-critical-role warning shows in `team list`, `status` and the metrics.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};

use super::env::{Env, free_port, http_get};
use crate::it::support::{Backend, deliver_lmtp, imap_login, message_ids};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// The Message-ID of the ping to `address`, from `team ping`'s output.
fn ping_id(out: &str, address: &str) -> Result<String> {
    out.lines()
        .find(|l| l.contains(&format!("<{address}>:")))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .with_context(|| format!("no ping to {address} in: {out}"))
}

/// A person's reply to the ping `ping` (with its angle brackets).
fn reply(from: &str, ping: &str, id: &str) -> Vec<u8> {
    format!(
        "From: Alice Triage <{from}>\r\nTo: Support <support@test.example>\r\n\
         Subject: Re: Still with the Support team, Alice Triage?\r\n\
         Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n\
         In-Reply-To: {ping}\r\nReferences: {ping}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nStill here, and happy to help.\r\n"
    )
    .into_bytes()
}

/// The folder `triaged classify` sorts `raw` into with the shipped rules.
async fn predicted_folder(env: &Env, raw: &[u8]) -> Result<String> {
    let file = env.dir.path().join("reply.eml");
    std::fs::write(&file, raw)?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_triaged"))
        .args([
            "classify",
            "--rules",
            &format!("{MANIFEST}/rules/support.sieve"),
        ])
        .arg(&file)
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let folders = text.split('\t').nth(1).context("no verdict")?.to_owned();
    Ok(if folders == "-" {
        "Trash".to_owned()
    } else {
        folders
    })
}

async fn last_seen(env: &Env) -> Result<Vec<(String, i64)>> {
    env.store
        .rows("SELECT name, last_seen_ms FROM team_people ORDER BY id")
        .await
}

/// Done when: the ping goes one mail per active member through the outbox; a reply over LMTP marks
/// its sender alive and is still sorted by the rules; past the grace the silent are unresponsive and
/// the two-per-role warning shows in `team list`, `status` and the metrics.
async fn a_ping_reply_marks_alive_and_silence_past_the_grace_warns(backend: Backend) -> Result<()> {
    let port = free_port()?;
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let env = Env::imap(backend, "ping", &[&metrics]).await?;
    let user = env.user.as_ref().context("imap env")?;
    for (who, role) in [
        ("Alice Triage <alice@test.example>", "triage"),
        ("Bob Triage <bob@test.example>", "triage"),
        ("Carol Engineer <carol@test.example>", "se"),
        ("Dave Away <dave@test.example>", "triage"),
    ] {
        env.ok(&["team", "add", who, "--role", role]).await?;
    }
    env.ok(&["team", "pause", "dave"]).await?;
    let out = env.ok(&["team", "ping"]).await?;
    ensure!(
        out.lines().filter(|l| l.starts_with("pinged ")).count() == 3,
        "{out}"
    );
    let mails: Vec<(String, String)> = env
        .store
        .rows(
            "SELECT m.template, r.address FROM outbox_mails m \
             JOIN outbox_recipients r ON r.mail_id = m.id ORDER BY m.id",
        )
        .await?;
    let to: Vec<&str> = mails.iter().map(|(_, a)| a.as_str()).collect();
    ensure!(
        to == [
            "alice@test.example",
            "bob@test.example",
            "carol@test.example"
        ],
        "{mails:?}"
    );
    ensure!(mails.iter().all(|(t, _)| t == "ping"), "{mails:?}");

    let id = format!("ping-reply-{}@test.example", std::process::id());
    let raw = reply(
        "alice@test.example",
        &ping_id(&out, "alice@test.example")?,
        &id,
    );
    let folder = predicted_folder(&env, &raw).await?;
    deliver_lmtp(user, &raw).await?;
    env.ok(&["run", "--once"]).await?;
    let seen = last_seen(&env).await?;
    ensure!(
        seen[0].1 > 0 && seen[1..].iter().all(|(_, ms)| *ms == 0),
        "{seen:?}"
    );
    let bucket: Vec<(String,)> = env
        .store
        .rows(&format!(
            "SELECT bucket FROM verdicts WHERE message_id = '{id}'"
        ))
        .await?;
    ensure!(
        bucket == [(folder.clone(),)],
        "sorted into {bucket:?}, rules say {folder}"
    );
    let mut session = imap_login(user, false).await?;
    let there = message_ids(&mut session, &folder).await?;
    session.logout().await.ok();
    ensure!(
        there.contains(&id),
        "the reply is not in {folder}: {there:?}"
    );

    let now = env.ok(&["team", "list"]).await?;
    ensure!(!now.contains("unresponsive"), "nobody silent yet: {now}");
    let later = env.run_at(&["team", "list"], Some("15d")).await?;
    let text = &later.stdout;
    for says in [
        "unresponsive: Bob Triage",
        "unresponsive: Carol Engineer",
        "warning: role triage (Triage) has 1 responsive active member of the 2",
        "warning: role se (Support Engineer) has 0 responsive active members",
    ] {
        ensure!(
            text.contains(says),
            "{says:?} not in team list: {}",
            later.all()
        );
    }
    ensure!(!text.contains("unresponsive: Alice"), "{text}");
    let status = env.run_at(&["status"], Some("15d")).await?;
    ensure!(status.code == Some(0), "{}", status.all());
    ensure!(
        status
            .stdout
            .contains("warning       role triage (Triage) has 1"),
        "{}",
        status.all()
    );
    ensure!(
        status.stdout.contains("unresponsive  Bob Triage"),
        "{}",
        status.all()
    );
    metrics_show_the_warning(&env, port).await
}

/// `triaged run` with the clock 15 days on serves the team gauges.
async fn metrics_show_the_warning(env: &Env, port: u16) -> Result<()> {
    let mut child = env
        .command(&["run"], Some("15d"))
        .spawn()
        .context("start triaged run")?;
    let start = Instant::now();
    let text = loop {
        if let Ok(text) = http_get(port, "/metrics").await
            && text.contains("triaged_team_role_thin")
        {
            break text;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.start_kill().ok();
            bail!("no team gauges on /metrics within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.start_kill().ok();
    for line in [
        "triaged_team_role_thin{role=\"triage\"} 1",
        "triaged_team_role_thin{role=\"se\"} 1",
        "triaged_team_responsive_members{role=\"triage\"} 1",
        "triaged_team_members{role=\"triage\"} 2",
        "triaged_team_unresponsive_members 2",
    ] {
        ensure!(
            text.lines().any(|l| l == line),
            "{line} not in /metrics:\n{text}"
        );
    }
    Ok(())
}

crate::both_stores!(a_ping_reply_marks_alive_and_silence_past_the_grace_warns);
