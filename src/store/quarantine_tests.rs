use super::{GIVEN_UP, HELD, QuarantineFailure, RELEASED, RELEASING};
use crate::store::testing::backend_tests;
use crate::store::{NewVerdict, Store};

const MAILBOX: &str = "imap://t@h/INBOX";

async fn quarantined(store: &Store, uid: i64, digest: &str) -> anyhow::Result<i64> {
    let mut tx = store.begin().await?;
    let (id, _) = Store::record_verdict_in(
        &mut tx,
        &NewVerdict {
            mailbox: MAILBOX,
            uidvalidity: 7,
            uid: Some(uid),
            name: "",
            message_id: "m@example.org",
            digest,
            bucket: "Quarantine",
            plan: "{}",
            error: "script-error: x",
            created_ms: 1_000,
        },
    )
    .await?;
    Store::quarantine_in(
        &mut tx,
        id,
        MAILBOX,
        digest,
        "script-error",
        "rules-a",
        1_000,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Only rules other than those that failed a message make it due, and only after its backoff and
/// before its attempts run out; a release in progress is always due.
async fn due_only_under_new_rules_after_backoff(store: Store) -> anyhow::Result<()> {
    let a = quarantined(&store, 1, "d1").await?;
    let b = quarantined(&store, 2, "d2").await?;
    assert!(
        store
            .quarantine_due(MAILBOX, "rules-a", 5_000, 5)
            .await?
            .is_empty()
    );
    assert_eq!(
        store
            .quarantine_due(MAILBOX, "rules-b", 5_000, 5)
            .await?
            .len(),
        2
    );
    let failure = QuarantineFailure {
        reason: "cpu-limit",
        error: "cpu-limit: y",
        rules: "rules-b",
        attempts: 1,
        not_before_ms: 65_000,
        state: HELD,
    };
    store.quarantine_failed(a, &failure, 5_000).await?;
    let due = store.quarantine_due(MAILBOX, "rules-c", 6_000, 5).await?;
    assert_eq!(due.iter().map(|r| r.verdict_id).collect::<Vec<_>>(), [b]);
    assert_eq!(
        store
            .quarantine_due(MAILBOX, "rules-c", 65_000, 5)
            .await?
            .len(),
        2
    );
    store
        .quarantine_failed(
            a,
            &QuarantineFailure {
                attempts: 5,
                state: GIVEN_UP,
                ..failure
            },
            7_000,
        )
        .await?;
    let mut tx = store.begin().await?;
    Store::quarantine_release_in(&mut tx, b, "Fixed", "{\"x\":1}", 1, 8_000).await?;
    tx.commit().await?;
    let due = store.quarantine_due(MAILBOX, "rules-d", 100_000, 5).await?;
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].state.as_str(), due[0].plan.as_str()),
        (RELEASING, "{\"x\":1}")
    );
    store.quarantine_state(b, RELEASED, 9_000).await?;
    assert!(
        store
            .quarantine_due(MAILBOX, "rules-d", 100_000, 5)
            .await?
            .is_empty()
    );
    let counts = store.quarantine_counts(MAILBOX).await?;
    assert_eq!(
        (counts.get(GIVEN_UP), counts.get(RELEASED)),
        (Some(&1), Some(&1))
    );
    Ok(())
}

backend_tests!(due_only_under_new_rules_after_backoff);
