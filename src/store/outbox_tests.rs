//! Outbox store tests, run on SQLite and PostgreSQL alike.

use anyhow::Result;

use super::super::testing::backend_tests;
use super::*;

const T0: i64 = 1_795_000_000_000;

async fn queue(store: &Store, id: &str, hold: &str, recipients: &[&str]) -> Result<i64> {
    let recipients: Vec<String> = recipients.iter().map(|s| (*s).to_owned()).collect();
    let mut tx = store.begin().await?;
    let mail_id = Store::insert_outbox_mail_in(
        &mut tx,
        &NewOutboxMail {
            created_at_ms: T0,
            template: "welcome-triage",
            message_id: id,
            subject: "Welcome",
            envelope_from: "support@example.org",
            raw: b"Subject: Welcome\r\n\r\nhello\r\n",
            source: "{}",
            hold_error: hold,
            give_up_at_ms: T0 + 3_600_000,
            recipients: &recipients,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(mail_id)
}

async fn queued_mail_round_trips(store: Store) -> Result<()> {
    let id = queue(
        &store,
        "<a@example.org>",
        "",
        &["a@example.net", "b@example.net"],
    )
    .await?;
    let mail = store
        .outbox_mail(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(mail.message_id, "<a@example.org>");
    assert_eq!(mail.recipients.len(), 2);
    assert!(
        mail.recipients
            .iter()
            .all(|r| r.state == RecipientState::Queued)
    );
    assert_eq!(
        store.outbox_raw(id).await?,
        b"Subject: Welcome\r\n\r\nhello\r\n"
    );
    let d = store.delivery(mail.recipients[0].id).await?;
    assert_eq!(d.raw, b"Subject: Welcome\r\n\r\nhello\r\n");
    assert_eq!(d.envelope_from, "support@example.org");
    assert_eq!(store.outbox_mails(10).await?.len(), 1);
    assert!(store.outbox_mail(id + 100).await?.is_none());
    Ok(())
}

async fn a_claim_is_taken_once_and_schedules_the_next_attempt(store: Store) -> Result<()> {
    let id = queue(&store, "<b@example.org>", "", &["a@example.net"]).await?;
    store.register_worker("w1", ("h", ""), 1, 60_000).await?;
    let due = store.due_recipients("w1", T0, false, 10).await?;
    assert_eq!(due.len(), 1);
    let r = &due[0];
    assert!(
        store
            .claim_recipient(r.id, "w1", r.attempts, T0 + 60_000, T0)
            .await?
    );
    assert!(
        !store
            .claim_recipient(r.id, "w1", r.attempts, T0 + 60_000, T0)
            .await?,
        "second claim of the same attempt"
    );
    assert!(
        store
            .due_recipients("w1", T0 + 59_999, false, 10)
            .await?
            .is_empty(),
        "not due before the retry"
    );
    assert_eq!(
        store.due_recipients("w1", T0, true, 10).await?.len(),
        1,
        "--now ignores the schedule"
    );
    assert_eq!(store.next_outbox_due("w1").await?, Some(T0 + 60_000));
    assert!(
        store
            .record_attempt(r.id, "w1", RecipientState::Queued, "421 try later", T0)
            .await?
    );
    let again = store.due_recipients("w1", T0 + 60_000, false, 10).await?;
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error, "421 try later");
    store
        .record_attempt(r.id, "w1", RecipientState::Sent, "", T0 + 60_000)
        .await?;
    assert!(
        store
            .due_recipients("w1", i64::MAX, true, 10)
            .await?
            .is_empty()
    );
    assert!(
        !store
            .record_attempt(r.id, "w1", RecipientState::Failed, "late", T0)
            .await?
    );
    let mail = store
        .outbox_mail(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(
        mail.recipients[0].state,
        RecipientState::Sent,
        "a sent recipient stays sent"
    );
    Ok(())
}

/// The one recipient of a fresh mail, claimed by `worker` (whose claim must succeed).
async fn claimed(store: &Store, message_id: &str, worker: &str) -> Result<OutboxRecipient> {
    queue(store, message_id, "", &["a@example.net"]).await?;
    let r = store.due_recipients(worker, T0, false, 10).await?.remove(0);
    anyhow::ensure!(
        store
            .claim_recipient(r.id, worker, r.attempts, T0 + 1_000, T0)
            .await?,
        "the claim by {worker}"
    );
    let after = store.delivery(r.id).await?.recipient;
    assert_eq!((after.claimed_by.as_str(), after.attempts), (worker, 1));
    Ok(after)
}

/// Guards against: a second flusher sending a recipient whose SMTP transaction outlasts the first retry
/// delay, while the worker making it is alive.
async fn a_claim_by_a_live_worker_blocks_another(store: Store) -> Result<()> {
    store.register_worker("w1", ("h", ""), 1, 60_000).await?;
    store.register_worker("w2", ("h", ""), 2, 60_000).await?;
    let r = claimed(&store, "<live@example.org>", "w1").await?;
    let later = T0 + 3_600_000;
    assert!(
        store
            .due_recipients("w2", later, true, 10)
            .await?
            .is_empty(),
        "due to another worker while w1 holds it"
    );
    assert_eq!(store.next_outbox_due("w2").await?, None);
    assert!(
        !store
            .claim_recipient(r.id, "w2", r.attempts, later, later)
            .await?,
        "claimed by w2 while w1 holds it"
    );
    assert!(
        !store
            .record_attempt(r.id, "w2", RecipientState::Sent, "", later)
            .await?,
        "w2 recorded an outcome on w1's claim"
    );
    assert_eq!(
        store.due_recipients("w1", later, false, 10).await?.len(),
        1,
        "a claim w1 left (its record failed) is due to w1 at its next turn"
    );
    assert!(
        store
            .record_attempt(r.id, "w1", RecipientState::Queued, "421", T0 + 10)
            .await?
    );
    let after = store.delivery(r.id).await?.recipient;
    assert_eq!(after.claimed_by, "", "the outcome clears the claim");
    assert_eq!(
        store
            .due_recipients("w2", T0 + 1_000, false, 10)
            .await?
            .len(),
        1,
        "queued again, for anybody"
    );
    Ok(())
}

/// Guards against: a recipient claimed by a worker that died (or stopped) staying unsent for ever.
async fn a_dead_or_stopped_workers_claim_is_taken_over(store: Store) -> Result<()> {
    // A ttl of 0: its heartbeat is already as old as its ttl, so it is dead from the start.
    store.register_worker("dead", ("h", ""), 1, 0).await?;
    store.register_worker("w2", ("h", ""), 2, 60_000).await?;
    store.register_worker("w3", ("h", ""), 3, 60_000).await?;
    let r = claimed(&store, "<dead@example.org>", "dead").await?;
    assert!(
        store
            .due_recipients("w2", T0 + 999, false, 10)
            .await?
            .is_empty(),
        "not before its next turn"
    );
    let due = store.due_recipients("w2", T0 + 1_000, false, 10).await?;
    assert_eq!(due.len(), 1, "the dead worker's claim is back in the queue");
    assert!(
        store
            .claim_recipient(r.id, "w2", due[0].attempts, T0 + 2_000, T0 + 1_000)
            .await?
    );
    assert!(
        !store
            .record_attempt(r.id, "dead", RecipientState::Sent, "", T0 + 1_000)
            .await?,
        "the dead worker's late outcome is refused while w2 holds the claim"
    );
    store.stop_worker("w2").await?;
    let due = store.due_recipients("w3", T0 + 2_000, false, 10).await?;
    assert_eq!(
        due.len(),
        1,
        "a stopped worker's claim is back in the queue"
    );
    assert!(
        store
            .claim_recipient(r.id, "w3", due[0].attempts, T0 + 3_000, T0 + 2_000)
            .await?
    );
    assert!(
        store
            .record_attempt(r.id, "w3", RecipientState::Sent, "", T0 + 2_000)
            .await?
    );
    let after = store.delivery(r.id).await?.recipient;
    assert_eq!(
        (after.state, after.attempts, after.claimed_by.as_str()),
        (RecipientState::Sent, 3, "")
    );
    Ok(())
}

/// A cancelled recipient loses its claim and refuses the claimant's outcome.
async fn cancelling_drops_the_claim(store: Store) -> Result<()> {
    store.register_worker("w1", ("h", ""), 1, 60_000).await?;
    let r = claimed(&store, "<cancel@example.org>", "w1").await?;
    assert_eq!(store.cancel_outbox_mail(r.mail_id, T0).await?, 1);
    assert!(
        !store
            .record_attempt(r.id, "w1", RecipientState::Sent, "", T0)
            .await?
    );
    let after = store.delivery(r.id).await?.recipient;
    assert_eq!(
        (after.state, after.claimed_by.as_str()),
        (RecipientState::Cancelled, "")
    );
    Ok(())
}

async fn one_recipient_fails_the_other_is_sent(store: Store) -> Result<()> {
    let id = queue(
        &store,
        "<c@example.org>",
        "",
        &["good@example.net", "nosuch@example.net"],
    )
    .await?;
    let due = store.due_recipients("w1", T0, false, 10).await?;
    for r in &due {
        let state = if r.address.starts_with("nosuch") {
            RecipientState::Failed
        } else {
            RecipientState::Sent
        };
        store.record_attempt(r.id, "w1", state, "550", T0).await?;
    }
    let states: Vec<_> = store
        .outbox_recipients(id)
        .await?
        .into_iter()
        .map(|r| (r.address, r.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("good@example.net".to_owned(), RecipientState::Sent),
            ("nosuch@example.net".to_owned(), RecipientState::Failed)
        ]
    );
    assert_eq!(
        store.requeue_outbox_mail(id, None, T0 + 10, T0 + 5).await?,
        1,
        "only the failed one"
    );
    assert_eq!(
        store.due_recipients("w1", T0 + 5, false, 10).await?.len(),
        1
    );
    assert_eq!(store.cancel_outbox_mail(id, T0 + 6).await?, 1);
    assert!(
        store
            .due_recipients("w1", i64::MAX, true, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

async fn a_held_mail_is_never_due_until_requeued_with_bytes(store: Store) -> Result<()> {
    let id = queue(&store, "<d@example.org>", "no key", &["a@example.net"]).await?;
    assert!(
        store
            .due_recipients("w1", i64::MAX, true, 10)
            .await?
            .is_empty()
    );
    let mail = store
        .outbox_mail(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(mail.hold_error, "no key");
    assert_eq!(mail.recipients[0].state, RecipientState::Held);
    store.hold_outbox_mail(id, "still no key", T0).await?;
    assert_eq!(store.outbox_source(id).await?.source, "{}");
    store
        .requeue_outbox_mail(id, Some(b"new bytes"), T0 + 10, T0)
        .await?;
    assert_eq!(store.outbox_raw(id).await?, b"new bytes");
    assert_eq!(store.due_recipients("w1", T0, false, 10).await?.len(), 1);
    Ok(())
}

async fn ticket_numbers_count_per_day_and_never_repeat(store: Store) -> Result<()> {
    let mut tx = store.begin().await?;
    assert_eq!(Store::next_ticket_in(&mut tx, "20261128").await?, 1);
    assert_eq!(Store::next_ticket_in(&mut tx, "20261128").await?, 2);
    assert_eq!(Store::next_ticket_in(&mut tx, "20261129").await?, 1);
    tx.commit().await?;
    let mut tx = store.begin().await?;
    assert_eq!(Store::next_ticket_in(&mut tx, "20261128").await?, 3);
    tx.commit().await?;
    Ok(())
}

async fn auto_replies_are_found_within_the_period(store: Store) -> Result<()> {
    let id = queue(&store, "<e@example.org>", "", &["a@example.net"]).await?;
    let mut tx = store.begin().await?;
    Store::record_auto_reply_in(&mut tx, "a@example.net", T0, id, "s20261128.001").await?;
    tx.commit().await?;
    assert_eq!(
        store.auto_replied_since("a@example.net", T0 - 10).await?,
        Some(T0)
    );
    assert_eq!(
        store.auto_replied_since("a@example.net", T0 + 1).await?,
        None
    );
    assert_eq!(store.auto_replied_since("b@example.net", 0).await?, None);
    Ok(())
}

/// Takes the period for `sender` at `at_ms` (a period of one hour) in a transaction of its own, committed.
async fn take_period(store: &Store, sender: &str, at_ms: i64) -> Result<Option<i64>> {
    let mut tx = store.begin().await?;
    let last = Store::claim_auto_reply_in(&mut tx, sender, at_ms, at_ms - HOUR).await?;
    tx.commit().await?;
    Ok(last)
}

const HOUR: i64 = 3_600_000;

async fn the_auto_reply_period_is_taken_once_per_sender(store: Store) -> Result<()> {
    assert_eq!(take_period(&store, "a@example.net", T0).await?, None);
    assert_eq!(
        take_period(&store, "a@example.net", T0 + HOUR - 1).await?,
        Some(T0),
        "within the period"
    );
    assert_eq!(take_period(&store, "b@example.net", T0 + 1).await?, None);
    assert_eq!(
        take_period(&store, "a@example.net", T0 + HOUR).await?,
        None,
        "a new period"
    );
    // A reply rolled back (the verdict's transaction failed) leaves the period free.
    let mut tx = store.begin().await?;
    let at = T0 + 3 * HOUR;
    assert_eq!(
        Store::claim_auto_reply_in(&mut tx, "a@example.net", at, at - HOUR).await?,
        None
    );
    tx.rollback().await?;
    assert_eq!(take_period(&store, "a@example.net", at).await?, None);
    Ok(())
}

/// Guards against: two workers acknowledging two mails from one sender at the same moment both sending.
/// The second transaction starts while the first holds the sender's period uncommitted; on
/// PostgreSQL it waits on the key, on SQLite on the one writer's lock, and then finds the period taken.
async fn two_transactions_answering_one_sender_one_wins(store: Store) -> Result<()> {
    for (i, commit) in [true, false].into_iter().enumerate() {
        let sender = format!("race{i}@example.net");
        let mut first = store.begin().await?;
        let taken = Store::claim_auto_reply_in(&mut first, &sender, T0, T0 - HOUR).await?;
        assert_eq!(taken, None);
        let (s, who) = (store.clone(), sender.clone());
        let mut second = tokio::spawn(async move { take_period(&s, &who, T0 + 1).await });
        // The second transaction must wait for the first to end, not pass it.
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut second).await;
        assert!(
            early.is_err(),
            "the second transaction did not wait: {early:?}"
        );
        if commit {
            first.commit().await?;
        } else {
            first.rollback().await?;
        }
        let second = second.await??;
        let expected = commit.then_some(T0);
        assert_eq!(second, expected, "first committed: {commit}");
    }
    Ok(())
}

backend_tests!(
    queued_mail_round_trips,
    a_claim_is_taken_once_and_schedules_the_next_attempt,
    a_claim_by_a_live_worker_blocks_another,
    a_dead_or_stopped_workers_claim_is_taken_over,
    cancelling_drops_the_claim,
    one_recipient_fails_the_other_is_sent,
    a_held_mail_is_never_due_until_requeued_with_bytes,
    ticket_numbers_count_per_day_and_never_repeat,
    auto_replies_are_found_within_the_period,
    the_auto_reply_period_is_taken_once_per_sender,
    two_transactions_answering_one_sender_one_wins,
);

/// PostgreSQL: two flushers claiming the same row at the same moment, each on its own connection: one
/// gets it. Repeated, so that the claims really overlap.
#[tokio::test]
async fn postgres_two_concurrent_claims_of_one_row_one_wins() -> Result<()> {
    let store = crate::store::testing::postgres().await?;
    store.register_worker("w1", ("h", ""), 1, 60_000).await?;
    store.register_worker("w2", ("h", ""), 2, 60_000).await?;
    for i in 0..20 {
        let id = queue(
            &store,
            &format!("<race{i}@example.org>"),
            "",
            &["a@example.net"],
        )
        .await?;
        let r = store.outbox_recipients(id).await?.remove(0);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let claim = |worker: &'static str| {
            let (s, b) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                s.claim_recipient(r.id, worker, 0, T0 + 60_000, T0).await
            })
        };
        let (a, b) = (claim("w1"), claim("w2"));
        let (a, b) = (a.await??, b.await??);
        assert!(a ^ b, "round {i}: w1 {a}, w2 {b}");
        let holder = store.delivery(r.id).await?.recipient.claimed_by;
        assert_eq!(holder, if a { "w1" } else { "w2" });
    }
    Ok(())
}

/// PostgreSQL: a row another transaction has locked (a claim in progress) is skipped, not waited for:
/// `FOR UPDATE SKIP LOCKED`.
#[tokio::test]
async fn postgres_a_row_being_claimed_is_skipped_not_waited_for() -> Result<()> {
    let store = crate::store::testing::postgres().await?;
    store.register_worker("w2", ("h", ""), 2, 60_000).await?;
    let id = queue(&store, "<locked@example.org>", "", &["a@example.net"]).await?;
    let r = store.outbox_recipients(id).await?.remove(0);
    let mut tx = store.begin().await?;
    sqlx::query("SELECT id FROM outbox_recipients WHERE id = $1 FOR UPDATE")
        .bind(r.id)
        .execute(&mut *tx)
        .await?;
    let claim = store.claim_recipient(r.id, "w2", 0, T0 + 60_000, T0);
    let claimed = tokio::time::timeout(std::time::Duration::from_secs(5), claim)
        .await
        .map_err(|_| anyhow::anyhow!("the claim waited for the lock"))??;
    assert!(!claimed, "claimed a row locked by another transaction");
    tx.rollback().await?;
    assert!(
        store
            .claim_recipient(r.id, "w2", 0, T0 + 60_000, T0)
            .await?
    );
    Ok(())
}
