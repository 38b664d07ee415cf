//! `triaged handover ...`: start, confirm, apply, verify, list and show handovers of assets (the
//! mailbox's IMAP folders, mailing lists, manual items). Each command parses its arguments, loads the
//! config, the assets and the store, calls one function of the `handover` room and prints what it did;
//! the OS user who ran it is the actor of every audit event.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{ConfigArg, Loaded, UsageError, init_logging, os_user};
use crate::clock::Clock;
use crate::handover::{APPLIED, AssetOutcome, Assets, Mail, Scope, Shown, VERIFIED};
use crate::outln;
use crate::store::Store;

#[derive(Debug, Args)]
pub(super) struct HandoverArgs {
    #[command(subcommand)]
    what: HandoverWhat,
}

#[derive(Debug, Subcommand)]
enum HandoverWhat {
    /// Open a handover of one asset, or of the team leader's job, from one person to another; the
    /// handover notice goes to both and to the team address.
    Start(StartArgs),
    /// A second member agrees to a handover (needed before a critical asset is applied).
    Confirm(ConfirmArgs),
    /// Grant the incoming person's rights, revoke the outgoing person's, read both back.
    Apply(IdArgs),
    /// Read every applied asset back again and check it for drift.
    Verify(IdArgs),
    /// A manual item of a handover was done by hand (counts as verified); for a shared password
    /// rotated, only once triaged's own login works with the password configured now.
    Tick(TickArgs),
    /// Every handover with each asset's state.
    List(ConfigArg),
    /// One handover: the people, the confirmation, each asset's state and error.
    Show(IdArgs),
}

#[derive(Debug, Args)]
struct StartArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The asset handed over (a `[[asset]] name`).
    #[arg(long, conflicts_with = "role", required_unless_present = "role")]
    asset: Option<String>,
    /// The role handed over: only `leader` (every asset the leader role holds, manual items too).
    #[arg(long, value_parser = ["leader"])]
    role: Option<String>,
    /// Who hands over: a name, alias or address.
    #[arg(long)]
    from: String,
    /// Who takes over.
    #[arg(long)]
    to: String,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, Args)]
struct ConfirmArgs {
    #[command(flatten)]
    config: ConfigArg,
    id: i64,
    /// The member who agrees: active, and neither of the two people.
    #[arg(long)]
    by: String,
}

#[derive(Debug, Args)]
struct TickArgs {
    #[command(flatten)]
    config: ConfigArg,
    id: i64,
    /// The manual asset done.
    #[arg(long)]
    asset: String,
}

#[derive(Debug, Args)]
struct IdArgs {
    #[command(flatten)]
    config: ConfigArg,
    id: i64,
}

async fn open(arg: &ConfigArg) -> Result<(crate::config::Config, Store, Assets)> {
    let config = arg.load()?;
    init_logging(config.log.format);
    let assets = Assets::load(&config)?;
    let store = Store::open_current(&config.store.url).await?;
    Ok((config, store, assets))
}

pub(super) async fn handover(args: HandoverArgs) -> Result<ExitCode> {
    let now = Clock::system().now();
    match args.what {
        HandoverWhat::Start(a) => start(a, now).await,
        HandoverWhat::Confirm(a) => {
            let (_, store, _) = open(&a.config).await?;
            let c = crate::handover::confirm(&store, a.id, &a.by, &os_user(), now).await?;
            outln!(
                "handover {} confirmed by {} <{}> (OS user {})",
                c.id,
                c.by.name,
                c.by.primary(),
                os_user()
            );
            Ok(ExitCode::SUCCESS)
        }
        HandoverWhat::Apply(a) => {
            let (config, store, assets) = open(&a.config).await?;
            let out =
                crate::handover::apply(&config, &store, &assets, a.id, &os_user(), now).await?;
            Ok(outcomes(a.id, &out, APPLIED))
        }
        HandoverWhat::Verify(a) => {
            let (config, store, assets) = open(&a.config).await?;
            let out =
                crate::handover::verify(&config, &store, &assets, a.id, &os_user(), now).await?;
            Ok(outcomes(a.id, &out, VERIFIED))
        }
        HandoverWhat::Tick(a) => {
            let (config, store, _) = open(&a.config).await?;
            let o = crate::handover::tick(&config, &store, a.id, &a.asset, &os_user(), now).await?;
            Ok(outcomes(a.id, std::slice::from_ref(&o), VERIFIED))
        }
        HandoverWhat::List(a) => {
            let (_, store, _) = open(&a).await?;
            let all = crate::handover::list(&store).await?;
            if all.is_empty() {
                outln!("no handovers");
            }
            for h in &all {
                print_one(h);
            }
            Ok(ExitCode::SUCCESS)
        }
        HandoverWhat::Show(a) => {
            let (_, store, _) = open(&a.config).await?;
            print_one(&crate::handover::show(&store, a.id).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn start(a: StartArgs, now: chrono::DateTime<chrono::Utc>) -> Result<ExitCode> {
    let scope = match (&a.asset, &a.role) {
        (Some(asset), None) => Scope::Asset(asset.clone()),
        (None, Some(_)) => Scope::Leader,
        _ => return Err(UsageError("give --asset NAME or --role leader".to_owned()).into()),
    };
    let ctx = Loaded::load(&a.config).await?;
    let assets = Assets::load(&ctx.config)?;
    let mail = Mail {
        outbox: &ctx.outbox,
        templates: &ctx.templates,
    };
    let s = crate::handover::start(
        &ctx.store,
        &mail,
        &assets,
        &scope,
        &a.from,
        &a.to,
        &a.reason,
        &os_user(),
        now,
    )
    .await?;
    print_started(&s);
    Ok(ExitCode::SUCCESS)
}

/// What opening a handover printed (also after `team retire`).
pub(super) fn print_started(s: &crate::handover::Started) {
    outln!(
        "handover {} opened: {} to {}",
        s.id,
        s.from.name,
        s.to.as_ref()
            .map_or("nobody (retired)", |p| p.name.as_str())
    );
    for (name, rights, critical) in &s.assets {
        let what = if rights.is_empty() { "-" } else { rights };
        let critical = if *critical {
            format!(" (critical: handover confirm {} --by NAME first)", s.id)
        } else {
            String::new()
        };
        outln!("  {name}  {what}{critical}");
    }
    for q in &s.notices {
        match &q.held {
            None => outln!(
                "  notice queued as outbox {} to {}",
                q.id,
                q.recipients.join(", ")
            ),
            Some(why) => outln!("  notice held: {why}"),
        }
    }
}

/// Prints each asset's state; exit 1 unless every one reached `goal` (or was already past it).
fn outcomes(id: i64, out: &[AssetOutcome], goal: &str) -> ExitCode {
    let mut ok = true;
    for o in out {
        let reached = o.state == goal || o.state == VERIFIED;
        let manual = o.error.starts_with("a manual item");
        ok &= reached || manual;
        if o.error.is_empty() {
            outln!("handover {id}: {}  {}", o.asset, o.state);
        } else {
            outln!("handover {id}: {}  {}: {}", o.asset, o.state, o.error);
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_one(h: &Shown) {
    let r = &h.handover;
    let state = if r.closed_ms == 0 { "open" } else { "closed" };
    outln!(
        "handover {}  {}  {state}  opened {} by {}",
        r.id,
        r.scope,
        crate::team::date(r.opened_ms),
        r.opened_by
    );
    outln!("  from          {}", h.from);
    outln!("  to            {}", h.to);
    if !r.reason.is_empty() {
        outln!("  reason        {}", r.reason);
    }
    if r.confirmed_by != 0 {
        outln!(
            "  confirmed by  {} (OS user {}) on {}",
            h.confirmed_by,
            r.confirmed_os_user,
            crate::team::date(r.confirmed_ms)
        );
    }
    for a in &h.assets {
        let critical = if a.critical { " critical" } else { "" };
        let rights = if a.rights.is_empty() { "-" } else { &a.rights };
        if a.error.is_empty() {
            outln!("  {}  {}{critical}  {rights}  {}", a.asset, a.kind, a.state);
        } else {
            outln!(
                "  {}  {}{critical}  {rights}  {}: {}",
                a.asset,
                a.kind,
                a.state,
                a.error
            );
        }
    }
}
