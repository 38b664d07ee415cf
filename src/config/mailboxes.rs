//! The mailboxes a worker watches, and the lease settings that spread them over several workers.
//!
//! - `[mailbox]` is one mailbox named `default`; `[[mailbox]]` tables are several, each with a `name` and
//!   the same keys, plus optional `rules`, `ack` and `sla` tables of their own (by default the top-level
//!   ones). Errors in the second entry are reported as `mailbox[1].key`.
//! - Two entries with one name, or two watching the same account and folder, are errors: the store
//!   knows a mailbox by its account and folder (`MailboxSource::identity`), so two names for one folder
//!   would be one mailbox sorted twice.
//! - `[lease] ttl`: how long a worker's lease on a mailbox lasts (renewed every third of it).

use std::path::Path;
use std::time::Duration;

use super::value::Table;
use super::{
    AckConfig, Backlog, ConfigError, MailboxConfig, MailboxSource, RulesConfig, SlaConfig, url,
};

/// The name of the mailbox a `[mailbox]` table configures.
pub const DEFAULT_MAILBOX: &str = "default";

/// One watched mailbox with its overrides of the top-level tables.
#[derive(Debug, Clone)]
pub struct MailboxEntry {
    pub mailbox: MailboxConfig,
    /// Its own `[rules]`, when it has one.
    pub rules: Option<RulesConfig>,
    /// Its own `[ack]`, when it has one.
    pub ack: Option<AckConfig>,
    /// Its own `[sla]`, when it has one.
    pub sla: Option<SlaConfig>,
}

/// `[lease]`: how long a worker holds a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    pub ttl: Duration,
}

impl LeaseConfig {
    /// How often a holder renews its leases and beats: a third of the ttl.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }
}

impl super::Config {
    /// The config as one mailbox's watcher sees it: `mailbox` is that entry, and its own `rules`,
    /// `ack` and `sla` replace the top-level ones.
    pub fn for_mailbox(&self, entry: &MailboxEntry) -> super::Config {
        let mut one = self.clone();
        one.mailbox = entry.mailbox.clone();
        if let Some(rules) = &entry.rules {
            one.rules = rules.clone();
        }
        if let Some(ack) = &entry.ack {
            one.ack = ack.clone();
        }
        if let Some(sla) = &entry.sla {
            one.sla = sla.clone();
        }
        one
    }
}

pub(super) fn read_lease(mut t: Table<'_>) -> LeaseConfig {
    let ttl = t.duration_or("ttl", "15s");
    if ttl < Duration::from_secs(3) {
        t.error(
            "ttl",
            "must be at least 3s (the lease is renewed every third of it)",
        );
    }
    t.finish();
    LeaseConfig { ttl }
}

/// Reads `[mailbox]` or every `[[mailbox]]`; an entry with errors is left out (its errors are pushed).
pub(super) fn read_mailboxes(
    root: &toml::Table,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Vec<MailboxEntry> {
    let items = match root.get("mailbox") {
        Some(toml::Value::Array(items)) => items,
        _ => {
            let t = Table::new(root, "mailbox", base, errors);
            return read_entry(t, false, base)
                .map(|(entry, found)| {
                    errors.extend(found);
                    entry
                })
                .into_iter()
                .collect();
        }
    };
    if items.is_empty() {
        errors.push(ConfigError::new("mailbox", "no [[mailbox]] is configured"));
    }
    let mut entries: Vec<MailboxEntry> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let mut one = toml::Table::new();
        one.insert("mailbox".to_owned(), item.clone());
        let mut found = Vec::new();
        let entry = read_entry(Table::new(&one, "mailbox", base, &mut found), true, base);
        let renamed = |mut e: ConfigError| {
            e.key = match e.key.strip_prefix("mailbox") {
                Some(rest) => format!("mailbox[{index}]{rest}"),
                None => format!("mailbox[{index}].{}", e.key),
            };
            e
        };
        errors.extend(found.into_iter().map(renamed));
        let Some((entry, found)) = entry else {
            continue;
        };
        errors.extend(found.into_iter().map(renamed));
        let name = &entry.mailbox.name;
        let id = entry.mailbox.source.identity();
        if let Some(other) = entries.iter().find(|e| &e.mailbox.name == name) {
            errors.push(ConfigError::new(
                format!("mailbox[{index}].name"),
                format!("{:?} names another mailbox too", other.mailbox.name),
            ));
        } else if let Some(other) = entries.iter().find(|e| e.mailbox.source.identity() == id) {
            errors.push(ConfigError::new(
                format!("mailbox[{index}].url"),
                format!(
                    "watches the same account and folder as mailbox {:?} ({id})",
                    other.mailbox.name
                ),
            ));
        } else {
            entries.push(entry);
        }
    }
    entries
}

/// One mailbox table; `named` for a `[[mailbox]]` entry, which has a name and may have overrides.
/// Returns the entry with the problems found in its override tables (keyed `mailbox.rules.KEY`).
fn read_entry(
    mut t: Table<'_>,
    named: bool,
    base: &Path,
) -> Option<(MailboxEntry, Vec<ConfigError>)> {
    let name = if named {
        let name = t.string("name").filter(|n| !n.trim().is_empty());
        if name.is_none() {
            t.error("name", "is required in [[mailbox]], e.g. \"support\"");
        }
        name
    } else {
        Some(DEFAULT_MAILBOX.to_owned())
    };
    let mut found = Vec::new();
    let (rules, ack, sla) = if named {
        let mut table = |key: &'static str| t.subtable(key).cloned();
        let (r, a, s) = (table("rules"), table("ack"), table("sla"));
        (
            r.map(|r| sub(&r, "rules", base, &mut found, super::read_rules)),
            a.map(|a| sub(&a, "ack", base, &mut found, super::read_ack)),
            s.map(|s| sub(&s, "sla", base, &mut found, super::records::read_sla)),
        )
    } else {
        (None, None, None)
    };
    let mailbox = read_mailbox(t, name.unwrap_or_default());
    for e in &mut found {
        e.key = format!("mailbox.{}", e.key);
    }
    Some((
        MailboxEntry {
            mailbox: mailbox?,
            rules,
            ack,
            sla,
        },
        found,
    ))
}

/// Reads a table found under a mailbox entry with `read`, as the top-level table `name` is read.
fn sub<T>(
    table: &toml::Table,
    name: &'static str,
    base: &Path,
    errors: &mut Vec<ConfigError>,
    read: impl FnOnce(Table<'_>) -> T,
) -> T {
    let root = toml::Table::from_iter([(name.to_owned(), toml::Value::Table(table.clone()))]);
    read(Table::new(&root, name, base, errors))
}

/// The keys every mailbox table has (`[mailbox]`, or one `[[mailbox]]` entry).
fn read_mailbox(mut t: Table<'_>, name: String) -> Option<MailboxConfig> {
    let url_text = t.string("url");
    let allow_plaintext = t.bool_or("allow_plaintext", false);
    let password = t.secret("password_file", "password_env");
    let ca_file = t.existing_file("ca_file");
    let backlog = match t.string_or("backlog", "process").as_str() {
        "process" => Backlog::Process,
        "skip" => Backlog::Skip,
        other => {
            t.error(
                "backlog",
                format!("{other:?} is neither \"process\" nor \"skip\""),
            );
            Backlog::Process
        }
    };
    let poll_interval = t.duration_or("poll_interval", "60s");
    let liveness_limit = t.duration_or("liveness_limit", "6m");
    let quarantine = t.string_or("quarantine", "Quarantine");
    let trash = t.string_or("trash", "Trash");
    let allow_delete = t.bool_or("allow_delete", false);
    let source = match url_text {
        Some(text) => url::mailbox_source(&mut t, &text, allow_plaintext),
        None => {
            t.error("url", "is required");
            None
        }
    };
    if let Some(MailboxSource::Imap { .. }) = &source
        && password.is_none()
        && !t
            .errors
            .iter()
            .any(|e| e.key.starts_with("mailbox.password"))
    {
        t.error(
            "password_file",
            "an IMAP mailbox needs password_file or password_env",
        );
    }
    t.finish();
    Some(MailboxConfig {
        name,
        source: source?,
        password,
        ca_file,
        backlog,
        poll_interval,
        liveness_limit,
        quarantine,
        trash,
        allow_delete,
    })
}

#[cfg(test)]
#[path = "mailboxes_tests.rs"]
mod tests;
