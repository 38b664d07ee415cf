//! `triaged send welcome|ack`: the team's templated mail to one person. Each renders the template,
//! then queues the mail through the outbox, or with `--dry-run` prints what would be queued and stores
//! nothing. A welcome pack to a member on the roster ticks the checklist items it covers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::{ConfigArg, Loaded, parse_role, report_queued, show};
use crate::message::Message;
use crate::outbox::AutoReply;
use crate::templates::{Role, Welcome, parse_address};

#[derive(Debug, Args)]
pub(super) struct SendArgs {
    #[command(subcommand)]
    what: SendWhat,
}

#[derive(Debug, Subcommand)]
enum SendWhat {
    /// Send the welcome pack to a new Triage volunteer or Support Engineer.
    Welcome(WelcomeArgs),
    /// Acknowledge a received message (RFC 3834 rules apply; prints why when it declines, exit 1).
    Ack(AckArgs),
}

#[derive(Debug, Args)]
struct WelcomeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The newcomer's role: triage or se.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// The newcomer, "NAME <ADDR>".
    #[arg(long, value_name = "NAME <ADDR>")]
    to: String,
    /// Print the complete message (after signing) and queue nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct AckArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The received message, as an .eml file.
    #[arg(long, value_name = "FILE.eml")]
    reply_to: PathBuf,
    /// Print the complete message (after signing) and queue nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(super) async fn send(args: SendArgs) -> Result<ExitCode> {
    match args.what {
        SendWhat::Welcome(a) => welcome(a).await,
        SendWhat::Ack(a) => ack(a).await,
    }
}

async fn welcome(a: WelcomeArgs) -> Result<ExitCode> {
    let to = parse_address("--to", &a.to)?;
    let ctx = Loaded::load(&a.config).await?;
    let welcome = Welcome::new(
        a.role,
        &to,
        &ctx.config.disputes.claimant,
        &ctx.config.outbox.from,
    );
    let mail = ctx.templates.render(&welcome)?;
    if a.dry_run {
        return show(&ctx.outbox.preview(&mail, ctx.clock.now())?);
    }
    let welcomed =
        crate::team::queue_welcome(&ctx.store, &ctx.outbox, &mail, &to, a.role, ctx.clock.now())
            .await?;
    let code = report_queued(&welcomed.queued);
    match &welcomed.member {
        Some(name) => {
            for t in &welcomed.ticked {
                crate::outln!("ticked {t} for {name}: {}", t.text);
            }
        }
        None => crate::outln!(
            "note: {} is not on the roster; no checklist ticked",
            to.email
        ),
    }
    Ok(code)
}

async fn ack(a: AckArgs) -> Result<ExitCode> {
    let raw =
        std::fs::read(&a.reply_to).with_context(|| format!("read {}", a.reply_to.display()))?;
    let msg = Message::parse(&raw, 0)
        .with_context(|| format!("read {} as a message", a.reply_to.display()))?;
    let ctx = Loaded::load(&a.config).await?;
    let (info, period, now) = (msg.info(), ctx.config.ack.period, ctx.clock.now());
    if a.dry_run {
        return match ctx
            .outbox
            .preview_ack(&ctx.store, &ctx.templates, info, period, now)
            .await?
        {
            Ok((composed, _ticket)) => show(&composed),
            Err(why) => declined(&why),
        };
    }
    let reply = ctx
        .outbox
        .acknowledge(
            &ctx.store,
            &ctx.templates,
            info,
            period,
            "cli:send ack",
            now,
        )
        .await?;
    match reply {
        AutoReply::Declined(why) => declined(&why),
        AutoReply::Queued { queued, ticket } => {
            crate::outln!("ticket {ticket}");
            Ok(report_queued(&queued))
        }
    }
}

fn declined(why: &crate::outbox::Decline) -> Result<ExitCode> {
    crate::outln!("declined: {why}");
    Ok(ExitCode::from(1))
}
