//! Reading the roster for people: the whole roster with how it stands (`team list`), and one person in
//! full with their audit trail (`team show`).

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Settings;
use super::health::Health;
use super::roster::{Person, Roster};
use crate::store::{Event, ItemRow, PingRow, RoleRow, Store};

/// The whole roster and how it stands at `now`.
pub async fn roster(
    store: &Store,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(Roster, Health)> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    drop(tx);
    let health = Health::assess(&roster, settings, now);
    Ok((roster, health))
}

/// One person in full, for `team show`: the roster row, checklists, last ping and audit trail.
#[derive(Debug, Clone)]
pub struct Shown {
    pub person: Person,
    pub stints: Vec<RoleRow>,
    pub items: Vec<ItemRow>,
    pub ping: Option<PingRow>,
    /// Every event about the person, oldest first.
    pub events: Vec<Event>,
    /// Silent past the ping grace.
    pub unresponsive: bool,
}

/// Everything about the person `query` names.
pub async fn show(
    store: &Store,
    settings: &Settings,
    query: &str,
    now: DateTime<Utc>,
) -> Result<Shown> {
    let (roster, health) = roster(store, settings, now).await?;
    let person = roster.find(query)?.clone();
    let events = store.events(Some(&super::subject(&person)), 10_000).await?;
    Ok(Shown {
        stints: roster.stints_of(person.id).cloned().collect(),
        items: roster.items_of(person.id).cloned().collect(),
        ping: roster.pings.get(&person.id).cloned(),
        unresponsive: health.unresponsive.iter().any(|u| u.person_id == person.id),
        events,
        person,
    })
}
