//! The team: who is on it (the roster), which role each person holds and since when, the facts recorded
//! about them, the role pipeline with its preconditions, the onboarding checklists a role opens, and the
//! aliveness pings that find out who is still there. triaged ticks what it did itself (the welcome pack,
//! later the rights it applied) and warns when a critical role has fewer than two responsive members.
//!
//! Every change is written with an append-only audit event (`events`, subject `person:<address>`) in the
//! same transaction. This room may use the rooms below it (outbox, templates, store, ...); it touches
//! neither IMAP nor the mailing lists (rights and handovers build on it), writes no SQL (that is
//! `store::team`) and spawns nothing.
//!
//! # Layout
//! - `role`, `fact`: the roles and the facts, fixed here; `defs`: the roles and checklists files.
//! - `roster`: people and lookups; `members`: adding, importing, pausing, resuming, retiring.
//! - `record`: recording facts; `promote`: the pipeline and its preconditions; `checklist`: opening and
//!   ticking items.
//! - `ping`: aliveness pings and the replies the worker recognises; `health`: unresponsive members,
//!   overdue items, thin roles; `table`: the roster as text, JSON, markdown or MoinMoin; `view`: the
//!   roster and one person read for `team list` and `team show`.
//! - `mail`: the team side of mail other commands send (the welcome pack ticks its item).
//! - `certificate`: members' S/MIME certificates and OpenPGP keys, recorded by hand or learnt by the
//!   worker from signed mail, and those near expiry.
//! - `csv`: the import file's grammar.
//!
//! # The API other rooms call
//! [`find`]/[`find_in`], [`by_address_in`], [`active_members`], [`record_fact_in`], [`tick_in`],
//! [`tick_action_in`], [`retire_in`], [`learn_in`] (the worker's harvested certificates), each
//! recording its event; `dispute abc` uses
//! [`record_fact_in`] with [`Fact::ABC`].

mod certificate;
mod checklist;
mod csv;
pub mod defs;
mod fact;
mod health;
mod mail;
mod members;
mod ping;
mod promote;
mod record;
mod role;
mod roster;
mod table;
mod view;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, TimeZone as _, Utc};

pub use self::certificate::{
    ConfiguredCert, EXPIRY_WARNING_DAYS, Expiring, Learnt, configured_certs, expiring, learn_in,
    record_certificate,
};
pub use self::checklist::{
    ChecklistView, ItemRef, Opened, TRIAGED, TickOutcome, tick, tick_action_in, tick_in,
};
pub use self::csv::{parse_csv, since as parse_since};
pub use self::defs::{ACTIONS, Checklist, Item, Precondition, Require};
pub use self::fact::{Abc, AbcResult, FACTS, Fact, Value};
pub use self::health::{Health, NEEDED, Overdue, RoleCount, Unresponsive, health};
pub use self::mail::{Welcomed, queue_welcome, welcome_action};
pub use self::members::{Added, NewMember, Retired, add, import, retire, retire_in, set_paused};
pub use self::ping::{Pinged, note_ping_replies, ping};
pub use self::promote::{Promoted, Refused, missing, promote};
pub use self::record::{Recorded, record, record_fact_in};
pub use self::role::Role;
pub use self::roster::{Person, Roster, State, active_members, by_address_in, find, find_in};
pub use self::table::{Filter, Format, render};
pub use self::view::{Shown, roster, show};
use crate::config::{Config, ConfigError, ConfigErrors};
use crate::store::{NewEvent, Store, Tx};

/// An unknown person, role, fact or checklist item, with the valid ones (a usage error, exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?} ({})", list(valid))]
pub struct Unknown {
    pub what: &'static str,
    pub name: String,
    pub valid: Vec<String>,
}

fn list(valid: &[String]) -> String {
    if valid.is_empty() {
        "there are none".to_owned()
    } else {
        format!("valid: {}", valid.join(", "))
    }
}

impl Unknown {
    pub fn new(what: &'static str, name: &str, valid: Vec<String>) -> Unknown {
        Unknown {
            what,
            name: name.to_owned(),
            valid,
        }
    }
}

/// Input the roster refuses (the same address twice, a demotion by `promote`, a bad value): a usage
/// error, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// The `[team]` settings, checked: the Triage term, the ping grace, the critical roles; and the
/// members' certificates `[smime] certs_dir` holds, for the expiry warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub triage_term: Duration,
    pub ping_grace: Duration,
    pub critical: Vec<Role>,
    pub configured_certs: Vec<ConfiguredCert>,
}

/// The team's definitions (roles with their preconditions, checklists) and settings, loaded once.
#[derive(Debug, Clone)]
pub struct Team {
    pub roles: BTreeMap<Role, Vec<Precondition>>,
    pub checklists: Vec<Checklist>,
    pub settings: Settings,
}

impl Settings {
    /// Reads `[team]`; an unknown critical role is a config error under `team.critical_roles`.
    pub fn new(config: &Config) -> Result<Settings, ConfigErrors> {
        let mut errors = Vec::new();
        let critical = settings_roles(config, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors {
                file: config.file.clone(),
                errors,
            });
        }
        Ok(Settings {
            triage_term: config.team.triage_term,
            ping_grace: config.team.ping_grace,
            critical,
            configured_certs: configured_certs(config),
        })
    }
}

fn settings_roles(config: &Config, errors: &mut Vec<ConfigError>) -> Vec<Role> {
    let mut roles = Vec::new();
    for name in &config.team.critical_roles {
        match name.parse::<Role>() {
            Ok(r) if !roles.contains(&r) => roles.push(r),
            Ok(_) => {}
            Err(e) => errors.push(ConfigError::new("team.critical_roles", e.to_string())),
        }
    }
    roles
}

impl Team {
    /// Reads the roles and checklists files (the shipped ones unless overridden) and the settings,
    /// reporting every problem at once: a file's as `FILE:LINE: problem` under its key.
    pub fn load(config: &Config) -> Result<Team, ConfigErrors> {
        let mut errors = Vec::new();
        let critical = settings_roles(config, &mut errors);
        let roles_src = source(&config.team.roles_file, "roles", defs::SHIPPED_ROLES);
        let lists_src = source(
            &config.team.checklists_file,
            "checklists",
            defs::SHIPPED_CHECKLISTS,
        );
        let (roles, checklists) = match (roles_src, lists_src) {
            (Ok(r), Ok(c)) => {
                let mut problems = Vec::new();
                let roles = defs::roles(&r, &mut problems);
                let keyed = |e| ConfigError::new("team.roles_file", e);
                errors.extend(problems.drain(..).map(keyed));
                let lists = defs::checklists(&c, &mut problems);
                let keyed = |e| ConfigError::new("team.checklists_file", e);
                errors.extend(problems.into_iter().map(keyed));
                (roles, lists)
            }
            (r, c) => {
                errors.extend(r.err());
                errors.extend(c.err());
                (BTreeMap::new(), Vec::new())
            }
        };
        if !errors.is_empty() {
            return Err(ConfigErrors {
                file: config.file.clone(),
                errors,
            });
        }
        Ok(Team {
            roles,
            checklists,
            settings: Settings {
                triage_term: config.team.triage_term,
                ping_grace: config.team.ping_grace,
                critical,
                configured_certs: configured_certs(config),
            },
        })
    }

    /// The preconditions of `role` (none when the roles file leaves it out).
    pub fn requires(&self, role: Role) -> &[Precondition] {
        self.roles.get(&role).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The checklists entering `role` opens.
    pub fn checklists_of(&self, role: Role) -> impl Iterator<Item = &Checklist> {
        self.checklists.iter().filter(move |c| c.role == role)
    }
}

fn source(
    path: &Option<std::path::PathBuf>,
    what: &str,
    shipped: &str,
) -> Result<defs::Source, ConfigError> {
    let key = format!("team.{what}_file");
    match path {
        None => Ok(defs::Source {
            label: format!("team/{what}.toml (shipped)"),
            text: shipped.to_owned(),
        }),
        Some(p) => std::fs::read_to_string(p)
            .map(|text| defs::Source {
                label: p.display().to_string(),
                text,
            })
            .map_err(|e| ConfigError::new(key, format!("cannot read {}: {e}", p.display()))),
    }
}

/// What `triaged check` says about the team files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub checklists: usize,
    pub items: usize,
}

/// Loads the roles and checklists files and the `[team]` settings as `run` would use them.
pub fn check(config: &Config) -> Result<Checked, ConfigErrors> {
    let team = Team::load(config)?;
    Ok(Checked {
        checklists: team.checklists.len(),
        items: team.checklists.iter().map(|c| c.items.len()).sum(),
    })
}

/// The audit subject of a person: `person:<primary address>`.
pub(crate) fn subject(person: &Person) -> String {
    format!("person:{}", person.primary())
}

/// Records one event about `person` in `tx`.
pub(crate) async fn event_in(
    tx: &mut Tx,
    person: &Person,
    e: Ev<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let subject = subject(person);
    Store::record_event_in(
        tx,
        &NewEvent {
            at_ms: now.timestamp_millis(),
            actor: e.actor,
            subject: &subject,
            action: e.action,
            reason: e.reason,
            detail: e.detail,
        },
    )
    .await?;
    Ok(())
}

/// The parts of an event about a person: who acted, what happened, why, and the details.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ev<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub reason: &'a str,
    pub detail: &'a str,
}

/// A date as the roster writes it (`2026-11-29`, UTC); `-` for 0.
pub fn date(ms: i64) -> String {
    if ms == 0 {
        return "-".to_owned();
    }
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// Whole days in a duration, for messages ("90 days").
pub(crate) fn days(d: Duration) -> String {
    let days = d.as_secs() / 86_400;
    if days * 86_400 == d.as_secs() {
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else {
        format!("{} hours", d.as_secs() / 3_600)
    }
}

#[cfg(test)]
#[path = "team/team_tests.rs"]
mod tests;
