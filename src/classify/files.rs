//! Classifying stored messages outside any mailbox: .eml files, Maildir folders and mbox files, on a few
//! threads, each message through the same `Rules::classify_raw` the worker uses. It reads only and
//! prints nothing: `triaged classify` prints what it returns.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::inputs::{self, Job, Origin};
use super::{Context, Rules, Verdict};

/// Folders `mailboxexists` finds when the input is plain files (the differential harness uses the same).
pub const DEFAULT_MAILBOXES: &[&str] = &["INBOX", "Archive", "Junk", "Support/Disputes"];

/// How to classify a set of files.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Messages larger than this get `error:too-large` (0 = no limit).
    pub max_message_size: u64,
    /// Keep the trace of matched tests and actions.
    pub explain: bool,
    /// Worker threads; at least one, at most one per message.
    pub threads: usize,
    /// What `currentdate` sees.
    pub now: DateTime<Utc>,
}

/// One classified message: the name it is printed under (`FILE`, or `FILE#N` for an mbox message).
#[derive(Debug, Clone)]
pub struct FileVerdict {
    pub display: String,
    pub verdict: Verdict,
}

/// Lists every message under `paths` and classifies each; results come back in listing order.
pub fn classify_files(
    rules: &Rules,
    paths: &[PathBuf],
    opts: &FileOptions,
) -> Result<Vec<FileVerdict>> {
    let default: BTreeSet<String> = DEFAULT_MAILBOXES.iter().map(|s| s.to_string()).collect();
    let jobs = inputs::enumerate(paths, &Arc::new(default))?;
    let threads = opts.threads.clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        done.push((i, classify_job(rules, job, opts)));
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
    Ok(jobs
        .into_iter()
        .zip(results)
        .map(|(job, (_, verdict))| FileVerdict {
            display: job.display,
            verdict,
        })
        .collect())
}

fn classify_job(rules: &Rules, job: &Job, opts: &FileOptions) -> Verdict {
    let raw = match read(job) {
        Ok(raw) => raw,
        Err(e) => return Verdict::error("unreadable", format!("{e:#}")),
    };
    let ctx = Context {
        mailboxes: &job.mailboxes,
        source_folder: &job.folder,
        explain: opts.explain,
        now: opts.now,
    };
    rules
        .classify_raw(&raw, opts.max_message_size, &ctx, false)
        .verdict
}

fn read(job: &Job) -> Result<Vec<u8>> {
    match &job.origin {
        Origin::File(path) => {
            std::fs::read(path).with_context(|| format!("read {}", path.display()))
        }
        Origin::Mbox(data, range) => Ok(inputs::unescape_mbox(&data[range.clone()])),
    }
}
