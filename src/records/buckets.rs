//! The bucket names `[sla]`, `[retention.buckets]` and `[disputes]` may use, learnt from the Sieve scripts,
//! and the `check` errors for the others.
//!
//! A bucket is a folder the scripts file into, `INBOX` for kept mail, or the quarantine and trash folders.
//! Reads the scripts' text (through `classify`) and nothing else; it never changes the config.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::config::{Config, ConfigError, ConfigErrors, key_part};

/// The folder kept mail stays in, as `actions::Plan::bucket` names it.
const KEPT: &str = "INBOX";

/// The names a config may give as buckets.
#[derive(Debug, Clone, Default)]
pub struct KnownBuckets {
    /// Folders named outright.
    exact: BTreeSet<String>,
    /// Folders built from variables (`Lists/${list}`): any text stands in for each `${...}`.
    patterns: Vec<String>,
}

impl KnownBuckets {
    /// The buckets of `config`: every `fileinto` target of the main script and of the scripts in the
    /// include and global directories (which `include` may reach), plus `INBOX`, quarantine and trash.
    pub fn from_config(config: &Config) -> Result<KnownBuckets> {
        let mut scripts = vec![config.rules.script.clone()];
        let dirs = [&config.rules.include_dir, &config.rules.global_dir];
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            for entry in
                std::fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))?
            {
                let path = entry
                    .with_context(|| format!("list {}", dir.display()))?
                    .path();
                if path.extension().is_some_and(|e| e == "sieve") && !scripts.contains(&path) {
                    scripts.push(path);
                }
            }
        }
        let mut names = vec![
            KEPT.to_owned(),
            config.mailbox.quarantine.clone(),
            config.mailbox.trash.clone(),
        ];
        for script in &scripts {
            names.extend(targets_of(script)?);
        }
        Ok(KnownBuckets::from_names(names))
    }

    pub fn from_names(names: impl IntoIterator<Item = String>) -> KnownBuckets {
        let mut known = KnownBuckets::default();
        for name in names {
            if name.contains("${") {
                known.patterns.push(name);
            } else {
                known.exact.insert(name);
            }
        }
        known
    }

    /// Whether `name` is a bucket (`INBOX` in any case, as IMAP has it).
    pub fn contains(&self, name: &str) -> bool {
        self.exact.contains(name)
            || name.eq_ignore_ascii_case(KEPT)
            || self.patterns.iter().any(|p| matches_pattern(p, name))
    }

    /// The names, for an error message.
    fn listing(&self) -> String {
        let mut all: Vec<&str> = self.exact.iter().map(String::as_str).collect();
        all.extend(self.patterns.iter().map(String::as_str));
        all.join(", ")
    }
}

fn targets_of(script: &Path) -> Result<Vec<String>> {
    let src = std::fs::read(script).with_context(|| format!("read {}", script.display()))?;
    crate::classify::fileinto_targets(&src)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("read the folders of {}", script.display()))
}

/// Whether `name` fits `pattern`, where each `${...}` stands for one or more characters. Each literal
/// part is matched at its leftmost place, which leaves the most room for the rest.
pub(super) fn matches_pattern(pattern: &str, name: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        literals.push(&rest[..start]);
        rest = &rest[start + len + 1..];
    }
    literals.push(rest);
    let (Some(first), Some(last)) = (literals.first(), literals.last()) else {
        return false;
    };
    if literals.len() == 1 {
        return pattern == name;
    }
    let Some(inner) = name.strip_prefix(first).and_then(|r| r.strip_suffix(last)) else {
        return false;
    };
    let mut left = inner;
    for literal in &literals[1..literals.len() - 1] {
        let Some(one) = left.chars().next().map(char::len_utf8) else {
            return false;
        };
        let Some(at) = left[one..].find(literal) else {
            return false;
        };
        left = &left[one + at + literal.len()..];
    }
    !left.is_empty()
}

/// `check` errors for bucket names in `[sla]`, `[retention.buckets]` and `[disputes]` that no script
/// files into; `default` in `[retention.buckets]` is not a bucket and always allowed.
pub fn unknown_buckets(config: &Config, known: &KnownBuckets) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut check = |key: String, name: &str| {
        if !known.contains(name) {
            let message = format!(
                "{name:?} is not a bucket: the Sieve scripts never file into it (buckets: {})",
                known.listing()
            );
            errors.push(ConfigError::new(key, message));
        }
    };
    for name in &config.sla.buckets {
        check("sla.buckets".to_owned(), name);
    }
    for name in config.retention.buckets.keys() {
        check(format!("retention.buckets.{}", key_part(name)), name);
    }
    for name in &config.disputes.buckets {
        check("disputes.buckets".to_owned(), name);
    }
    errors
}

/// What `triaged check` asks: every bucket name the config gives is one the scripts file into. A script
/// that cannot be read is reported under `rules.script`.
pub fn check(config: &Config) -> Result<(), ConfigErrors> {
    let errors = match KnownBuckets::from_config(config) {
        Ok(known) => unknown_buckets(config, &known),
        Err(e) => vec![ConfigError::new("rules.script", format!("{e:#}"))],
    };
    if errors.is_empty() {
        return Ok(());
    }
    Err(ConfigErrors {
        file: config.file.clone(),
        errors,
    })
}

#[cfg(test)]
#[path = "buckets_tests.rs"]
mod tests;
