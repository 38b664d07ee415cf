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
    let due = store.due_recipients(T0, false, 10).await?;
    assert_eq!(due.len(), 1);
    let r = &due[0];
    assert!(
        store
            .claim_recipient(r.id, r.attempts, T0 + 60_000, T0)
            .await?
    );
    assert!(
        !store
            .claim_recipient(r.id, r.attempts, T0 + 60_000, T0)
            .await?,
        "second claim of the same attempt"
    );
    assert!(
        store
            .due_recipients(T0 + 59_999, false, 10)
            .await?
            .is_empty(),
        "not due before the retry"
    );
    assert_eq!(
        store.due_recipients(T0, true, 10).await?.len(),
        1,
        "--now ignores the schedule"
    );
    assert_eq!(store.next_outbox_due().await?, Some(T0 + 60_000));
    store
        .record_attempt(r.id, RecipientState::Queued, "421 try later", T0)
        .await?;
    let again = store.due_recipients(T0 + 60_000, false, 10).await?;
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error, "421 try later");
    store
        .record_attempt(r.id, RecipientState::Sent, "", T0 + 60_000)
        .await?;
    assert!(store.due_recipients(i64::MAX, true, 10).await?.is_empty());
    store
        .record_attempt(r.id, RecipientState::Failed, "late", T0)
        .await?;
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

async fn one_recipient_fails_the_other_is_sent(store: Store) -> Result<()> {
    let id = queue(
        &store,
        "<c@example.org>",
        "",
        &["good@example.net", "nosuch@example.net"],
    )
    .await?;
    let due = store.due_recipients(T0, false, 10).await?;
    for r in &due {
        let state = if r.address.starts_with("nosuch") {
            RecipientState::Failed
        } else {
            RecipientState::Sent
        };
        store.record_attempt(r.id, state, "550", T0).await?;
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
    assert_eq!(store.due_recipients(T0 + 5, false, 10).await?.len(), 1);
    assert_eq!(store.cancel_outbox_mail(id, T0 + 6).await?, 1);
    assert!(store.due_recipients(i64::MAX, true, 10).await?.is_empty());
    Ok(())
}

async fn a_held_mail_is_never_due_until_requeued_with_bytes(store: Store) -> Result<()> {
    let id = queue(&store, "<d@example.org>", "no key", &["a@example.net"]).await?;
    assert!(store.due_recipients(i64::MAX, true, 10).await?.is_empty());
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
    assert_eq!(store.due_recipients(T0, false, 10).await?.len(), 1);
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

backend_tests!(
    queued_mail_round_trips,
    a_claim_is_taken_once_and_schedules_the_next_attempt,
    one_recipient_fails_the_other_is_sent,
    a_held_mail_is_never_due_until_requeued_with_bytes,
    ticket_numbers_count_per_day_and_never_repeat,
    auto_replies_are_found_within_the_period,
);
