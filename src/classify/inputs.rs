//! The messages `triaged classify` reads: .eml files, directories of them, Maildir folders (cur/, new/,
//! Maildir++ subfolders `.A.B` as folder `A/B`) and mbox files (`From ` lines, mboxrd quoting). Listing
//! only; nothing here writes.

use anyhow::{Context as _, Result};
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a message's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    File(PathBuf),
    /// A whole mbox file (shared) and the byte range of one message in it (after its `From ` line).
    Mbox(Arc<Vec<u8>>, Range<usize>),
}

/// One message to classify.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The path printed in the output (`FILE#N` for mbox).
    pub display: String,
    pub origin: Origin,
    /// The folder the message is in (`INBOX`, or `A/B` for a Maildir++ subfolder).
    pub folder: String,
    /// Folders `mailboxexists` finds for this message.
    pub mailboxes: Arc<BTreeSet<String>>,
    /// Sort key: the argument's order is kept, then the path, then the mbox index.
    key: (String, usize),
}

/// Lists every message under `paths`, sorted by path (mbox messages in file order).
pub(crate) fn enumerate(paths: &[PathBuf], default: &Arc<BTreeSet<String>>) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for path in paths {
        if path.is_dir() {
            if is_maildir(path) {
                maildir(path, &mut jobs)?;
            } else {
                eml_dir(path, default, &mut jobs)?;
            }
        } else {
            file(path, default, &mut jobs)?;
        }
    }
    jobs.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(jobs)
}

fn is_maildir(path: &Path) -> bool {
    path.join("cur").is_dir() || path.join("new").is_dir()
}

fn file(path: &Path, default: &Arc<BTreeSet<String>>, jobs: &mut Vec<Job>) -> Result<()> {
    let data = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let display = path.display().to_string();
    if !data.starts_with(b"From ") {
        jobs.push(job(
            display.clone(),
            Origin::File(path.to_path_buf()),
            "INBOX",
            default,
            (display, 0),
        ));
        return Ok(());
    }
    let data = Arc::new(data);
    for (n, range) in mbox_ranges(&data).into_iter().enumerate() {
        let origin = Origin::Mbox(data.clone(), range);
        jobs.push(job(
            format!("{display}#{}", n + 1),
            origin,
            "INBOX",
            default,
            (display.clone(), n + 1),
        ));
    }
    Ok(())
}

fn job(
    display: String,
    origin: Origin,
    folder: &str,
    mailboxes: &Arc<BTreeSet<String>>,
    key: (String, usize),
) -> Job {
    Job {
        display,
        origin,
        folder: folder.to_string(),
        mailboxes: mailboxes.clone(),
        key,
    }
}

fn eml_dir(dir: &Path, default: &Arc<BTreeSet<String>>, jobs: &mut Vec<Job>) -> Result<()> {
    for path in files(dir, true)? {
        if path.extension().is_some_and(|e| e == "eml") {
            file(&path, default, jobs)?;
        }
    }
    Ok(())
}

/// Regular files under `dir` (recursively when asked), skipping dot-files.
fn files(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("read directory {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("read directory {}", dir.display()))?
            .path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            if recursive {
                out.extend(files(&path, true)?);
            }
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// A Maildir: INBOX in cur/ and new/, each `.A.B` subfolder (Maildir++) as folder `A/B`.
fn maildir(root: &Path, jobs: &mut Vec<Job>) -> Result<()> {
    let mut folders = vec![("INBOX".to_string(), root.to_path_buf())];
    let entries =
        std::fs::read_dir(root).with_context(|| format!("read directory {}", root.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("read directory {}", root.display()))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(sub) = name.strip_prefix('.')
            && !sub.is_empty()
            && !sub.starts_with('.')
            && is_maildir(&path)
        {
            folders.push((sub.replace('.', "/"), path));
        }
    }
    let mailboxes: Arc<BTreeSet<String>> =
        Arc::new(folders.iter().map(|(f, _)| f.clone()).collect());
    for (folder, dir) in &folders {
        for sub in ["cur", "new"] {
            let d = dir.join(sub);
            if !d.is_dir() {
                continue;
            }
            for path in files(&d, false)? {
                let display = path.display().to_string();
                let key = (display.clone(), 0);
                jobs.push(job(display, Origin::File(path), folder, &mailboxes, key));
            }
        }
    }
    Ok(())
}

/// Byte ranges of the messages in an mbox: each starts after a `From ` line at the start of the file or
/// after a line end.
fn mbox_ranges(data: &[u8]) -> Vec<Range<usize>> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        if data[pos..end].starts_with(b"From ") {
            starts.push((pos, end));
        }
        pos = end;
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (i, &(_, body)) in starts.iter().enumerate() {
        let next = starts.get(i + 1).map_or(data.len(), |&(s, _)| s);
        ranges.push(body..next);
    }
    ranges
}

/// Undoes mboxrd quoting (`>From ` → `From `, one `>` less) in one message.
pub(crate) fn unescape_mbox(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    for line in msg.split_inclusive(|&b| b == b'\n') {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{mbox_ranges, unescape_mbox};

    #[test]
    fn mbox_splits_on_from_lines_and_unquotes() {
        let data = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: 1\n\n>From here\nFrom b@c Mon Jan 1 00:00:00 2024\nSubject: 2\n\nx\n";
        let ranges = mbox_ranges(data);
        assert_eq!(ranges.len(), 2);
        assert_eq!(
            unescape_mbox(&data[ranges[0].clone()]),
            b"Subject: 1\n\nFrom here\n"
        );
        assert_eq!(&data[ranges[1].clone()], b"Subject: 2\n\nx\n");
    }
}
