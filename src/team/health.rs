//! How the team stands at a moment: who is unresponsive (their latest ping unanswered past `[team]
//! ping_grace`), which checklist items are overdue, and which critical roles have fewer than two
//! responsive active members (the Security Policy asks for two available per critical role, 9.1.2),
//! and whose certificates expire within 30 days.
//! `team list`, `status` and the metrics all show this; it is computed from the roster alone.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::certificate::{Expiring, expiring};
use super::roster::Roster;
use super::{Role, Settings, State};
use crate::metrics::{TeamGauges, TeamRoleGauge};
use crate::outbox::millis;
use crate::store::Store;

/// The members a critical role needs available.
pub const NEEDED: usize = 2;

/// Active and responsive members in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCount {
    pub role: Role,
    pub active: usize,
    pub responsive: usize,
    /// Listed in `[team] critical_roles`.
    pub critical: bool,
}

impl RoleCount {
    /// A critical role with fewer than two responsive active members.
    pub fn thin(&self) -> bool {
        self.critical && self.responsive < NEEDED
    }
}

/// An active member whose latest ping went unanswered past the grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresponsive {
    pub person_id: i64,
    pub name: String,
    pub pinged_ms: i64,
    /// When they were last seen answering a ping; 0 never.
    pub last_seen_ms: i64,
}

/// An open checklist item of an active member, past its due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub person_id: i64,
    pub name: String,
    pub checklist: String,
    pub item: String,
    pub text: String,
    pub due_ms: i64,
}

/// The team at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Every role, in order.
    pub roles: Vec<RoleCount>,
    pub unresponsive: Vec<Unresponsive>,
    pub overdue: Vec<Overdue>,
    /// Active members' certificates that expire within 30 days (or have expired).
    pub expiring: Vec<Expiring>,
    pub active: usize,
    pub paused: usize,
    pub grace: Duration,
}

impl Health {
    /// Assesses `roster` at `now`.
    pub fn assess(roster: &Roster, settings: &Settings, now: DateTime<Utc>) -> Health {
        let now_ms = now.timestamp_millis();
        let grace = millis(settings.ping_grace);
        let active: Vec<_> = roster.people.iter().filter(|p| p.is_active()).collect();
        let unresponsive: Vec<Unresponsive> = active
            .iter()
            .filter_map(|p| {
                let ping = roster.pings.get(&p.id)?;
                let silent = now_ms - ping.sent_ms > grace && p.last_seen_ms < ping.sent_ms;
                silent.then(|| Unresponsive {
                    person_id: p.id,
                    name: p.name.clone(),
                    pinged_ms: ping.sent_ms,
                    last_seen_ms: p.last_seen_ms,
                })
            })
            .collect();
        let roles = Role::ALL
            .iter()
            .map(|role| {
                let holders: Vec<_> = active.iter().filter(|p| p.has(*role)).collect();
                RoleCount {
                    role: *role,
                    active: holders.len(),
                    responsive: holders
                        .iter()
                        .filter(|p| !unresponsive.iter().any(|u| u.person_id == p.id))
                        .count(),
                    critical: settings.critical.contains(role),
                }
            })
            .collect();
        let overdue = roster
            .items
            .iter()
            .filter(|i| i.state == "open" && i.due_ms > 0 && i.due_ms < now_ms)
            .filter_map(|i| {
                let p = active.iter().find(|p| p.id == i.person_id)?;
                Some(Overdue {
                    person_id: p.id,
                    name: p.name.clone(),
                    checklist: i.checklist.clone(),
                    item: i.item.clone(),
                    text: i.text.clone(),
                    due_ms: i.due_ms,
                })
            })
            .collect();
        Health {
            roles,
            unresponsive,
            overdue,
            expiring: expiring(roster, &settings.configured_certs, now),
            active: active.len(),
            paused: roster
                .people
                .iter()
                .filter(|p| p.state == State::Paused)
                .count(),
            grace: settings.ping_grace,
        }
    }

    /// One line per critical role that is thin.
    pub fn warnings(&self) -> Vec<String> {
        self.roles
            .iter()
            .filter(|r| r.thin())
            .map(|r| {
                format!(
                    "role {} ({}) has {} responsive active member{} of the {NEEDED} the Security \
                     Policy asks for (9.1.2)",
                    r.role,
                    r.role.title(),
                    r.responsive,
                    if r.responsive == 1 { "" } else { "s" }
                )
            })
            .collect()
    }

    pub fn is_unresponsive(&self, person_id: i64) -> bool {
        self.unresponsive.iter().any(|u| u.person_id == person_id)
    }

    /// How many overdue items person `person_id` has.
    pub fn overdue_of(&self, person_id: i64) -> usize {
        self.overdue
            .iter()
            .filter(|o| o.person_id == person_id)
            .count()
    }

    /// The gauges the metrics listener serves.
    pub fn gauges(&self) -> TeamGauges {
        TeamGauges {
            roles: self
                .roles
                .iter()
                .map(|r| TeamRoleGauge {
                    role: r.role.name().to_owned(),
                    active: r.active as i64,
                    responsive: r.responsive as i64,
                    critical: r.critical,
                    thin: r.thin(),
                })
                .collect(),
            unresponsive: self.unresponsive.len() as i64,
            overdue_items: self.overdue.len() as i64,
            rights_drift: 0,
            revoke_overdue: 0,
            expiring_certificates: self.expiring.len() as i64,
        }
    }
}

/// How the team stands at `now` (what `status` and the worker's team gauges read).
pub async fn health(store: &Store, settings: &Settings, now: DateTime<Utc>) -> Result<Health> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    drop(tx);
    Ok(Health::assess(&roster, settings, now))
}
