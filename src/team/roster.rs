//! The roster as the team room sees it: each [`Person`] assembled from the stored rows (addresses, the
//! role held now and since when, the latest value of each fact), and the lookups every command and the
//! rooms above use: by name, alias or address.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::{Fact, Invalid, Role, Unknown};
use crate::store::{CertificateRow, FactRow, ItemRow, PingRow, RoleRow, RosterRows, Store, Tx};

/// Where a person stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Active,
    /// Away for a while: not pinged, not counted for a role.
    Paused,
    /// Left the team; their checklists are closed.
    Retired,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Paused => "paused",
            State::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<State> {
        Ok(match s {
            "active" => State::Active,
            "paused" => State::Paused,
            "retired" => State::Retired,
            other => anyhow::bail!("stored person state {other:?} is unknown"),
        })
    }
}

/// A person on the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: i64,
    pub name: String,
    /// The name they are known by in the community; may be empty.
    pub alias: String,
    /// Lowercased; the first is the primary address (mail goes there, events name it).
    pub addresses: Vec<String>,
    /// IANA timezone; empty when unknown.
    pub tz: String,
    pub state: State,
    pub state_since_ms: i64,
    /// The pipeline role held now, and since when.
    pub role: Role,
    pub role_since_ms: i64,
    /// Since when they lead the team, if they do.
    pub leader_since_ms: Option<i64>,
    /// The latest recorded value of each fact.
    pub facts: BTreeMap<Fact, FactRow>,
    /// When a reply to a ping was last seen; 0 never.
    pub last_seen_ms: i64,
    pub created_ms: i64,
}

impl Person {
    /// The primary address.
    pub fn primary(&self) -> &str {
        self.addresses.first().map_or("", String::as_str)
    }

    /// `Name <primary>`, for mail.
    pub fn mailbox(&self) -> Result<lettre::message::Mailbox> {
        let email = self
            .primary()
            .parse()
            .with_context(|| format!("address of {}", self.name))?;
        Ok(lettre::message::Mailbox::new(
            Some(self.name.clone()),
            email,
        ))
    }

    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// Whether the person holds `role` now (the pipeline role, or `leader` beside it).
    pub fn has(&self, role: Role) -> bool {
        self.role == role || (role == Role::Leader && self.leader_since_ms.is_some())
    }

    /// The roles held, pipeline role first.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles = vec![self.role];
        if self.leader_since_ms.is_some() {
            roles.push(Role::Leader);
        }
        roles
    }

    /// The latest value of `fact`, if recorded.
    pub fn fact(&self, fact: Fact) -> Option<&str> {
        self.facts.get(&fact).map(|f| f.value.as_str())
    }
}

/// Everything stored about the roster (or one person), assembled.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// In order of addition.
    pub people: Vec<Person>,
    /// Every role stint, oldest first.
    pub stints: Vec<RoleRow>,
    /// Every checklist item.
    pub items: Vec<ItemRow>,
    /// The latest ping per person id.
    pub pings: BTreeMap<i64, PingRow>,
    /// Every certificate recorded on a person, oldest first.
    pub certificates: Vec<CertificateRow>,
}

impl Roster {
    /// Builds the roster from stored rows.
    pub fn from_rows(rows: RosterRows) -> Result<Roster> {
        let mut people = Vec::with_capacity(rows.people.len());
        for p in rows.people {
            let open = |r: &&RoleRow| r.person_id == p.id && r.until_ms == 0;
            let mut role = None;
            let mut leader = None;
            for stint in rows.roles.iter().filter(open) {
                match stint.role.parse::<Role>()? {
                    Role::Leader => leader = Some(stint.since_ms),
                    r => role = Some((r, stint.since_ms)),
                }
            }
            let (role, role_since_ms) =
                role.with_context(|| format!("{} holds no pipeline role", p.name))?;
            let mut facts = BTreeMap::new();
            for f in rows.facts.iter().filter(|f| f.person_id == p.id) {
                // A fact no longer known to this build is kept in the store and ignored here.
                if let Ok(fact) = f.fact.parse::<Fact>() {
                    facts.insert(fact, f.clone());
                }
            }
            people.push(Person {
                id: p.id,
                addresses: rows
                    .addresses
                    .iter()
                    .filter(|a| a.person_id == p.id)
                    .map(|a| a.address.clone())
                    .collect(),
                name: p.name,
                alias: p.alias,
                tz: p.tz,
                state: State::parse(&p.state)?,
                state_since_ms: p.state_since_ms,
                role,
                role_since_ms,
                leader_since_ms: leader,
                facts,
                last_seen_ms: p.last_seen_ms,
                created_ms: p.created_ms,
            });
        }
        Ok(Roster {
            people,
            stints: rows.roles,
            items: rows.items,
            pings: rows.pings.into_iter().map(|p| (p.person_id, p)).collect(),
            certificates: rows.certificates,
        })
    }

    /// Reads the whole roster (`None`) or one person in `tx`.
    pub async fn load_in(tx: &mut Tx, only: Option<i64>) -> Result<Roster> {
        Roster::from_rows(Store::team_roster_in(tx, only).await?)
    }

    /// The person `query` names: an address, a name or an alias (any case), else the one name that
    /// contains it. None is [`Unknown`], several is [`Invalid`], each listing the candidates.
    pub fn find(&self, query: &str) -> Result<&Person> {
        let q = query.trim().to_lowercase();
        let exact: Vec<&Person> = self
            .people
            .iter()
            .filter(|p| {
                p.addresses.contains(&q)
                    || p.name.to_lowercase() == q
                    || (!p.alias.is_empty() && p.alias.to_lowercase() == q)
            })
            .collect();
        let found = if exact.is_empty() && !q.is_empty() {
            self.people
                .iter()
                .filter(|p| p.name.to_lowercase().contains(&q))
                .collect()
        } else {
            exact
        };
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(Unknown::new(
                "person",
                query,
                self.people.iter().map(|p| p.name.clone()).collect(),
            )
            .into()),
            many => Err(Invalid(format!(
                "{query:?} names more than one person: {}; give an address",
                many.iter()
                    .map(|p| format!("{} <{}>", p.name, p.primary()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into()),
        }
    }

    /// The person with `id`.
    pub fn get(&self, id: i64) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The items of person `id`, in order.
    pub fn items_of(&self, id: i64) -> impl Iterator<Item = &ItemRow> {
        self.items.iter().filter(move |i| i.person_id == id)
    }

    /// Every stint of person `id`, oldest first.
    pub fn stints_of(&self, id: i64) -> impl Iterator<Item = &RoleRow> {
        self.stints.iter().filter(move |s| s.person_id == id)
    }
}

/// The person `query` names, read in `tx` (see [`Roster::find`]).
pub async fn find_in(tx: &mut Tx, query: &str) -> Result<Person> {
    Roster::load_in(tx, None).await?.find(query).cloned()
}

/// The person `query` (an address, a name or an alias) names.
pub async fn find(store: &Store, query: &str) -> Result<Person> {
    let mut tx = store.begin().await?;
    find_in(&mut tx, query).await
}

/// The person an address belongs to (any case), retired people included; `None` when nobody's.
pub async fn by_address_in(tx: &mut Tx, address: &str) -> Result<Option<Person>> {
    let Some(id) = Store::team_address_owner_in(tx, address).await? else {
        return Ok(None);
    };
    Ok(Roster::load_in(tx, Some(id))
        .await?
        .people
        .into_iter()
        .next())
}

/// Every active member, with their addresses, roles and facts, in order of addition.
pub async fn active_members(store: &Store) -> Result<Vec<Person>> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    Ok(roster
        .people
        .into_iter()
        .filter(Person::is_active)
        .collect())
}
