use super::{APPLIED, NewVerdict, RECORDED};
use crate::store::testing::backend_tests;
use crate::store::{Store, SyncState};

fn verdict<'a>(uid: Option<i64>, name: &'a str, digest: &'a str) -> NewVerdict<'a> {
    NewVerdict {
        mailbox: "imap://t@h/INBOX",
        uidvalidity: 7,
        uid,
        name,
        message_id: "m1@example.org",
        digest,
        bucket: "SE",
        plan: "{}",
        error: "",
        created_ms: 1_000,
    }
}

async fn one_verdict_per_uid(store: Store) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    let (id, uid) = Store::record_verdict_in(&mut tx, &verdict(Some(5), "", "d1")).await?;
    assert_eq!(uid, 5);
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let again = Store::record_verdict_in(&mut tx, &verdict(Some(5), "", "d2")).await;
    assert!(
        again.is_err(),
        "a second verdict for the same uid must be refused"
    );
    drop(tx);
    let rows = store.verdicts("imap://t@h/INBOX").await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, RECORDED);
    store.mark_applied(&[id], 2_000).await?;
    assert_eq!(store.verdicts("imap://t@h/INBOX").await?[0].state, APPLIED);
    assert!(store.unapplied("imap://t@h/INBOX", 3_000).await?.is_empty());
    Ok(())
}

async fn store_assigns_uids_and_names_are_unique(store: Store) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    let (_, a) = Store::record_verdict_in(&mut tx, &verdict(None, "a", "da")).await?;
    let (_, b) = Store::record_verdict_in(&mut tx, &verdict(None, "b", "db")).await?;
    tx.commit().await?;
    assert_eq!((a, b), (1, 2));
    let mut tx = store.begin().await?;
    assert!(
        Store::record_verdict_in(&mut tx, &verdict(None, "a", "dz"))
            .await
            .is_err()
    );
    drop(tx);
    let names = store
        .known_names("imap://t@h/INBOX", &["a".into(), "c".into()])
        .await?;
    assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["a".to_owned()]);
    let digests = store
        .known_digests("imap://t@h/INBOX", &["db".into(), "dx".into()])
        .await?;
    assert_eq!(digests.len(), 1);
    Ok(())
}

async fn retries_wait_for_their_time(store: Store) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    let (id, _) = Store::record_verdict_in(&mut tx, &verdict(Some(1), "", "d")).await?;
    tx.commit().await?;
    assert_eq!(store.record_apply_failure(id, "boom", 10_000).await?, 1);
    assert!(store.unapplied("imap://t@h/INBOX", 9_999).await?.is_empty());
    assert_eq!(store.unapplied("imap://t@h/INBOX", 10_000).await?.len(), 1);
    assert_eq!(store.verdict_backlog("imap://t@h/INBOX").await?, (1, 1));
    Ok(())
}

async fn sync_state_only_moves_forward(store: Store) -> anyhow::Result<()> {
    let state = SyncState {
        mailbox: "m".into(),
        folder: "INBOX".into(),
        uidvalidity: 3,
        last_uid: 10,
        last_error: String::new(),
        updated_ms: 1,
    };
    store.save_sync_state(&state).await?;
    let mut tx = store.begin().await?;
    Store::advance_sync_in(&mut tx, "m", 3, 8, 2).await?;
    Store::advance_sync_in(&mut tx, "m", 4, 20, 2).await?;
    tx.commit().await?;
    assert_eq!(store.sync_state("m").await?.map(|s| s.last_uid), Some(10));
    let mut tx = store.begin().await?;
    Store::advance_sync_in(&mut tx, "m", 3, 12, 2).await?;
    tx.commit().await?;
    assert_eq!(store.sync_state("m").await?.map(|s| s.last_uid), Some(12));
    let counts = store.bucket_counts("m", 0).await?;
    assert!(counts.is_empty());
    Ok(())
}

backend_tests!(
    one_verdict_per_uid,
    store_assigns_uids_and_names_are_unique,
    retries_wait_for_their_time,
    sync_state_only_moves_forward,
);
