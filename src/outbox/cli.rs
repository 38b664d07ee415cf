//! The outgoing-mail commands: `send welcome|ack`, `dispute abc` and `outbox list|retry|cancel|flush`.
//!
//! Each command loads what it needs, calls into `templates`, `disputes` and `outbox`, and prints one line
//! per outcome. `--dry-run` runs the very same enqueue inside a transaction that is rolled back, so what
//! it prints is exactly what would be stored and sent, and nothing is queued.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::{Args, Subcommand};

use super::{AutoReply, Outbox, Queued, flush};
use crate::cli::{ConfigArg, init_logging};
use crate::clock::Clock;
use crate::config::Config;
use crate::disputes::{AbcRequest, abc_filing};
use crate::store::{OutboxMail, RecipientState, Store};
use crate::templates::{RenderedMail, Role, Templates, Welcome, parse_address};

#[derive(Debug, Args)]
pub struct SendArgs {
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

#[derive(Debug, Args)]
pub struct DisputeArgs {
    #[command(subcommand)]
    what: DisputeWhat,
}

#[derive(Debug, Subcommand)]
enum DisputeWhat {
    /// File a dispute asking Arbitration for an Arbitrated Background Check (sent to [disputes] address).
    Abc(AbcArgs),
}

#[derive(Debug, Args)]
struct AbcArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The candidate (the Respondent), "NAME <ADDR>".
    #[arg(long, value_name = "NAME <ADDR>")]
    candidate: Option<String>,
    /// The name the candidate is known by.
    #[arg(long)]
    alias: Option<String>,
    /// The candidate's current role (assurer, triage, se, cm).
    #[arg(long, value_parser = parse_role)]
    current_role: Option<Role>,
    /// The role the candidate is proposed for (se, cm, arbitrator).
    #[arg(long, value_parser = parse_role)]
    proposed_role: Option<Role>,
    /// The Claimant, "NAME <ADDR>" (default: [disputes] claimant).
    #[arg(long, value_name = "NAME <ADDR>")]
    claimant: Option<String>,
    /// The Security Policy clause the check is asked under.
    #[arg(long, default_value = crate::disputes::DEFAULT_CLAUSE)]
    clause: String,
    /// Print the complete message (after signing) and queue nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
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

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// What the mail commands share, loaded once.
struct Ctx {
    config: Config,
    store: Store,
    outbox: Outbox,
    templates: Templates,
    clock: Clock,
}

async fn load(arg: &ConfigArg) -> Result<Ctx> {
    let config = arg.load()?;
    init_logging(config.log.format);
    let store = Store::open(&config.store.url).await?;
    store.ensure_current().await?;
    let outbox = Outbox::new(&config)?;
    let templates = Templates::load(config.outbox.templates_dir.as_deref())?;
    Ok(Ctx {
        config,
        store,
        outbox,
        templates,
        clock: Clock::system(),
    })
}

pub async fn send(args: SendArgs) -> Result<ExitCode> {
    match args.what {
        SendWhat::Welcome(a) => {
            let to = parse_address("--to", &a.to)?;
            let ctx = load(&a.config).await?;
            let welcome = Welcome::new(
                a.role,
                &to,
                &ctx.config.disputes.claimant,
                &ctx.config.outbox.from,
            );
            let mail = ctx.templates.render(&welcome)?;
            queue_or_show(&ctx, &mail, a.dry_run, "cli:send welcome").await
        }
        SendWhat::Ack(a) => ack(a).await,
    }
}

async fn ack(a: AckArgs) -> Result<ExitCode> {
    let raw =
        std::fs::read(&a.reply_to).with_context(|| format!("read {}", a.reply_to.display()))?;
    let msg = mail_parser::MessageParser::default()
        .parse(&raw)
        .with_context(|| format!("parse {} as a message", a.reply_to.display()))?;
    let ctx = load(&a.config).await?;
    let mut tx = ctx.store.begin().await?;
    let outcome = ctx
        .outbox
        .acknowledge_in(
            &mut tx,
            &ctx.templates,
            &msg,
            ctx.config.ack.period,
            "cli:send ack",
            ctx.clock.now(),
        )
        .await?;
    match outcome {
        AutoReply::Declined(why) => {
            crate::outln!("declined: {why}");
            Ok(ExitCode::from(1))
        }
        AutoReply::Queued { queued, ticket } => {
            if a.dry_run {
                return show(queued);
            }
            tx.commit().await.context("commit acknowledgement")?;
            crate::outln!("ticket {ticket}");
            Ok(report_queued(&queued))
        }
    }
}

pub async fn dispute(args: DisputeArgs) -> Result<ExitCode> {
    let DisputeWhat::Abc(a) = args.what;
    let address =
        |field: &str, v: &Option<String>| v.as_deref().map(|t| parse_address(field, t)).transpose();
    let request = AbcRequest {
        candidate: address("--candidate", &a.candidate)?,
        alias: a.alias.clone(),
        current_role: a.current_role,
        proposed_role: a.proposed_role,
        claimant: address("--claimant", &a.claimant)?,
        clause: Some(a.clause.clone()),
    };
    let ctx = load(&a.config).await?;
    let filing = abc_filing(&request, &ctx.config.disputes)?;
    let mut mail = ctx.templates.render(&filing)?;
    // The filing always goes to the configured disputes address, whatever the template's default.
    mail.to = vec![ctx.config.disputes.address.clone()];
    queue_or_show(&ctx, &mail, a.dry_run, "cli:dispute abc").await
}

/// Queues `mail`, or with `dry_run` prints exactly what would be queued and rolls back.
async fn queue_or_show(
    ctx: &Ctx,
    mail: &RenderedMail,
    dry_run: bool,
    actor: &str,
) -> Result<ExitCode> {
    let mut tx = ctx.store.begin().await?;
    let queued = ctx
        .outbox
        .enqueue_in(&mut tx, mail, actor, ctx.clock.now())
        .await?;
    if dry_run {
        return show(queued);
    }
    tx.commit().await.context("commit queued mail")?;
    Ok(report_queued(&queued))
}

fn show(queued: Queued) -> Result<ExitCode> {
    if let Some(why) = &queued.held {
        crate::outln!("held: {why}");
        return Ok(ExitCode::from(1));
    }
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(&queued.raw).context("print the message")?;
    out.flush().context("print the message")?;
    eprintln!("dry run: nothing queued");
    Ok(ExitCode::SUCCESS)
}

fn report_queued(queued: &Queued) -> ExitCode {
    match &queued.held {
        Some(why) => {
            crate::outln!("held outbox {} {}: {why}", queued.id, queued.message_id);
            ExitCode::from(1)
        }
        None => {
            crate::outln!(
                "queued outbox {} {} to {}",
                queued.id,
                queued.message_id,
                queued.recipients.join(", ")
            );
            ExitCode::SUCCESS
        }
    }
}

pub async fn outbox(args: OutboxArgs) -> Result<ExitCode> {
    match args.what {
        OutboxWhat::List { config, limit } => {
            let ctx = load(&config).await?;
            for mail in ctx.store.outbox_mails(limit).await? {
                crate::out!("{}", describe(&mail));
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxWhat::Retry { config, id } => retry(&load(&config).await?, id).await,
        OutboxWhat::Cancel { config, id } => {
            let ctx = load(&config).await?;
            exists(&ctx, id).await?;
            let n = ctx.store.cancel_outbox_mail(id, ctx.clock.now_ms()).await?;
            crate::outln!("cancelled {n} recipient(s) of outbox {id}");
            Ok(ExitCode::SUCCESS)
        }
        OutboxWhat::Flush { config, now } => {
            let ctx = load(&config).await?;
            let report = flush(&ctx.store, &ctx.config.outbox, &ctx.clock, now).await?;
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

async fn exists(ctx: &Ctx, id: i64) -> Result<OutboxMail> {
    ctx.store
        .outbox_mail(id)
        .await?
        .with_context(|| format!("no outbox mail {id}"))
}

async fn retry(ctx: &Ctx, id: i64) -> Result<ExitCode> {
    let mail = exists(ctx, id).await?;
    let now = ctx.clock.now();
    let give_up = now.timestamp_millis() + super::millis(ctx.config.outbox.give_up_after);
    let raw = if mail.hold_error.is_empty() {
        None
    } else {
        let held = ctx.store.outbox_source(id).await?;
        let source: RenderedMail =
            serde_json::from_str(&held.source).context("read the held mail's source")?;
        let date = Utc
            .timestamp_millis_opt(held.created_at_ms)
            .single()
            .unwrap_or(now);
        let composed = ctx.outbox.compose(&source, &held.message_id, date)?;
        if let Some(why) = composed.hold_error {
            ctx.store
                .hold_outbox_mail(id, &why, now.timestamp_millis())
                .await?;
            crate::outln!("still held: outbox {id}: {why}");
            return Ok(ExitCode::from(1));
        }
        Some(composed.raw)
    };
    let n = ctx
        .store
        .requeue_outbox_mail(id, raw.as_deref(), give_up, now.timestamp_millis())
        .await?;
    crate::outln!("requeued {n} recipient(s) of outbox {id}");
    Ok(ExitCode::SUCCESS)
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
        let error = if r.last_error.is_empty() {
            String::new()
        } else {
            format!("  last error: {}", r.last_error)
        };
        out.push_str(&format!(
            "    {}  {}  attempts {}{next}{error}\n",
            r.address, r.state, r.attempts
        ));
    }
    out
}
