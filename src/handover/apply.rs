//! `handover apply ID`: asset by asset, grants the incoming person what is handed over, revokes the
//! outgoing person's access, reads both back, and records the asset's state (`applied`, or `pending`
//! with the error when the server did not answer, or `failed` when it refused or read back otherwise).
//! A rerun continues with the assets not yet applied. `handover verify ID` reads every applied asset
//! again and checks the whole asset for drift.
//!
//! Manual items (and `handover tick`) are `manual`'s.
//!
//! Fail point `handover-between-assets`: between two assets of one apply (the first committed).

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::assets::{Asset, Assets, Kind};
use super::holdings::imap_user;
use super::manual::{self, manual_item};
use super::outcome::{AssetOutcome, Run};
use super::start::{event_in, load_in, waiting};
use super::sync::{Change, Op, Systems, holdings, is_refused, keep_drift, record_change, wanted};
use super::{APPLIED, FAILED, PENDING, VERIFIED, imap, lists};
use crate::config::Config;
use crate::store::{HandoverAssetRow, HandoverRow, Store};
use crate::team::{Invalid, Person, Role, Roster};

/// A failure that trying again will not mend: the server refused, a read-back differs, a person has
/// no IMAP login recorded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Permanent(String);

fn permanent(e: &anyhow::Error) -> bool {
    is_refused(e) || e.chain().any(|c| c.is::<Permanent>())
}

/// The state an error leaves an asset in: `failed` when permanent, else `pending` (the rerun retries).
fn state_after(e: &anyhow::Error) -> &'static str {
    if permanent(e) { FAILED } else { PENDING }
}

/// The two people of handover `h`.
fn people<'a>(roster: &'a Roster, h: &HandoverRow) -> Result<(&'a Person, Option<&'a Person>)> {
    let from = roster
        .get(h.from_person)
        .with_context(|| format!("person {} of handover {} is gone", h.from_person, h.id))?;
    Ok((from, roster.get(h.to_person)))
}

/// `handover apply ID`.
pub async fn apply(
    config: &Config,
    store: &Store,
    assets: &Assets,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AssetOutcome>> {
    let mut tx = store.begin().await?;
    let (h, rows) = load_in(&mut tx, id).await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    drop(tx);
    if let Some(critical) = rows.iter().find(|r| r.critical && waiting(r))
        && h.confirmed_by == 0
    {
        return Err(Invalid(format!(
            "handover {id} covers the critical asset {}: a second member must agree first \
             (handover confirm {id} --by NAME)",
            critical.asset
        ))
        .into());
    }
    let (from, to) = people(&roster, &h)?;
    let mut systems = Systems::new(config);
    let run = Run {
        store,
        id,
        actor,
        command: "handover apply",
        now,
    };
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            crate::failpoint::hit("handover-between-assets");
        }
        let asset = assets.get(&row.asset);
        let manual = asset.is_none_or(Asset::is_manual);
        if !waiting(row) || manual {
            let error = if manual && waiting(row) {
                manual_item(id, row)
            } else {
                row.error.clone()
            };
            out.push(AssetOutcome::as_is(row, error));
            continue;
        }
        let Some(asset) = asset else { continue };
        let keep = kept(&h, asset, from);
        let sides = Sides {
            from,
            to,
            keep: keep.as_ref(),
        };
        let done = apply_one(&mut systems, store, asset, row, sides, actor, now).await;
        let (state, error) = match &done {
            Ok(()) => (APPLIED, String::new()),
            Err(e) => (state_after(e), format!("{e:#}")),
        };
        let action = match state {
            APPLIED => "asset-applied",
            FAILED => "asset-failed",
            _ => "asset-pending",
        };
        if !error.is_empty() {
            tracing::warn!(handover = id, asset = %row.asset, state, error = %error, "handover asset");
        }
        out.push(run.record(row, state, error, done.is_ok(), action).await?);
    }
    systems.close().await;
    Ok(out)
}

/// Grants `to` what the row hands over, revokes `from`, reads both back.
#[allow(clippy::too_many_arguments)]
async fn apply_one(
    systems: &mut Systems<'_>,
    store: &Store,
    asset: &Asset,
    row: &HandoverAssetRow,
    sides: Sides<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Sides { from, to, keep } = sides;
    let grant = asset.grant_from(&row.rights);
    let changes = match &asset.kind {
        Kind::Imap { .. } => imap_changes(systems, asset, &grant, sides).await?,
        Kind::List { list, .. } => {
            let members = lists::members(systems.mailman()?, list).await?;
            let mut changes = Vec::new();
            if let (Some(to), super::Grant::List(action)) = (to, &grant) {
                let op = match members.get(to.primary()) {
                    None => Some(super::sync::Op::Subscribe(*action)),
                    Some(have) if have != action => Some(super::sync::Op::Moderate(*action)),
                    Some(_) => None,
                };
                changes.extend(op.map(|op| {
                    Change {
                        asset: asset.name.clone(),
                        place: list.to_string(),
                        identifier: to.primary().to_owned(),
                        op,
                        before: members
                            .get(to.primary())
                            .map(|a| a.to_string())
                            .unwrap_or_default(),
                    }
                }));
            }
            for addr in from.addresses.iter().filter(|a| members.contains_key(*a)) {
                let op = match keep {
                    Some(super::Grant::List(a)) if addr == from.primary() => {
                        if members.get(addr) == Some(a) {
                            continue;
                        }
                        Op::Moderate(*a)
                    }
                    _ => Op::Unsubscribe,
                };
                changes.push(Change {
                    asset: asset.name.clone(),
                    place: list.to_string(),
                    identifier: addr.clone(),
                    op,
                    before: members.get(addr).map(|a| a.to_string()).unwrap_or_default(),
                });
            }
            changes
        }
        Kind::Manual { .. } | Kind::Password { .. } => Vec::new(),
    };
    let reason = format!("handover {}", row.handover_id);
    for change in &changes {
        systems.carry_out(asset, change).await?;
        record_change(store, change, actor, &reason, now).await?;
    }
    read_back(systems, asset, &grant, sides).await
}

/// The two people of a handover, and what the outgoing one keeps through their other roles (a
/// leader's handover takes only what the leader role gives).
#[derive(Debug, Clone, Copy)]
struct Sides<'a> {
    from: &'a Person,
    to: Option<&'a Person>,
    keep: Option<&'a super::Grant>,
}

/// What the outgoing person keeps on `asset`: for a leader's handover, what their other roles give.
fn kept(h: &HandoverRow, asset: &Asset, from: &Person) -> Option<super::Grant> {
    if h.scope != super::LEADER_SCOPE || !from.is_active() {
        return None;
    }
    let others: Vec<Role> = from
        .roles()
        .into_iter()
        .filter(|r| *r != Role::Leader)
        .collect();
    asset.grant_for(&others)
}

/// The SETACL and DELETEACL an IMAP handover needs on each folder of the asset.
async fn imap_changes(
    systems: &mut Systems<'_>,
    asset: &Asset,
    grant: &super::Grant,
    Sides { from, to, keep }: Sides<'_>,
) -> Result<Vec<Change>> {
    let from_id = login(from)?;
    let to_id = to.map(login).transpose()?;
    let session = systems.acl().await?;
    if from_id == session.user() {
        return Err(Permanent(format!("{from_id} is triaged's own login: never revoked")).into());
    }
    let mut changes = Vec::new();
    for folder in imap::folders(session, asset).await? {
        let actual = session.get_acl(&folder).await?;
        if let (Some(to_id), super::Grant::Imap(rights)) = (&to_id, grant) {
            let have = actual.get(*to_id).cloned().unwrap_or_default();
            if !rights.is_subset(&have) {
                changes.push(Change {
                    asset: asset.name.clone(),
                    place: folder.clone(),
                    identifier: (*to_id).to_owned(),
                    op: Op::SetAcl(have.union(rights)),
                    before: have.to_string(),
                });
            }
        }
        let op = match (keep, actual.get(from_id)) {
            (Some(super::Grant::Imap(k)), have) if have != Some(k) => Some(Op::SetAcl(k.clone())),
            (Some(super::Grant::Imap(_)), _) | (_, None) => None,
            (_, Some(_)) => Some(Op::DeleteAcl),
        };
        if let Some(op) = op {
            changes.push(Change {
                asset: asset.name.clone(),
                place: folder.clone(),
                identifier: from_id.to_owned(),
                op,
                before: actual
                    .get(from_id)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            });
        }
    }
    Ok(changes)
}

fn login(p: &Person) -> Result<&str> {
    imap_user(p).ok_or_else(|| {
        Permanent(format!(
            "{} has no imap-user fact (team record {:?} imap-user LOGIN)",
            p.name, p.name
        ))
        .into()
    })
}

/// Reads the asset back: `to` holds what was handed over, `from` holds nothing.
async fn read_back(
    systems: &mut Systems<'_>,
    asset: &Asset,
    grant: &super::Grant,
    Sides { from, to, keep }: Sides<'_>,
) -> Result<()> {
    match (&asset.kind, grant) {
        (Kind::Imap { .. }, super::Grant::Imap(rights)) => {
            let from_id = login(from)?;
            let to_id = to.map(login).transpose()?;
            let session = systems.acl().await?;
            for folder in imap::folders(session, asset).await? {
                let actual = session.get_acl(&folder).await?;
                if let Some(have) = actual.get(from_id) {
                    return Err(
                        Permanent(format!("{from_id} still holds {have} on {folder:?}")).into(),
                    );
                }
                if let Some(to_id) = to_id
                    && !actual.get(to_id).is_some_and(|have| rights.is_subset(have))
                {
                    return Err(Permanent(format!(
                        "{to_id} does not read back with {rights} on {folder:?}"
                    ))
                    .into());
                }
            }
            Ok(())
        }
        (Kind::List { list, .. }, super::Grant::List(action)) => {
            let members = lists::members(systems.mailman()?, list).await?;
            let kept_action = match keep {
                Some(super::Grant::List(a)) => Some(a),
                _ => None,
            };
            for addr in from.addresses.iter().filter(|a| members.contains_key(*a)) {
                let keeps = addr == from.primary() && members.get(addr) == kept_action;
                if !keeps {
                    return Err(Permanent(format!("{addr} is still subscribed to {list}")).into());
                }
            }
            if let Some(a) = kept_action
                && members.get(from.primary()) != Some(a)
            {
                return Err(Permanent(format!(
                    "{} does not read back on {list} as {a}",
                    from.primary()
                ))
                .into());
            }
            if let Some(to) = to
                && members.get(to.primary()) != Some(action)
            {
                return Err(Permanent(format!(
                    "{} does not read back on {list} as {action}",
                    to.primary()
                ))
                .into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `handover verify ID`: reads every applied asset back and checks it for drift.
pub async fn verify(
    config: &Config,
    store: &Store,
    assets: &Assets,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AssetOutcome>> {
    let mut tx = store.begin().await?;
    let (h, rows) = load_in(&mut tx, id).await?;
    drop(tx);
    let (roster, holdings) = holdings(store, assets).await?;
    let (from, to) = people(&roster, &h)?;
    let mut systems = Systems::new(config);
    let run = Run {
        store,
        id,
        actor,
        command: "handover verify",
        now,
    };
    let mut out = Vec::new();
    for row in &rows {
        let asset = assets.get(&row.asset);
        let Some(asset) = asset.filter(|a| !a.is_manual()) else {
            out.push(manual::verify(&run, config, row).await?);
            continue;
        };
        if row.applied_ms == 0 {
            out.push(AssetOutcome::as_is(
                row,
                "not applied yet (handover apply)".to_owned(),
            ));
            continue;
        }
        let keep = kept(&h, asset, from);
        let sides = Sides {
            from,
            to,
            keep: keep.as_ref(),
        };
        let checked = check_one(
            &mut systems,
            store,
            asset,
            row,
            sides,
            &holdings,
            &roster,
            now,
        )
        .await;
        let (state, error) = match &checked {
            Ok(()) => (VERIFIED, String::new()),
            Err(e) if permanent(e) => (FAILED, format!("{e:#}")),
            Err(e) => (row.state.as_str(), format!("{e:#}")),
        };
        let action = if state == VERIFIED {
            "asset-verified"
        } else {
            "asset-verify-failed"
        };
        out.push(
            run.record(row, state.to_owned(), error, false, action)
                .await?,
        );
    }
    systems.close().await;
    close_if_verified(store, &h, &out, actor, now).await?;
    Ok(out)
}

/// Closes the handover when every asset is verified, and opens it again when one no longer is.
async fn close_if_verified(
    store: &Store,
    h: &HandoverRow,
    out: &[AssetOutcome],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = h.id;
    let all_verified = out.iter().all(|o| o.state == VERIFIED);
    let mut tx = store.begin().await?;
    if all_verified && h.closed_ms == 0 {
        Store::handover_close_in(&mut tx, id, now.timestamp_millis()).await?;
        event_in(
            &mut tx,
            id,
            actor,
            "handover-closed",
            "handover verify",
            "every asset verified",
            now,
        )
        .await?;
    } else if !all_verified && h.closed_ms != 0 {
        Store::handover_close_in(&mut tx, id, 0).await?;
        event_in(
            &mut tx,
            id,
            actor,
            "handover-reopened",
            "handover verify",
            "an asset failed",
            now,
        )
        .await?;
    }
    tx.commit().await.context("commit the handover's state")?;
    Ok(())
}

/// Reads one applied asset back and compares the whole asset with the wish; the drift found is kept.
#[allow(clippy::too_many_arguments)]
async fn check_one(
    systems: &mut Systems<'_>,
    store: &Store,
    asset: &Asset,
    row: &HandoverAssetRow,
    sides: Sides<'_>,
    holdings: &super::Holdings,
    roster: &Roster,
    now: DateTime<Utc>,
) -> Result<()> {
    let grant = asset.grant_from(&row.rights);
    let mut found = Vec::new();
    match read_back(systems, asset, &grant, sides).await {
        Ok(()) => {}
        Err(e) if permanent(&e) => found.push(format!("{e:#}")),
        Err(e) => return Err(e),
    }
    let mut problems = Vec::new();
    let want = wanted(asset, holdings, roster, &mut problems);
    let (changes, drift) = systems.look(asset, &want, false).await?;
    keep_drift(store, &asset.name, &drift, now).await?;
    found.extend(changes.iter().map(|c| format!("missing: {c}")));
    found.extend(drift.iter().map(|d| format!("drift: {d}")));
    if found.is_empty() {
        Ok(())
    } else {
        Err(Permanent(found.join("; ")).into())
    }
}
