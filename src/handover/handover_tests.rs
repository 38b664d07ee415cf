use std::collections::{BTreeMap, BTreeSet};

use super::assets::{Asset, Assets, Grant, Kind};
use super::holdings::Holdings;
use crate::lists::Action;
use crate::store::{AddressRow, HandoverAssetRow, HandoverRow, PersonRow, RoleRow, RosterRows};
use crate::team::{Role, Roster};

fn rights(text: &str) -> crate::mailbox::imap::acl::Rights {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn mailbox(folders: &str) -> Asset {
    Asset {
        name: "mailbox:support".to_owned(),
        critical: true,
        kind: Kind::Imap {
            folders: folders.to_owned(),
            rights: BTreeMap::from([
                (Role::Triage, rights("lrswi")),
                (Role::Se, rights("lrswipkxte")),
                (Role::Leader, rights("lrswipkxtea")),
            ]),
        },
    }
}

fn list() -> Asset {
    Asset {
        name: "list:disputes".to_owned(),
        critical: true,
        kind: Kind::List {
            list: "disputes@lists.example.org"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            members: BTreeSet::from([Role::Triage, Role::Se]),
            post: BTreeSet::from([Role::Se]),
        },
    }
}

#[test]
fn roles_grant_their_union_and_post_beats_hold() {
    let m = mailbox("*");
    assert_eq!(
        m.grant_for(&[Role::Se, Role::Leader]),
        Some(Grant::Imap(rights("lrswipkxtea")))
    );
    assert_eq!(m.grant_for(&[Role::Assurer]), None);
    let l = list();
    assert_eq!(
        l.grant_for(&[Role::Triage]),
        Some(Grant::List(Action::Hold))
    );
    assert_eq!(
        l.grant_for(&[Role::Triage, Role::Se]),
        Some(Grant::List(Action::Accept))
    );
    assert_eq!(l.grant_for(&[Role::Cm]), None);
}

#[test]
fn a_shared_password_is_handed_over_as_its_rotation_by_hand() {
    let shared = Asset {
        name: "mailbox:shared".to_owned(),
        critical: true,
        kind: Kind::Password {
            roles: BTreeSet::from([Role::Se, Role::Leader]),
        },
    };
    assert!(shared.is_manual() && !mailbox("*").is_manual());
    assert_eq!(shared.kind_name(), "imap-password");
    // A leader's handover and a retirement take what the role gives: the manual rotation item.
    let grant = shared.grant_for(&[Role::Leader]);
    assert_eq!(grant, Some(Grant::Password));
    assert_eq!(
        grant.map(|g| g.text()).as_deref(),
        Some(super::assets::ROTATE)
    );
    assert_eq!(shared.grant_for(&[Role::Assurer]), None);
    assert_eq!(shared.grant_from(super::assets::ROTATE), Grant::Password);
}

#[test]
fn folders_cover_the_tree_a_folder_or_a_subtree() {
    assert!(mailbox("*").covers("Lang/German"));
    let sub = mailbox("Support/*");
    assert!(sub.covers("Support") && sub.covers("Support/Disputes"));
    assert!(!sub.covers("Supporters") && !sub.covers("INBOX"));
    let one = mailbox("Privacy");
    assert!(one.covers("Privacy") && !one.covers("Privacy/Old"));
}

fn roster() -> Roster {
    roster_with(&[])
}

/// Alice (se) and Bob (assurer), with `extra` role stints.
fn roster_with(extra: &[(i64, &str)]) -> Roster {
    let person = |id: i64, name: &str| PersonRow {
        id,
        name: name.to_owned(),
        alias: String::new(),
        tz: String::new(),
        state: "active".to_owned(),
        state_since_ms: 0,
        created_ms: 0,
        last_seen_ms: 0,
    };
    let role = |id: i64, role: &str| RoleRow {
        person_id: id,
        role: role.to_owned(),
        since_ms: 0,
        until_ms: 0,
    };
    let address = |id: i64, a: &str| AddressRow {
        person_id: id,
        address: a.to_owned(),
        position: 0,
    };
    Roster::from_rows(RosterRows {
        people: vec![person(1, "Alice"), person(2, "Bob")],
        addresses: vec![
            address(1, "alice@example.org"),
            address(2, "bob@example.org"),
        ],
        roles: [(1, "se"), (2, "assurer")]
            .iter()
            .chain(extra)
            .map(|(id, r)| role(*id, r))
            .collect(),
        ..RosterRows::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn an_applied_handover_moves_the_asset_and_a_pending_one_does_not() {
    let assets = Assets(vec![mailbox("*"), list()]);
    let roster = roster();
    let handover = HandoverRow {
        id: 1,
        scope: "asset:mailbox:support".to_owned(),
        from_person: 1,
        to_person: 2,
        reason: String::new(),
        opened_ms: 1,
        opened_by: "tester".to_owned(),
        confirmed_by: 0,
        confirmed_os_user: String::new(),
        confirmed_ms: 0,
        closed_ms: 0,
    };
    let mut row = HandoverAssetRow {
        id: 1,
        handover_id: 1,
        asset: "mailbox:support".to_owned(),
        kind: "imap-acl".to_owned(),
        critical: true,
        rights: "lrswi".to_owned(),
        state: "pending".to_owned(),
        error: String::new(),
        applied_ms: 0,
        updated_ms: 1,
    };
    let before = Holdings::new(
        &assets,
        &roster,
        std::slice::from_ref(&handover),
        std::slice::from_ref(&row),
    );
    assert_eq!(
        before.of("mailbox:support", 1),
        Some(&Grant::Imap(rights("lrswipkxte")))
    );
    assert_eq!(before.of("mailbox:support", 2), None);
    row.applied_ms = 2;
    let after = Holdings::new(&assets, &roster, &[handover], &[row]);
    assert_eq!(after.of("mailbox:support", 1), None);
    assert_eq!(
        after.of("mailbox:support", 2),
        Some(&Grant::Imap(rights("lrswi")))
    );
    // Only the asset handed over moves: Alice keeps the list.
    assert_eq!(
        after.of("list:disputes", 1),
        Some(&Grant::List(Action::Accept))
    );
}

#[test]
fn a_leaders_handover_leaves_what_the_other_roles_give() {
    let assets = Assets(vec![mailbox("*")]);
    let roster = roster_with(&[(1, "leader")]);
    let handover = HandoverRow {
        id: 1,
        scope: "role:leader".to_owned(),
        from_person: 1,
        to_person: 2,
        reason: String::new(),
        opened_ms: 1,
        opened_by: "tester".to_owned(),
        confirmed_by: 3,
        confirmed_os_user: "tester".to_owned(),
        confirmed_ms: 1,
        closed_ms: 0,
    };
    let row = HandoverAssetRow {
        id: 1,
        handover_id: 1,
        asset: "mailbox:support".to_owned(),
        kind: "imap-acl".to_owned(),
        critical: true,
        rights: "lrswipkxtea".to_owned(),
        state: "applied".to_owned(),
        error: String::new(),
        applied_ms: 2,
        updated_ms: 2,
    };
    let before = Holdings::new(&assets, &roster, &[], &[]);
    assert_eq!(
        before.of("mailbox:support", 1),
        Some(&Grant::Imap(rights("lrswipkxtea")))
    );
    let after = Holdings::new(&assets, &roster, &[handover], &[row]);
    assert_eq!(
        after.of("mailbox:support", 1),
        Some(&Grant::Imap(rights("lrswipkxte")))
    );
    assert_eq!(
        after.of("mailbox:support", 2),
        Some(&Grant::Imap(rights("lrswipkxtea")))
    );
}
