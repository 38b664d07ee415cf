//! `triaged classify`: runs the rules over .eml files, Maildir folders and mbox files and prints one
//! verdict per message (TSV or JSON). It reads only; it never changes a message or a folder.
//! Exit codes: 0 every message classified (error verdicts included), 1 with `--strict` when any message
//! got an error verdict (or a path could not be read), 2 when the script does not load.

use super::{Context, Envelope, Rules, Verdict};
use crate::config::RulesConfig;
use crate::message::Message;
use anyhow::{Context as _, Result};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::inputs::{self, Job, Source};

/// Output format of `classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Tsv,
    Json,
}

/// Arguments of `triaged classify` (no config file needed).
#[derive(Debug, Clone, clap::Args)]
pub struct ClassifyArgs {
    /// The Sieve script.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Where `include` finds scripts (default: the script's directory).
    #[arg(long, value_name = "DIR")]
    pub include_dir: Option<PathBuf>,
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

/// Folders `mailboxexists` finds when the input is plain files (the differential harness uses the same).
pub const DEFAULT_MAILBOXES: &[&str] = &["INBOX", "Archive", "Junk", "Support/Disputes"];

/// Runs `classify`; prints load errors as `FILE:LINE:COLUMN: message` and returns exit code 2 for them.
pub fn run(args: &ClassifyArgs) -> Result<ExitCode> {
    let cfg = RulesConfig {
        script: args.rules.clone(),
        include_dir: args.include_dir.clone().unwrap_or_else(|| {
            args.rules
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        }),
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
    let default: BTreeSet<String> = DEFAULT_MAILBOXES.iter().map(|s| s.to_string()).collect();
    let jobs = inputs::enumerate(&args.paths, &Arc::new(default))?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, jobs.len().max(1));
    let results = classify_all(&rules, &jobs, args, threads);
    let errors = print(&jobs, &results, args)?;
    eprintln!(
        "classified {} messages, {errors} with an error verdict",
        jobs.len()
    );
    Ok(if args.strict && errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Classifies every job on `threads` threads; results come back in job order.
fn classify_all(rules: &Rules, jobs: &[Job], args: &ClassifyArgs, threads: usize) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        done.push((i, classify_one(rules, job, args)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, v)| v).collect()
}

fn classify_one(rules: &Rules, job: &Job, args: &ClassifyArgs) -> Verdict {
    let raw = match job.read() {
        Ok(raw) => raw,
        Err(e) => return Verdict::error("unreadable", format!("{e:#}")),
    };
    match Message::parse(&raw, args.max_message_size) {
        Ok(msg) => {
            let ctx = Context {
                mailboxes: &job.mailboxes,
                source_folder: &job.folder,
                envelope: Envelope::derive(&msg),
                explain: args.explain,
            };
            rules.classify(msg, &ctx)
        }
        Err(e) => Verdict::error(e.reason(), e.to_string()),
    }
}

/// Writes the verdicts to stdout and the error verdicts to stderr; returns how many errors there were.
fn print(jobs: &[Job], results: &[Verdict], args: &ClassifyArgs) -> Result<usize> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut errors = 0;
    for (job, verdict) in jobs.iter().zip(results) {
        if let Some(e) = &verdict.error {
            errors += 1;
            eprintln!("{}: error:{}: {}", job.display, e.reason, e.detail);
        }
        match args.format {
            Format::Tsv => {
                writeln!(out, "{}", verdict.tsv_line(&job.display)).context("write stdout")?;
                if args.explain {
                    for step in &verdict.trace {
                        writeln!(out, "#\t{}:{}\t{}", step.line, step.column, step.what)
                            .context("write stdout")?;
                    }
                }
            }
            Format::Json => {
                writeln!(out, "{}", verdict.json_line(&job.display)).context("write stdout")?;
            }
        }
    }
    out.flush().context("write stdout")?;
    Ok(errors)
}

impl Job {
    fn read(&self) -> Result<Vec<u8>> {
        match &self.source {
            Source::File(path) => {
                std::fs::read(path).with_context(|| format!("read {}", path.display()))
            }
            Source::Mbox(data, range) => Ok(inputs::unescape_mbox(&data[range.clone()])),
        }
    }
}
