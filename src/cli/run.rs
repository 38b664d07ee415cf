//! `triaged run` (the mailbox worker; `--once` for a single pass) and `triaged status` (where the
//! watched mailbox stands). Both hand the config to the worker and print what comes back.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::{ConfigArg, init_logging};
use crate::clock::Clock;
use crate::worker::{MailboxStatus, Mode, Status, Summary, WorkerStatus};

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
    let mut failed = false;
    if mode == Mode::Once {
        for (name, pass) in &report.mailboxes {
            match pass {
                Ok(summary) => print_summary(name, summary),
                Err(e) => {
                    failed = true;
                    crate::outln!("{name}: failed: {e}");
                }
            }
        }
        for (name, holder) in &report.skipped {
            crate::outln!("{name}: skipped, held by worker {holder}");
        }
        if let Some(flushed) = &report.outbox {
            crate::outln!(
                "outbox: {} sent, {} to retry, {} failed",
                flushed.sent,
                flushed.retrying,
                flushed.failed.len()
            );
        }
    }
    // A mailbox that failed was reported above; the others were sorted all the same.
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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

/// Prints per mailbox its lease, UIDVALIDITY, last UID, pending, last error, messages per bucket
/// today; then the workers, the outbox and the team.
pub(super) async fn status(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let status = crate::worker::status(&config, &Clock::system()).await?;
    print_status(&status);
    Ok(ExitCode::SUCCESS)
}

fn print_status(status: &Status) {
    for mailbox in &status.mailboxes {
        print_mailbox(mailbox);
    }
    print_workers(&status.workers);
    crate::outln!("outbox");
    crate::outln!("  depth         {} mail(s) waiting", status.outbox_depth);
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

/// The workers part of `status`: each live worker (and any dead one still named by a lease).
fn print_workers(workers: &[WorkerStatus]) {
    crate::outln!("workers");
    if workers.is_empty() {
        crate::outln!("  none running");
    }
    for w in workers {
        let state = if w.live { "live" } else { "silent" };
        let held = if w.mailboxes.is_empty() {
            "no mailbox".to_owned()
        } else {
            w.mailboxes.join(", ")
        };
        crate::outln!(
            "  {}  {state}, pid {} on {}, heartbeat {:.1}s ago, holds {held}",
            w.row.id,
            w.row.pid,
            w.row.host,
            w.since_heartbeat_ms as f64 / 1000.0
        );
    }
}

fn print_mailbox(status: &MailboxStatus) {
    crate::outln!("mailbox {} ({})", status.name, status.mailbox);
    match &status.lease {
        Some(l) if status.lease_held => crate::outln!(
            "  lease         held by {} (token {}, expires in {:.1}s)",
            l.holder,
            l.token,
            status.lease_left_ms as f64 / 1000.0
        ),
        Some(l) => crate::outln!("  lease         not held (last token {})", l.token),
        None => crate::outln!("  lease         never held"),
    }
    if let Some(l) = status.lease.as_ref().filter(|l| !l.last_error.is_empty()) {
        crate::outln!("  error         {}", l.last_error);
    }
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
