//! Store tests, run on SQLite and on PostgreSQL alike.

use anyhow::Result;

use super::testing::backend_tests;
use super::{NewEvent, Store};

fn event<'a>(subject: &'a str, action: &'a str) -> NewEvent<'a> {
    NewEvent {
        at_ms: 1_764_000_000_000,
        actor: "test",
        subject,
        action,
        reason: "because",
        detail: "",
    }
}

async fn migrate_twice_is_a_no_op(store: Store) -> Result<()> {
    let again = store.migrate().await?;
    assert!(
        again.applied.is_empty(),
        "second migrate applied {:?}",
        again.applied
    );
    assert!(again.known >= 1);
    store.ensure_current().await?;
    Ok(())
}

async fn events_round_trip(store: Store) -> Result<()> {
    let a = store
        .record_event(&event("message:1", "classified"))
        .await?;
    let b = store.record_event(&event("message:2", "moved")).await?;
    assert!(b > a, "ids grow");
    let only = store.events(Some("message:2"), 10).await?;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].action, "moved");
    assert_eq!(only[0].reason, "because");
    assert_eq!(store.events(None, 10).await?.len(), 2);
    Ok(())
}

async fn transaction_commits_all_or_nothing(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    Store::record_event_in(&mut tx, &event("person:a", "role-changed")).await?;
    Store::record_event_in(&mut tx, &event("person:a", "asset-handed-over")).await?;
    drop(tx); // rolled back
    assert!(store.events(Some("person:a"), 10).await?.is_empty());

    let mut tx = store.begin().await?;
    Store::record_event_in(&mut tx, &event("person:b", "role-changed")).await?;
    Store::record_event_in(&mut tx, &event("person:b", "asset-handed-over")).await?;
    tx.commit().await?;
    let rows = store.events(Some("person:b"), 10).await?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].action, "asset-handed-over");
    Ok(())
}

async fn events_are_append_only(store: Store) -> Result<()> {
    store
        .record_event(&event("message:9", "classified"))
        .await?;
    let update = sqlx::query("UPDATE events SET action = 'forged'")
        .execute(store.pool())
        .await;
    assert!(update.is_err(), "an UPDATE of events must fail");
    let delete = sqlx::query("DELETE FROM events")
        .execute(store.pool())
        .await;
    assert!(delete.is_err(), "a DELETE of events must fail");
    assert_eq!(store.events(None, 10).await?.len(), 1);
    Ok(())
}

async fn concurrent_writers_lose_nothing(store: Store) -> Result<()> {
    let writer = |name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                let mut tx = store.begin().await?;
                let subject = format!("{name}:{i}");
                Store::record_event_in(&mut tx, &event(&subject, "one")).await?;
                Store::record_event_in(&mut tx, &event(&subject, "two")).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        })
    };
    let (a, b) = tokio::join!(writer("a"), writer("b"));
    a??;
    b??;
    let all = store.events(None, 1000).await?;
    assert_eq!(all.len(), 200);
    let mut ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 200, "ids are unique");
    Ok(())
}

backend_tests!(
    migrate_twice_is_a_no_op,
    events_round_trip,
    transaction_commits_all_or_nothing,
    events_are_append_only,
    concurrent_writers_lose_nothing,
);
