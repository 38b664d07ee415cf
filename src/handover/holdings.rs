//! Who should hold what: each active member's roles granted through the `[[asset]]` tables, then every
//! applied handover in order (the outgoing person loses the asset, the incoming one gains what was handed
//! over). What the real systems should say follows from this; nothing here talks to them.

use std::collections::BTreeMap;

use super::assets::{Asset, Assets, Grant};
use crate::store::{HandoverAssetRow, HandoverRow};
use crate::team::{Person, Role, Roster};

/// Per asset name, per person id, what they should hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings(pub BTreeMap<String, BTreeMap<i64, Grant>>);

impl Holdings {
    /// The roster's wish, adjusted by the handovers whose assets were applied.
    pub fn new(
        assets: &Assets,
        roster: &Roster,
        handovers: &[HandoverRow],
        rows: &[HandoverAssetRow],
    ) -> Holdings {
        let mut all: BTreeMap<String, BTreeMap<i64, Grant>> = BTreeMap::new();
        for asset in &assets.0 {
            let held = all.entry(asset.name.clone()).or_default();
            for p in roster.people.iter().filter(|p| p.is_active()) {
                if let Some(g) = asset.grant_for(&p.roles()) {
                    held.insert(p.id, g);
                }
            }
        }
        for row in rows.iter().filter(|r| r.applied_ms > 0) {
            let (Some(h), Some(asset)) = (
                handovers.iter().find(|h| h.id == row.handover_id),
                assets.get(&row.asset),
            ) else {
                continue;
            };
            let held = all.entry(asset.name.clone()).or_default();
            held.remove(&h.from_person);
            // A leader's handover takes only what the leader role gives: the outgoing person keeps
            // what their other roles give.
            if h.scope == super::LEADER_SCOPE
                && let Some(from) = roster.get(h.from_person).filter(|p| p.is_active())
            {
                let others: Vec<Role> = from
                    .roles()
                    .into_iter()
                    .filter(|r| *r != Role::Leader)
                    .collect();
                if let Some(g) = asset.grant_for(&others) {
                    held.insert(from.id, g);
                }
            }
            if let Some(to) = roster.get(h.to_person).filter(|p| p.is_active()) {
                let g = asset.grant_from(&row.rights);
                let merged = match held.get(&to.id) {
                    Some(old) => old.union(&g),
                    None => g,
                };
                held.insert(to.id, merged);
            }
        }
        Holdings(all)
    }

    /// What `person` should hold on `asset`.
    pub fn of(&self, asset: &str, person: i64) -> Option<&Grant> {
        self.0.get(asset).and_then(|m| m.get(&person))
    }

    /// Who should hold `asset`, by person id.
    pub fn holders(&self, asset: &Asset) -> impl Iterator<Item = (&i64, &Grant)> {
        self.0.get(&asset.name).into_iter().flatten()
    }
}

/// The person's IMAP login (the `imap-user` fact), never guessed from the address.
pub fn imap_user(p: &Person) -> Option<&str> {
    p.fact(crate::team::Fact::IMAP_USER)
        .map(str::trim)
        .filter(|u| !u.is_empty())
}
