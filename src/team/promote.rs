//! The role pipeline: `team promote NAME --to ROLE` moves a person up the pipeline (or makes them team
//! leader beside their role) once every precondition the roles file gives the target role holds. A
//! promotion with preconditions missing is refused, naming every one, unless an override reason is
//! given; the override is recorded. Entering the role opens its checklists.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::checklist::{Opened, open_in};
use super::roster::Roster;
use super::{Ev, Invalid, Person, Precondition, Require, Role, Team, days, event_in};
use crate::outbox::millis;
use crate::store::{Store, Tx};

/// A promotion refused because preconditions are missing (exit 1): every missing one is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name} cannot become {title}: {} missing:\n  - {}\n(record them with `team record`, or give --override \"REASON\")",
    if missing.len() == 1 { "a precondition is" } else { "preconditions are" },
    missing.join("\n  - ")
)]
pub struct Refused {
    pub name: String,
    pub title: String,
    pub missing: Vec<String>,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    pub person: Person,
    /// The pipeline role left (`None` when becoming leader beside it).
    pub from: Option<Role>,
    pub to: Role,
    /// Preconditions that were missing and overridden.
    pub overridden: Vec<String>,
    pub opened: Vec<Opened>,
}

/// How long `person` has served in `role`, every stint together, at `now`.
fn served_ms(roster: &Roster, person: &Person, role: Role, now_ms: i64) -> i64 {
    roster
        .stints_of(person.id)
        .filter(|s| s.role == role.name())
        .map(|s| {
            let until = if s.until_ms == 0 { now_ms } else { s.until_ms };
            (until - s.since_ms).max(0)
        })
        .sum()
}

/// Holds `role` now, or (for the pipeline) a later role.
fn holds_at_least(person: &Person, role: Role) -> bool {
    match (person.role.rank(), role.rank()) {
        (Some(have), Some(want)) => have >= want,
        _ => person.has(role),
    }
}

/// The preconditions of `to` that `person` lacks at `now`, described for people.
pub fn missing(
    team: &Team,
    roster: &Roster,
    person: &Person,
    to: Role,
    now: DateTime<Utc>,
) -> Vec<String> {
    let now_ms = now.timestamp_millis();
    let mut out = Vec::new();
    for p in team.requires(to) {
        let lacking = match &p.require {
            Require::Fact(f) => match person.fact(*f) {
                Some(v) if f.holds(v) => None,
                Some(v) => Some(format!("{} (recorded: {v})", f.title())),
                None => Some(f.title().to_owned()),
            },
            Require::Served { role, term } => {
                let term = term.unwrap_or(team.settings.triage_term);
                let served = served_ms(roster, person, *role, now_ms);
                let so_far = Duration::from_millis(u64::try_from(served).unwrap_or(0));
                (served < millis(term)).then(|| {
                    format!(
                        "a served term as {} ({}; served {})",
                        role.title(),
                        days(term),
                        days(Duration::from_secs(so_far.as_secs() / 86_400 * 86_400))
                    )
                })
            }
            Require::Holds(role) => {
                (!holds_at_least(person, *role)).then(|| format!("holds {}", role.title()))
            }
        };
        if let Some(text) = lacking {
            out.push(describe(p, text));
        }
    }
    out
}

fn describe(p: &Precondition, generated: String) -> String {
    p.text.clone().unwrap_or(generated)
}

/// Refuses what `promote` never does: promote someone who is not active, to a role they hold, or
/// down the pipeline; or make a second active leader.
fn refuse(roster: &Roster, person: &Person, to: Role) -> Result<(), Invalid> {
    if !person.is_active() {
        return Err(Invalid(format!(
            "{} is {}: only active members are promoted",
            person.name,
            person.state.name()
        )));
    }
    if person.has(to) {
        return Err(Invalid(format!(
            "{} already holds {}",
            person.name,
            to.title()
        )));
    }
    if let (Some(have), Some(want)) = (person.role.rank(), to.rank())
        && want < have
    {
        return Err(Invalid(format!(
            "{} is {}: {} is a demotion, which promote does not do",
            person.name,
            person.role.title(),
            to.title()
        )));
    }
    if to == Role::Leader
        && let Some(other) = roster
            .people
            .iter()
            .find(|p| p.is_active() && p.has(Role::Leader) && p.id != person.id)
    {
        return Err(Invalid(format!(
            "{} already leads the team, and at most one active member does",
            other.name
        )));
    }
    Ok(())
}

/// `team promote NAME --to ROLE [--override REASON]`.
pub async fn promote(
    store: &Store,
    team: &Team,
    query: &str,
    to: Role,
    override_reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Promoted> {
    if override_reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(Invalid("--override needs a reason".to_owned()).into());
    }
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let person = roster.find(query)?.clone();
    refuse(&roster, &person, to)?;
    let lacking = missing(team, &roster, &person, to, now);
    let overridden = match (lacking.is_empty(), override_reason) {
        (true, _) => Vec::new(),
        (false, Some(_)) => lacking,
        (false, None) => {
            return Err(Refused {
                name: person.name.clone(),
                title: to.title().to_owned(),
                missing: lacking,
            }
            .into());
        }
    };
    let from = move_role_in(&mut tx, &person, to, now).await?;
    record_in(
        &mut tx,
        &person,
        from,
        to,
        &overridden,
        override_reason,
        actor,
        now,
    )
    .await?;
    let person = Roster::load_in(&mut tx, Some(person.id))
        .await?
        .people
        .into_iter()
        .next()
        .unwrap_or(person);
    let opened = open_in(&mut tx, team, &person, to, actor, now).await?;
    tx.commit().await?;
    Ok(Promoted {
        person,
        from,
        to,
        overridden,
        opened,
    })
}

/// Ends the pipeline stint and starts the new one (or starts leading); returns the role left.
async fn move_role_in(
    tx: &mut Tx,
    person: &Person,
    to: Role,
    now: DateTime<Utc>,
) -> Result<Option<Role>> {
    let now_ms = now.timestamp_millis();
    let from = if to.is_pipeline() {
        Store::team_close_role_in(tx, person.id, person.role.name(), now_ms).await?;
        Some(person.role)
    } else {
        None
    };
    Store::team_open_role_in(tx, person.id, to.name(), now_ms).await?;
    Ok(from)
}

/// The audit events of a promotion: the override (with its reason and what it overrode), then the
/// promotion itself.
#[allow(clippy::too_many_arguments)]
async fn record_in(
    tx: &mut Tx,
    person: &Person,
    from: Option<Role>,
    to: Role,
    overridden: &[String],
    override_reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let reason = override_reason.unwrap_or("team promote");
    if !overridden.is_empty() {
        let detail = format!("promotion to {to} without: {}", overridden.join("; "));
        let ev = Ev {
            actor,
            action: "override",
            reason,
            detail: &detail,
        };
        event_in(tx, person, ev, now).await?;
    }
    let detail = match from {
        Some(from) => format!("{from} -> {to}"),
        None => format!("{to} beside {}", person.role),
    };
    let ev = Ev {
        actor,
        action: "promoted",
        reason,
        detail: &detail,
    };
    event_in(tx, person, ev, now).await
}
