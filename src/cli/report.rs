//! `triaged report team|disputes|sla`: the annual team report (text, markdown, JSON or one HTML file,
//! with its charts written beside it by `--out DIR`), the open disputes with their stage, age and case
//! number, and response times (`sla`). What the reports say is `records`'s; these files parse dates and
//! print.

mod sla;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};

use super::{ConfigArg, UsageError, init_logging};
use crate::clock::Clock;
use crate::records::bridge::OpenRow;
use crate::records::report::{self, Format, Made, Period, duration_text};
use crate::store::Store;

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    #[command(subcommand)]
    what: ReportWhat,
}

#[derive(Debug, Subcommand)]
enum ReportWhat {
    /// The team report for the Board and the general meeting: mail per bucket per month, response
    /// times, disputes, the roster and its changes, handovers and pings, retention purges.
    Team(TeamArgs),
    /// Response times against [sla] target: per bucket and per member of the team.
    Sla {
        #[command(flatten)]
        config: ConfigArg,
        /// The first day counted (YYYY-MM-DD, UTC); default 30 days ago. Up to and including today.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = sla::SlaFormat::Text)]
        format: sla::SlaFormat,
    },
    /// The open disputes: stage, age, case number, escalations.
    Disputes {
        #[command(flatten)]
        config: ConfigArg,
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Args)]
struct TeamArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The first day covered, YYYY-MM-DD (default: a year before --until).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// The first day no longer covered, YYYY-MM-DD (default: tomorrow, so today counts).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// text, markdown, json or html.
    #[arg(long, default_value = "text")]
    format: String,
    /// Write report.{txt,md,json,html} and the two chart SVGs to this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn date(flag: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| UsageError(format!("{flag} {text:?} is not a date (YYYY-MM-DD)")).into())
}

async fn open(config: &ConfigArg) -> Result<(crate::config::Config, Store)> {
    let config = config.load()?;
    init_logging(config.log.format);
    let store = Store::open_current(&config.store.url).await?;
    Ok((config, store))
}

pub(super) async fn report(args: ReportArgs) -> Result<ExitCode> {
    match args.what {
        ReportWhat::Team(a) => team(a).await,
        ReportWhat::Sla {
            config,
            since,
            format,
        } => sla::run(config, since, format).await,
        ReportWhat::Disputes { config, format } => {
            let json = match format.as_str() {
                "text" => false,
                "json" => true,
                other => {
                    return Err(UsageError(format!(
                        "--format {other:?}: report disputes prints text or json"
                    ))
                    .into());
                }
            };
            let (_, store) = open(&config).await?;
            let rows = crate::records::bridge::open(&store, Clock::system().now()).await?;
            if json {
                crate::out!("{}\n", serde_json::to_string_pretty(&rows)?);
            } else {
                print_disputes(&rows);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn team(a: TeamArgs) -> Result<ExitCode> {
    let format: Format = a.format.parse().map_err(UsageError)?;
    let now = Clock::system().now();
    let until = match &a.until {
        Some(t) => date("--until", t)?,
        None => now.date_naive() + Days::new(1),
    };
    let period = match &a.since {
        Some(t) => Period {
            since: date("--since", t)?,
            until,
        },
        None => Period::year_until(until),
    };
    if period.since >= period.until {
        return Err(UsageError(format!(
            "--since {} is not before --until {}",
            period.since, period.until
        ))
        .into());
    }
    let (config, store) = open(&a.config).await?;
    match report::make(&store, &config, period, now, format, a.out.as_deref()).await? {
        Made::Printed(text) => crate::out!("{text}"),
        Made::Written(paths) => {
            for p in paths {
                crate::outln!("wrote {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_disputes(rows: &[OpenRow]) {
    if rows.is_empty() {
        crate::outln!("no open disputes");
        return;
    }
    crate::outln!(
        "{:<14} {:<9} {:>8} {:>9} {:<13} {:<10} message-id",
        "ticket",
        "stage",
        "age",
        "in stage",
        "case",
        "escalated"
    );
    for r in rows {
        let escalated = if r.escalated.is_empty() {
            "-".to_owned()
        } else {
            r.escalated.join(",")
        };
        crate::outln!(
            "{:<14} {:<9} {:>8} {:>9} {:<13} {:<10} {}",
            r.ticket.as_deref().unwrap_or("-"),
            r.stage.as_str(),
            duration_text(r.age),
            duration_text(r.in_stage),
            r.case.as_deref().unwrap_or("-"),
            escalated,
            r.message_id
        );
    }
}
