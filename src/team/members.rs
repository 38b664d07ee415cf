//! Joining and leaving: `team add` (a newcomer, whose role opens its checklists), `team import` (the
//! existing roster from a CSV file, in one transaction, opening no checklists: those people are not
//! newcomers), `team pause` / `team resume`, and `team retire` (the person's open checklist items are
//! closed; what happens to their rights is the handover work's).

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::checklist::{Opened, open_in};
use super::roster::Roster;
use super::{Ev, Invalid, Person, Role, State, Team, date, event_in, find_in};
use crate::store::{NewPerson, Store, Tx};

/// A person to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMember {
    pub name: String,
    /// The primary address first.
    pub addresses: Vec<String>,
    /// One pipeline role, and `leader` beside it if they lead.
    pub roles: Vec<Role>,
    pub alias: String,
    /// IANA timezone (`Europe/Berlin`); empty when unknown.
    pub tz: String,
    /// Since when they hold the role; now when absent.
    pub since: Option<DateTime<Utc>>,
}

/// A checked [`NewMember`]: lowercased addresses, the pipeline role, whether they lead.
struct Checked {
    addresses: Vec<String>,
    roles: Vec<Role>,
    since_ms: i64,
}

impl NewMember {
    fn check(&self, now: DateTime<Utc>) -> Result<Checked, Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Invalid(format!("{:?} is not a name", self.name)));
        }
        let mut addresses: Vec<String> = Vec::new();
        for a in &self.addresses {
            let lower = a.trim().to_lowercase();
            lower
                .parse::<lettre::Address>()
                .map_err(|e| Invalid(format!("{a:?} is not an address: {e}")))?;
            if addresses.contains(&lower) {
                return Err(Invalid(format!("address {lower} is given twice")));
            }
            addresses.push(lower);
        }
        if addresses.is_empty() {
            return Err(Invalid(format!("{name} needs an address")));
        }
        let pipeline: Vec<Role> = self
            .roles
            .iter()
            .copied()
            .filter(|r| r.is_pipeline())
            .collect();
        let [role] = pipeline.as_slice() else {
            return Err(Invalid(format!(
                "a person holds one pipeline role (assurer, triage, se, cm, arbitrator), and leader \
                 beside it: got {}",
                self.roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !self.tz.is_empty() && self.tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(Invalid(format!(
                "{:?} is not an IANA timezone such as Europe/Berlin",
                self.tz
            )));
        }
        let since = self.since.unwrap_or(now);
        if since > now {
            return Err(Invalid(format!(
                "since {} is in the future",
                date(since.timestamp_millis())
            )));
        }
        let mut roles = vec![*role];
        if self.roles.contains(&Role::Leader) {
            roles.push(Role::Leader);
        }
        Ok(Checked {
            addresses,
            roles,
            since_ms: since.timestamp_millis(),
        })
    }
}

/// What `team add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub person: Person,
    pub opened: Vec<Opened>,
}

/// Inserts a checked member after refusing an address already on the roster and a second active
/// leader; records `person-added`.
async fn insert_in(
    tx: &mut Tx,
    new: &NewMember,
    checked: &Checked,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Person> {
    for a in &checked.addresses {
        if let Some(id) = Store::team_address_owner_in(tx, a).await? {
            let owner = Roster::load_in(tx, Some(id)).await?;
            let name = owner.people.first().map_or("someone", |p| p.name.as_str());
            return Err(Invalid(format!("{a} is already on the roster ({name})")).into());
        }
    }
    if checked.roles.contains(&Role::Leader) {
        let roster = Roster::load_in(tx, None).await?;
        if let Some(other) = roster
            .people
            .iter()
            .find(|p| p.is_active() && p.has(Role::Leader))
        {
            return Err(Invalid(format!(
                "{} already leads the team, and at most one active member does",
                other.name
            ))
            .into());
        }
    }
    let roles: Vec<&str> = checked.roles.iter().map(|r| r.name()).collect();
    let id = Store::team_insert_person_in(
        tx,
        &NewPerson {
            name: new.name.trim(),
            alias: new.alias.trim(),
            tz: new.tz.trim(),
            addresses: &checked.addresses,
            roles: &roles,
            since_ms: checked.since_ms,
            created_ms: now.timestamp_millis(),
        },
    )
    .await?;
    let person = Roster::load_in(tx, Some(id))
        .await?
        .people
        .into_iter()
        .next()
        .context("read the person just added")?;
    let detail = format!("{} since {}", roles.join(" + "), date(checked.since_ms));
    let ev = Ev {
        actor,
        action: "person-added",
        reason,
        detail: &detail,
    };
    event_in(tx, &person, ev, now).await?;
    Ok(person)
}

/// `team add "NAME <ADDR>" --role ROLE`: the person joins, and their roles open their checklists.
pub async fn add(
    store: &Store,
    team: &Team,
    new: &NewMember,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Added> {
    let checked = new.check(now)?;
    let mut tx = store.begin().await?;
    let person = insert_in(&mut tx, new, &checked, "team add", actor, now).await?;
    let mut opened = Vec::new();
    for role in &checked.roles {
        opened.extend(open_in(&mut tx, team, &person, *role, actor, now).await?);
    }
    tx.commit().await?;
    Ok(Added { person, opened })
}

/// `team import FILE.csv`: every row added in one transaction, or none (the error names the line).
pub async fn import(
    store: &Store,
    rows: &[(usize, NewMember)],
    label: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Person>> {
    let mut tx = store.begin().await?;
    let mut added = Vec::with_capacity(rows.len());
    for (line, new) in rows {
        let at = |e: anyhow::Error| match e.downcast::<Invalid>() {
            Ok(Invalid(why)) => anyhow::Error::new(Invalid(format!("{label}:{line}: {why}"))),
            Err(e) => e.context(format!("{label}:{line}")),
        };
        let checked = new.check(now).map_err(|e| at(e.into()))?;
        let reason = format!("team import {label}:{line}");
        let person = insert_in(&mut tx, new, &checked, &reason, actor, now)
            .await
            .map_err(at)?;
        added.push(person);
    }
    tx.commit().await?;
    Ok(added)
}

/// `team pause NAME` (`paused` true) and `team resume NAME`.
pub async fn set_paused(
    store: &Store,
    query: &str,
    paused: bool,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Person> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let mut person = roster.find(query)?.clone();
    let (from, to, action) = if paused {
        (State::Active, State::Paused, "paused")
    } else {
        (State::Paused, State::Active, "resumed")
    };
    if person.state != from {
        return Err(Invalid(format!(
            "{} is {}, not {}",
            person.name,
            person.state.name(),
            from.name()
        ))
        .into());
    }
    if to == State::Active
        && person.has(Role::Leader)
        && let Some(other) = roster
            .people
            .iter()
            .find(|p| p.is_active() && p.has(Role::Leader))
    {
        return Err(Invalid(format!(
            "{} leads the team now; at most one active member does",
            other.name
        ))
        .into());
    }
    Store::team_set_state_in(&mut tx, person.id, to.name(), now.timestamp_millis()).await?;
    let reason = if reason.is_empty() { action } else { reason };
    let ev = Ev {
        actor,
        action,
        reason,
        detail: "",
    };
    event_in(&mut tx, &person, ev, now).await?;
    tx.commit().await?;
    person.state = to;
    person.state_since_ms = now.timestamp_millis();
    Ok(person)
}

/// What retiring did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    pub person: Person,
    /// Open checklist items closed.
    pub closed: u64,
}

/// Marks `person` retired for `reason` and closes their open checklist items, inside `tx`; records
/// `retired` (and `checklists-closed`). Returns how many items were closed.
pub async fn retire_in(
    tx: &mut Tx,
    person: &Person,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    if reason.trim().is_empty() {
        return Err(Invalid("retiring needs a reason".to_owned()).into());
    }
    if person.state == State::Retired {
        return Err(Invalid(format!("{} is retired already", person.name)).into());
    }
    let now_ms = now.timestamp_millis();
    Store::team_set_state_in(tx, person.id, State::Retired.name(), now_ms).await?;
    let ev = Ev {
        actor,
        action: "retired",
        reason,
        detail: "",
    };
    event_in(tx, person, ev, now).await?;
    let closed = Store::team_close_items_in(tx, person.id, now_ms, "retired").await?;
    if closed > 0 {
        let detail = format!("{closed} open item(s) closed");
        let ev = Ev {
            actor,
            action: "checklists-closed",
            reason,
            detail: &detail,
        };
        event_in(tx, person, ev, now).await?;
    }
    Ok(closed)
}

/// `team retire NAME --reason REASON`.
pub async fn retire(
    store: &Store,
    query: &str,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Retired> {
    let mut tx = store.begin().await?;
    let mut person = find_in(&mut tx, query).await?;
    let closed = retire_in(&mut tx, &person, reason, actor, now).await?;
    tx.commit().await?;
    person.state = State::Retired;
    person.state_since_ms = now.timestamp_millis();
    Ok(Retired { person, closed })
}
