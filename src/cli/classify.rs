//! `triaged classify`: runs the rules over .eml files, Maildir folders and mbox files and prints one
//! verdict per message (TSV or JSON). It reads only; it never changes a message or a folder.
//! Exit codes: 0 every message classified (error verdicts included), 1 with `--strict` when any message
//! got an error verdict (or a path could not be read), 2 when the script does not load.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::classify::Rules;
use crate::classify::files::{FileOptions, FileVerdict, classify_files};
use crate::clock::Clock;
use crate::config::RulesConfig;

/// Output format of `classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Tsv,
    Json,
    /// `path<TAB>copies<TAB>actions`: each copy with its own flags, each action with its arguments
    /// (what the differential test against Pigeonhole compares).
    Copies,
}

/// Arguments of `triaged classify` (no config file needed).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ClassifyArgs {
    /// The Sieve script.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Where `include` finds scripts (default: the script's directory).
    #[arg(long, value_name = "DIR")]
    pub include_dir: Option<PathBuf>,
    /// Where `include :global` finds scripts (default: the include directory).
    #[arg(long, value_name = "DIR")]
    pub global_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "tsv")]
    pub format: Format,
    /// Show which tests matched and which script line each action came from.
    #[arg(long)]
    pub explain: bool,
    /// Exit 1 when any message gets an error verdict.
    #[arg(long)]
    pub strict: bool,
    /// Messages larger than this many bytes get error:too-large (0 = no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_message_size: u64,
    /// Sieve instructions one message may cost before it gets error:cpu-limit.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub cpu_limit: usize,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// .eml files, Maildir folders (cur/, new/ and Maildir++ subfolders) or mbox files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs `classify`; prints load errors as `FILE:LINE:COLUMN: message` and returns exit code 2 for them.
pub(super) fn run(args: &ClassifyArgs) -> Result<ExitCode> {
    let include_dir = args.include_dir.clone().unwrap_or_else(|| {
        args.rules
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    let cfg = RulesConfig {
        script: args.rules.clone(),
        global_dir: args
            .global_dir
            .clone()
            .unwrap_or_else(|| include_dir.clone()),
        include_dir,
        max_message_size: args.max_message_size,
        cpu_limit: args.cpu_limit,
    };
    let rules = match Rules::load(&cfg) {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let opts = FileOptions {
        max_message_size: args.max_message_size,
        explain: args.explain,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        now: Clock::system().now(),
    };
    let results = classify_files(&rules, &args.paths, &opts)?;
    let errors = print(&results, args)?;
    eprintln!(
        "classified {} messages, {errors} with an error verdict",
        results.len()
    );
    Ok(if args.strict && errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the verdicts to stdout and the error verdicts to stderr; returns how many errors there were.
fn print(results: &[FileVerdict], args: &ClassifyArgs) -> Result<usize> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut errors = 0;
    for FileVerdict { display, verdict } in results {
        if let Some(e) = &verdict.error {
            errors += 1;
            eprintln!("{}: error:{}: {}", display, e.reason, e.detail);
        }
        match args.format {
            Format::Tsv => {
                writeln!(out, "{}", verdict.tsv_line(display)).context("write stdout")?;
                if args.explain {
                    for step in &verdict.trace {
                        writeln!(out, "#\t{}:{}\t{}", step.line, step.column, step.what)
                            .context("write stdout")?;
                    }
                }
            }
            Format::Json => {
                writeln!(out, "{}", verdict.json_line(display)).context("write stdout")?;
            }
            Format::Copies => {
                writeln!(out, "{}", verdict.copies_line(display)).context("write stdout")?;
            }
        }
    }
    out.flush().context("write stdout")?;
    Ok(errors)
}
