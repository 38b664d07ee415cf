//! `triaged report sla [--since DATE] [--format text|json|markdown]`: response times against the target,
//! per bucket (tickets, answered, median, p90, breaches) and the team's replies per member, from
//! `records::sla`. An empty store prints zeros.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{Days, NaiveDate};
use clap::ValueEnum;

use super::super::{ConfigArg, UsageError, init_logging};
use crate::clock::Clock;
use crate::records::report::{Period, ResponseRow, duration_text};
use crate::records::sla::{self, SlaReport};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum SlaFormat {
    Text,
    Json,
    Markdown,
}

pub(super) async fn run(
    config: ConfigArg,
    since: Option<String>,
    format: SlaFormat,
) -> Result<ExitCode> {
    let now = Clock::system().now();
    let today = now.date_naive();
    let since = match since {
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| UsageError(format!("--since {text:?} is not a date YYYY-MM-DD")))?,
        None => today - Days::new(30),
    };
    let until = today + Days::new(1);
    if since >= until {
        return Err(UsageError(format!("--since {since} is after today")).into());
    }
    let config = config.load()?;
    init_logging(config.log.format);
    let store = Store::open_current(&config.store.url).await?;
    let report = sla::report(&store, &config.sla, Period { since, until }, now).await?;
    match format {
        SlaFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&report)?),
        SlaFormat::Text => print_text(&report),
        SlaFormat::Markdown => print_markdown(&report),
    }
    Ok(ExitCode::SUCCESS)
}

fn opt(d: Option<std::time::Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), duration_text)
}

fn heading(r: &SlaReport) -> String {
    let hours = r.business_hours.as_deref().map_or_else(
        || "wall-clock time".to_owned(),
        |h| format!("business hours {h}"),
    );
    format!(
        "response times {} to {}: target {} ({hours})",
        r.period.since,
        r.period.last_day(),
        duration_text(r.target)
    )
}

fn cells(row: &ResponseRow) -> [String; 5] {
    [
        row.tickets.to_string(),
        row.answered.to_string(),
        opt(row.median),
        opt(row.p90),
        row.breaches.to_string(),
    ]
}

fn print_text(r: &SlaReport) {
    crate::outln!("{}", heading(r));
    crate::outln!(
        "{:<24} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "bucket",
        "tickets",
        "answered",
        "median",
        "p90",
        "breaches"
    );
    let rows = r
        .buckets
        .iter()
        .map(|b| (b.bucket.as_str(), &b.row))
        .chain([("total", &r.total)]);
    for (name, row) in rows {
        let [t, a, m, p, b] = cells(row);
        crate::outln!("{name:<24} {t:>7} {a:>8} {m:>8} {p:>8} {b:>8}");
    }
    crate::outln!("replies by the team:");
    if r.members.is_empty() {
        crate::outln!("  none");
    }
    for m in &r.members {
        crate::outln!("  {:<40} {:>6}", m.who, m.replies);
    }
}

fn print_markdown(r: &SlaReport) {
    crate::outln!("## Response times\n\n{}\n", heading(r));
    crate::outln!("| bucket | tickets | answered | median | p90 | breaches |");
    crate::outln!("|---|---:|---:|---:|---:|---:|");
    let rows = r
        .buckets
        .iter()
        .map(|b| (b.bucket.as_str(), &b.row))
        .chain([("**total**", &r.total)]);
    for (name, row) in rows {
        let [t, a, m, p, b] = cells(row);
        crate::outln!(
            "| {} | {t} | {a} | {m} | {p} | {b} |",
            name.replace('|', "\\|")
        );
    }
    crate::outln!("\n| member | replies |\n|---|---:|");
    for m in &r.members {
        crate::outln!("| {} | {} |", m.who.replace('|', "\\|"), m.replies);
    }
}
