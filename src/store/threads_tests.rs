//! Thread store tests on SQLite and PostgreSQL: keys are kept once, and a key shared by two tickets
//! finds the one that took it first; the batch writes keep their order and ids, the batch reads find
//! what is stored, ticket numbers taken at once follow those taken one at a time.

use std::collections::BTreeSet;

use anyhow::Result;

use super::{KEY_CASE, KEY_MESSAGE_ID, NewThreadMessage, NewTicket, RECEIVED};
use crate::store::testing::backend_tests;
use crate::store::{NewPerson, Store};

fn ticket(t: &str, opened_ms: i64) -> NewTicket<'_> {
    NewTicket {
        ticket: t,
        mailbox: "m",
        bucket: "Support",
        opened_ms,
        opened_by_team: false,
    }
}

/// Guards against: a repeated key failing the verdict's transaction, or a later ticket stealing a key.
async fn keys_are_kept_once_and_the_first_ticket_wins(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    Store::open_ticket_in(&mut tx, &ticket("s20261129.002", 2)).await?;
    Store::open_ticket_in(&mut tx, &ticket("s20261129.001", 1)).await?;
    let ids = BTreeSet::from(["a@x".to_owned(), "b@x".to_owned()]);
    Store::add_thread_keys_in(&mut tx, "s20261129.002", KEY_MESSAGE_ID, &ids).await?;
    Store::add_thread_keys_in(&mut tx, "s20261129.002", KEY_MESSAGE_ID, &ids).await?;
    Store::add_thread_keys_in(&mut tx, "s20261129.001", KEY_MESSAGE_ID, &ids).await?;
    let case = BTreeSet::from(["a20261101.3".to_owned()]);
    Store::add_thread_keys_in(&mut tx, "s20261129.001", KEY_CASE, &case).await?;
    let found = Store::ticket_by_keys_in(&mut tx, KEY_MESSAGE_ID, &["b@x".to_owned()]).await?;
    assert_eq!(found.as_deref(), Some("s20261129.002"));
    let none = Store::ticket_by_keys_in(&mut tx, KEY_CASE, &["a@x".to_owned()]).await?;
    assert_eq!(none, None, "kinds are apart");
    let both = ["s20261129.002".to_owned(), "s20261129.001".to_owned()];
    let first = Store::existing_ticket_in(&mut tx, &both).await?;
    assert_eq!(first.as_deref(), Some("s20261129.001"), "the older ticket");
    tx.commit().await?;
    assert_eq!(
        store.ticket_of_case("a20261101.3").await?.as_deref(),
        Some("s20261129.001")
    );
    assert_eq!(store.thread_ids("s20261129.001").await?, ids);
    Ok(())
}

fn message<'a>(ticket: &'a str, message_id: &'a str, verdict_id: i64) -> NewThreadMessage<'a> {
    NewThreadMessage {
        ticket,
        message_id,
        folder: "Support",
        origin: RECEIVED,
        seen_ms: 5,
        date_ms: 0,
        sender: "ann@example.net",
        from_team: false,
        member_id: 0,
        automatic: false,
        verdict_id,
    }
}

/// Guards against: a batch's rows written out of order, ids handed back that are not their rows', a
/// key repeated within one statement failing it, or a batch lookup missing a stored key or ticket.
async fn batch_writes_keep_their_order_and_batch_reads_find_all(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    Store::open_tickets_in(
        &mut tx,
        &[ticket("s20261129.001", 1), ticket("s20261129.002", 2)],
    )
    .await?;
    let rows: Vec<NewThreadMessage<'_>> = (0..700)
        .map(|i| {
            message(
                if i % 2 == 0 {
                    "s20261129.001"
                } else {
                    "s20261129.002"
                },
                "",
                i,
            )
        })
        .collect();
    let ids = Store::add_thread_messages_in(&mut tx, &rows).await?;
    assert_eq!(ids.len(), 700);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order");
    Store::add_thread_key_rows_in(
        &mut tx,
        &[
            (KEY_MESSAGE_ID, "s20261129.002", "k@x"),
            (KEY_MESSAGE_ID, "s20261129.001", "k@x"),
            (KEY_MESSAGE_ID, "s20261129.002", "k@x"),
            (KEY_CASE, "s20261129.001", "a20261101.3"),
        ],
    )
    .await?;
    let found = Store::ticket_by_keys_in(&mut tx, KEY_MESSAGE_ID, &["k@x".to_owned()]).await?;
    assert_eq!(
        found.as_deref(),
        Some("s20261129.002"),
        "the first row wins"
    );
    let mut keys = Store::thread_keys_among_in(
        &mut tx,
        &[
            "k@x".to_owned(),
            "a20261101.3".to_owned(),
            "none@x".to_owned(),
        ],
    )
    .await?;
    keys.sort_by_key(|k| k.id);
    let keys: Vec<(&str, &str, &str)> = keys
        .iter()
        .map(|k| (k.kind.as_str(), k.key.as_str(), k.ticket.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (KEY_MESSAGE_ID, "k@x", "s20261129.002"),
            (KEY_MESSAGE_ID, "k@x", "s20261129.001"),
            (KEY_CASE, "a20261101.3", "s20261129.001"),
        ]
    );
    let opened = Store::tickets_opened_among_in(
        &mut tx,
        &["s20261129.002".to_owned(), "s20261129.009".to_owned()],
    )
    .await?;
    assert_eq!(
        opened.into_iter().collect::<Vec<_>>(),
        [("s20261129.002".to_owned(), 2)]
    );
    tx.commit().await?;
    let thread = store.thread_messages("s20261129.002").await?;
    assert_eq!(thread.len(), 350);
    assert!(
        thread.iter().all(|m| ids[m.verdict_id as usize] == m.id),
        "each id is its own row's"
    );
    Ok(())
}

/// Guards against: numbers taken at once overlapping those taken one at a time, or a held counter
/// taking a number.
async fn ticket_numbers_are_taken_at_once_after_a_hold(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    assert_eq!(Store::hold_ticket_counter_in(&mut tx, "20261129").await?, 0);
    assert_eq!(
        Store::take_ticket_numbers_in(&mut tx, "20261129", 3).await?,
        1
    );
    assert_eq!(Store::next_ticket_in(&mut tx, "20261129").await?, 4);
    assert_eq!(Store::hold_ticket_counter_in(&mut tx, "20261129").await?, 4);
    assert_eq!(
        Store::take_ticket_numbers_in(&mut tx, "20261129", 2).await?,
        5
    );
    assert_eq!(
        Store::take_ticket_numbers_in(&mut tx, "20261130", 2).await?,
        1
    );
    tx.commit().await?;
    assert_eq!(store.peek_ticket("20261129").await?, 7);
    assert_eq!(store.peek_ticket("20261130").await?, 3);
    Ok(())
}

/// Guards against: the batch's roster read counting a paused member's address as the team's.
async fn the_roster_read_lists_active_members_only(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::new();
    for (name, address) in [("Mia", "mia@example.com"), ("Max", "max@example.com")] {
        ids.push(
            Store::team_insert_person_in(
                &mut tx,
                &NewPerson {
                    name,
                    alias: "",
                    tz: "",
                    addresses: &[address.to_owned()],
                    roles: &["triage"],
                    since_ms: 0,
                    created_ms: 0,
                },
            )
            .await?,
        );
    }
    Store::team_set_state_in(&mut tx, ids[1], "paused", 1).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let roster = Store::active_members_in(&mut tx).await?;
    assert_eq!(
        roster.into_iter().collect::<Vec<_>>(),
        [("mia@example.com".to_owned(), ids[0])]
    );
    assert_eq!(
        Store::active_member_in(&mut tx, "Max@example.com").await?,
        None
    );
    Ok(())
}

backend_tests!(
    keys_are_kept_once_and_the_first_ticket_wins,
    batch_writes_keep_their_order_and_batch_reads_find_all,
    ticket_numbers_are_taken_at_once_after_a_hold,
    the_roster_read_lists_active_members_only,
);
