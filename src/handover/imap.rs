//! One `imap-acl` asset on the server: its folders from a fresh LIST, GETACL on each compared with who
//! should hold what, and SETACL/DELETEACL carried out and read back. The owner's entry (triaged's own
//! login, whose tree this is) is never touched.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::assets::Asset;
use super::change::{Change, Drift, Op};
use crate::mailbox::imap::acl::{AclSession, Rights};

/// The asset's folders, from a fresh LIST of the tree (Sieve names).
pub(super) async fn folders(session: &mut AclSession, asset: &Asset) -> Result<Vec<String>> {
    Ok(session
        .tree()
        .await?
        .into_iter()
        .filter(|f| asset.covers(f))
        .collect())
}

/// The differences between `wanted` (identifier to rights) and what GETACL says, folder by folder:
/// missing rights as changes, rights beyond the wish as drift (changes too with `prune`).
pub(super) async fn look(
    session: &mut AclSession,
    asset: &Asset,
    wanted: &BTreeMap<String, Rights>,
    prune: bool,
) -> Result<(Vec<Change>, Vec<Drift>)> {
    let owner = session.user().to_owned();
    let mut changes = Vec::new();
    let mut drift = Vec::new();
    for folder in folders(session, asset).await? {
        let actual = session.get_acl(&folder).await?;
        let change = |identifier: &str, op: Op, before: String| Change {
            asset: asset.name.clone(),
            place: folder.clone(),
            identifier: identifier.to_owned(),
            op,
            before,
        };
        for (id, want) in wanted.iter().filter(|(id, _)| **id != owner) {
            match actual.get(id) {
                None => changes.push(change(id, Op::SetAcl(want.clone()), String::new())),
                Some(have) if !want.is_subset(have) => {
                    let after = if prune {
                        want.clone()
                    } else {
                        have.union(want)
                    };
                    changes.push(change(id, Op::SetAcl(after), have.to_string()));
                }
                Some(have) if have != want => {
                    drift.push(Drift {
                        asset: asset.name.clone(),
                        place: folder.clone(),
                        identifier: id.clone(),
                        detail: format!("holds {have}, the roster gives {want}"),
                    });
                    if prune {
                        changes.push(change(id, Op::SetAcl(want.clone()), have.to_string()));
                    }
                }
                Some(_) => {}
            }
        }
        for (id, have) in &actual {
            if *id == owner || wanted.contains_key(id) {
                continue;
            }
            drift.push(Drift {
                asset: asset.name.clone(),
                place: folder.clone(),
                identifier: id.clone(),
                detail: format!("holds {have}, the roster gives nothing"),
            });
            if prune {
                changes.push(change(id, Op::DeleteAcl, have.to_string()));
            }
        }
    }
    Ok((changes, drift))
}

/// Carries out one change and reads the folder's ACL back.
pub(super) async fn carry_out(session: &mut AclSession, change: &Change) -> Result<()> {
    if change.identifier == session.user() {
        bail!(
            "{} is triaged's own login: never changed",
            change.identifier
        );
    }
    match &change.op {
        Op::SetAcl(rights) => {
            session
                .set_acl(&change.place, &change.identifier, rights)
                .await?;
            let now = session.get_acl(&change.place).await?;
            match now.get(&change.identifier) {
                Some(have) if have == rights => Ok(()),
                other => bail!(
                    "{} on {:?} reads back as {}, not {rights}",
                    change.identifier,
                    change.place,
                    other.map_or_else(|| "nothing".to_owned(), Rights::to_string)
                ),
            }
        }
        Op::DeleteAcl => {
            session
                .delete_acl(&change.place, &change.identifier)
                .await?;
            let now = session.get_acl(&change.place).await?;
            if let Some(have) = now.get(&change.identifier) {
                bail!(
                    "{} on {:?} still reads back as {have}",
                    change.identifier,
                    change.place
                );
            }
            Ok(())
        }
        other => bail!("{other:?} is not an IMAP change"),
    }
}
