//! The command line, the top room: every subcommand's clap arguments, what it prints, its exit code, and
//! the logging set-up. One file per command family under `cli/`. A command parses, loads the config,
//! calls one domain function and prints its outcome; it opens no transaction, spawns no task and holds no
//! rule of the domain. Nothing below imports `cli`.
//!
//! Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.

mod check;
mod classify;
mod dispute;
mod handover;
mod outbox;
mod report;
mod retention;
mod run;
mod send;
mod team;
mod ticket;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigErrors, LogFormat};

/// triaged sorts a support team's shared mailbox with Sieve, sends the team's templated mail, and keeps
/// the team's records.
#[derive(Debug, Parser)]
#[command(
    name = "triaged",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.\n\
Logging: set TRIAGED_LOG (e.g. TRIAGED_LOG=debug) to change the level; logs go to stderr."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The config file option shared by every command that needs one.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The config file (TOML); relative paths inside it resolve against its directory.
    #[arg(
        long,
        short = 'c',
        env = "TRIAGED_CONFIG",
        default_value = "triaged.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
}

impl ConfigArg {
    /// Loads and validates the config; errors map to exit code 2.
    pub fn load(&self) -> Result<Config> {
        Ok(Config::load(&self.config)?)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the config (every problem at once, each with its key) and print one line when all is well.
    Check(ConfigArg),
    /// Create or update the store's tables; safe to run again (a second run changes nothing).
    Migrate(ConfigArg),
    /// Classify messages (.eml, Maildir, mbox) with a Sieve script and print one verdict per message
    /// (TSV or JSON); needs no config file and changes nothing.
    Classify(classify::ClassifyArgs),
    /// Watch the mailboxes (this worker's share, under leases) and sort every message until
    /// SIGTERM/SIGINT; `--once` for a single pass over every mailbox it can lease.
    Run(run::RunArgs),
    /// Show per mailbox its lease, last error, pending mail and today's buckets, and every live worker.
    Status(ConfigArg),
    /// Send the team's templated mail: a welcome pack, or an acknowledgement of a received message.
    Send(send::SendArgs),
    /// File a dispute (an Arbitrated Background Check request) with Arbitration.
    Dispute(dispute::DisputeArgs),
    /// Look at and act on the outgoing mail queue.
    Outbox(outbox::OutboxArgs),
    /// The team's roster, role pipeline, checklists and aliveness pings.
    Team(team::TeamArgs),
    /// Hand assets (the mailbox's folders, mailing lists, manual items) from one person to another.
    Handover(handover::HandoverArgs),
    /// Apply the data retention practice: list (or purge) mail past its bucket's limit; hold mail.
    Retention(retention::RetentionArgs),
    /// The team leader's reports: the annual team report with its charts, the open disputes, response
    /// times against the target.
    Report(report::ReportArgs),
    /// Support tickets: the thread of a ticket, with who answered and when.
    Ticket(ticket::TicketArgs),
}

/// An error the user made on the command line (exit 2), as opposed to a runtime failure (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Writes a line to standard output (`println!` that does not panic). A reader that went away
/// (`triaged status | head -1`) is not an error: the rest of the output is dropped and the command
/// carries on with its work.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same rule as `outln!`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

/// What `outln!`/`out!` call: writes to locked standard output; a closed pipe is ignored, any other
/// failure is reported once on standard error.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("triaged: cannot write to standard output: {e}");
    }
}

/// True when the error comes from writing to a pipe whose reader has gone: the command stops quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Parses the arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("triaged: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("triaged: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 2 for config and usage errors anywhere in the chain, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let usage = err.chain().any(|e| {
        e.is::<ConfigErrors>()
            || e.is::<UsageError>()
            || e.is::<crate::templates::UnsafeValue>()
            || e.is::<crate::classify::RulesError>()
            || e.is::<crate::records::disputes::MissingPart>()
            || e.is::<crate::team::Unknown>()
            || e.is::<crate::team::Invalid>()
    });
    if usage { 2 } else { 1 }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::check(&args).await,
        Command::Migrate(args) => check::migrate(&args).await,
        Command::Classify(args) => classify::run(&args),
        Command::Run(args) => run::run(&args).await,
        Command::Status(args) => run::status(&args).await,
        Command::Send(args) => send::send(args).await,
        Command::Dispute(args) => dispute::dispute(args).await,
        Command::Outbox(args) => outbox::outbox(args).await,
        Command::Team(args) => team::team(args).await,
        Command::Retention(args) => retention::retention(args).await,
        Command::Handover(args) => handover::handover(args).await,
        Command::Report(args) => report::report(args).await,
        Command::Ticket(args) => ticket::ticket(args).await,
    }
}

/// Sets up tracing to stderr in the configured format; level from `TRIAGED_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRIAGED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second call (tests, or a command that re-initialises) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// What the mail commands load: the config, the store (schema current), the outbox with its keys, the
/// templates, and the clock.
struct Loaded {
    config: Config,
    store: crate::store::Store,
    outbox: crate::outbox::Outbox,
    templates: crate::templates::Templates,
    clock: crate::clock::Clock,
}

impl Loaded {
    async fn load(arg: &ConfigArg) -> Result<Loaded> {
        let config = arg.load()?;
        init_logging(config.log.format);
        let store = crate::store::Store::open_current(&config.store.url).await?;
        let outbox = crate::outbox::Outbox::new(&config)?;
        let templates = crate::templates::Templates::load(config.outbox.templates_dir.as_deref())?;
        Ok(Loaded {
            config,
            store,
            outbox,
            templates,
            clock: crate::clock::Clock::system(),
        })
    }
}

/// Who runs the command, for the audit trail: the OS user (`$USER`, `$LOGNAME`, else the uid).
pub(crate) fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.trim().is_empty()
        {
            return name;
        }
    }
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| format!("uid {}", m.uid()))
        .unwrap_or_else(|_| "unknown user".to_owned())
}

fn parse_role(s: &str) -> Result<crate::templates::Role, String> {
    s.parse()
}

/// Prints what a dry run composed: the complete message, or why it would be held (exit 1).
fn show(composed: &crate::outbox::Composed) -> Result<ExitCode> {
    if let Some(why) = &composed.hold_error {
        outln!("held: {why}");
        return Ok(ExitCode::from(1));
    }
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(&composed.raw).context("print the message")?;
    out.flush().context("print the message")?;
    eprintln!("dry run: nothing queued");
    Ok(ExitCode::SUCCESS)
}

/// One line for a queued mail; exit 1 when it is held.
fn report_queued(queued: &crate::outbox::Queued) -> ExitCode {
    match &queued.held {
        Some(why) => {
            outln!("held outbox {} {}: {why}", queued.id, queued.message_id);
            ExitCode::from(1)
        }
        None => {
            outln!(
                "queued outbox {} {} to {}",
                queued.id,
                queued.message_id,
                queued.recipients.join(", ")
            );
            ExitCode::SUCCESS
        }
    }
}
