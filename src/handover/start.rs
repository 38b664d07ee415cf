//! Opening a handover (`handover start`, and `team retire`, which opens one of everything the person
//! holds), confirming it (`handover confirm`), and reading handovers back (`handover list`, `show`).
//! Opening queues the handover notice to both people and the team address in the same transaction.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::assets::{Assets, Grant};
use super::holdings::Holdings;
use super::{FAILED, LEADER_SCOPE, PENDING, subject};
use crate::outbox::{Outbox, Queued};
use crate::store::{HandoverAssetRow, HandoverRow, NewEvent, NewHandover, Store, Tx};
use crate::team::{Invalid, Person, Retired, Role, Roster, Unknown, retire_in};
use crate::templates::{HandoverNotice, Templates};

/// What a handover covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One asset by name.
    Asset(String),
    /// The team leader's job: every asset the leader role holds, manual items included.
    Leader,
    /// Everything a retiring person holds.
    Retire,
}

impl Scope {
    fn stored(&self) -> String {
        match self {
            Scope::Asset(name) => format!("asset:{name}"),
            Scope::Leader => LEADER_SCOPE.to_owned(),
            Scope::Retire => "retire".to_owned(),
        }
    }
}

/// A handover opened.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: i64,
    pub from: Person,
    pub to: Option<Person>,
    /// Asset name, what is handed over, critical.
    pub assets: Vec<(String, String, bool)>,
    pub notices: Vec<Queued>,
}

/// A handover as shown: its row, the people's names and its assets.
#[derive(Debug, Clone)]
pub struct Shown {
    pub handover: HandoverRow,
    pub from: String,
    pub to: String,
    pub confirmed_by: String,
    pub assets: Vec<HandoverAssetRow>,
}

/// A confirmation recorded.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub id: i64,
    pub by: Person,
}

/// What the mail part of opening a handover needs.
pub struct Mail<'a> {
    pub outbox: &'a Outbox,
    pub templates: &'a Templates,
}

/// Who held what before: read in `tx`.
async fn holdings_in(tx: &mut Tx, assets: &Assets) -> Result<(Roster, Holdings, Vec<HandoverRow>)> {
    let roster = Roster::load_in(tx, None).await?;
    let handovers = Store::handovers_in(tx, None).await?;
    let rows = Store::handover_assets_in(tx, None).await?;
    let holdings = Holdings::new(assets, &roster, &handovers, &rows);
    Ok((roster, holdings, handovers))
}

/// `handover start (--asset A | --role leader) --from X --to Y [--reason R]`.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    store: &Store,
    mail: &Mail<'_>,
    assets: &Assets,
    scope: &Scope,
    from: &str,
    to: &str,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Started> {
    let mut tx = store.begin().await?;
    let (roster, holdings, _) = holdings_in(&mut tx, assets).await?;
    let from = roster.find(from)?.clone();
    let to = roster.find(to)?.clone();
    if from.id == to.id {
        return Err(Invalid(format!("{} cannot hand over to themselves", from.name)).into());
    }
    if !to.is_active() {
        return Err(Invalid(format!("{} is {}: not active", to.name, to.state.name())).into());
    }
    let chosen = choose(assets, &holdings, scope, &from)?;
    let started = open_in(
        &mut tx,
        mail,
        scope,
        &from,
        Some(&to),
        chosen,
        reason,
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(started)
}

/// The assets a handover of `scope` from `from` covers, with what is handed over.
fn choose(
    assets: &Assets,
    holdings: &Holdings,
    scope: &Scope,
    from: &Person,
) -> Result<Vec<(String, String, bool, &'static str)>> {
    let mut out = Vec::new();
    match scope {
        Scope::Asset(name) => {
            let asset = assets
                .get(name)
                .ok_or_else(|| Unknown::new("asset", name, assets.names()))?;
            let Some(grant) = holdings.of(name, from.id) else {
                return Err(Invalid(format!("{} does not hold {name}", from.name)).into());
            };
            out.push((
                name.clone(),
                grant.text(),
                asset.critical,
                asset.kind_name(),
            ));
        }
        Scope::Leader => {
            if !from.has(Role::Leader) {
                return Err(Invalid(format!("{} is not the team leader", from.name)).into());
            }
            for a in &assets.0 {
                if let Some(g) = a.grant_for(&[Role::Leader]) {
                    out.push((a.name.clone(), g.text(), a.critical, a.kind_name()));
                }
            }
        }
        Scope::Retire => {
            for a in &assets.0 {
                if let Some(g) = holdings.of(&a.name, from.id) {
                    let text = if matches!(g, Grant::Manual) {
                        String::new()
                    } else {
                        g.text()
                    };
                    out.push((a.name.clone(), text, a.critical, a.kind_name()));
                }
            }
        }
    }
    Ok(out)
}

/// Refuses an asset already in an open handover.
async fn refuse_open(tx: &mut Tx, chosen: &[(String, String, bool, &str)]) -> Result<()> {
    let handovers = Store::handovers_in(tx, None).await?;
    let rows = Store::handover_assets_in(tx, None).await?;
    for (name, ..) in chosen {
        let open = rows.iter().find(|r| {
            r.asset == *name
                && handovers
                    .iter()
                    .any(|h| h.id == r.handover_id && h.closed_ms == 0)
        });
        if let Some(r) = open {
            return Err(Invalid(format!(
                "{name} is already in open handover {} (handover show {})",
                r.handover_id, r.handover_id
            ))
            .into());
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn open_in(
    tx: &mut Tx,
    mail: &Mail<'_>,
    scope: &Scope,
    from: &Person,
    to: Option<&Person>,
    chosen: Vec<(String, String, bool, &'static str)>,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Started> {
    refuse_open(tx, &chosen).await?;
    let now_ms = now.timestamp_millis();
    let id = Store::handover_insert_in(
        tx,
        &NewHandover {
            scope: &scope.stored(),
            from_person: from.id,
            to_person: to.map_or(0, |p| p.id),
            reason,
            opened_ms: now_ms,
            opened_by: actor,
        },
    )
    .await?;
    for (name, rights, critical, kind) in &chosen {
        Store::handover_insert_asset_in(tx, id, name, kind, *critical, rights, now_ms).await?;
    }
    let names: Vec<String> = chosen.iter().map(|c| c.0.clone()).collect();
    let detail = format!(
        "{} from {} to {}: {}",
        scope.stored(),
        from.primary(),
        to.map_or("nobody", Person::primary),
        names.join(", ")
    );
    event_in(tx, id, actor, "handover-opened", reason, &detail, now).await?;
    let notices = notify_in(tx, mail, scope, from, to, &names, actor, now).await?;
    Ok(Started {
        id,
        from: from.clone(),
        to: to.cloned(),
        assets: chosen.into_iter().map(|(n, r, c, _)| (n, r, c)).collect(),
        notices,
    })
}

/// Queues the handover notice to both people and the team address.
#[allow(clippy::too_many_arguments)]
async fn notify_in(
    tx: &mut Tx,
    mail: &Mail<'_>,
    scope: &Scope,
    from: &Person,
    to: Option<&Person>,
    names: &[String],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Queued>> {
    let team = mail.outbox.config().from.clone();
    let mut recipients = vec![(from.name.clone(), from.mailbox()?.to_string())];
    if let Some(to) = to {
        recipients.push((to.name.clone(), to.mailbox()?.to_string()));
    }
    recipients.push((
        team.name.clone().unwrap_or_else(|| "team".to_owned()),
        team.to_string(),
    ));
    let role = match scope {
        Scope::Asset(name) => name.clone(),
        Scope::Leader => Role::Leader.title().to_owned(),
        Scope::Retire => format!("{} (leaving the team)", from.role.title()),
    };
    let mut out = Vec::new();
    for (name, recipient) in recipients {
        let ctx = HandoverNotice {
            recipient,
            recipient_name: name,
            outgoing: from.name.clone(),
            incoming: to.map_or_else(|| "the team".to_owned(), |p| p.name.clone()),
            role: role.clone(),
            assets: names.to_vec(),
            effective: crate::team::date(now.timestamp_millis()),
        };
        let rendered = mail.templates.render(&ctx)?;
        out.push(mail.outbox.enqueue_in(tx, &rendered, actor, now).await?);
    }
    Ok(out)
}

/// Records one event about handover `id` in `tx`.
pub(super) async fn event_in(
    tx: &mut Tx,
    id: i64,
    actor: &str,
    action: &str,
    reason: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let subject = subject(id);
    Store::record_event_in(
        tx,
        &NewEvent {
            at_ms: now.timestamp_millis(),
            actor,
            subject: &subject,
            action,
            reason,
            detail,
        },
    )
    .await?;
    Ok(())
}

/// `team retire NAME --reason R`: retires the person and opens a handover of everything they hold.
pub async fn retire(
    store: &Store,
    mail: &Mail<'_>,
    assets: &Assets,
    query: &str,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Retired, Option<Started>)> {
    let mut tx = store.begin().await?;
    let (roster, holdings, _) = holdings_in(&mut tx, assets).await?;
    let mut person = roster.find(query)?.clone();
    let chosen = choose(assets, &holdings, &Scope::Retire, &person)?;
    let closed = retire_in(&mut tx, &person, reason, actor, now).await?;
    person.state = crate::team::State::Retired;
    person.state_since_ms = now.timestamp_millis();
    let started = if chosen.is_empty() {
        None
    } else {
        let s = open_in(
            &mut tx,
            mail,
            &Scope::Retire,
            &person,
            None,
            chosen,
            reason,
            actor,
            now,
        )
        .await?;
        Some(s)
    };
    tx.commit().await?;
    Ok((Retired { person, closed }, started))
}

/// The handover `id` and its assets, or [`Unknown`] listing the handovers there are.
pub(super) async fn load_in(tx: &mut Tx, id: i64) -> Result<(HandoverRow, Vec<HandoverAssetRow>)> {
    let all = Store::handovers_in(tx, None).await?;
    let Some(h) = all.iter().find(|h| h.id == id).cloned() else {
        let valid = all.iter().map(|h| h.id.to_string()).collect();
        return Err(Unknown::new("handover", &id.to_string(), valid).into());
    };
    let rows = Store::handover_assets_in(tx, Some(id)).await?;
    Ok((h, rows))
}

/// `handover confirm ID --by NAME`: a second active member, neither of the two people, agrees.
pub async fn confirm(
    store: &Store,
    id: i64,
    by: &str,
    os_user: &str,
    now: DateTime<Utc>,
) -> Result<Confirmed> {
    let mut tx = store.begin().await?;
    let (h, _) = load_in(&mut tx, id).await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let by = roster.find(by)?.clone();
    if h.closed_ms != 0 {
        return Err(Invalid(format!("handover {id} is closed")).into());
    }
    if by.id == h.from_person || by.id == h.to_person {
        return Err(Invalid(format!(
            "{} is part of handover {id}: another member must confirm",
            by.name
        ))
        .into());
    }
    if !by.is_active() {
        return Err(Invalid(format!("{} is {}: not active", by.name, by.state.name())).into());
    }
    Store::handover_confirm_in(&mut tx, id, by.id, os_user, now.timestamp_millis()).await?;
    let detail = format!("by {} <{}>, OS user {os_user}", by.name, by.primary());
    event_in(
        &mut tx,
        id,
        os_user,
        "handover-confirmed",
        "handover confirm",
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Confirmed { id, by })
}

fn shown(roster: &Roster, h: HandoverRow, assets: Vec<HandoverAssetRow>) -> Shown {
    let name = |id: i64| match (id, roster.get(id)) {
        (0, _) => "-".to_owned(),
        (_, Some(p)) => format!("{} <{}>", p.name, p.primary()),
        (_, None) => format!("person {id}"),
    };
    Shown {
        from: name(h.from_person),
        to: name(h.to_person),
        confirmed_by: name(h.confirmed_by),
        handover: h,
        assets,
    }
}

/// `handover list`: every handover with its assets, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Shown>> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let all = Store::handovers_in(&mut tx, None).await?;
    let rows = Store::handover_assets_in(&mut tx, None).await?;
    Ok(all
        .into_iter()
        .map(|h| {
            let mine = rows
                .iter()
                .filter(|r| r.handover_id == h.id)
                .cloned()
                .collect();
            shown(&roster, h, mine)
        })
        .collect())
}

/// `handover show ID`.
pub async fn show(store: &Store, id: i64) -> Result<Shown> {
    let mut tx = store.begin().await?;
    let (h, rows) = load_in(&mut tx, id).await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    Ok(shown(&roster, h, rows))
}

/// Whether a row still waits for work (never applied, or failed before it was).
pub(super) fn waiting(row: &HandoverAssetRow) -> bool {
    row.applied_ms == 0 && (row.state == PENDING || row.state == FAILED)
}
