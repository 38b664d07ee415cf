//! Response times end to end, on real Dovecot and on SQLite and PostgreSQL, with the clock moved
//! (`TRIAGED_CLOCK_OFFSET`): two tickets answered 30 and 90 minutes after they arrived, one from the
//! team's sent folder and one by a member writing with the team in Cc; `report sla` shows one breach,
//! the 90-minute one. With business hours, a question at 16:30 on a Friday in Berlin answered at 18:00
//! took half an hour, in time. Under `triaged run`, an unanswered ticket past its target is logged and
//! shown by `triaged_sla_open_breaches`.

use std::process::Stdio;

use anyhow::{Context as _, Result, ensure};
use chrono::{DateTime, Datelike, Duration, TimeZone as _, Utc, Weekday};
use serde_json::Value;

use super::retention::env::Env;
use super::support::{Backend, append_at};
use super::team::env::{free_port, http_get};
use super::threads::{SCRIPT, message};

const TEAM: &str = "Support <support@test.example>";
const MIA: &str = "Mia <mia@test.example>";

/// A header and body dated `date`, answering `<to>`.
fn answer(id: &str, from: &str, to: &str, date: DateTime<Utc>) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: someone@example.net\r\nCc: support@test.example\r\n\
         In-Reply-To: <{to}>\r\nReferences: <{to}>\r\nSubject: Re: help\r\nDate: {}\r\n\r\nDone.\r\n",
        date.to_rfc2822()
    )
    .into_bytes()
}

/// `TRIAGED_CLOCK_OFFSET` that moves the clock to `to` (from the real now), in seconds.
fn offset_to(to: DateTime<Utc>) -> String {
    format!(
        "{}s",
        (to - triaged::clock::Clock::system().now()).num_seconds()
    )
}

/// The Support row of `report sla --format json`, as of the moved clock `offset`.
async fn support_row(env: &Env, offset: &str) -> Result<Value> {
    let since = (triaged::clock::Clock::system().now() - Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let json = env
        .ok(
            &["report", "sla", "--since", &since, "--format", "json"],
            &[("TRIAGED_CLOCK_OFFSET", offset)],
        )
        .await?;
    let report: Value = serde_json::from_str(&json).context("report json")?;
    report["buckets"]
        .as_array()
        .and_then(|b| b.iter().find(|r| r["bucket"] == "Support"))
        .cloned()
        .with_context(|| format!("no Support row: {json}"))
}

fn secs(row: &Value, key: &str) -> Result<i64> {
    row[key].as_i64().with_context(|| format!("{key} in {row}"))
}

crate::both_stores!(two_answers_thirty_and_ninety_minutes_late_make_one_breach);

/// Guards against: the sent folder or a member's Cc'd answer not counted, an acknowledgement counted as
/// the answer, or the 30-minute answer counted as a breach.
async fn two_answers_thirty_and_ninety_minutes_late_make_one_breach(
    backend: Backend,
) -> Result<()> {
    let sections = "[ack]\nbuckets = [\"Support\"]\n\n[sla]\nbuckets = [\"Support\"]\n";
    let env = Env::with_script("sla", backend, sections, SCRIPT).await?;
    env.ok(&["team", "add", MIA, "--role", "triage"], &[])
        .await?;
    let (q1, q2) = (env.id("q1"), env.id("q2"));
    let t0 = triaged::clock::Clock::system().now();
    let mut session = env.session().await?;
    for id in [&q1, &q2] {
        let raw = message(id, "Ann <ann@example.net>", "help", "", "Please help.");
        append_at(&mut session, "INBOX", &raw, &[], t0).await?;
    }
    env.ok(&["run", "--once"], &[]).await?;
    let early = support_row(&env, "1m").await?;
    ensure!(
        secs(&early, "tickets")? == 2 && secs(&early, "answered")? == 0,
        "the acknowledgements are no answer: {early}"
    );

    let sent = answer(&env.id("r1"), TEAM, &q1, t0 + Duration::minutes(30));
    append_at(&mut session, "Sent", &sent, &["\\Seen"], t0).await?;
    env.ok(&["run", "--once"], &[("TRIAGED_CLOCK_OFFSET", "30m")])
        .await?;
    let cc = answer(&env.id("r2"), MIA, &q2, t0 + Duration::minutes(90));
    append_at(&mut session, "INBOX", &cc, &[], t0).await?;
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[("TRIAGED_CLOCK_OFFSET", "90m")])
        .await?;

    let row = support_row(&env, "2h").await?;
    ensure!(
        secs(&row, "tickets")? == 2 && secs(&row, "answered")? == 2 && secs(&row, "breaches")? == 1,
        "one breach of two answered: {row}"
    );
    let (median, p90) = (secs(&row, "median_secs")?, secs(&row, "p90_secs")?);
    ensure!((3540..=3660).contains(&median), "median about 1h: {row}");
    ensure!(
        (5340..=5460).contains(&p90),
        "the 90-minute answer is the late one: {row}"
    );
    let text = env
        .ok(&["report", "sla"], &[("TRIAGED_CLOCK_OFFSET", "2h")])
        .await?;
    ensure!(
        text.contains("mia@test.example") && text.contains("support@test.example"),
        "replies per member:\n{text}"
    );
    let markdown = env
        .ok(
            &["report", "sla", "--format", "markdown"],
            &[("TRIAGED_CLOCK_OFFSET", "2h")],
        )
        .await?;
    ensure!(markdown.contains("| Support | 2 | 2 |"), "{markdown}");
    env.store.assert_backend("tickets").await?;
    Ok(())
}

/// The next Friday at least a day away, 16:30 in Berlin.
fn friday_afternoon() -> Result<DateTime<Utc>> {
    let mut day = triaged::clock::Clock::system().now().date_naive() + Duration::days(1);
    while day.weekday() != Weekday::Fri {
        day += Duration::days(1);
    }
    let local = day.and_hms_opt(16, 30, 0).context("time")?;
    Ok(chrono_tz::Europe::Berlin
        .from_local_datetime(&local)
        .single()
        .context("Berlin time")?
        .with_timezone(&Utc))
}

crate::both_stores!(business_hours_count_only_the_open_half_hour);

/// Guards against: `[sla] hours` ignored, so an answer after closing time counts as late.
async fn business_hours_count_only_the_open_half_hour(backend: Backend) -> Result<()> {
    let sections =
        "[sla]\nbuckets = [\"Support\"]\nhours = \"Mon-Fri 09:00-17:00 Europe/Berlin\"\n";
    let env = Env::with_script("slahours", backend, sections, SCRIPT).await?;
    let arrival = friday_afternoon()?;
    let q1 = env.id("q1");
    let mut session = env.session().await?;
    let raw = message(&q1, "Ann <ann@example.net>", "help", "", "Please help.");
    append_at(&mut session, "INBOX", &raw, &[], arrival).await?;
    env.ok(
        &["run", "--once"],
        &[("TRIAGED_CLOCK_OFFSET", &offset_to(arrival))],
    )
    .await?;
    let reply_at = arrival + Duration::minutes(90);
    let sent = answer(&env.id("r1"), TEAM, &q1, reply_at);
    append_at(&mut session, "Sent", &sent, &["\\Seen"], reply_at).await?;
    session.logout().await.ok();
    env.ok(
        &["run", "--once"],
        &[("TRIAGED_CLOCK_OFFSET", &offset_to(reply_at))],
    )
    .await?;
    let later = offset_to(arrival + Duration::hours(3));
    let json = env
        .ok(
            &[
                "report",
                "sla",
                "--since",
                &arrival.format("%Y-%m-%d").to_string(),
                "--format",
                "json",
            ],
            &[("TRIAGED_CLOCK_OFFSET", &later)],
        )
        .await?;
    let report: Value = serde_json::from_str(&json)?;
    let total = &report["total"];
    ensure!(
        total["tickets"] == 1 && total["answered"] == 1 && total["breaches"] == 0,
        "answered in business time: {json}"
    );
    let median = secs(total, "median_secs")?;
    ensure!(
        (1740..=1860).contains(&median),
        "half an hour of business time: {json}"
    );
    Ok(())
}

crate::both_stores!(an_open_breach_is_logged_and_in_the_metrics_while_triaged_runs);

/// Guards against: the response-time loop not running under `triaged run`, or a breach that is neither
/// logged nor shown by `triaged_sla_open_breaches` while it is open.
async fn an_open_breach_is_logged_and_in_the_metrics_while_triaged_runs(
    backend: Backend,
) -> Result<()> {
    let port = free_port()?;
    let sections =
        format!("[sla]\nbuckets = [\"Support\"]\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let env = Env::with_script("slaopen", backend, &sections, SCRIPT).await?;
    let mut session = env.session().await?;
    let raw = message(
        &env.id("q1"),
        "Ann <ann@example.net>",
        "help",
        "",
        "Please help.",
    );
    append_at(
        &mut session,
        "INBOX",
        &raw,
        &[],
        triaged::clock::Clock::system().now(),
    )
    .await?;
    session.logout().await.ok();
    env.ok(&["run", "--once"], &[]).await?;
    let mut child = env
        .command(&["run"], &[("TRIAGED_CLOCK_OFFSET", "2h")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("start triaged run")?;
    let mut seen = String::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if let Ok(text) = http_get(port, "/metrics").await {
            seen = text;
            if seen.lines().any(|l| l == "triaged_sla_open_breaches 1") {
                break;
            }
        }
    }
    child.start_kill().ok();
    let out = child.wait_with_output().await?;
    let log = String::from_utf8_lossy(&out.stderr);
    ensure!(
        seen.lines().any(|l| l == "triaged_sla_open_breaches 1"),
        "no open breach in the metrics:\n{seen}\n{log}"
    );
    ensure!(log.contains("response target missed"), "not logged:\n{log}");
    Ok(())
}

crate::both_stores!(a_maildir_sent_folder_is_read_too);

/// Guards against: a Maildir source whose sent folder is never read.
async fn a_maildir_sent_folder_is_read_too(backend: Backend) -> Result<()> {
    let env = Env::maildir(backend, "[sla]\nbuckets = [\"Triage\"]\n").await?;
    let root = env.dir.path().join("mail");
    for dir in [root.clone(), root.join(".Sent")] {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
    }
    let q1 = env.id("q1");
    let raw = message(&q1, "Ann <ann@example.net>", "help", "", "Please help.");
    std::fs::write(root.join("new/1.q1.host"), raw)?;
    env.ok(&["run", "--once"], &[]).await?;
    let t0 = triaged::clock::Clock::system().now();
    let sent = answer(&env.id("r1"), TEAM, &q1, t0 + Duration::minutes(30));
    std::fs::write(root.join(".Sent/cur/2.r1.host:2,S"), sent)?;
    env.ok(&["run", "--once"], &[("TRIAGED_CLOCK_OFFSET", "31m")])
        .await?;
    let json = env
        .ok(
            &["report", "sla", "--format", "json"],
            &[("TRIAGED_CLOCK_OFFSET", "2h")],
        )
        .await?;
    let report: Value = serde_json::from_str(&json)?;
    let total = &report["total"];
    ensure!(
        total["tickets"] == 1 && total["answered"] == 1 && total["breaches"] == 0,
        "the Maildir sent folder's answer counts: {json}"
    );
    let median = secs(total, "median_secs")?;
    ensure!(
        (1740..=1860).contains(&median),
        "about half an hour: {json}"
    );
    Ok(())
}
