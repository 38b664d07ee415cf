//! Reads typed values out of a TOML table, collecting every problem with its key path.
//!
//! Owns the small grammar of config values (durations, sizes, addresses, paths); must not do I/O
//! beyond reading secret files and environment variables named by the config.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;

use super::{ConfigError, Secret};

/// One table of the config, read key by key; every problem is pushed to `errors` and reading goes on.
pub(crate) struct Table<'a> {
    /// The table's name, the first part of every key path reported (`mailbox` in `mailbox.url`).
    name: &'static str,
    /// The table as parsed; an absent table reads as empty so defaults apply.
    table: Option<&'a toml::Table>,
    /// Keys that were read, to report every other key as unknown.
    seen: BTreeSet<&'static str>,
    /// Directory of the config file: relative paths resolve against it.
    base: &'a Path,
    pub(crate) errors: &'a mut Vec<ConfigError>,
}

impl<'a> Table<'a> {
    pub(crate) fn new(
        root: &'a toml::Table,
        name: &'static str,
        base: &'a Path,
        errors: &'a mut Vec<ConfigError>,
    ) -> Self {
        let table = match root.get(name) {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(_) => {
                errors.push(ConfigError::new(name, "must be a table"));
                None
            }
        };
        Table {
            name,
            table,
            seen: BTreeSet::new(),
            base,
            errors,
        }
    }

    /// The full key path, `table.key`.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }

    pub(crate) fn error(&mut self, key: &str, message: impl Into<String>) {
        let key = self.key(key);
        self.errors.push(ConfigError::new(key, message));
    }

    /// The config file's directory.
    pub(crate) fn base(&self) -> &Path {
        self.base
    }

    /// Whether the table appears in the file at all.
    pub(crate) fn present(&self) -> bool {
        self.table.is_some()
    }

    fn raw(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.seen.insert(key);
        self.table.and_then(|t| t.get(key))
    }

    /// A nested table (`[retention.buckets]`, `escalate_after = { ... }`), read by the caller entry by
    /// entry; anything else under the key is an error.
    pub(crate) fn subtable(&mut self, key: &'static str) -> Option<&'a toml::Table> {
        match self.raw(key)? {
            toml::Value::Table(t) => Some(t),
            other => {
                let found = other.type_str();
                self.error(key, format!("expected a table, found {found}"));
                None
            }
        }
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Option<String> {
        match self.raw(key)? {
            toml::Value::String(s) => Some(s.clone()),
            other => {
                self.error(
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(crate) fn string_or(&mut self, key: &'static str, default: &str) -> String {
        self.string(key).unwrap_or_else(|| default.to_owned())
    }

    pub(crate) fn bool_or(&mut self, key: &'static str, default: bool) -> bool {
        match self.raw(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => *b,
            Some(other) => {
                let found = other.type_str();
                self.error(key, format!("expected true or false, found {found}"));
                default
            }
        }
    }

    pub(crate) fn integer_or(&mut self, key: &'static str, default: u64) -> u64 {
        match self.raw(key) {
            None => default,
            Some(toml::Value::Integer(i)) if *i >= 0 => *i as u64,
            Some(other) => {
                self.error(
                    key,
                    format!("expected a non-negative integer, found {other}"),
                );
                default
            }
        }
    }

    pub(crate) fn strings_or(&mut self, key: &'static str, default: &[&str]) -> Vec<String> {
        let Some(value) = self.raw(key) else {
            return default.iter().map(|s| (*s).to_owned()).collect();
        };
        let items = value.as_array().map(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        });
        match items {
            Some(Some(items)) => items,
            _ => {
                self.error(key, "expected an array of strings");
                Vec::new()
            }
        }
    }

    pub(crate) fn duration_or(&mut self, key: &'static str, default: &str) -> Duration {
        let text = self.string_or(key, default);
        match parse_duration(&text) {
            Ok(d) => d,
            Err(e) => {
                self.error(key, e);
                parse_duration(default).unwrap_or_default()
            }
        }
    }

    pub(crate) fn durations_or(&mut self, key: &'static str, default: &[&str]) -> Vec<Duration> {
        let texts = self.strings_or(key, default);
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            match parse_duration(&text) {
                Ok(d) => out.push(d),
                Err(e) => self.error(key, e),
            }
        }
        out
    }

    pub(crate) fn size_or(&mut self, key: &'static str, default: &str) -> u64 {
        let value = match self.raw(key) {
            Some(toml::Value::Integer(i)) if *i > 0 => return *i as u64,
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => {
                let found = other.type_str();
                self.error(key, format!("expected a size like \"25MB\", found {found}"));
                default.to_owned()
            }
            None => default.to_owned(),
        };
        match parse_size(&value) {
            Ok(n) => n,
            Err(e) => {
                self.error(key, e);
                parse_size(default).unwrap_or(0)
            }
        }
    }

    /// A path, resolved against the config file's directory.
    pub(crate) fn path(&mut self, key: &'static str) -> Option<PathBuf> {
        self.string(key).map(|p| resolve(self.base, &p))
    }

    pub(crate) fn path_or(&mut self, key: &'static str, default: &str) -> PathBuf {
        let p = self.string_or(key, default);
        resolve(self.base, &p)
    }

    /// A path that must name an existing file.
    pub(crate) fn existing_file(&mut self, key: &'static str) -> Option<PathBuf> {
        let path = self.path(key)?;
        if path.is_file() {
            Some(path)
        } else {
            self.error(key, format!("no such file: {}", path.display()));
            None
        }
    }

    pub(crate) fn mailbox(&mut self, key: &'static str, default: Option<&str>) -> Option<Mailbox> {
        let text = match (self.string(key), default) {
            (Some(t), _) => t,
            (None, Some(d)) => d.to_owned(),
            (None, None) => {
                self.error(key, "is required");
                return None;
            }
        };
        match parse_mailbox(&text) {
            Ok(m) => Some(m),
            Err(e) => {
                self.error(key, e);
                None
            }
        }
    }

    /// A secret given as `{stem}_file` or `{stem}_env`; never both.
    pub(crate) fn secret(
        &mut self,
        file_key: &'static str,
        env_key: &'static str,
    ) -> Option<Secret> {
        let file = self.path(file_key);
        let env = self.string(env_key);
        match (file, env) {
            (Some(_), Some(_)) => {
                self.error(file_key, format!("give {file_key} or {env_key}, not both"));
                None
            }
            (Some(path), None) => match std::fs::read_to_string(&path) {
                Ok(text) => Some(Secret::new(text.trim_end_matches(['\r', '\n']).to_owned())),
                Err(e) => {
                    self.error(file_key, format!("cannot read {}: {e}", path.display()));
                    None
                }
            },
            (None, Some(var)) => match std::env::var(&var) {
                Ok(value) => Some(Secret::new(value)),
                Err(_) => {
                    self.error(env_key, format!("environment variable {var} is not set"));
                    None
                }
            },
            (None, None) => None,
        }
    }

    /// Report every key of the table that no reader asked for.
    pub(crate) fn finish(self) {
        let Some(table) = self.table else { return };
        for key in table.keys() {
            if !self.seen.contains(key.as_str()) {
                self.errors.push(ConfigError::new(
                    format!("{}.{key}", self.name),
                    "unknown key",
                ));
            }
        }
    }
}

/// Joins `path` to `base` (unless absolute) and removes `.` and `..` lexically, so messages show
/// plain paths.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Parses `500ms`, `30s`, `6m`, `1h`, `2d`, `2w`, `2y` (and combinations like `1h30m`); a year is 365
/// days, which is what a retention limit means.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (use e.g. 30s, 6m, 1h, 2d, 2y)");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        let unit = Duration::from_millis(n.checked_mul(millis).ok_or_else(bad)?);
        total = total.checked_add(unit).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses `1024`, `64KB`, `25MB`, `1GB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("{text:?} is not a size (use e.g. 25MB)"))?;
    let factor = match t[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return Err(format!("{text:?} is not a size (use e.g. 25MB)")),
    };
    Ok(n * factor)
}

/// Parses `Name <addr@example.org>` or a bare address; CR/LF are refused before parsing.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if text.contains(['\r', '\n']) {
        return Err("contains a line break".to_owned());
    }
    text.parse::<Mailbox>()
        .map_err(|e| format!("{text:?} is not an address: {e}"))
}
