use super::Fenced;
use crate::store::Store;
use crate::store::testing::backend_tests;

const MB: &str = "imap://support%40example.org@mail.example.org:993/INBOX";

async fn a_lease_is_held_by_one_worker_and_taken_over_only_after_it_expires(
    store: Store,
) -> anyhow::Result<()> {
    store.register_worker("w1", ("h", "ns"), 1, 60_000).await?;
    store.register_worker("w2", ("h", "ns"), 2, 60_000).await?;
    store
        .ensure_leases(&[(MB.to_owned(), "support".to_owned())])
        .await?;
    let t1 = store.acquire_lease(MB, "w1", 60_000).await?;
    assert_eq!(t1, Some(1));
    assert_eq!(store.acquire_lease(MB, "w2", 60_000).await?, None, "held");
    assert_eq!(
        store.renew_leases("w1", 60_000).await?,
        [(MB.to_owned(), 1)]
    );
    assert!(store.renew_leases("w2", 60_000).await?.is_empty());
    // A lease taken for 1 ms expires at once: the other worker takes it, under a higher token.
    store.release_lease(MB, "w1", 1).await?;
    assert_eq!(store.acquire_lease(MB, "w1", 1).await?, Some(2));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(
        store.renew_leases("w1", 60_000).await?.is_empty(),
        "expired"
    );
    assert_eq!(store.acquire_lease(MB, "w2", 60_000).await?, Some(3));
    let (leases, now) = store.leases().await?;
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].holder, "w2");
    assert_eq!(leases[0].name, "support");
    assert!(leases[0].held_at(now));
    Ok(())
}

async fn the_fence_refuses_a_stale_token_inside_the_transaction(
    store: Store,
) -> anyhow::Result<()> {
    store
        .ensure_leases(&[(MB.to_owned(), "support".to_owned())])
        .await?;
    let t1 = store.acquire_lease(MB, "w1", 60_000).await?.expect("free");
    let mut tx = store.begin().await?;
    store.fence_in(&mut tx, MB, "w1", t1).await?;
    tx.commit().await?;
    store.release_lease(MB, "w1", t1).await?;
    let t2 = store.acquire_lease(MB, "w2", 60_000).await?.expect("free");
    let mut tx = store.begin().await?;
    let err = store
        .fence_in(&mut tx, MB, "w1", t1)
        .await
        .expect_err("w1's token is stale");
    let fenced = err.downcast_ref::<Fenced>().expect("a Fenced error");
    assert_eq!(fenced.holder, "w2");
    assert_eq!(fenced.holder_token, t2);
    assert!(fenced.to_string().contains("is stale"), "{fenced}");
    drop(tx);
    // An expired lease fences its holder too, before anybody took it.
    store.release_lease(MB, "w2", t2).await?;
    let t3 = store.acquire_lease(MB, "w2", 1).await?.expect("free");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut tx = store.begin().await?;
    let err = store
        .fence_in(&mut tx, MB, "w2", t3)
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    Ok(())
}

async fn a_stopped_worker_gives_its_leases_up_and_is_not_live(store: Store) -> anyhow::Result<()> {
    store.register_worker("w1", ("h", "ns"), 1, 60_000).await?;
    store
        .ensure_leases(&[
            (MB.to_owned(), "support".to_owned()),
            ("maildir:/x".to_owned(), "x".to_owned()),
        ])
        .await?;
    store.acquire_lease(MB, "w1", 60_000).await?.expect("free");
    store
        .acquire_lease("maildir:/x", "w1", 60_000)
        .await?
        .expect("free");
    assert!(store.heartbeat("w1").await?.is_some());
    store.stop_worker("w1").await?;
    assert_eq!(
        store.heartbeat("w1").await?,
        None,
        "a stopped worker beats no more"
    );
    let (workers, now) = store.workers().await?;
    assert!(!workers[0].live_at(now));
    let (leases, now) = store.leases().await?;
    assert!(leases.iter().all(|l| !l.held_at(now)), "{leases:?}");
    assert_eq!(store.acquire_lease(MB, "w2", 60_000).await?, Some(2));
    Ok(())
}

async fn the_database_clock_is_the_epoch_in_milliseconds(store: Store) -> anyhow::Result<()> {
    let db = store.db_now_ms().await?;
    let host = crate::clock::Clock::system().now_ms();
    assert!((db - host).abs() < 60_000, "db {db} host {host}");
    Ok(())
}

async fn old_worker_rows_are_forgotten_unless_they_still_name_a_lease(
    store: Store,
) -> anyhow::Result<()> {
    // ttl 0: silent at once.
    store.register_worker("gone", ("h", "ns"), 1, 0).await?;
    store.register_worker("holder", ("h", "ns"), 2, 0).await?;
    store
        .register_worker("live", ("h", "ns"), 3, 60_000)
        .await?;
    store
        .ensure_leases(&[(MB.to_owned(), "support".to_owned())])
        .await?;
    store.acquire_lease(MB, "holder", 1).await?.expect("free");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(store.forget_workers(0).await?, 1);
    let (workers, _) = store.workers().await?;
    let mut ids: Vec<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["holder", "live"]);
    Ok(())
}

backend_tests!(
    old_worker_rows_are_forgotten_unless_they_still_name_a_lease,
    a_lease_is_held_by_one_worker_and_taken_over_only_after_it_expires,
    the_fence_refuses_a_stale_token_inside_the_transaction,
    a_stopped_worker_gives_its_leases_up_and_is_not_live,
    the_database_clock_is_the_epoch_in_milliseconds,
);
