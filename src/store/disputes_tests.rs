//! Disputes bridge and team report store tests, run on SQLite and PostgreSQL alike.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};

use super::{DisputeMark, NewDispute};
use crate::store::testing::backend_tests;
use crate::store::{Backend, KEY_MESSAGE_ID, NewTicket, NewVerdict, Store};

const DAY: i64 = 86_400_000;

async fn dispute(store: &Store, message_id: &str, received_ms: i64) -> Result<(i64, bool)> {
    let mut tx = store.begin().await?;
    let out = Store::dispute_insert_in(
        &mut tx,
        &NewDispute {
            message_id,
            origin: "bucket",
            ticket: "",
            received_ms,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Guards against: a second record for the same first message, a stage reached twice (its first time
/// overwritten), later mail not finding its dispute by a Message-ID, ticket or case number, or a second
/// escalation for one stage.
async fn a_dispute_moves_on_once_per_stage(store: Store) -> Result<()> {
    let (id, new) = dispute(&store, "first@x", 10).await?;
    assert!(new);
    assert_eq!(dispute(&store, "first@x", 20).await?, (id, false));
    let mut tx = store.begin().await?;
    Store::dispute_add_messages_in(&mut tx, id, &["forward@x".to_owned()], 30).await?;
    assert!(Store::dispute_mark_in(&mut tx, id, DisputeMark::Forwarded, 30, "outbox").await?);
    assert!(!Store::dispute_mark_in(&mut tx, id, DisputeMark::Forwarded, 40, "person").await?);
    assert!(Store::dispute_mark_in(&mut tx, id, DisputeMark::OnList, 50, "").await?);
    assert!(Store::dispute_set_ticket_in(&mut tx, id, "s20261130.001").await?);
    assert!(Store::dispute_escalate_in(&mut tx, id, "on-list", 60, 7).await?);
    assert!(!Store::dispute_escalate_in(&mut tx, id, "on-list", 70, 8).await?);
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let by_ticket = Store::disputes_reached_in(&mut tx, &["s20261130.001".to_owned()], &[]).await?;
    let by_first = Store::disputes_reached_in(&mut tx, &[], &["first@x".to_owned()]).await?;
    let none = Store::disputes_reached_in(&mut tx, &[], &["forward@x".to_owned()]).await?;
    tx.commit().await?;
    assert_eq!(by_ticket.len(), 1);
    assert_eq!(by_first.len(), 1);
    assert!(none.is_empty(), "a later message is filed, not a key");
    let open = store.disputes(i64::MAX, true).await?;
    assert_eq!(open.len(), 1);
    let d = &open[0];
    assert_eq!(
        (
            d.received_ms,
            d.forwarded_ms,
            d.forwarded_by.as_str(),
            d.on_list_ms
        ),
        (10, 30, "outbox", 50)
    );
    assert_eq!(d.escalated, ["on-list"]);
    let (known, held) = store
        .dispute_holds_among(&["forward@x".to_owned(), "other@x".to_owned()])
        .await?;
    assert_eq!(known.into_iter().collect::<Vec<_>>(), ["forward@x"]);
    assert_eq!(held.len(), 1, "open: held");
    let mut tx = store.begin().await?;
    assert!(
        Store::dispute_mark_in(&mut tx, id, DisputeMark::Acknowledged, 80, "arbitration").await?
    );
    tx.commit().await?;
    assert!(store.disputes(i64::MAX, true).await?.is_empty());
    let (_, held) = store.dispute_holds_among(&["first@x".to_owned()]).await?;
    assert!(
        held.is_empty(),
        "acknowledged without a case number: closed"
    );
    let mut tx = store.begin().await?;
    assert!(Store::dispute_set_case_in(&mut tx, id, "a20261201.3").await?);
    assert!(!Store::dispute_set_case_in(&mut tx, id, "a20261201.4").await?);
    tx.commit().await?;
    let (_, held) = store.dispute_holds_among(&["first@x".to_owned()]).await?;
    assert_eq!(held.len(), 1, "a case number keeps it held");
    let all = store.disputes(i64::MAX, false).await?;
    assert_eq!(all[0].case_number, "a20261201.3");
    assert!(
        store.disputes(10, false).await?.is_empty(),
        "received at 10"
    );
    Ok(())
}

/// Guards against: mail counted in the wrong day or outside the period, or pings miscounted.
async fn mail_is_counted_per_day_and_bucket(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    for (uid, bucket, created_ms) in [
        (1, "Junk", 3 * DAY + 5),
        (2, "Junk", 3 * DAY + 7),
        (3, "Triage", 3 * DAY + 9),
        (4, "Junk", 4 * DAY),
        (5, "Junk", 9 * DAY),
    ] {
        Store::record_verdict_in(
            &mut tx,
            &NewVerdict {
                mailbox: "m",
                uidvalidity: 1,
                uid: Some(uid),
                name: "",
                message_id: "",
                digest: &format!("d{uid}"),
                bucket,
                plan: "{}",
                error: "",
                created_ms,
            },
        )
        .await?;
    }
    tx.commit().await?;
    let rows = store.sorted_per_day(0, 9 * DAY).await?;
    assert_eq!(
        rows,
        [
            (3, "Junk".to_owned(), 2),
            (3, "Triage".to_owned(), 1),
            (4, "Junk".to_owned(), 1)
        ]
    );
    assert_eq!(store.pings_between(0, DAY).await?, (0, 0));
    let team = store.team_rows().await?;
    assert!(team.roster.people.is_empty() && team.handovers.is_empty());
    Ok(())
}

/// Guards against: the batch read missing a dispute keyed by a ticket or first sent as a message of the
/// batch, or returning one nothing reaches.
async fn a_batch_reads_the_disputes_its_mail_can_reach(store: Store) -> Result<()> {
    let (first, _) = dispute(&store, "first@x", 10).await?;
    let (second, _) = dispute(&store, "second@x", 20).await?;
    let (_, _) = dispute(&store, "third@x", 30).await?;
    let mut tx = store.begin().await?;
    Store::dispute_set_ticket_in(&mut tx, second, "s20261130.002").await?;
    let found = Store::disputes_reached_in(
        &mut tx,
        &["s20261130.002".to_owned(), "s20261130.009".to_owned()],
        &[
            "first@x".to_owned(),
            "second@x".to_owned(),
            "nope@x".to_owned(),
        ],
    )
    .await?;
    let none = Store::disputes_reached_in(&mut tx, &[], &[]).await?;
    tx.commit().await?;
    let found: Vec<(i64, &str)> = found.iter().map(|d| (d.id, d.ticket.as_str())).collect();
    assert_eq!(found, [(first, ""), (second, "s20261130.002")]);
    assert!(none.is_empty());
    Ok(())
}

/// Guards against: a dispute recorded before disputes were keyed by their ticket, without one, never
/// found again by its later mail (the migration gives it its first message's thread's ticket).
async fn the_migration_keys_an_old_dispute_by_its_thread(store: Store) -> Result<()> {
    let (old, _) = dispute(&store, "old@x", 10).await?;
    let (kept, _) = dispute(&store, "kept@x", 20).await?;
    let (alone, _) = dispute(&store, "alone@x", 30).await?;
    let mut tx = store.begin().await?;
    Store::dispute_set_ticket_in(&mut tx, kept, "s20261130.007").await?;
    for t in ["s20261130.001", "s20261130.002"] {
        Store::open_ticket_in(
            &mut tx,
            &NewTicket {
                ticket: t,
                mailbox: "m",
                bucket: "Support/Disputes",
                opened_ms: 1,
                opened_by_team: false,
            },
        )
        .await?;
    }
    for (t, key) in [
        ("s20261130.002", "old@x"),
        ("s20261130.001", "old@x"),
        ("s20261130.001", "kept@x"),
    ] {
        Store::add_thread_keys_in(
            &mut tx,
            t,
            KEY_MESSAGE_ID,
            &BTreeSet::from([key.to_owned()]),
        )
        .await?;
    }
    tx.commit().await?;
    let file = match store.backend() {
        Backend::Sqlite => {
            include_str!("../../migrations/sqlite/20261130082000_disputes_by_ticket.sql")
        }
        Backend::Postgres => {
            include_str!("../../migrations/postgres/20261130082000_disputes_by_ticket.sql")
        }
    };
    let update = &file[file.find("UPDATE").context("the backfill")?..];
    sqlx::query(update).execute(store.pool()).await?;
    let tickets: Vec<(i64, String)> = store
        .disputes(i64::MAX, false)
        .await?
        .into_iter()
        .map(|d| (d.id, d.ticket))
        .collect();
    assert_eq!(
        tickets,
        [
            (old, "s20261130.002".to_owned()),
            (kept, "s20261130.007".to_owned()),
            (alone, String::new())
        ],
        "the thread that took it first; a ticket already given kept; none without a thread"
    );
    Ok(())
}

backend_tests!(
    a_dispute_moves_on_once_per_stage,
    mail_is_counted_per_day_and_bucket,
    a_batch_reads_the_disputes_its_mail_can_reach,
    the_migration_keys_an_old_dispute_by_its_thread,
);
