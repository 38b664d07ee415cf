//! `triaged team ...`: the roster (add, list, show, import, pause, resume, retire), facts (record), the
//! role pipeline (promote), checklists, and aliveness pings. Each command parses its arguments, loads the
//! config and the store, calls one function of the `team` room and prints what it did; the OS user who
//! ran it is the actor of every audit event.

mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

use super::{ConfigArg, Loaded, UsageError, init_logging, os_user};
use crate::clock::Clock;
use crate::config::Config;
use crate::outln;
use crate::store::Store;
use crate::team::{Filter, Format, NewMember, Role, Settings, Team};

#[derive(Debug, Args)]
pub(super) struct TeamArgs {
    #[command(subcommand)]
    what: TeamWhat,
}

#[derive(Debug, Subcommand)]
enum TeamWhat {
    /// Add a newcomer to the roster; their role opens its checklists.
    Add(AddArgs),
    /// The roster, with thin roles, unresponsive members and overdue items (or the wiki table).
    List(ListArgs),
    /// Everything about one person: roles, facts, checklists, pings and the audit trail.
    Show(NameArgs),
    /// Add the existing roster from a CSV file (one transaction; opens no checklists).
    Import(ImportArgs),
    /// Mark a member away for a while: not pinged, not counted for a role.
    Pause(StateArgs),
    /// Bring a paused member back.
    Resume(StateArgs),
    /// Mark a person retired and close their open checklist items.
    Retire(RetireArgs),
    /// Record a fact about a person (Assurer, SP agreed, Triage-2, abc, board-approval, ...).
    Record(RecordArgs),
    /// Move a member up the pipeline (or make them team leader) once the role's preconditions hold.
    Promote(PromoteArgs),
    /// Show a person's checklists; --done ticks an item.
    Checklist(ChecklistArgs),
    /// Queue an individual ping to every active member (or every member in one role).
    Ping(PingArgs),
    /// Compare the rights the roster gives (IMAP ACLs, mailing lists) with what the systems say;
    /// --apply makes them so, --prune also removes what was granted beyond the roster.
    Sync(SyncArgs),
}

#[derive(Debug, Args)]
struct SyncArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Make the changes, read them back and record each.
    #[arg(long)]
    apply: bool,
    /// With --apply, also remove rights beyond the roster's (never the owner's nor triaged's login).
    #[arg(long, requires = "apply")]
    prune: bool,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: crate::team::Unknown| e.to_string())
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: crate::team::Invalid| e.to_string())
}

#[derive(Debug, Args)]
struct AddArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The newcomer, "NAME <ADDR>".
    #[arg(value_name = "NAME <ADDR>")]
    who: String,
    /// The role: assurer, triage, se, cm or arbitrator; give `--role leader` as well for the team leader.
    #[arg(long, required = true, value_parser = parse_role, value_delimiter = ',')]
    role: Vec<Role>,
    /// The name they are known by.
    #[arg(long)]
    alias: Option<String>,
    /// Their IANA timezone (Europe/Berlin), so the team sees its coverage.
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Since when they hold the role (an existing member), YYYY-MM-DD; default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Another address of theirs (repeat for more).
    #[arg(long = "address", value_name = "ADDR")]
    addresses: Vec<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only the members holding this role.
    #[arg(long, value_parser = parse_role)]
    role: Option<Role>,
    /// text, json, markdown or moin (the last two: the table for the team's wiki page).
    #[arg(long, default_value = "text", value_parser = parse_format)]
    format: Format,
    /// Retired people too.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
struct NameArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Columns name,address,role and optionally alias,tz,since,addresses, with a header line.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
}

#[derive(Debug, Args)]
struct StateArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, Args)]
struct RetireArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
    /// Why they leave, for the audit trail.
    #[arg(long, required = true)]
    reason: String,
}

#[derive(Debug, Args)]
struct RecordArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
    /// The fact: assurer, recommendation, small-print, cca, sp, drp, client-cert, chat, wiki,
    /// support-1..4, triage-1..4, abc, board-approval, cm-appointment, arbitrator-appointment,
    /// imap-user, smime-cert.
    fact: String,
    /// Its value, where the fact takes one: `abc a20261201.1 passed`, `board-approval 2026-12-01`,
    /// `smime-cert FILE` (the member's certificate, PEM or DER, stored beside them).
    value: Vec<String>,
    /// A note kept with the fact and in the audit trail.
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Debug, Args)]
struct PromoteArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
    /// The role to enter: triage, se, cm, arbitrator, or leader (beside the pipeline role).
    #[arg(long, value_parser = parse_role)]
    to: Role,
    /// Promote although preconditions are missing; the reason goes to the audit trail.
    #[arg(long = "override", value_name = "REASON")]
    override_reason: Option<String>,
}

#[derive(Debug, Args)]
struct ChecklistArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// A name, alias or address.
    name: String,
    /// Tick this item (ITEM, or CHECKLIST/ITEM).
    #[arg(long, value_name = "ITEM")]
    done: Option<String>,
    /// A note kept with the tick.
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Debug, Args)]
struct PingArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only the members holding this role.
    #[arg(long, value_parser = parse_role)]
    role: Option<Role>,
}

/// The config and the store, for the commands that send no mail.
async fn open(arg: &ConfigArg) -> Result<(Config, Store)> {
    let config = arg.load()?;
    init_logging(config.log.format);
    let store = Store::open_current(&config.store.url).await?;
    Ok((config, store))
}

pub(super) async fn team(args: TeamArgs) -> Result<ExitCode> {
    let now = Clock::system().now();
    match args.what {
        TeamWhat::Add(a) => add(a, now).await,
        TeamWhat::List(a) => list(a, now).await,
        TeamWhat::Show(a) => show::show(&a.config, &a.name, now).await,
        TeamWhat::Import(a) => import(a, now).await,
        TeamWhat::Pause(a) => pause(a, true, now).await,
        TeamWhat::Resume(a) => pause(a, false, now).await,
        TeamWhat::Retire(a) => retire(a, now).await,
        TeamWhat::Record(a) => record(a, now).await,
        TeamWhat::Promote(a) => promote(a, now).await,
        TeamWhat::Checklist(a) => {
            show::checklist(&a.config, &a.name, a.done.as_deref(), &a.note, now).await
        }
        TeamWhat::Ping(a) => ping(a, now).await,
        TeamWhat::Sync(a) => sync(a, now).await,
    }
}

type Now = chrono::DateTime<chrono::Utc>;

async fn add(a: AddArgs, now: Now) -> Result<ExitCode> {
    let who = crate::templates::parse_address("NAME <ADDR>", &a.who)?;
    let name = who.name.clone().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(UsageError(format!("{:?}: give the name too, \"NAME <ADDR>\"", a.who)).into());
    }
    let since = match &a.since {
        Some(s) => Some(crate::team::parse_since(s).map_err(UsageError)?),
        None => None,
    };
    let new = NewMember {
        name,
        addresses: std::iter::once(who.email.to_string())
            .chain(a.addresses.iter().cloned())
            .collect(),
        roles: a.role.clone(),
        alias: a.alias.unwrap_or_default(),
        tz: a.tz.unwrap_or_default(),
        since,
    };
    let (config, store) = open(&a.config).await?;
    let team = Team::load(&config)?;
    let added = crate::team::add(&store, &team, &new, &os_user(), now).await?;
    let p = &added.person;
    let roles: Vec<&str> = p.roles().iter().map(|r| r.name()).collect();
    outln!(
        "added {} <{}> as {} since {}",
        p.name,
        p.primary(),
        roles.join("+"),
        crate::team::date(p.role_since_ms)
    );
    show::opened(&added.opened);
    Ok(ExitCode::SUCCESS)
}

async fn list(a: ListArgs, now: Now) -> Result<ExitCode> {
    let (config, store) = open(&a.config).await?;
    let settings = Settings::new(&config)?;
    let (roster, health) = crate::team::roster(&store, &settings, now).await?;
    let filter = Filter {
        role: a.role,
        all: a.all,
    };
    crate::out!(
        "{}",
        crate::team::render(&roster, &health, &filter, a.format, now)?
    );
    let alerts = crate::handover::alerts(&store, config.team.revoke_within, now).await?;
    for alert in &alerts.revoke_overdue {
        if a.format == Format::Text {
            outln!("alert: {alert}");
        } else {
            eprintln!("alert: {alert}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(a: ImportArgs, now: Now) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(&a.file).with_context(|| format!("read {}", a.file.display()))?;
    let label = a.file.display().to_string();
    let rows = crate::team::parse_csv(&label, &text)?;
    let (_, store) = open(&a.config).await?;
    let added = crate::team::import(&store, &rows, &label, &os_user(), now).await?;
    for p in &added {
        outln!("added {} <{}> as {}", p.name, p.primary(), p.role);
    }
    outln!("imported {} people from {label}", added.len());
    Ok(ExitCode::SUCCESS)
}

async fn pause(a: StateArgs, paused: bool, now: Now) -> Result<ExitCode> {
    let (_, store) = open(&a.config).await?;
    let p = crate::team::set_paused(&store, &a.name, paused, &a.reason, &os_user(), now).await?;
    outln!("{} is {}", p.name, p.state.name());
    Ok(ExitCode::SUCCESS)
}

async fn retire(a: RetireArgs, now: Now) -> Result<ExitCode> {
    let ctx = Loaded::load(&a.config).await?;
    let assets = crate::handover::Assets::load(&ctx.config)?;
    let mail = crate::handover::Mail {
        outbox: &ctx.outbox,
        templates: &ctx.templates,
    };
    let (r, started) = crate::handover::retire(
        &ctx.store,
        &mail,
        &assets,
        &a.name,
        &a.reason,
        &os_user(),
        now,
    )
    .await?;
    outln!(
        "{} is retired; {} open checklist item(s) closed",
        r.person.name,
        r.closed
    );
    match &started {
        Some(s) => {
            super::handover::print_started(s);
            outln!("revoke their rights with: triaged handover apply {}", s.id);
        }
        None => outln!("they held no asset"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync(a: SyncArgs, now: Now) -> Result<ExitCode> {
    let (config, store) = open(&a.config).await?;
    let assets = crate::handover::Assets::load(&config)?;
    let report =
        crate::handover::sync(&config, &store, &assets, a.apply, a.prune, &os_user(), now).await?;
    let mut code = ExitCode::SUCCESS;
    for (change, outcome) in &report.changes {
        match outcome {
            None => outln!("to do    {change}"),
            Some(Ok(())) => outln!("done     {change}"),
            Some(Err(e)) => {
                outln!("failed   {change}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    for d in &report.drift {
        let hint = if a.prune {
            ""
        } else {
            " (--apply --prune removes it)"
        };
        outln!("drift    {d}{hint}");
    }
    for p in &report.problems {
        outln!("problem  {p}");
        code = ExitCode::from(1);
    }
    if report.changes.is_empty() && report.drift.is_empty() && report.problems.is_empty() {
        outln!("in sync: every asset holds what the roster gives");
    }
    Ok(code)
}

async fn record(a: RecordArgs, now: Now) -> Result<ExitCode> {
    let (config, store) = open(&a.config).await?;
    let value = a.value.join(" ");
    if let Some(file) = certificate_file(&a.fact, &value)? {
        return record_certificate(&config, &store, &a.name, &file, now).await;
    }
    let r = crate::team::record(&store, &a.name, &a.fact, &value, &a.note, &os_user(), now).await?;
    if r.value.is_empty() {
        outln!("recorded {} for {}", r.fact, r.person.name);
    } else {
        outln!("recorded {} = {} for {}", r.fact, r.value, r.person.name);
    }
    for t in &r.ticked {
        outln!("ticked {t}: {}", t.text);
    }
    Ok(ExitCode::SUCCESS)
}

/// The certificate file `team record NAME smime-cert FILE` names: a value that is an existing file,
/// or looks like one (a `/`, or a certificate's file extension) and is missing, which is an error. A
/// plain fingerprint is recorded as the fact's value, as before.
fn certificate_file(fact: &str, value: &str) -> Result<Option<PathBuf>> {
    let is_smime = fact
        .parse::<crate::team::Fact>()
        .is_ok_and(|f| f == crate::team::Fact::SMIME_CERT);
    if !is_smime || value.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(value);
    if path.is_file() {
        return Ok(Some(path));
    }
    let lower = value.to_ascii_lowercase();
    let looks_like_file = value.contains('/')
        || [".pem", ".crt", ".cer", ".der"]
            .iter()
            .any(|ext| lower.ends_with(ext));
    if looks_like_file {
        return Err(UsageError(format!("no such certificate file: {value}")).into());
    }
    Ok(None)
}

/// `team record NAME smime-cert FILE`: the certificate stored beside the person, checked against
/// `[smime] ca_file` when it is set.
async fn record_certificate(
    config: &Config,
    store: &Store,
    name: &str,
    file: &std::path::Path,
    now: Now,
) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let ca_file = config.smime.as_ref().and_then(|s| s.ca_file.as_ref());
    let trust = match ca_file {
        Some(ca) => {
            let pem = std::fs::read(ca).with_context(|| format!("read {}", ca.display()))?;
            crate::outbox::harvest::Harvester::from_ca_pem(&pem)
                .with_context(|| format!("smime.ca_file {}", ca.display()))?
        }
        None => crate::outbox::harvest::Harvester::default(),
    };
    let learnt =
        crate::team::record_certificate(store, name, &bytes, &trust, &os_user(), now).await;
    let learnt = learnt.with_context(|| format!("{}", file.display()))?;
    match learnt {
        crate::team::Learnt::Recorded {
            person,
            fingerprint,
            ticked,
            ..
        } => {
            outln!("recorded smime-cert = {fingerprint} for {person}");
            for t in &ticked {
                outln!("ticked {t}: {}", t.text);
            }
        }
        crate::team::Learnt::Known { person } => {
            outln!("{person} already has this certificate; nothing recorded");
        }
        crate::team::Learnt::NotMember | crate::team::Learnt::NotActive { .. } => {
            outln!("nothing recorded");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn promote(a: PromoteArgs, now: Now) -> Result<ExitCode> {
    let (config, store) = open(&a.config).await?;
    let team = Team::load(&config)?;
    let p = crate::team::promote(
        &store,
        &team,
        &a.name,
        a.to,
        a.override_reason.as_deref(),
        &os_user(),
        now,
    )
    .await?;
    match p.from {
        Some(from) => outln!("promoted {} from {from} to {}", p.person.name, p.to),
        None => outln!(
            "{} now holds {} beside {}",
            p.person.name,
            p.to,
            p.person.role
        ),
    }
    for missing in &p.overridden {
        outln!("overridden: {missing}");
    }
    show::opened(&p.opened);
    Ok(ExitCode::SUCCESS)
}

async fn ping(a: PingArgs, now: Now) -> Result<ExitCode> {
    let ctx = Loaded::load(&a.config).await?;
    let settings = Settings::new(&ctx.config)?;
    let pinged = crate::team::ping(
        &ctx.store,
        &ctx.outbox,
        &ctx.templates,
        &settings,
        a.role,
        &ctx.config.disputes.claimant,
        &os_user(),
        now,
    )
    .await?;
    let mut code = ExitCode::SUCCESS;
    for p in &pinged {
        match &p.held {
            None => outln!(
                "pinged {} <{}>: outbox {} {}",
                p.name,
                p.address,
                p.outbox_id,
                p.message_id
            ),
            Some(why) => {
                outln!("held ping to {} <{}>: {why}", p.name, p.address);
                code = ExitCode::from(1);
            }
        }
    }
    if pinged.is_empty() {
        outln!(
            "nobody to ping: no active member{}",
            match a.role {
                Some(r) => format!(" holds {r}"),
                None => String::new(),
            }
        );
    }
    Ok(code)
}
