//! `triaged report team` over a store a test filled with a year of traffic of a known shape (2025), every
//! step run by the binary with its clock moved into that year (`TRIAGED_CLOCK_OFFSET`): mail sorted month
//! by month from a Maildir, the roster changed (a join, a promotion, a departure), pings sent, a dispute
//! received and acknowledged by a case number, another left open. The markdown matches a golden file,
//! the SVG's bars follow the traffic, and the HTML shows its charts in Chromium. An empty store prints a
//! report of zeros and still draws both charts. On SQLite and PostgreSQL.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use chrono::{DateTime, TimeZone as _, Utc};

use super::super::support::{Backend, ConfigBuilder};
use super::super::team::env::Env;
use super::screenshot;
use triaged::records::report::chart::{LEGEND_WIDTH, MEDIAN, PALETTE, TARGET, WIDTH};

/// Sorts by a test header, so each message lands in the bucket the traffic's shape says.
const SCRIPT: &str = r#"require ["fileinto"];
if header :is "X-Test-Bucket" "Junk" { fileinto "Junk"; }
elsif header :is "X-Test-Bucket" "Lists" { fileinto "Lists/support"; }
elsif header :is "X-Test-Bucket" "Disputes" { fileinto "Support/Disputes"; }
elsif header :is "X-Test-Bucket" "Arbitration" { fileinto "Arbitration"; }
elsif header :is "X-Test-Bucket" "Replies" { fileinto "Replies"; }
else { fileinto "Triage"; }
"#;

const DISPUTES: &str = "[disputes]\nbuckets = [\"Support/Disputes\"]\n";
const SLA: &str = "[sla]\nbuckets = [\"Triage\"]\nsent_folders = []\n";

/// Month `i` (0 for January 2025): Triage grows from 3 by one a month, Junk falls from 16 by one, the
/// support list stays at 4. The team answers the first two Triage tickets of each month, 10 minutes
/// (and 30 seconds) after they came in in January, five minutes later each month: November's and
/// December's answers are past the one-hour target.
fn shape(i: u32) -> [(&'static str, u32); 3] {
    [("Triage", 3 + i), ("Junk", 16 - i), ("Lists", 4)]
}

/// Minutes (and 30 seconds) from arrival to the team's answer in month `i`.
fn answer_after(i: u32) -> chrono::Duration {
    chrono::Duration::minutes(i64::from(10 + 5 * i)) + chrono::Duration::seconds(30)
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/team-2025.md")
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .context("a valid instant")
}

/// The `TRIAGED_CLOCK_OFFSET` that puts the binary's clock at `when`.
fn offset_to(when: DateTime<Utc>) -> String {
    let now = triaged::clock::Clock::system().now();
    format!("{}s", (when - now).num_seconds())
}

fn message(id: &str, bucket: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: Alice Example <alice@example.net>\r\nTo: Support <support@test.example>\r\n\
         Subject: {subject}\r\nDate: Mon, 2 Jun 2025 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n\
         X-Test-Bucket: {bucket}\r\n{extra}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
}

/// A Maildir config with the test script and the disputes bucket, migrated.
async fn env(backend: Backend) -> Result<Env> {
    let env = Env::maildir(backend, &[DISPUTES]).await?;
    let script = env.dir.path().join("rules.sieve");
    std::fs::write(&script, SCRIPT)?;
    ConfigBuilder::new()
        .store(env.store.url())
        .script(&script)
        .section(DISPUTES)
        .section(SLA)
        .write(env.dir.path(), None)?;
    Ok(env)
}

/// Runs triaged with its clock at `when`; it must exit 0.
async fn ok_at(env: &Env, args: &[&str], when: DateTime<Utc>) -> Result<String> {
    let offset = offset_to(when);
    let out = env.run_at(args, Some(offset.as_str())).await?;
    ensure!(
        out.code == Some(0),
        "triaged {args:?} at {when}: {}",
        out.all()
    );
    Ok(out.stdout)
}

/// Delivers month `i`'s mail (and `extra` messages) to the Maildir and sorts it on the 15th at 10:0i.
async fn month(env: &Env, i: u32, extra: &[(String, String)]) -> Result<()> {
    let new = env.dir.path().join("mail/new");
    for (bucket, n) in shape(i) {
        for k in 0..n {
            let id = format!("m{i:02}-{bucket}-{k}@report.test");
            let name = format!("2025{i:02}{k:03}.{bucket}.report");
            std::fs::write(new.join(name), message(&id, bucket, "A question", ""))?;
        }
    }
    for (name, raw) in extra {
        std::fs::write(new.join(name), raw)?;
    }
    // A minute later each month, so that no age shown to the hour sits on a second's edge.
    let arrived = at(2025, i + 1, 15, 10, i, 0)?;
    let out = ok_at(env, &["run", "--once"], arrived).await?;
    let left = std::fs::read_dir(&new)?.count();
    ensure!(left == 0, "month {i}: {left} messages left unsorted: {out}");
    for k in 0..2 {
        let question = format!("m{i:02}-Triage-{k}@report.test");
        let answer = message(
            &format!("a{i:02}-{k}@report.test"),
            "Replies",
            "Re: A question",
            &format!("In-Reply-To: <{question}>\r\nReferences: <{question}>\r\n"),
        )
        .replace(
            "From: Alice Example <alice@example.net>",
            "From: Support <support@test.example>",
        )
        // A reply counts from its Date (kept between the question's arrival and when it is seen).
        .replace(
            "Date: Mon, 2 Jun 2025 10:00:00 +0000",
            &format!("Date: {}", (arrived + answer_after(i)).to_rfc2822()),
        );
        std::fs::write(new.join(format!("2025{i:02}{k:03}.answer.report")), answer)?;
    }
    ok_at(env, &["run", "--once"], arrived + answer_after(i)).await?;
    Ok(())
}

/// The year 2025 as the report should tell it.
async fn fill(env: &Env) -> Result<()> {
    let t = |m, d| at(2025, m, d, 10, 0, 0);
    let now = triaged::clock::Clock::system().now();
    ok_at(
        env,
        &[
            "team",
            "add",
            "Ada Lovelace <ada@test.example>",
            "--role",
            "triage,leader",
            "--since",
            "2024-05-01",
        ],
        now,
    )
    .await?;
    ok_at(
        env,
        &[
            "team",
            "add",
            "Cyd Charisse <cyd@test.example>",
            "--role",
            "triage",
            "--since",
            "2024-02-01",
        ],
        now,
    )
    .await?;
    for i in 0..12 {
        let extra = match i {
            2 => vec![(
                "dispute-1.report".to_owned(),
                message(
                    "d1@report.test",
                    "Disputes",
                    "Dispute over a certificate",
                    "",
                ),
            )],
            3 => vec![(
                "case-1.report".to_owned(),
                message(
                    "case1@report.test",
                    "Arbitration",
                    "Re: Dispute over a certificate [a20250410.1]",
                    "In-Reply-To: <d1@report.test>\r\nReferences: <d1@report.test>\r\n",
                ),
            )],
            10 => vec![(
                "dispute-2.report".to_owned(),
                message(
                    "d2@report.test",
                    "Disputes",
                    "Dispute over an assurance",
                    "",
                ),
            )],
            _ => Vec::new(),
        };
        month(env, i, &extra).await?;
        match i {
            2 => {
                ok_at(
                    env,
                    &[
                        "team",
                        "promote",
                        "Ada Lovelace",
                        "--to",
                        "se",
                        "--override",
                        "the year's test",
                    ],
                    t(3, 20)?,
                )
                .await?;
            }
            5 => {
                ok_at(
                    env,
                    &[
                        "team",
                        "add",
                        "Bob Dylan <bob@test.example>",
                        "--role",
                        "triage",
                    ],
                    t(6, 20)?,
                )
                .await?;
                ok_at(env, &["team", "ping"], t(6, 25)?).await?;
            }
            8 => {
                ok_at(
                    env,
                    &["team", "retire", "Cyd Charisse", "--reason", "moved on"],
                    t(9, 30)?,
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Filled rectangles of `colour` in the plot area (left of the legend), left to right, as
/// (x, height).
fn bars(svg: &str, colour: triaged::records::report::chart::Rgb) -> Result<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg)?;
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("rect")) {
        if !node
            .attribute("fill")
            .is_some_and(|c| c.eq_ignore_ascii_case(&colour.hex()))
        {
            continue;
        }
        let num = |name: &str| -> Result<f64> {
            Ok(node.attribute(name).context("rect attribute")?.parse()?)
        };
        if num("x")? < f64::from(WIDTH - LEGEND_WIDTH) {
            out.push((num("x")?, num("height")?));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

/// The points of the median line (SVG y grows downwards), left to right.
fn median_line(svg: &str) -> Result<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg)?;
    let mut longest: Vec<(f64, f64)> = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
        let stroke = node.attribute("stroke").unwrap_or_default();
        if !stroke.eq_ignore_ascii_case(&MEDIAN.hex()) {
            continue;
        }
        let points: Vec<(f64, f64)> = node
            .attribute("points")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.split_once(','))
            .filter_map(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?)))
            .collect();
        // The legend's sample line is short and right of the plot.
        if points.len() > longest.len() {
            longest = points;
        }
    }
    Ok(longest)
}

/// Each bar is as tall as its month's count says, at one scale for the whole chart.
fn follows(bars: &[(f64, f64)], counts: &[u32], what: &str) -> Result<()> {
    ensure!(
        bars.len() == counts.len(),
        "{what}: {} bars for {} months",
        bars.len(),
        counts.len()
    );
    let total: u32 = counts.iter().sum();
    let scale = bars.iter().map(|b| b.1).sum::<f64>() / f64::from(total.max(1));
    ensure!(scale > 1.0, "{what}: bars too short to measure ({scale})");
    for (i, ((_, h), n)) in bars.iter().zip(counts).enumerate() {
        let want = scale * f64::from(*n);
        ensure!(
            (h - want).abs() <= 2.0,
            "{what} month {i}: height {h}, want {want}"
        );
    }
    Ok(())
}

async fn a_year_of_traffic_makes_the_report(backend: Backend) -> Result<()> {
    let env = env(backend).await?;
    fill(&env).await?;
    env.store.assert_backend("disputes").await?;
    let made = at(2026, 1, 5, 8, 30, 30)?;
    let period = ["--since", "2025-01-01", "--until", "2026-01-01"];
    let out = env.dir.path().join("report-md");
    let out_arg = out.display().to_string();
    let mut args = vec!["report", "team", "--format", "markdown", "--out", &out_arg];
    args.extend(period);
    let printed = ok_at(&env, &args, made).await?;
    ensure!(printed.contains("report.md"), "{printed}");
    let markdown = std::fs::read_to_string(out.join("report.md"))?;
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden().parent().context("a parent")?)?;
        std::fs::write(golden(), &markdown)?;
    }
    let expected = std::fs::read_to_string(golden())
        .with_context(|| format!("read {} (UPDATE_GOLDEN=1 writes it)", golden().display()))?;
    assert_eq!(
        markdown,
        expected,
        "the markdown report against {}",
        golden().display()
    );
    // The README's sample is this report with its charts, as the command wrote them.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report");
    let files = ["report.md", "mail-per-month.svg", "response-times.svg"];
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&docs)?;
        for name in files {
            std::fs::copy(out.join(name), docs.join(name))?;
        }
    }
    for name in files {
        let shown = std::fs::read_to_string(docs.join(name))
            .with_context(|| format!("read docs/report/{name} (UPDATE_GOLDEN=1 writes it)"))?;
        ensure!(
            shown == std::fs::read_to_string(out.join(name))?,
            "docs/report/{name} is stale"
        );
    }

    // The chart beside it: Junk (the largest bucket, first colour) falls, Triage (second) grows.
    let svg = std::fs::read_to_string(out.join("mail-per-month.svg"))?;
    let junk: Vec<u32> = (0..12).map(|i| shape(i)[1].1).collect();
    let triage: Vec<u32> = (0..12).map(|i| shape(i)[0].1).collect();
    follows(&bars(&svg, PALETTE[0])?, &junk, "Junk")?;
    follows(&bars(&svg, PALETTE[1])?, &triage, "Triage")?;
    let lists = bars(&svg, PALETTE[2])?;
    follows(&lists, &[4; 12], "Lists/support")?;
    // The response chart's median line climbs month by month, five minutes a month.
    let svg = std::fs::read_to_string(out.join("response-times.svg"))?;
    let median = median_line(&svg)?;
    ensure!(
        median.len() == 12,
        "the median line has {} points",
        median.len()
    );
    let step = (median[0].1 - median[11].1) / 11.0;
    ensure!(step > 1.0, "the line climbs measurably: {step}");
    for (i, w) in median.windows(2).enumerate() {
        let rise = w[0].1 - w[1].1;
        ensure!(
            (rise - step).abs() <= 1.5,
            "month {}: rises {rise}, want {step}",
            i + 1
        );
    }

    // JSON carries the same figures.
    let mut args = vec!["report", "team", "--format", "json"];
    args.extend(period);
    let json: serde_json::Value = serde_json::from_str(&ok_at(&env, &args, made).await?)?;
    assert_eq!(json["mail"]["total"], 25 * 12 + 3);
    // Response times: every Triage ticket timed, two answered a month; the unanswered ones are
    // breaches by the time the report is made, and so are November's and December's late answers.
    let response = &json["response"];
    assert_eq!(response["total"]["tickets"], 102);
    assert_eq!(response["total"]["answered"], 24);
    assert_eq!(response["total"]["breaches"], 78 + 4);
    for i in 0..12 {
        let median = response["months"][i]["median_secs"]
            .as_i64()
            .context("a median")?;
        let want = answer_after(i as u32).num_seconds();
        ensure!(
            (median - want).abs() <= 2,
            "month {i}: median {median}s, want {want}s"
        );
    }
    assert_eq!(json["disputes"]["received"], 2);
    assert_eq!(json["disputes"]["acknowledged"], 1);
    // The first was acknowledged in the pass that would have escalated it; the second waited a month.
    assert_eq!(json["disputes"]["escalations"], 1);
    assert_eq!(json["handovers"]["pings"]["sent"], 3);

    // The HTML in a browser: each bucket's colour and the response chart's target line are drawn.
    let html_dir = env.dir.path().join("report-html");
    let html_arg = html_dir.display().to_string();
    let mut args = vec!["report", "team", "--format", "html", "--out", &html_arg];
    args.extend(period);
    ok_at(&env, &args, made).await?;
    let html = std::fs::read_to_string(html_dir.join("report.html"))?;
    let shot = screenshot(&html).await?;
    for (name, colour) in [
        ("Junk", PALETTE[0]),
        ("Triage", PALETTE[1]),
        ("Lists/support", PALETTE[2]),
        ("target", TARGET),
    ] {
        let share = shot.share(colour);
        ensure!(
            share > 0.0002,
            "{name} ({}) covers {share:.5} of the page",
            colour.hex()
        );
    }
    let bars_share: f64 = PALETTE[..3].iter().map(|c| shot.share(*c)).sum();
    ensure!(
        bars_share > 0.01,
        "the bars cover {bars_share:.4} of the page"
    );
    Ok(())
}

async fn an_empty_store_reports_zeros_and_draws_both_charts(backend: Backend) -> Result<()> {
    let env = env(backend).await?;
    let text = env.ok(&["report", "team"]).await?;
    ensure!(text.contains("Support team report"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["report", "team", "--format", "json"]).await?)?;
    assert_eq!(json["mail"]["total"], 0);
    assert_eq!(json["disputes"]["received"], 0);
    assert_eq!(json["retention"]["total"], 0);
    assert_eq!(json["mail"]["months"].as_array().map(Vec::len), Some(12));
    let html = env.ok(&["report", "team", "--format", "html"]).await?;
    assert_eq!(html.matches("<svg").count(), 2, "both charts are embedded");
    ensure!(
        html.contains("No mail in this period"),
        "the mail chart says it is empty"
    );
    let shot = screenshot(&html).await?;
    ensure!(
        shot.share(TARGET) > 0.0001,
        "the empty response chart draws its target line"
    );
    let disputes = env.ok(&["report", "disputes"]).await?;
    assert_eq!(disputes.trim(), "no open disputes");
    let bad = env
        .run(&["report", "team", "--since", "2026-13-01"])
        .await?;
    assert_eq!(bad.code, Some(2), "{}", bad.all());
    ensure!(bad.stderr.contains("--since"), "{}", bad.all());
    Ok(())
}

crate::both_stores!(
    a_year_of_traffic_makes_the_report,
    an_empty_store_reports_zeros_and_draws_both_charts
);
