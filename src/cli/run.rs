//! `triaged run` (the mailbox worker; `--once` for a single pass) and `triaged status` (where the
//! watched mailbox stands). Both hand the config to the worker and print what comes back.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::{ConfigArg, init_logging};
use crate::clock::Clock;
use crate::worker::{Mode, Status, Summary};

/// Arguments of `triaged run`.
#[derive(Debug, Clone, Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Process everything pending, flush the outbox, print what went where and exit.
    #[arg(long)]
    once: bool,
}

/// Runs the worker until SIGTERM/SIGINT, or one pass with `--once`.
pub(super) async fn run(args: &RunArgs) -> Result<ExitCode> {
    let config = Arc::new(args.config.load()?);
    init_logging(config.log.format);
    let mode = if args.once { Mode::Once } else { Mode::Watch };
    let report = crate::worker::run(config, mode, crate::worker::shutdown_signal()).await?;
    if mode == Mode::Once {
        print_summary(&report.mailbox, &report.summary);
        if let Some(flushed) = &report.outbox {
            crate::outln!(
                "outbox: {} sent, {} to retry, {} failed",
                flushed.sent,
                flushed.retrying,
                flushed.failed.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What went where, for `run --once`.
fn print_summary(mailbox: &str, summary: &Summary) {
    crate::outln!("{mailbox}: sorted {} message(s)", summary.sorted());
    let width = summary.buckets.keys().map(String::len).max().unwrap_or(0);
    for (bucket, n) in &summary.buckets {
        crate::outln!("  {bucket:<width$}  {n}");
    }
    if summary.errors > 0 {
        crate::outln!("  {} with errors (in quarantine, flagged)", summary.errors);
    }
    if summary.recovered > 0 {
        crate::outln!(
            "  {} verdict(s) from an earlier run re-applied",
            summary.recovered
        );
    }
    if summary.known > 0 {
        crate::outln!("  {} already sorted before (left alone)", summary.known);
    }
    if summary.released > 0 {
        crate::outln!(
            "  {} released from quarantine (new rules decided them)",
            summary.released
        );
    }
}

/// Prints per watched folder: UIDVALIDITY, last UID, pending, last error, messages per bucket today.
pub(super) async fn status(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let status = crate::worker::status(&config, &Clock::system()).await?;
    print_status(&status);
    Ok(ExitCode::SUCCESS)
}

fn print_status(status: &Status) {
    print_mailbox(status);
    print_team(&status.team);
    print_rights(&status.rights);
}

/// The rights part of `status`: retired members still holding rights, and drift.
fn print_rights(rights: &crate::handover::Alerts) {
    crate::outln!("rights");
    if rights.revoke_overdue.is_empty() && rights.drift.is_empty() {
        crate::outln!("  no drift, no rights left after a retirement");
    }
    for a in &rights.revoke_overdue {
        crate::outln!("  alert         {a}");
    }
    for d in &rights.drift {
        crate::outln!(
            "  drift         {}: {} on {:?} {}",
            d.asset,
            d.identifier,
            d.place,
            d.detail
        );
    }
}

/// The team part of `status`: members, thin critical roles, the unresponsive, overdue items.
fn print_team(team: &crate::team::Health) {
    use crate::team::date;
    crate::outln!("team");
    crate::outln!(
        "  members       {} active, {} paused",
        team.active,
        team.paused
    );
    for w in team.warnings() {
        crate::outln!("  warning       {w}");
    }
    for u in &team.unresponsive {
        crate::outln!(
            "  unresponsive  {} (pinged {}, no answer)",
            u.name,
            date(u.pinged_ms)
        );
    }
    for o in &team.overdue {
        crate::outln!(
            "  overdue       {}: {}/{} (due {})",
            o.name,
            o.checklist,
            o.item,
            date(o.due_ms)
        );
    }
}

fn print_mailbox(status: &Status) {
    crate::outln!("mailbox {}", status.mailbox);
    let Some(state) = &status.state else {
        crate::outln!("  not attached yet: `triaged run` attaches it");
        return;
    };
    crate::outln!("  folder        {}", state.folder);
    crate::outln!("  uidvalidity   {}", state.uidvalidity);
    crate::outln!("  last uid      {}", state.last_uid);
    let pending = match &status.pending {
        Ok(n) => n.to_string(),
        Err(e) => format!("unknown ({e})"),
    };
    crate::outln!(
        "  pending       {pending} new, {} verdict(s) not yet applied",
        status.unapplied
    );
    let last_error = if state.last_error.is_empty() {
        "none"
    } else {
        &state.last_error
    };
    crate::outln!("  last error    {last_error}");
    crate::outln!(
        "  quarantine    {} held, {} given up, {} released ({} error verdict(s) in all)",
        status.held,
        status.given_up,
        status.released,
        status.errors
    );
    crate::outln!("  outbox depth  {} mail(s) waiting", status.outbox_depth);
    if status.today.is_empty() {
        crate::outln!("  today         nothing sorted");
    } else {
        let parts: Vec<String> = status
            .today
            .iter()
            .map(|(b, n)| format!("{b} {n}"))
            .collect();
        crate::outln!("  today         {}", parts.join(", "));
    }
}
