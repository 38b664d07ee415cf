//! The tables of the team's records: `[sla]` (the response target), `[retention]` (how long mail and
//! triaged's own rows are kept) and `[disputes]` (filings and the Support → Arbitration bridge).
//!
//! Owns reading and checking these keys; what the values mean at run time is `records`'s. Whether a bucket
//! named here is one the Sieve script files into cannot be known from the config alone: `records` checks
//! that against the script.

use std::collections::BTreeMap;
use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;

use super::hours::BusinessHours;
use super::value::{Table, parse_duration};

/// `[sla]`: which tickets are timed and against what.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    /// Buckets whose new threads are timed; none by default, so nothing is timed until the team says.
    pub buckets: Vec<String>,
    /// The first reply is due this long after arrival (counted in `hours` when set).
    pub target: Duration,
    /// Count only business hours toward the target; wall-clock time when absent.
    pub hours: Option<BusinessHours>,
    /// Folders where the team's own replies are found (read for headers only).
    pub sent_folders: Vec<String>,
}

/// `[retention]`: the data retention practice.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// How long mail is kept per bucket (folder name as the Sieve script files into it).
    pub buckets: BTreeMap<String, Duration>,
    /// The limit for buckets without one of their own; without it such buckets are never purged.
    pub default: Option<Duration>,
    /// How long triaged keeps verdict rows and sent outbox bodies (audit events stay).
    pub records: Duration,
    /// How often `triaged run` applies the rules; never when absent (only `retention run --apply`).
    pub schedule: Option<Duration>,
    /// A run that would purge more than this stops and says so, unless forced.
    pub max_per_run: u64,
}

impl RetentionConfig {
    /// The limit that applies to `bucket`: its own rule, else the default, else none (kept for ever).
    pub fn limit_for(&self, bucket: &str) -> Option<Duration> {
        self.buckets.get(bucket).copied().or(self.default)
    }
}

/// `[disputes]`: filings, and the bridge that follows each dispute until Arbitration acknowledges it.
#[derive(Debug, Clone)]
pub struct DisputesConfig {
    /// Where dispute filings are sent.
    pub address: Mailbox,
    /// The default Claimant of a filing.
    pub claimant: Mailbox,
    /// Buckets whose messages are disputes (besides the filings triaged sends).
    pub buckets: Vec<String>,
    /// The arbitration case-management list disputes are forwarded to, and whose copy comes back.
    pub list: Option<Mailbox>,
    /// Whether triaged forwards a received dispute to `list` itself (else a person does).
    pub forward: bool,
    /// Senders whose mail in a dispute's thread is Arbitration's reply.
    pub arbitration_addresses: Vec<Address>,
    /// How long a dispute may wait in each stage before the team leader is told, once.
    pub escalate_after: EscalateAfter,
}

/// `[disputes] escalate_after`, keyed by the stage being waited in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalateAfter {
    /// Received, not yet forwarded to the list.
    pub received: Duration,
    /// Forwarded, the list's copy not yet back.
    pub forwarded: Duration,
    /// On the list, not yet acknowledged by Arbitration.
    pub on_list: Duration,
}

/// The stage keys of `escalate_after`, as written in the file, with their defaults.
const STAGES: [(&str, &str); 3] = [("received", "7d"), ("forwarded", "1d"), ("on-list", "7d")];

pub(super) fn read_sla(mut t: Table<'_>) -> SlaConfig {
    let buckets = t.strings_or("buckets", &[]);
    let target = positive(&mut t, "target", "1h");
    let hours = t.string("hours").and_then(|text| {
        BusinessHours::parse(&text)
            .map_err(|e| t.error("hours", e))
            .ok()
    });
    let sent_folders = t.strings_or("sent_folders", &["Sent"]);
    if sent_folders.iter().any(|f| f.trim().is_empty()) {
        t.error("sent_folders", "a folder name is empty");
    }
    t.finish();
    SlaConfig {
        buckets,
        target,
        hours,
        sent_folders,
    }
}

pub(super) fn read_retention(mut t: Table<'_>) -> RetentionConfig {
    let mut buckets = BTreeMap::new();
    let mut default = None;
    if let Some(rules) = t.subtable("buckets") {
        for (name, value) in rules {
            let key = format!("buckets.{}", key_part(name));
            let Some(limit) = duration_entry(&mut t, &key, value) else {
                continue;
            };
            if name == "default" {
                default = Some(limit);
            } else {
                buckets.insert(name.clone(), limit);
            }
        }
    }
    let records = positive(&mut t, "records", "2y");
    let schedule = t.string("schedule").and_then(|text| {
        match parse_duration(&text) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err("must be longer than zero".to_owned()),
            Err(e) => Err(e),
        }
        .map_err(|e| t.error("schedule", e))
        .ok()
    });
    let max_per_run = t.integer_or("max_per_run", 1000);
    if max_per_run == 0 {
        t.error("max_per_run", "must be at least 1");
    }
    t.finish();
    RetentionConfig {
        buckets,
        default,
        records,
        schedule,
        max_per_run,
    }
}

pub(super) fn read_disputes(mut t: Table<'_>) -> Option<DisputesConfig> {
    let address = t.mailbox("address", Some("support@example.org"));
    let claimant = t.mailbox("claimant", Some("Team Leader <stl@example.org>"));
    let buckets = t.strings_or("buckets", &[]);
    let list = t.string("list").and_then(|text| {
        super::parse_mailbox(&text)
            .map_err(|e| t.error("list", e))
            .ok()
    });
    let forward = t.bool_or("forward", false);
    if forward && list.is_none() && !t.errors.iter().any(|e| e.key == t.key("list")) {
        t.error("list", "is required when forward = true");
    }
    let arbitration_addresses = t
        .strings_or("arbitration_addresses", &[])
        .into_iter()
        .filter_map(|text| {
            text.trim()
                .parse::<Address>()
                .map_err(|e| {
                    let message = format!("{text:?} is not an address: {e}");
                    t.error("arbitration_addresses", message);
                })
                .ok()
        })
        .collect();
    let escalate_after = read_escalate_after(&mut t);
    t.finish();
    Some(DisputesConfig {
        address: address?,
        claimant: claimant?,
        buckets,
        list,
        forward,
        arbitration_addresses,
        escalate_after,
    })
}

fn read_escalate_after(t: &mut Table<'_>) -> EscalateAfter {
    let mut limits: BTreeMap<&str, Duration> = STAGES
        .iter()
        .map(|(stage, default)| (*stage, parse_duration(default).unwrap_or_default()))
        .collect();
    if let Some(table) = t.subtable("escalate_after") {
        for (stage, value) in table {
            let key = format!("escalate_after.{}", key_part(stage));
            match limits.get_mut(stage.as_str()) {
                None => {
                    let valid = STAGES.map(|(s, _)| s).join(", ");
                    t.error(&key, format!("unknown stage (valid: {valid})"));
                }
                Some(slot) => {
                    if let Some(limit) = duration_entry(t, &key, value) {
                        *slot = limit;
                    }
                }
            }
        }
    }
    let get = |stage: &str| limits.get(stage).copied().unwrap_or_default();
    EscalateAfter {
        received: get("received"),
        forwarded: get("forwarded"),
        on_list: get("on-list"),
    }
}

/// A duration that must be longer than zero; the default when absent or wrong.
fn positive(t: &mut Table<'_>, key: &'static str, default: &str) -> Duration {
    let d = t.duration_or(key, default);
    if d.is_zero() {
        t.error(key, "must be longer than zero");
        return parse_duration(default).unwrap_or_default();
    }
    d
}

/// One entry of a nested table whose values are durations (`Junk = "30d"`), longer than zero.
fn duration_entry(t: &mut Table<'_>, key: &str, value: &toml::Value) -> Option<Duration> {
    let result = match value {
        toml::Value::String(text) => match parse_duration(text) {
            Ok(d) if d.is_zero() => Err("must be longer than zero".to_owned()),
            other => other,
        },
        other => Err(format!(
            "expected a duration like \"30d\", found {}",
            other.type_str()
        )),
    };
    result.map_err(|e| t.error(key, e)).ok()
}

/// A key as TOML would need it written: bare when it can be, quoted otherwise (`"Support/Disputes"`).
pub(crate) fn key_part(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
