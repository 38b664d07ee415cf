//! Retention store tests (holds, the purge journal, the report's counts, what holds look up, pruning),
//! run on SQLite and PostgreSQL alike.

use anyhow::Result;

use super::{HoldKind, KEPT, NewPurge, PURGED, RunEnd};
use crate::store::testing::backend_tests;
use crate::store::{NewEvent, NewOutboxMail, NewVerdict, PRUNED, RecipientState, Store};

const MAILBOX: &str = "imap://t@h/INBOX";
const DAY: i64 = 86_400_000;

fn purge(uid: i64, folder: &str) -> NewPurge<'_> {
    NewPurge {
        mailbox: MAILBOX,
        folder,
        uidvalidity: 7,
        uid,
        name: "",
        message_id: "m@example.org",
        digest: "d",
        internal_ms: 1_000,
        was_deleted: false,
    }
}

/// Guards against: a release that leaves the hold active, or holds without their audit events.
async fn holds_are_placed_listed_and_released(store: Store) -> Result<()> {
    let a = store
        .add_hold(HoldKind::MessageId, "a@x", "legal", "cli", 10)
        .await?;
    store
        .add_hold(HoldKind::Ticket, "s20261001.004", "court", "cli", 20)
        .await?;
    let active = store.active_holds().await?;
    assert_eq!(active.len(), 2);
    assert_eq!(active[0].id, a);
    assert_eq!(
        (active[0].kind, active[0].target.as_str()),
        (HoldKind::MessageId, "a@x")
    );
    assert_eq!(active[1].kind, HoldKind::Ticket);
    let released = store
        .release_holds(HoldKind::MessageId, "a@x", "done", "cli", 30)
        .await?;
    assert_eq!(released, vec![a]);
    assert!(
        store
            .release_holds(HoldKind::MessageId, "a@x", "again", "cli", 40)
            .await?
            .is_empty()
    );
    let active = store.active_holds().await?;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].target, "s20261001.004");
    let events = store.events(Some("message-id:a@x"), 10).await?;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["retention-hold", "retention-release"]);
    Ok(())
}

/// Guards against: a message recorded purged twice when two journal entries name it, and planned
/// entries lost between runs.
async fn the_journal_records_each_purge_once(store: Store) -> Result<()> {
    let killed = store.start_retention_run("cli", false, 50).await?;
    let run = store.start_retention_run("cli", false, 100).await?;
    assert_eq!(
        store.last_retention_run_ms().await?,
        None,
        "unfinished runs"
    );
    let ids = store
        .plan_purges(run, &[purge(5, "Junk"), purge(6, "Junk")], 100)
        .await?;
    let again = store.plan_purges(run, &[purge(5, "Junk")], 110).await?;
    assert_eq!(store.planned_purges(MAILBOX).await?.len(), 3);
    let mut tx = store.begin().await?;
    assert!(Store::finish_purge_in(&mut tx, ids[0], 200).await?);
    assert!(!Store::finish_purge_in(&mut tx, again[0], 200).await?);
    Store::keep_purge_in(&mut tx, ids[1], 200).await?;
    tx.commit().await?;
    assert!(store.planned_purges(MAILBOX).await?.is_empty());
    let states: Vec<(String,)> = sqlx::query_as("SELECT state FROM retention_purges ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    let states: Vec<&str> = states.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(states, [PURGED, KEPT, KEPT]);
    store
        .finish_retention_run(
            run,
            &RunEnd {
                due: 2,
                held: 1,
                purged: 1,
                outcome: "done",
            },
            300,
        )
        .await?;
    assert_eq!(store.last_retention_run_ms().await?, Some(100));
    let later = store.start_retention_run("schedule", false, 200).await?;
    let failed = RunEnd {
        due: 0,
        held: 0,
        purged: 0,
        outcome: "failed",
    };
    store.finish_retention_run(later, &failed, 210).await?;
    assert_eq!(
        store.last_retention_run_ms().await?,
        Some(100),
        "a failed run"
    );
    assert!(killed < run);
    Ok(())
}

/// Guards against: the team report counting planned or kept entries, or purges outside the period.
async fn purges_are_counted_per_bucket_over_a_period(store: Store) -> Result<()> {
    let run = store.start_retention_run("cli", false, 0).await?;
    let planned = store
        .plan_purges(
            run,
            &[
                purge(1, "Junk"),
                purge(2, "Junk"),
                purge(3, "Bounces"),
                purge(4, "Junk"),
            ],
            0,
        )
        .await?;
    let mut tx = store.begin().await?;
    Store::finish_purge_in(&mut tx, planned[0], 10 * DAY).await?;
    Store::finish_purge_in(&mut tx, planned[1], 40 * DAY).await?;
    Store::finish_purge_in(&mut tx, planned[2], 11 * DAY).await?;
    tx.commit().await?;
    let counts = store.purged_per_bucket(0, 30 * DAY).await?;
    assert_eq!(
        counts,
        vec![("Bounces".to_owned(), 1), ("Junk".to_owned(), 1)]
    );
    assert_eq!(
        store.purged_per_bucket(0, 50 * DAY).await?,
        vec![("Bounces".to_owned(), 1), ("Junk".to_owned(), 2)]
    );
    assert!(
        store
            .purged_per_bucket(50 * DAY, 60 * DAY)
            .await?
            .is_empty()
    );
    Ok(())
}

async fn verdict(
    store: &Store,
    uid: i64,
    message_id: &str,
    bucket: &str,
    created_ms: i64,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let (id, _) = Store::record_verdict_in(
        &mut tx,
        &NewVerdict {
            mailbox: MAILBOX,
            uidvalidity: 7,
            uid: Some(uid),
            name: "",
            message_id,
            digest: &format!("digest-{uid}"),
            bucket,
            plan: "{\"target\":\"Keep\"}",
            error: "",
            created_ms,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn queue(store: &Store, template: &str, message_id: &str, created_ms: i64) -> Result<i64> {
    let mut tx = store.begin().await?;
    let id = Store::insert_outbox_mail_in(
        &mut tx,
        &NewOutboxMail {
            created_at_ms: created_ms,
            template,
            message_id,
            subject: "Re: hello",
            envelope_from: "",
            raw: b"In-Reply-To: <orig@x>\r\nSubject: Re: hello\r\n\r\nbody\r\n",
            source: "{\"body\":\"body\"}",
            hold_error: "",
            give_up_at_ms: created_ms + DAY,
            recipients: &["a@example.net".to_owned()],
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Guards against: a dispute missed because its Message-ID was stored with angle brackets (filings)
/// or without (verdicts), a watched-folder message without a carried-out verdict counted as sorted, and
/// a ticket whose acknowledgement cannot be found.
async fn holds_find_disputes_tickets_and_sorted_mail(store: Store) -> Result<()> {
    let sorted = verdict(&store, 1, "dispute@x", "Support/Disputes", 0).await?;
    verdict(&store, 2, "other@x", "Triage", 0).await?;
    store.mark_applied(&[sorted], 1).await?;
    queue(&store, "abc-filing", "<filing@x>", 0).await?;
    let ack = queue(&store, "ack", "<ack@x>", 0).await?;
    let mut tx = store.begin().await?;
    Store::record_auto_reply_in(&mut tx, "a@example.net", 0, ack, "s20261001.004").await?;
    tx.commit().await?;
    let ids: Vec<String> = ["dispute@x", "other@x", "filing@x", "none@x"]
        .map(str::to_owned)
        .to_vec();
    let found = store
        .dispute_ids_among(&["Support/Disputes".to_owned()], &ids)
        .await?;
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["dispute@x", "filing@x"]
    );
    let mails = store.ticket_mails("s20261001.004").await?;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "<ack@x>");
    assert!(mails[0].1.starts_with(b"In-Reply-To: <orig@x>"));
    let (uids, _) = store.sorted_among(MAILBOX, 7, &[1, 2, 3], &[]).await?;
    assert_eq!(uids.into_iter().collect::<Vec<_>>(), [1]);
    Ok(())
}

/// Guards against: pruning a verdict whose message is still in the watched folder or in quarantine, one
/// that is not yet older than the limit, losing the key that stops a message being sorted twice, or
/// emptying the body of mail still waiting to be sent.
async fn pruning_keeps_a_content_free_key(store: Store) -> Result<()> {
    let moved = verdict(&store, 1, "moved@x", "Triage", 0).await?;
    let kept_here = verdict(&store, 2, "kept@x", "INBOX", 0).await?;
    let kept_gone = verdict(&store, 3, "gone@x", "INBOX", 0).await?;
    let young = verdict(&store, 4, "young@x", "Triage", 900 * DAY).await?;
    let quarantined = verdict(&store, 5, "q@x", "Quarantine", 0).await?;
    let unapplied = verdict(&store, 6, "unapplied@x", "Triage", 0).await?;
    let mut tx = store.begin().await?;
    Store::quarantine_in(&mut tx, quarantined, MAILBOX, "digest-5", "x", "r", 0).await?;
    tx.commit().await?;
    store
        .mark_applied(&[moved, kept_here, kept_gone, young, quarantined], 1)
        .await?;
    let sent = queue(&store, "ack", "<sent@x>", 0).await?;
    let waiting = queue(&store, "ack", "<waiting@x>", 0).await?;
    let recipient = store.outbox_recipients(sent).await?[0].id;
    store
        .record_attempt(recipient, "w1", RecipientState::Sent, "", 1)
        .await?;
    let cutoff = 800 * DAY;
    let kept = store.kept_verdicts_before(MAILBOX, cutoff).await?;
    let kept_ids: Vec<i64> = kept.iter().map(|k| k.id).collect();
    assert_eq!(kept_ids, [kept_here, kept_gone]);
    let would = store
        .prunable_records(MAILBOX, cutoff, &[kept_gone])
        .await?;
    assert_eq!((would.verdicts, would.outbox_bodies), (2, 1));
    let event = NewEvent {
        at_ms: cutoff,
        actor: "cli",
        subject: "retention",
        action: "records-pruned",
        reason: "retention:records=2y",
        detail: "older than x",
    };
    let done = store
        .prune_records(MAILBOX, cutoff, &[kept_gone], &event)
        .await?;
    assert_eq!(done, would);
    let rows = store.verdicts(MAILBOX).await?;
    let state = |id: i64| rows.iter().find(|r| r.id == id).map(|r| r.state.as_str());
    assert_eq!(state(moved), Some(PRUNED));
    assert_eq!(state(kept_gone), Some(PRUNED));
    for id in [kept_here, young, quarantined] {
        assert_eq!(state(id), Some(crate::store::APPLIED), "verdict {id}");
    }
    assert_eq!(state(unapplied), Some(crate::store::RECORDED));
    let pruned = rows.iter().find(|r| r.id == moved).cloned();
    let pruned = pruned.ok_or_else(|| anyhow::anyhow!("pruned row gone"))?;
    assert_eq!((pruned.message_id.as_str(), pruned.plan.as_str()), ("", ""));
    assert_eq!((pruned.uid, pruned.bucket.as_str()), (1, "Triage"));
    let known = store
        .known_digests(MAILBOX, &["digest-1".to_owned()])
        .await?;
    assert!(known.contains("digest-1"), "the key of a pruned verdict");
    assert!(store.outbox_raw(sent).await?.is_empty());
    assert!(!store.outbox_raw(waiting).await?.is_empty());
    assert_eq!(store.events(Some("retention"), 10).await?.len(), 1);
    let again = store.prunable_records(MAILBOX, cutoff, &[]).await?;
    assert_eq!((again.verdicts, again.outbox_bodies), (0, 0));
    Ok(())
}

backend_tests!(
    holds_are_placed_listed_and_released,
    the_journal_records_each_purge_once,
    purges_are_counted_per_bucket_over_a_period,
    holds_find_disputes_tickets_and_sorted_mail,
    pruning_keeps_a_content_free_key,
);
