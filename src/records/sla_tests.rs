//! The response-time rules on both stores: a member's reply (Cc'd to the team, or in a sent folder) and
//! the team's own non-automatic mail count, an acknowledgement does not; an unanswered ticket past its
//! target is a breach logged once; business hours change what counts as late.

use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};

use super::*;
use crate::actions::{Classified, Plan, Target as PlanTarget};
use crate::classify::Verdict;
use crate::config::BusinessHours;
use crate::mailbox::Key;
use crate::message::{Message, sha256_hex};
use crate::outbox::harvest::Harvest;
use crate::records::threads::{Joined, mentions, note_queued_in, reply_time};
use crate::store::testing::backend_tests;
use crate::store::{NewPerson, RECEIVED};

fn threads() -> Result<Threads> {
    Ok(Threads::for_team(
        "imap://support@example.org/INBOX",
        "Support <support@example.org>".parse()?,
        Vec::new(),
    ))
}

/// Friday 27 November 2026, `h:m` UTC.
fn at(h: u32, m: u32) -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0)
        .single()
        .context("time")
}

fn sla(hours: Option<&str>) -> Result<SlaConfig> {
    Ok(SlaConfig {
        buckets: vec!["Support".to_owned(), "SE".to_owned()],
        target: Duration::from_secs(3600),
        hours: hours
            .map(BusinessHours::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        sent_folders: vec!["Sent".to_owned()],
    })
}

fn item(raw: &str) -> Result<Classified> {
    let raw = raw.replace('\n', "\r\n");
    let info = Message::parse(raw.as_bytes(), 0)?.info().clone();
    Ok(Classified {
        key: Key {
            uid: 1,
            name: String::new(),
        },
        digest: sha256_hex(raw.as_bytes()),
        plan: Plan {
            target: PlanTarget::Move("Support".to_owned()),
            copies: Vec::new(),
            flags: Vec::new(),
            had: Vec::new(),
        },
        verdict: Verdict::default(),
        mentions: mentions(raw.as_bytes(), info.subject.as_deref()),
        info,
        envelope: None,
        raw: None,
        harvest: Harvest::Nothing,
    })
}

async fn received(store: &Store, raw: &str, now: DateTime<Utc>) -> Result<Option<Joined>> {
    let mut tx = store.begin().await?;
    let joined = threads()?.record_in(&mut tx, &item(raw)?, 0, now).await?;
    tx.commit().await?;
    Ok(joined)
}

async fn team_mail(store: &Store, header: &str, origin: &str, now: DateTime<Utc>) -> Result<bool> {
    let header = header.replace('\n', "\r\n");
    let mut tx = store.begin().await?;
    let joined = threads()?
        .record_team_mail_in(&mut tx, header.as_bytes(), "Sent", origin, now)
        .await?;
    tx.commit().await?;
    Ok(joined.is_some())
}

fn question(n: u32) -> String {
    format!(
        "From: Ann <ann{n}@example.net>\nMessage-ID: <q{n}@example.net>\nSubject: help {n}\n\nx\n"
    )
}

async fn add_member(store: &Store) -> Result<()> {
    let mut tx = store.begin().await?;
    Store::team_insert_person_in(
        &mut tx,
        &NewPerson {
            name: "Mia",
            alias: "",
            tz: "",
            addresses: &["mia@example.com".to_owned()],
            roles: &["triage"],
            since_ms: 0,
            created_ms: 0,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Guards against: an acknowledgement counted as the reply, a member's Cc'd answer or the sent folder's
/// not counted, a breach logged twice, or an unanswered ticket left out of the figures.
async fn replies_count_and_breaches_are_found(store: Store) -> Result<()> {
    add_member(&store).await?;
    for n in 1..=3 {
        received(&store, &question(n), at(9, 0)?).await?;
    }
    let mut tx = store.begin().await?;
    note_queued_in(
        &mut tx,
        "s20261127.001",
        "<ack1@example.org>",
        "support@example.org",
        true,
        at(9, 0)?,
    )
    .await?;
    tx.commit().await?;
    let auto = "From: support@example.org\nMessage-ID: <v1@example.org>\nIn-Reply-To: <q1@example.net>\n\
                Auto-Submitted: auto-replied\nSubject: Away\n\n";
    assert!(
        team_mail(&store, auto, OUTBOX, at(9, 5)?).await?,
        "recorded"
    );
    assert_eq!(
        store
            .ticket("s20261127.001")
            .await?
            .context("t1")?
            .first_reply_ms,
        0
    );
    // Ticket 1: answered from the sent folder, dated 09:30, read at 09:40.
    let sent = "From: Support <support@example.org>\nMessage-ID: <r1@example.org>\n\
                In-Reply-To: <q1@example.net>\nDate: Fri, 27 Nov 2026 09:30:00 +0000\nSubject: Re: help 1\n\n";
    assert!(team_mail(&store, sent, SENT_FOLDER, at(9, 40)?).await?);
    assert!(
        !team_mail(&store, sent, SENT_FOLDER, at(9, 45)?).await?,
        "once"
    );
    let stranger =
        "From: eve@example.net\nMessage-ID: <e1@example.net>\nIn-Reply-To: <q3@example.net>\n\n";
    assert!(
        !team_mail(&store, stranger, SENT_FOLDER, at(9, 45)?).await?,
        "not the team"
    );
    // Ticket 2: a member answers with the team in Cc at 10:30.
    let cc = "From: Mia <mia@example.com>\nMessage-ID: <r2@example.com>\nIn-Reply-To: <q2@example.net>\n\
              Subject: Re: help 2\n\nok\n";
    received(&store, cc, at(10, 30)?).await?;
    let t1 = store.ticket("s20261127.001").await?.context("t1")?;
    assert_eq!(t1.first_reply_ms, at(9, 30)?.timestamp_millis());
    let t2 = store.ticket("s20261127.002").await?.context("t2")?;
    assert_eq!(t2.first_reply_ms, at(10, 30)?.timestamp_millis());
    let thread = store.thread_messages("s20261127.002").await?;
    assert_eq!(thread.last().map(|m| m.origin.as_str()), Some(RECEIVED));

    three_tickets_figures(&store).await
}

/// Tickets 1 (answered after 30 minutes), 2 (90) and 3 (never) at 11:00: one open breach, logged once,
/// and two in the report.
async fn three_tickets_figures(store: &Store) -> Result<()> {
    let clock = Clock::manual(at(11, 0)?);
    let mut out = Pass::default();
    breaches(&sla(None)?, store, &clock, &mut out).await?;
    assert_eq!(
        (out.open_breaches, out.new_breaches),
        (1, 1),
        "ticket 3 only"
    );
    let mut again = Pass::default();
    breaches(&sla(None)?, store, &clock, &mut again).await?;
    assert_eq!(
        (again.open_breaches, again.new_breaches),
        (1, 0),
        "logged once"
    );

    let period = Period {
        since: NaiveDate::from_ymd_opt(2026, 11, 1).context("date")?,
        until: NaiveDate::from_ymd_opt(2026, 12, 1).context("date")?,
    };
    let r = report(store, &sla(None)?, period, clock.now()).await?;
    let support = r
        .buckets
        .iter()
        .find(|b| b.bucket == "Support")
        .context("Support")?;
    assert_eq!(
        (
            support.row.tickets,
            support.row.answered,
            support.row.breaches
        ),
        (3, 2, 2)
    );
    assert_eq!(support.row.median, Some(Duration::from_secs(3600)));
    assert_eq!(support.row.p90, Some(Duration::from_secs(5400)));
    let se = r.buckets.iter().find(|b| b.bucket == "SE").context("SE")?;
    assert_eq!(se.row.tickets, 0, "every configured bucket has a row");
    let members: Vec<(&str, u64)> = r
        .members
        .iter()
        .map(|m| (m.who.as_str(), m.replies))
        .collect();
    assert_eq!(
        members,
        [("mia@example.com", 1), ("support@example.org", 1)]
    );
    let timings = ticket_timings(store, &sla(None)?, &period, clock.now()).await?;
    assert_eq!(timings.len(), 3);
    Ok(())
}

/// Guards against: business hours ignored, so a reply after closing time counts as late.
async fn business_hours_shift_the_figures(store: Store) -> Result<()> {
    // 15:30 UTC is 16:30 in Berlin on a Friday: half an hour before closing.
    received(&store, &question(1), at(15, 30)?).await?;
    let sent = "From: support@example.org\nMessage-ID: <r1@example.org>\nIn-Reply-To: <q1@example.net>\n\
                Date: Fri, 27 Nov 2026 17:00:00 +0000\nSubject: Re: help\n\n";
    assert!(team_mail(&store, sent, SENT_FOLDER, at(17, 0)?).await?);
    let period = Period {
        since: NaiveDate::from_ymd_opt(2026, 11, 27).context("date")?,
        until: NaiveDate::from_ymd_opt(2026, 11, 28).context("date")?,
    };
    let now = at(18, 0)?;
    let wall = report(&store, &sla(None)?, period, now).await?;
    assert_eq!(wall.total.breaches, 1);
    assert_eq!(wall.total.median, Some(Duration::from_secs(5400)));
    let hours = sla(Some("Mon-Fri 09:00-17:00 Europe/Berlin"))?;
    let business = report(&store, &hours, period, now).await?;
    assert_eq!(business.total.breaches, 0);
    assert_eq!(business.total.median, Some(Duration::from_secs(1800)));
    assert!(business.business_hours.is_some());
    Ok(())
}

/// Guards against: an empty store failing the report.
async fn an_empty_store_reports_zeros(store: Store) -> Result<()> {
    let period = Period {
        since: NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?,
        until: NaiveDate::from_ymd_opt(2026, 12, 1).context("date")?,
    };
    let r = report(&store, &sla(None)?, period, at(9, 0)?).await?;
    assert_eq!(r.total.tickets, 0);
    assert_eq!(r.buckets.len(), 2);
    assert!(r.members.is_empty());
    Ok(())
}

async fn queue(store: &Store, template: &str, raw: &str, created: DateTime<Utc>) -> Result<()> {
    let raw = raw.replace('\n', "\r\n");
    let mut tx = store.begin().await?;
    Store::insert_outbox_mail_in(
        &mut tx,
        &crate::store::NewOutboxMail {
            created_at_ms: created.timestamp_millis(),
            template,
            message_id: "<m@example.org>",
            subject: "Re: help",
            envelope_from: "support@example.org",
            raw: raw.as_bytes(),
            source: "{}",
            hold_error: "",
            give_up_at_ms: created.timestamp_millis() + 86_400_000,
            recipients: &["ann1@example.net".to_owned()],
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Guards against: mail triaged sends in a thread not counted, or a redirect of a received message,
/// an automatic reply, or mail read twice counted.
async fn mail_triaged_sends_counts_unless_automatic(store: Store) -> Result<()> {
    received(&store, &question(1), at(9, 0)?).await?;
    let redirect =
        "From: Ann <ann1@example.net>\nMessage-ID: <q1@example.net>\nSubject: help 1\n\nx\n";
    queue(&store, "redirect", redirect, at(9, 5)?).await?;
    let vacation = "From: support@example.org\nMessage-ID: <v@example.org>\nIn-Reply-To: <q1@example.net>\n\
                    Auto-Submitted: auto-replied\nSubject: Away\n\nx\n";
    queue(&store, "vacation", vacation, at(9, 10)?).await?;
    let mut out = Pass::default();
    read_outbox(&store, &threads()?, &mut out).await?;
    assert_eq!(
        out.recorded, 1,
        "the vacation reply is recorded, the redirect not"
    );
    assert_eq!(
        store
            .ticket("s20261127.001")
            .await?
            .context("t")?
            .first_reply_ms,
        0
    );
    let answer = "From: Support <support@example.org>\nMessage-ID: <a@example.org>\n\
                  References: <q1@example.net>\nSubject: Re: help 1\n\nDone.\n";
    queue(&store, "", answer, at(9, 20)?).await?;
    let mut out = Pass::default();
    read_outbox(&store, &threads()?, &mut out).await?;
    read_outbox(&store, &threads()?, &mut out).await?;
    assert_eq!(out.recorded, 1, "read once");
    let t = store.ticket("s20261127.001").await?.context("t")?;
    assert_eq!(t.first_reply_ms, at(9, 20)?.timestamp_millis());
    Ok(())
}

backend_tests!(
    mail_triaged_sends_counts_unless_automatic,
    replies_count_and_breaches_are_found,
    business_hours_shift_the_figures,
    an_empty_store_reports_zeros,
);

#[test]
fn a_reply_is_timed_by_its_date_within_reason() {
    assert_eq!(reply_time(100, 500, 300), 300, "its Date");
    assert_eq!(
        reply_time(100, 500, 900),
        500,
        "a Date in the future: when seen"
    );
    assert_eq!(
        reply_time(100, 500, 50),
        100,
        "a Date before the question: the opening"
    );
    assert_eq!(reply_time(100, 500, 0), 500, "no Date: when seen");
}
