//! `triaged retention run|hold|release|holds`: the data retention practice from the command line. What is
//! due, what is held and why, and the purge itself are `records::retention`'s; this file prints them.
//! `run` exits 1 when it stopped at `[retention] max_per_run`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, TimeZone as _, Utc};
use clap::{Args, Subcommand};

use super::{ConfigArg, UsageError, init_logging};
use crate::clock::Clock;
use crate::records::retention::{self, FolderReport, HoldTarget, RunOptions, RunReport};
use crate::store::{HoldKind, HoldRow, Store};

#[derive(Debug, Args)]
pub(super) struct RetentionArgs {
    #[command(subcommand)]
    what: RetentionWhat,
}

#[derive(Debug, Subcommand)]
enum RetentionWhat {
    /// List, per folder, the mail past its bucket's limit and why any of it is held; --apply purges it.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Purge what is due (without it nothing is changed).
        #[arg(long)]
        apply: bool,
        /// Purge even when more is due than [retention] max_per_run.
        #[arg(long, requires = "apply")]
        force: bool,
    },
    /// Keep a message, or a support ticket's thread, from being purged until released.
    Hold {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        target: TargetArgs,
        /// Why it is held (kept in the audit trail and shown by every run).
        #[arg(long)]
        reason: String,
    },
    /// Release the holds on a message or a ticket.
    Release {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        target: TargetArgs,
        /// Why it is released.
        #[arg(long, default_value = "released")]
        reason: String,
    },
    /// List the holds in force.
    Holds(ConfigArg),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// A message, by its Message-ID (angle brackets optional).
    #[arg(long, value_name = "ID")]
    message_id: Option<String>,
    /// A support ticket, sYYYYMMDD.NNN: every message of its thread.
    #[arg(long, value_name = "TICKET")]
    ticket: Option<String>,
}

impl TargetArgs {
    fn target(&self) -> Result<HoldTarget> {
        let (kind, text) = match (&self.message_id, &self.ticket) {
            (Some(id), _) => (HoldKind::MessageId, id),
            (None, Some(t)) => (HoldKind::Ticket, t),
            (None, None) => return Err(UsageError("give --message-id or --ticket".into()).into()),
        };
        HoldTarget::parse(kind, text).ok_or_else(|| {
            let want = match kind {
                HoldKind::MessageId => "a Message-ID",
                HoldKind::Ticket => "a ticket number sYYYYMMDD.NNN",
            };
            UsageError(format!("{text:?} is not {want}")).into()
        })
    }
}

async fn open(config: &ConfigArg) -> Result<(crate::config::Config, Store)> {
    let config = config.load()?;
    init_logging(config.log.format);
    let store = Store::open_current(&config.store.url).await?;
    Ok((config, store))
}

pub(super) async fn retention(args: RetentionArgs) -> Result<ExitCode> {
    let clock = Clock::system();
    match args.what {
        RetentionWhat::Run {
            config,
            apply,
            force,
        } => {
            let (config, store) = open(&config).await?;
            let opts = RunOptions {
                apply,
                force,
                actor: "cli",
            };
            let cancel = tokio_util::sync::CancellationToken::new();
            let report = retention::run(&config, &store, &clock, opts, &cancel).await?;
            print_run(&report, config.retention.max_per_run);
            Ok(if report.stopped.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        RetentionWhat::Hold {
            config,
            target,
            reason,
        } => {
            let target = target.target()?;
            if reason.trim().is_empty() {
                return Err(UsageError("--reason must say why".into()).into());
            }
            let (_, store) = open(&config).await?;
            let id = retention::hold(&store, &clock, &target, reason.trim(), "cli").await?;
            crate::outln!("hold {id} on {}: {}", describe(&target), reason.trim());
            Ok(ExitCode::SUCCESS)
        }
        RetentionWhat::Release {
            config,
            target,
            reason,
        } => {
            let target = target.target()?;
            let (_, store) = open(&config).await?;
            let ids = retention::release(&store, &clock, &target, reason.trim(), "cli").await?;
            if ids.is_empty() {
                crate::outln!("no hold on {}", describe(&target));
                return Ok(ExitCode::from(1));
            }
            for id in ids {
                crate::outln!("released hold {id} on {}", describe(&target));
            }
            Ok(ExitCode::SUCCESS)
        }
        RetentionWhat::Holds(config) => {
            let (_, store) = open(&config).await?;
            for hold in retention::holds(&store).await? {
                crate::outln!("{}", hold_line(&hold));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn describe(target: &HoldTarget) -> String {
    match target {
        HoldTarget::MessageId(id) => format!("message <{id}>"),
        HoldTarget::Ticket(t) => format!("ticket {t}"),
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn hold_line(hold: &HoldRow) -> String {
    let target = match hold.kind {
        HoldKind::MessageId => format!("message <{}>", hold.target),
        HoldKind::Ticket => format!("ticket {}", hold.target),
    };
    let at = Utc
        .timestamp_millis_opt(hold.created_ms)
        .single()
        .unwrap_or_default();
    format!(
        "{}  {}  {target}  by {}: {}",
        hold.id,
        when(at),
        hold.actor,
        hold.reason
    )
}

fn print_run(report: &RunReport, max_per_run: u64) {
    let mode = match report.run_id {
        Some(id) => format!("run {id}"),
        None => "dry run, nothing is changed (--apply purges)".to_owned(),
    };
    crate::outln!("retention at {}: {mode}", when(report.at));
    let r = report.recovered;
    if r.purged + r.kept > 0 {
        crate::outln!(
            "finished an interrupted run: {} purge(s) recorded, {} message(s) left in place and looked at again",
            r.purged,
            r.kept
        );
    }
    let verb = if report.apply && report.stopped.is_none() {
        "due"
    } else {
        "purge"
    };
    for folder in &report.folders {
        print_folder(folder, verb);
    }
    if let Some(stop) = report.stopped {
        crate::outln!(
            "stopped: {} message(s) are past their limits, more than [retention] max_per_run = {max_per_run}; \
             nothing was purged. Check the list, then run again with --apply --force to purge them all.",
            stop.due
        );
        return;
    }
    if let Some(records) = &report.records {
        let p = records.pruned;
        let done = if report.apply {
            "pruned"
        } else {
            "would prune"
        };
        crate::outln!(
            "records: kept {}, from before {}: {done} {} verdict row(s) and {} outbox body(ies)",
            retention::limit_text(records.limit),
            when(records.cutoff),
            p.verdicts,
            p.outbox_bodies
        );
    }
    if report.cancelled {
        crate::outln!("stopped by shutdown between batches: the rest is left for the next run");
    }
    if report.apply {
        crate::outln!(
            "purged {} message(s), {} held",
            report.purged(),
            report.held()
        );
    } else {
        crate::outln!(
            "would purge {} message(s), {} held",
            report.due(),
            report.held()
        );
    }
}

fn print_folder(folder: &FolderReport, verb: &str) {
    let rule = &folder.rule;
    let keep = format!(
        "{}: kept {} ({})",
        rule.folder,
        retention::limit_text(rule.limit),
        rule.key
    );
    if !rule.exists {
        crate::outln!("{keep}: no such folder");
        return;
    }
    crate::outln!("{keep}, received before {}", when(folder.cutoff));
    if folder.due.is_empty() && folder.held.is_empty() && folder.purged.is_empty() {
        crate::outln!("  nothing past the limit");
    }
    for item in &folder.purged {
        crate::outln!("  purged  {}  {}", when(item.received()), item.label());
    }
    for item in &folder.due {
        crate::outln!("  {verb:<6}  {}  {}", when(item.received()), item.label());
    }
    for (item, hold) in &folder.held {
        crate::outln!(
            "  held    {}  {}  {hold}",
            when(item.received()),
            item.label()
        );
    }
}
