//! The command line: argument parsing, logging set-up, and the mapping of outcomes to exit codes.
//!
//! Exit codes: 0 ok, 1 runtime failure, 2 usage or config error. Each command is a short function that
//! loads what it needs and calls into the library; logic lives in the modules, not here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigErrors, LogFormat, MailboxSource};
use crate::store::Store;

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
    Classify(crate::classify::cli::ClassifyArgs),
    /// Watch the mailbox and sort every message (until SIGTERM/SIGINT); `--once` for a single pass.
    Run(crate::worker::cli::RunArgs),
    /// Show per watched folder: UIDVALIDITY, last UID, pending, last error, messages per bucket today.
    Status(ConfigArg),
    /// Send the team's templated mail: a welcome pack, or an acknowledgement of a received message.
    Send(crate::outbox::cli::SendArgs),
    /// File a dispute (an Arbitrated Background Check request) with Arbitration.
    Dispute(crate::outbox::cli::DisputeArgs),
    /// Look at and act on the outgoing mail queue.
    Outbox(crate::outbox::cli::OutboxArgs),
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
            || e.is::<crate::disputes::MissingPart>()
    });
    if usage { 2 } else { 1 }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check(&args).await,
        Command::Migrate(args) => migrate(&args).await,
        Command::Classify(args) => crate::classify::cli::run(&args),
        Command::Run(args) => crate::worker::cli::run(&args).await,
        Command::Status(args) => crate::worker::cli::status(&args).await,
        Command::Send(args) => crate::outbox::cli::send(args).await,
        Command::Dispute(args) => crate::outbox::cli::dispute(args).await,
        Command::Outbox(args) => crate::outbox::cli::outbox(args).await,
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

async fn check(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let templates = check_templates(&config)?;
    crate::outln!(
        "ok: {}: {}, {templates} templates rendered",
        config.file.display(),
        describe(&config)
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the OpenPGP keys and the S/MIME identity (reporting its problems), and renders and composes
/// every template with sample data; a problem is a config error (exit 2) under the key it comes from.
fn check_templates(config: &Config) -> Result<usize> {
    use crate::config::ConfigError;
    let fail = |key: &str, e: anyhow::Error| ConfigErrors {
        file: config.file.clone(),
        errors: vec![ConfigError::new(key, format!("{e:#}"))],
    };
    let outbox = crate::outbox::Outbox::new(config).map_err(|e| match e.downcast() {
        Ok(errors @ ConfigErrors { .. }) => errors,
        Err(e) => fail("openpgp.key_file", e),
    })?;
    let problems = outbox.problems(crate::clock::Clock::system().now());
    if !problems.is_empty() {
        return Err(ConfigErrors {
            file: config.file.clone(),
            errors: problems,
        }
        .into());
    }
    let templates = crate::templates::Templates::load(config.outbox.templates_dir.as_deref())
        .map_err(|e| fail("outbox.templates_dir", e))?;
    let samples = templates
        .render_samples()
        .map_err(|e| fail("outbox.templates_dir", e))?;
    let now = chrono::Utc::now();
    for mail in &samples {
        outbox
            .compose(mail, &outbox.new_message_id(now), now)
            .with_context(|| format!("compose template {}", mail.template))
            .map_err(|e| fail("outbox.templates_dir", e))?;
    }
    Ok(samples.len())
}

/// One line saying what the config sets up, for `check`.
fn describe(config: &Config) -> String {
    let mailbox = match &config.mailbox.source {
        MailboxSource::Imap {
            host, port, folder, ..
        } => format!("imap {host}:{port} {folder}"),
        MailboxSource::Maildir { path } => format!("maildir {}", path.display()),
    };
    let store = if config.store.url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    format!(
        "mailbox {mailbox}, store {store}, rules {}",
        short(&config.rules.script)
    )
}

fn short(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

async fn migrate(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let store = Store::open(&config.store.url).await?;
    let report = store.migrate().await.context("migrate the store")?;
    let backend = format!("{:?}", store.backend()).to_lowercase();
    if report.applied.is_empty() {
        crate::outln!(
            "store ({backend}) is current: {} migrations applied",
            report.known
        );
    } else {
        crate::outln!(
            "applied {} migration(s) to the {backend} store: {:?}",
            report.applied.len(),
            report.applied
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
