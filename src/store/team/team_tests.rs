//! The roster's statements on both backends: a person with addresses and stints, an address owned once,
//! items opened once and ticked once, pings found by Message-ID and `last_seen` never moving back.

use anyhow::Result;

use super::super::testing::backend_tests;
use super::*;
use crate::store::NewOutboxMail;

const T0: i64 = 1_790_000_000_000;

async fn person(tx: &mut Tx, name: &str, addr: &str) -> Result<i64> {
    let addresses = vec![addr.to_owned(), format!("alt-{addr}")];
    Store::team_insert_person_in(
        tx,
        &NewPerson {
            name,
            alias: "",
            tz: "Europe/Berlin",
            addresses: &addresses,
            roles: &["triage", "leader"],
            since_ms: T0,
            created_ms: T0,
        },
    )
    .await
}

async fn a_person_reads_back_with_addresses_and_open_stints(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let id = person(&mut tx, "Santa Claus", "Presents@Example.org").await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    assert_eq!(
        Store::team_address_owner_in(&mut tx, "PRESENTS@example.org").await?,
        Some(id),
        "addresses are kept lowercased and looked up in any case"
    );
    assert!(Store::team_close_role_in(&mut tx, id, "triage", T0 + 5).await?);
    assert!(!Store::team_close_role_in(&mut tx, id, "triage", T0 + 6).await?);
    Store::team_open_role_in(&mut tx, id, "se", T0 + 5).await?;
    let rows = Store::team_roster_in(&mut tx, Some(id)).await?;
    assert_eq!(rows.people.len(), 1);
    assert_eq!(rows.people[0].state, "active");
    let addrs: Vec<&str> = rows.addresses.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(addrs, ["presents@example.org", "alt-presents@example.org"]);
    let stints: Vec<(&str, i64)> = rows
        .roles
        .iter()
        .map(|r| (r.role.as_str(), r.until_ms))
        .collect();
    assert_eq!(stints, [("triage", T0 + 5), ("leader", 0), ("se", 0)]);
    Ok(())
}

async fn an_address_belongs_to_one_person(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    person(&mut tx, "Santa Claus", "presents@example.org").await?;
    let second = person(&mut tx, "Other Santa", "PRESENTS@example.org").await;
    assert!(second.is_err(), "the same address twice is refused");
    Ok(())
}

async fn items_open_once_and_tick_once(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let id = person(&mut tx, "Santa Claus", "presents@example.org").await?;
    let item = NewItem {
        person_id: id,
        checklist: "welcome",
        title: "Welcome",
        item: "welcome-pack",
        text: "Send the Welcome Pack",
        facts: "",
        action: "welcome-pack",
        position: 0,
        opened_ms: T0,
        due_ms: T0 + 10,
    };
    assert!(Store::team_open_item_in(&mut tx, &item).await?);
    assert!(
        !Store::team_open_item_in(&mut tx, &item).await?,
        "an item the person has is not opened again"
    );
    let rows = Store::team_roster_in(&mut tx, Some(id)).await?.items;
    assert_eq!(rows.len(), 1);
    assert!(Store::team_tick_item_in(&mut tx, rows[0].id, T0 + 1, "alice", "done").await?);
    assert!(!Store::team_tick_item_in(&mut tx, rows[0].id, T0 + 2, "bob", "again").await?);
    assert_eq!(
        Store::team_close_items_in(&mut tx, id, T0 + 3, "retired").await?,
        0
    );
    let row = &Store::team_roster_in(&mut tx, Some(id)).await?.items[0];
    assert_eq!(
        (row.state.as_str(), row.done_by.as_str()),
        ("done", "alice")
    );
    Ok(())
}

async fn a_ping_is_found_by_its_message_id_and_seen_moves_forward(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let id = person(&mut tx, "Santa Claus", "presents@example.org").await?;
    let mail = Store::insert_outbox_mail_in(
        &mut tx,
        &NewOutboxMail {
            created_at_ms: T0,
            template: "ping",
            message_id: "<p1@example.org>",
            subject: "ping",
            envelope_from: "support@example.org",
            raw: b"x",
            source: "",
            hold_error: "",
            give_up_at_ms: T0 + 1000,
            recipients: &["presents@example.org".to_owned()],
        },
    )
    .await?;
    let ping = NewPing {
        person_id: id,
        outbox_id: mail,
        message_id: "p1@example.org",
        address: "presents@example.org",
        sent_ms: T0,
    };
    let ping_id = Store::team_insert_ping_in(&mut tx, &ping).await?;
    let ids = vec![
        "nothing@example.org".to_owned(),
        "p1@example.org".to_owned(),
    ];
    let found = Store::team_pings_named_in(&mut tx, &ids).await?;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ping.id, ping_id);
    assert_eq!(found[0].primary, "presents@example.org");
    Store::team_answer_ping_in(&mut tx, ping_id, id, "r1@example.org", T0 + 500).await?;
    Store::team_answer_ping_in(&mut tx, ping_id, id, "r0@example.org", T0 + 100).await?;
    let rows = Store::team_roster_in(&mut tx, None).await?;
    assert_eq!(rows.people[0].last_seen_ms, T0 + 500, "never moved back");
    assert_eq!(rows.pings[0].answered_by, "r0@example.org");
    Ok(())
}

backend_tests!(
    a_person_reads_back_with_addresses_and_open_stints,
    an_address_belongs_to_one_person,
    items_open_once_and_tick_once,
    a_ping_is_found_by_its_message_id_and_seen_moves_forward,
);
