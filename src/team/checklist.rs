//! Checklists per person: entering a role opens the checklists the file gives that role (each item with
//! its due time counted from then); an item is ticked by a person (`team checklist NAME --done ITEM`), or
//! by triaged itself when it did the thing (an action such as `welcome-pack`) or when the facts the item
//! waits for are all recorded. Every opening and tick is an audit event.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::roster::Roster;
use super::{Ev, Person, Role, Team, Unknown, event_in};
use crate::outbox::millis;
use crate::store::{ItemRow, NewItem, Store, Tx};

/// Who ticks what triaged did itself.
pub const TRIAGED: &str = "triaged";

/// A checklist item, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub checklist: String,
    /// The checklist's title (`Welcome`).
    pub title: String,
    pub item: String,
    pub text: String,
}

impl ItemRef {
    fn of(row: &ItemRow) -> ItemRef {
        ItemRef {
            checklist: row.checklist.clone(),
            title: row.title.clone(),
            item: row.item.clone(),
            text: row.text.clone(),
        }
    }
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.checklist, self.item)
    }
}

/// A checklist opened for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub checklist: String,
    pub title: String,
    /// Items opened now (an item the person already had is left as it was).
    pub items: usize,
    /// Items ticked at once because their facts were already recorded.
    pub ticked: Vec<ItemRef>,
}

/// What asking to tick an item did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub ticked: Vec<ItemRef>,
    /// Items the name matched that were done already.
    pub already: Vec<ItemRow>,
}

/// The person's items, read in `tx`.
async fn items_in(tx: &mut Tx, person_id: i64) -> Result<Vec<ItemRow>> {
    Ok(Roster::load_in(tx, Some(person_id)).await?.items)
}

async fn tick_row_in(
    tx: &mut Tx,
    person: &Person,
    row: &ItemRow,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !Store::team_tick_item_in(tx, row.id, now.timestamp_millis(), actor, reason).await? {
        return Ok(false);
    }
    let detail = format!("{}/{}: {}", row.checklist, row.item, row.text);
    let ev = Ev {
        actor,
        action: "ticked",
        reason,
        detail: &detail,
    };
    event_in(tx, person, ev, now).await?;
    Ok(true)
}

/// Opens the checklists entering `role` opens for `person`, then ticks the items whose facts are
/// already recorded.
pub(crate) async fn open_in(
    tx: &mut Tx,
    team: &Team,
    person: &Person,
    role: Role,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Opened>> {
    let now_ms = now.timestamp_millis();
    let mut opened = Vec::new();
    for list in team.checklists_of(role) {
        let mut n = 0;
        for (position, item) in list.items.iter().enumerate() {
            let facts: Vec<&str> = item.facts.iter().map(|f| f.name()).collect();
            let new = NewItem {
                person_id: person.id,
                checklist: &list.id,
                title: &list.title,
                item: &item.id,
                text: &item.text,
                facts: &facts.join(" "),
                action: item.action.as_deref().unwrap_or(""),
                position: position as i64,
                opened_ms: now_ms,
                due_ms: item.due.map_or(0, |d| now_ms.saturating_add(millis(d))),
            };
            n += usize::from(Store::team_open_item_in(tx, &new).await?);
        }
        let detail = format!("{} ({n} items)", list.title);
        let reason = format!("entered {}", role.name());
        let ev = Ev {
            actor,
            action: "checklist-opened",
            reason: &reason,
            detail: &detail,
        };
        event_in(tx, person, ev, now).await?;
        opened.push(Opened {
            checklist: list.id.clone(),
            title: list.title.clone(),
            items: n,
            ticked: Vec::new(),
        });
    }
    let ticked = tick_facts_in(tx, person, "facts recorded before", now).await?;
    for o in &mut opened {
        o.ticked = ticked
            .iter()
            .filter(|t| t.checklist == o.checklist)
            .cloned()
            .collect();
    }
    Ok(opened)
}

/// Ticks `person`'s open items whose facts are now all recorded (and hold).
pub(crate) async fn tick_facts_in(
    tx: &mut Tx,
    person: &Person,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ItemRef>> {
    let mut ticked = Vec::new();
    for row in items_in(tx, person.id).await? {
        if row.state != "open" || row.facts.is_empty() {
            continue;
        }
        let all = row.facts.split_whitespace().all(|name| {
            name.parse::<super::Fact>()
                .is_ok_and(|f| person.fact(f).is_some_and(|v| f.holds(v)))
        });
        if all && tick_row_in(tx, person, &row, TRIAGED, reason, now).await? {
            ticked.push(ItemRef::of(&row));
        }
    }
    Ok(ticked)
}

/// Ticks `person`'s open items that `action` ticks (one of [`super::ACTIONS`]): what triaged calls when
/// it did the thing itself (the handover work, after applying mailbox rights: `mailbox-rights`).
pub async fn tick_action_in(
    tx: &mut Tx,
    person: &Person,
    action: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ItemRef>> {
    let mut ticked = Vec::new();
    for row in items_in(tx, person.id).await? {
        if row.state == "open"
            && row.action == action
            && tick_row_in(tx, person, &row, TRIAGED, reason, now).await?
        {
            ticked.push(ItemRef::of(&row));
        }
    }
    Ok(ticked)
}

/// Ticks `person`'s item `name` (`ITEM`, or `CHECKLIST/ITEM` when several checklists have it; an
/// unqualified name ticks it in each open checklist). An item already done is reported, not an
/// error; a name the person's checklists do not have is [`Unknown`], listing theirs.
pub async fn tick_in(
    tx: &mut Tx,
    person: &Person,
    name: &str,
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<TickOutcome> {
    let items = items_in(tx, person.id).await?;
    let (list, item) = match name.split_once('/') {
        Some((l, i)) => (Some(l), i),
        None => (None, name),
    };
    let matching: Vec<&ItemRow> = items
        .iter()
        .filter(|r| r.state != "closed" && r.item == item && list.is_none_or(|l| l == r.checklist))
        .collect();
    if matching.is_empty() {
        let valid = items
            .iter()
            .filter(|r| r.state == "open")
            .map(|r| format!("{}/{}", r.checklist, r.item))
            .collect();
        return Err(Unknown::new("checklist item", name, valid).into());
    }
    let mut out = TickOutcome::default();
    let reason = if note.is_empty() {
        "team checklist"
    } else {
        note
    };
    for row in matching {
        if row.state == "done" {
            out.already.push(row.clone());
        } else if tick_row_in(tx, person, row, actor, reason, now).await? {
            out.ticked.push(ItemRef::of(row));
        }
    }
    Ok(out)
}

/// What `team checklist` shows: the person's items after ticking one, if asked.
#[derive(Debug, Clone)]
pub struct ChecklistView {
    pub person: Person,
    pub outcome: Option<TickOutcome>,
    pub items: Vec<ItemRow>,
}

/// `team checklist NAME [--done ITEM]`: ticks `done` when given, then reads the person's checklists.
pub async fn tick(
    store: &Store,
    query: &str,
    done: Option<&str>,
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ChecklistView> {
    let mut tx = store.begin().await?;
    let person = super::find_in(&mut tx, query).await?;
    let outcome = match done {
        Some(name) => Some(tick_in(&mut tx, &person, name, note, actor, now).await?),
        None => None,
    };
    let items = items_in(&mut tx, person.id).await?;
    tx.commit().await?;
    Ok(ChecklistView {
        person,
        outcome,
        items,
    })
}
