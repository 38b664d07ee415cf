//! The team roster's rows: people and their addresses, role stints, recorded facts, checklist items,
//! aliveness pings and members' certificates. Every statement here runs inside a caller's transaction, so a change and its audit
//! event (written by the caller through `record_event_in`) commit together. The rules (who may hold
//! which role, what ticks an item) belong to the `team` room; this only stores and reads.

mod certificates;
mod checklists;
mod pings;

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

pub use self::certificates::{CertificateBytes, CertificateRow, NewCertificate};
pub use self::checklists::{ItemRow, NewItem};
pub use self::pings::{NewPing, PingMatch, PingRow};
use super::{Store, Tx};

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub alias: String,
    /// IANA timezone, empty when unknown.
    pub tz: String,
    /// `active`, `paused` or `retired`.
    pub state: String,
    pub state_since_ms: i64,
    pub created_ms: i64,
    /// When a reply to a ping was last seen; 0 never.
    pub last_seen_ms: i64,
}

/// One of a person's addresses (lowercased); position 0 is the primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub person_id: i64,
    pub address: String,
    pub position: i64,
}

/// A stint in a role; `until_ms` is 0 while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub person_id: i64,
    pub role: String,
    pub since_ms: i64,
    pub until_ms: i64,
}

/// A recorded fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactRow {
    pub id: i64,
    pub person_id: i64,
    pub fact: String,
    pub value: String,
    pub note: String,
    pub at_ms: i64,
    /// Who recorded it (the OS user of the command, or `triaged`).
    pub actor: String,
}

/// A person to insert, with their first role stints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson<'a> {
    pub name: &'a str,
    pub alias: &'a str,
    pub tz: &'a str,
    /// Lowercased, primary first.
    pub addresses: &'a [String],
    /// Roles entered at `since_ms` (a pipeline role, and `leader` beside it).
    pub roles: &'a [&'a str],
    pub since_ms: i64,
    pub created_ms: i64,
}

/// A fact to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFact<'a> {
    pub person_id: i64,
    pub fact: &'a str,
    pub value: &'a str,
    pub note: &'a str,
    pub at_ms: i64,
    pub actor: &'a str,
}

/// Everything stored about some people (the whole roster, or one person).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterRows {
    pub people: Vec<PersonRow>,
    pub addresses: Vec<AddressRow>,
    /// Every stint, oldest first.
    pub roles: Vec<RoleRow>,
    /// Every fact, oldest first.
    pub facts: Vec<FactRow>,
    /// Every checklist item, in checklist order.
    pub items: Vec<ItemRow>,
    /// The latest ping per person.
    pub pings: Vec<PingRow>,
    /// Every certificate recorded, oldest first, without its bytes.
    pub certificates: Vec<CertificateRow>,
}

fn person(row: &AnyRow) -> Result<PersonRow, sqlx::Error> {
    Ok(PersonRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        alias: row.try_get("alias")?,
        tz: row.try_get("tz")?,
        state: row.try_get("state")?,
        state_since_ms: row.try_get("state_since_ms")?,
        created_ms: row.try_get("created_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
    })
}

fn address(row: &AnyRow) -> Result<AddressRow, sqlx::Error> {
    Ok(AddressRow {
        person_id: row.try_get("person_id")?,
        address: row.try_get("address")?,
        position: row.try_get("position")?,
    })
}

fn role(row: &AnyRow) -> Result<RoleRow, sqlx::Error> {
    Ok(RoleRow {
        person_id: row.try_get("person_id")?,
        role: row.try_get("role")?,
        since_ms: row.try_get("since_ms")?,
        until_ms: row.try_get("until_ms")?,
    })
}

fn fact(row: &AnyRow) -> Result<FactRow, sqlx::Error> {
    Ok(FactRow {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        fact: row.try_get("fact")?,
        value: row.try_get("value")?,
        note: row.try_get("note")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
    })
}

/// Runs `sql` (one `$1` for the person filter, 0 for everyone) and decodes every row.
async fn rows<T>(
    tx: &mut Tx,
    sql: &str,
    only: i64,
    decode: fn(&AnyRow) -> Result<T, sqlx::Error>,
    what: &str,
) -> Result<Vec<T>> {
    let rows = sqlx::query(sql)
        .bind(only)
        .fetch_all(&mut **tx)
        .await
        .with_context(|| format!("read team {what}"))?;
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .with_context(|| format!("decode team {what}"))
}

impl Store {
    /// Everything about one person (`Some(id)`) or the whole roster (`None`), read in `tx`.
    pub async fn team_roster_in(tx: &mut Tx, only: Option<i64>) -> Result<RosterRows> {
        let only = only.unwrap_or(0);
        let people = rows(
            tx,
            "SELECT id, name, alias, tz, state, state_since_ms, created_ms, last_seen_ms \
             FROM team_people WHERE ($1 = 0 OR id = $1) ORDER BY id",
            only,
            person,
            "people",
        )
        .await?;
        let addresses = rows(
            tx,
            "SELECT person_id, address, position FROM team_addresses \
             WHERE ($1 = 0 OR person_id = $1) ORDER BY person_id, position",
            only,
            address,
            "addresses",
        )
        .await?;
        let roles = rows(
            tx,
            "SELECT person_id, role, since_ms, until_ms FROM team_roles \
             WHERE ($1 = 0 OR person_id = $1) ORDER BY id",
            only,
            role,
            "roles",
        )
        .await?;
        let facts = rows(
            tx,
            "SELECT id, person_id, fact, value, note, at_ms, actor FROM team_facts \
             WHERE ($1 = 0 OR person_id = $1) ORDER BY id",
            only,
            fact,
            "facts",
        )
        .await?;
        let items = checklists::items_in(tx, only).await?;
        let pings = pings::latest_in(tx, only).await?;
        let certificates = certificates::listed_in(tx, only).await?;
        Ok(RosterRows {
            people,
            addresses,
            roles,
            facts,
            items,
            pings,
            certificates,
        })
    }

    /// The person an address (any case) belongs to, retired people included.
    pub async fn team_address_owner_in(tx: &mut Tx, address: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT person_id FROM team_addresses WHERE address = $1")
            .bind(address.to_lowercase())
            .fetch_optional(&mut **tx)
            .await
            .with_context(|| format!("look up the owner of {address}"))
    }

    /// Inserts a person with their addresses and first role stints; returns the person's id.
    pub async fn team_insert_person_in(tx: &mut Tx, p: &NewPerson<'_>) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO team_people (name, alias, tz, state, state_since_ms, created_ms, last_seen_ms) \
             VALUES ($1, $2, $3, 'active', $4, $4, 0) RETURNING id",
        )
        .bind(p.name)
        .bind(p.alias)
        .bind(p.tz)
        .bind(p.created_ms)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("add {} to the roster", p.name))?;
        for (position, addr) in p.addresses.iter().enumerate() {
            sqlx::query(
                "INSERT INTO team_addresses (address, person_id, position) VALUES ($1, $2, $3)",
            )
            .bind(addr.to_lowercase())
            .bind(id)
            .bind(position as i64)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("add address {addr} of {}", p.name))?;
        }
        for role in p.roles {
            Self::team_open_role_in(tx, id, role, p.since_ms).await?;
        }
        Ok(id)
    }

    /// Starts a stint of `person_id` in `role` at `since_ms`.
    pub async fn team_open_role_in(
        tx: &mut Tx,
        person_id: i64,
        role: &str,
        since_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO team_roles (person_id, role, since_ms, until_ms) VALUES ($1, $2, $3, 0)",
        )
        .bind(person_id)
        .bind(role)
        .bind(since_ms)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("give person {person_id} the role {role}"))?;
        Ok(())
    }

    /// Ends the open stint of `person_id` in `role` at `until_ms`; returns whether one was open.
    pub async fn team_close_role_in(
        tx: &mut Tx,
        person_id: i64,
        role: &str,
        until_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE team_roles SET until_ms = $1 \
             WHERE person_id = $2 AND role = $3 AND until_ms = 0",
        )
        .bind(until_ms.max(1))
        .bind(person_id)
        .bind(role)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("end the {role} stint of person {person_id}"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets the person's state (`active`, `paused`, `retired`) from `now_ms`.
    pub async fn team_set_state_in(
        tx: &mut Tx,
        person_id: i64,
        state: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE team_people SET state = $1, state_since_ms = $2 WHERE id = $3")
            .bind(state)
            .bind(now_ms)
            .bind(person_id)
            .execute(&mut **tx)
            .await
            .with_context(|| format!("set person {person_id} {state}"))?;
        Ok(())
    }

    /// Records a fact; returns its id.
    pub async fn team_insert_fact_in(tx: &mut Tx, f: &NewFact<'_>) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO team_facts (person_id, fact, value, note, at_ms, actor) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(f.person_id)
        .bind(f.fact)
        .bind(f.value)
        .bind(f.note)
        .bind(f.at_ms)
        .bind(f.actor)
        .fetch_one(&mut **tx)
        .await
        .with_context(|| format!("record {} of person {}", f.fact, f.person_id))
    }
}

#[cfg(test)]
#[path = "team/team_tests.rs"]
mod tests;
