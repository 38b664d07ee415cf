//! Thread store tests on SQLite and PostgreSQL: keys are kept once, and a key shared by two tickets
//! finds the one that took it first.

use std::collections::BTreeSet;

use anyhow::Result;

use super::{KEY_CASE, KEY_MESSAGE_ID, NewTicket};
use crate::store::Store;
use crate::store::testing::backend_tests;

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

backend_tests!(keys_are_kept_once_and_the_first_ticket_wins);
