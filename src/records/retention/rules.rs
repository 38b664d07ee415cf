//! Which folders the retention rules reach and how long each keeps its mail: a folder is reached when it
//! exists, is a bucket (the Sieve scripts file into it, or it is the watched folder, the quarantine or the
//! trash), and has a rule of its own in `[retention.buckets]` or falls under `default`. A folder that is
//! no bucket (Sent, Drafts, a person's own folders) is never reached.
//!
//! Reads the config and the folder list; changes nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::{Config, RetentionConfig};
use crate::records::buckets::{KnownBuckets, matches_pattern};

/// The bucket name of mail the scripts keep in the watched folder.
const KEPT: &str = "INBOX";

/// One folder under a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRule {
    /// The folder (Sieve name, `/` separator).
    pub folder: String,
    /// The rule's key as written in `[retention.buckets]` (`Junk`, `Lists/${list}`, `default`).
    pub key: String,
    pub limit: Duration,
    /// It is the watched folder, where only mail with a carried-out verdict may go.
    pub watched: bool,
    /// It exists in the mailbox (a rule may name a folder nobody has filed into yet).
    pub exists: bool,
}

impl FolderRule {
    /// `Junk=30d`: the rule as the audit trail and the listing name it.
    pub fn label(&self) -> String {
        format!("{}={}", self.key, limit_text(self.limit))
    }
}

/// A limit as the config writes it: `2y`, `30d`, else as a duration reads (`1d 12h`).
pub fn limit_text(limit: Duration) -> String {
    const DAY: u64 = 86_400;
    match limit.as_secs() {
        s if s > 0 && s % (365 * DAY) == 0 && limit.subsec_nanos() == 0 => {
            format!("{}y", s / (365 * DAY))
        }
        s if s > 0 && s % DAY == 0 && limit.subsec_nanos() == 0 => format!("{}d", s / DAY),
        _ => crate::records::report::duration_text(limit),
    }
}

/// The rule for `bucket`: its own (exactly, or `INBOX` in any case), else one written with variables
/// (`Lists/${list}`), else the default. `None`: kept for ever.
pub fn rule_for(retention: &RetentionConfig, bucket: &str) -> Option<(String, Duration)> {
    let kept = bucket.eq_ignore_ascii_case(KEPT);
    let own = retention
        .buckets
        .iter()
        .find(|(k, _)| k.as_str() == bucket || (kept && k.eq_ignore_ascii_case(KEPT)));
    let pattern = || {
        retention
            .buckets
            .iter()
            .find(|(k, _)| k.contains("${") && matches_pattern(k, bucket))
    };
    match own.or_else(pattern) {
        Some((key, limit)) => Some((key.clone(), *limit)),
        None => retention.default.map(|d| ("default".to_owned(), d)),
    }
}

/// The folders under a rule, in name order: every existing bucket folder with a rule, and the folders
/// rules name outright that do not exist (so a listing can say so).
pub fn folder_rules(
    config: &Config,
    known: &KnownBuckets,
    existing: &BTreeSet<String>,
) -> Vec<FolderRule> {
    let watched = crate::mailbox::folder_name(&config.mailbox.source);
    let mut out = Vec::new();
    for folder in existing {
        let is_watched = folder == &watched;
        if folder.eq_ignore_ascii_case(KEPT) && !is_watched {
            // Not the watched folder: the scripts' INBOX is the watched one, this is some other box.
            continue;
        }
        let bucket = if is_watched { KEPT } else { folder.as_str() };
        if !known.contains(bucket) {
            continue;
        }
        if let Some((key, limit)) = rule_for(&config.retention, bucket) {
            out.push(FolderRule {
                folder: folder.clone(),
                key,
                limit,
                watched: is_watched,
                exists: true,
            });
        }
    }
    for (name, limit) in &config.retention.buckets {
        let missing =
            !name.contains("${") && !name.eq_ignore_ascii_case(KEPT) && !existing.contains(name);
        if missing {
            out.push(FolderRule {
                folder: name.clone(),
                key: name.clone(),
                limit: *limit,
                watched: false,
                exists: false,
            });
        }
    }
    out.sort_by(|a, b| a.folder.cmp(&b.folder));
    out
}
