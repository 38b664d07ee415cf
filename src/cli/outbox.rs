//! `triaged outbox list|retry|cancel|flush`: look at and act on the outgoing mail queue. What retry,
//! cancel and flush do is the outbox's; this file prints one line per outcome.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use clap::{Args, Subcommand};

use super::{ConfigArg, Loaded};
use crate::outbox::{Flusher, Retried, flush};
use crate::store::{OutboxMail, RecipientState};

#[derive(Debug, Args)]
pub(super) struct OutboxArgs {
    #[command(subcommand)]
    what: OutboxWhat,
}

#[derive(Debug, Subcommand)]
enum OutboxWhat {
    /// List the newest mails and where each recipient stands.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// How many mails to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a mail's failed and held recipients again (a held mail is composed again first).
    Retry {
        #[command(flatten)]
        config: ConfigArg,
        id: i64,
    },
    /// Cancel a mail's queued and held recipients.
    Cancel {
        #[command(flatten)]
        config: ConfigArg,
        id: i64,
    },
    /// Send what is due now; exit 1 when a recipient failed for good in this pass.
    Flush {
        #[command(flatten)]
        config: ConfigArg,
        /// Ignore the retry schedule: attempt everything queued.
        #[arg(long)]
        now: bool,
    },
}

pub(super) async fn outbox(args: OutboxArgs) -> Result<ExitCode> {
    match args.what {
        OutboxWhat::List { config, limit } => {
            let ctx = Loaded::load(&config).await?;
            for mail in crate::outbox::list(&ctx.store, limit).await? {
                crate::out!("{}", describe(&mail));
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxWhat::Retry { config, id } => {
            let ctx = Loaded::load(&config).await?;
            match ctx.outbox.retry(&ctx.store, id, ctx.clock.now()).await? {
                Retried::Requeued(n) => {
                    crate::outln!("requeued {n} recipient(s) of outbox {id}");
                    Ok(ExitCode::SUCCESS)
                }
                Retried::StillHeld(why) => {
                    crate::outln!("still held: outbox {id}: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        OutboxWhat::Cancel { config, id } => {
            let ctx = Loaded::load(&config).await?;
            let n = crate::outbox::cancel(&ctx.store, id, ctx.clock.now()).await?;
            crate::outln!("cancelled {n} recipient(s) of outbox {id}");
            Ok(ExitCode::SUCCESS)
        }
        OutboxWhat::Flush { config, now } => {
            let ctx = Loaded::load(&config).await?;
            let flusher = Flusher::Own(ctx.config.lease.ttl);
            let report = flush(&ctx.store, &ctx.config.outbox, &ctx.clock, now, &flusher).await?;
            crate::outln!(
                "attempted {}, sent {}, retrying {}, failed {}",
                report.attempted,
                report.sent,
                report.retrying,
                report.failed.len()
            );
            for (id, address, why) in &report.failed {
                crate::outln!("failed: outbox {id} to {address}: {why}");
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn when(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One mail and its recipients, for `outbox list`.
fn describe(mail: &OutboxMail) -> String {
    let mut out = format!(
        "{}  {}  {}  {}  {}\n",
        mail.id,
        when(mail.created_at_ms),
        mail.template,
        mail.message_id,
        mail.subject
    );
    for r in &mail.recipients {
        let next = if r.state == RecipientState::Queued {
            format!("  next {}", when(r.next_attempt_at_ms))
        } else {
            String::new()
        };
        let claim = if r.claimed_by.is_empty() {
            String::new()
        } else {
            format!("  claimed by {}", r.claimed_by)
        };
        let error = if r.last_error.is_empty() {
            String::new()
        } else {
            format!("  last error: {}", r.last_error)
        };
        out.push_str(&format!(
            "    {}  {}  attempts {}{next}{claim}{error}\n",
            r.address, r.state, r.attempts
        ));
    }
    out
}
