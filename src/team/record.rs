//! Recording a fact about a person (`team record NAME FACT [VALUE]`, `dispute abc`, and the rights and
//! S/MIME work): the value is checked against the fact's grammar, stored with the date and who recorded
//! it, written to the audit trail, and any checklist item waiting for it is ticked.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::checklist::{ItemRef, tick_facts_in};
use super::{Ev, Fact, Person, event_in, find_in};
use crate::store::{NewFact, Store, Tx};

/// What recording a fact did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub person: Person,
    pub fact: Fact,
    /// The value as stored (normalised).
    pub value: String,
    /// Items the fact completed.
    pub ticked: Vec<ItemRef>,
}

/// Records `fact` with `value` about `person` inside `tx`, with an event (`fact-recorded`; the reason
/// is `note`, or `team record` when empty) and the ticks it causes. A value the fact does not take is
/// [`super::Invalid`].
pub async fn record_fact_in(
    tx: &mut Tx,
    person: &Person,
    fact: Fact,
    value: &str,
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let value = fact.check_value(value)?;
    let id = Store::team_insert_fact_in(
        tx,
        &NewFact {
            person_id: person.id,
            fact: fact.name(),
            value: &value,
            note,
            at_ms: now.timestamp_millis(),
            actor,
        },
    )
    .await?;
    let detail = if value.is_empty() {
        fact.name().to_owned()
    } else {
        format!("{} = {value}", fact.name())
    };
    let reason = if note.is_empty() { "team record" } else { note };
    let ev = Ev {
        actor,
        action: "fact-recorded",
        reason,
        detail: &detail,
    };
    event_in(tx, person, ev, now).await?;
    let mut updated = person.clone();
    updated.facts.insert(
        fact,
        crate::store::FactRow {
            id,
            person_id: person.id,
            fact: fact.name().to_owned(),
            value: value.clone(),
            note: note.to_owned(),
            at_ms: now.timestamp_millis(),
            actor: actor.to_owned(),
        },
    );
    let ticked = tick_facts_in(tx, &updated, &format!("{} recorded", fact.name()), now).await?;
    Ok(Recorded {
        person: updated,
        fact,
        value,
        ticked,
    })
}

/// `team record NAME FACT [VALUE] [--note]`: an unknown person or fact is [`super::Unknown`].
pub async fn record(
    store: &Store,
    query: &str,
    fact: &str,
    value: &str,
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let fact: Fact = fact.parse()?;
    let mut tx = store.begin().await?;
    let person = find_in(&mut tx, query).await?;
    let recorded = record_fact_in(&mut tx, &person, fact, value, note, actor, now).await?;
    tx.commit().await?;
    Ok(recorded)
}
