//! One `mailman` asset on Mailman: its members and their moderation actions compared with who should be
//! subscribed (`accept` for the roles that post, `hold` for the others), and subscriptions, moderation
//! and unsubscriptions carried out and read back through the REST API.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use lettre::Address;

use super::assets::{Asset, Kind};
use super::change::{Change, Drift, Op};
use crate::lists::{Action, ListAddress, Mailman};

fn list_of(asset: &Asset) -> Result<&ListAddress> {
    match &asset.kind {
        Kind::List { list, .. } => Ok(list),
        _ => bail!("{} is not a mailing list", asset.name),
    }
}

fn address(text: &str) -> Result<Address> {
    text.parse()
        .with_context(|| format!("{text:?} is not an address"))
}

/// Every member's address (lower case) and moderation action, the list default filled in.
pub(super) async fn members(
    mailman: &Mailman,
    list: &ListAddress,
) -> Result<BTreeMap<String, Action>> {
    let members = mailman.members(list).await?;
    let default = if members.iter().any(|m| m.moderation.is_none()) {
        Some(mailman.default_action(list).await?)
    } else {
        None
    };
    Ok(members
        .into_iter()
        .map(|m| {
            let action = m.moderation.or(default).unwrap_or(Action::Defer);
            (m.address.to_lowercase(), action)
        })
        .collect())
}

/// The differences between `wanted` (address to action) and the list: missing members and other
/// actions as changes, members beyond the wish as drift (unsubscribed with `prune`).
pub(super) async fn look(
    mailman: &Mailman,
    asset: &Asset,
    wanted: &BTreeMap<String, Action>,
    prune: bool,
) -> Result<(Vec<Change>, Vec<Drift>)> {
    let list = list_of(asset)?;
    let actual = members(mailman, list).await?;
    let mut changes = Vec::new();
    let mut drift = Vec::new();
    let change = |identifier: &str, op: Op, before: String| Change {
        asset: asset.name.clone(),
        place: list.to_string(),
        identifier: identifier.to_owned(),
        op,
        before,
    };
    for (addr, want) in wanted {
        match actual.get(addr) {
            None => changes.push(change(addr, Op::Subscribe(*want), String::new())),
            Some(have) if have != want => {
                changes.push(change(addr, Op::Moderate(*want), have.to_string()));
            }
            Some(_) => {}
        }
    }
    for (addr, have) in &actual {
        if wanted.contains_key(addr) {
            continue;
        }
        drift.push(Drift {
            asset: asset.name.clone(),
            place: list.to_string(),
            identifier: addr.clone(),
            detail: format!("subscribed ({have}), the roster gives nothing"),
        });
        if prune {
            changes.push(change(addr, Op::Unsubscribe, have.to_string()));
        }
    }
    Ok((changes, drift))
}

/// Carries out one change and reads the member back.
pub(super) async fn carry_out(mailman: &Mailman, asset: &Asset, change: &Change) -> Result<()> {
    let list = list_of(asset)?;
    let addr = address(&change.identifier)?;
    let want = match &change.op {
        Op::Subscribe(action) => {
            mailman.subscribe(list, &addr, "").await?;
            mailman.set_moderation(list, &addr, Some(*action)).await?;
            Some(*action)
        }
        Op::Moderate(action) => {
            mailman.set_moderation(list, &addr, Some(*action)).await?;
            Some(*action)
        }
        Op::Unsubscribe => {
            mailman.unsubscribe(list, &addr).await?;
            None
        }
        other => bail!("{other:?} is not a list change"),
    };
    let now = mailman.member(list, &addr).await?;
    match (want, now) {
        (None, None) => Ok(()),
        (Some(w), Some(m)) if m.moderation == Some(w) => Ok(()),
        (None, Some(_)) => bail!("{addr} is still subscribed to {list}"),
        (Some(w), m) => bail!(
            "{addr} on {list} reads back as {}, not {w}",
            m.map_or_else(
                || "not subscribed".to_owned(),
                |m| m.moderation.map_or("unset".to_owned(), |a| a.to_string())
            )
        ),
    }
}
