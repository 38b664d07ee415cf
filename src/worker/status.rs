//! Where the watched mailboxes stand, for `triaged status`: per mailbox its lease (holder, expiry,
//! token, last error), sync state, what is pending on the server, verdicts not yet applied, the
//! quarantine and what was sorted today; every live worker with its mailboxes and last heartbeat; the
//! outbox; and how the team stands (thin critical roles, unresponsive members, overdue checklist
//! items). Reads only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use anyhow::Result;
use chrono::{TimeZone, Utc};

use crate::clock::Clock;
use crate::config::{Config, MailboxSource};
use crate::mailbox::imap::Imap;
use crate::mailbox::maildir::Maildir;
use crate::store::{GIVEN_UP, HELD, LeaseRow, RELEASED, Store, SyncState, WorkerRow};

/// Where every mailbox and every worker stands.
#[derive(Debug, Clone)]
pub struct Status {
    /// Each configured mailbox, in config order.
    pub mailboxes: Vec<MailboxStatus>,
    /// Every worker the store knows, newest first.
    pub workers: Vec<WorkerStatus>,
    /// Outbox mails not yet sent.
    pub outbox_depth: i64,
    /// How the team stands now.
    pub team: crate::team::Health,
    /// Rights left after retirements, and drift the latest sync or verify found.
    pub rights: crate::handover::Alerts,
}

/// One watched mailbox as the store and the server see it.
#[derive(Debug, Clone)]
pub struct MailboxStatus {
    /// Its name in the config.
    pub name: String,
    /// The mailbox's identity in the store.
    pub mailbox: String,
    /// `None` until `triaged run` first attaches the mailbox.
    pub state: Option<SyncState>,
    /// Messages on the server without a verdict, or why that could not be found out.
    pub pending: Result<usize, String>,
    /// Verdicts recorded but not yet applied, and verdicts that were errors (quarantined).
    pub unapplied: i64,
    pub errors: i64,
    /// Quarantined messages by state: held, given up, released.
    pub held: i64,
    pub given_up: i64,
    pub released: i64,
    /// Messages sorted since midnight UTC, per bucket.
    pub today: BTreeMap<String, i64>,
    /// Its lease: holder ('' when none), expiry, token, the holder's last error.
    pub lease: Option<LeaseRow>,
    /// Whether the lease is held now (by the database's clock), and how long until it expires.
    pub lease_held: bool,
    pub lease_left_ms: i64,
}

/// One worker: live or not, its last heartbeat, and the mailboxes it holds.
#[derive(Debug, Clone)]
pub struct WorkerStatus {
    pub row: WorkerRow,
    pub live: bool,
    /// Milliseconds since its last heartbeat.
    pub since_heartbeat_ms: i64,
    /// Names of the mailboxes it holds now.
    pub mailboxes: Vec<String>,
}

/// Gathers the status of every configured mailbox (connecting to each server for its pending count,
/// all at once) and of every worker.
pub async fn status(config: &Config, clock: &Clock) -> Result<Status> {
    let store = Store::open_current(&config.store.url).await?;
    let now = clock.now();
    let midnight = Utc
        .from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis();
    let each = config.mailboxes.iter().map(|entry| {
        let one = config.for_mailbox(entry);
        let store = &store;
        async move {
            let mailbox = crate::mailbox::id(&one.mailbox.source);
            let state = store.sync_state(&mailbox).await?;
            let pending = match &state {
                Some(s) => pending(&one, store, &mailbox, s.last_uid)
                    .await
                    .map_err(|e| format!("{e:#}")),
                None => Ok(0),
            };
            let (unapplied, errors) = store.verdict_backlog(&mailbox).await?;
            let held = store.quarantine_counts(&mailbox).await?;
            let count = |state: &str| held.get(state).copied().unwrap_or(0);
            anyhow::Ok(MailboxStatus {
                name: one.mailbox.name.clone(),
                pending,
                unapplied,
                errors,
                held: count(HELD),
                given_up: count(GIVEN_UP),
                released: count(RELEASED),
                today: store.bucket_counts(&mailbox, midnight).await?,
                lease: None,
                lease_held: false,
                lease_left_ms: 0,
                mailbox,
                state,
            })
        }
    });
    let mut mailboxes = futures::future::join_all(each)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    // Leases and workers are read together, after the servers answered, so they judge each other by
    // one moment of the database's clock.
    let (leases, db_now) = store.leases().await?;
    for m in &mut mailboxes {
        m.lease = leases.iter().find(|l| l.mailbox == m.mailbox).cloned();
        m.lease_held = m.lease.as_ref().is_some_and(|l| l.held_at(db_now));
        m.lease_left_ms = m.lease.as_ref().map_or(0, |l| l.expires_ms - db_now);
    }
    let (rows, _) = store.workers().await?;
    let workers = rows
        .into_iter()
        .filter(|w| w.live_at(db_now) || leases.iter().any(|l| l.holder == w.id))
        .map(|row| WorkerStatus {
            live: row.live_at(db_now),
            since_heartbeat_ms: db_now - row.heartbeat_ms,
            mailboxes: leases
                .iter()
                .filter(|l| l.holder == row.id && l.held_at(db_now))
                .map(|l| l.name.clone())
                .collect(),
            row,
        })
        .collect();
    let settings = crate::team::Settings::new(config)?;
    let team = crate::team::health(&store, &settings, now).await?;
    let rights = crate::handover::alerts(&store, config.team.revoke_within, now).await?;
    let status = Status {
        mailboxes,
        workers,
        outbox_depth: store.outbox_depth().await?,
        team,
        rights,
    };
    store.close().await;
    Ok(status)
}

/// How many messages in the watched folder have no verdict yet (connects to the server for IMAP).
async fn pending(config: &Config, store: &Store, mailbox: &str, last_uid: i64) -> Result<usize> {
    match &config.mailbox.source {
        MailboxSource::Imap { .. } => {
            let last_read = Arc::new(AtomicI64::new(0));
            let (mut imap, _) = Imap::connect(&config.mailbox, last_read).await?;
            let n = imap.uids_after(last_uid).await?.len();
            imap.logout().await;
            Ok(n)
        }
        MailboxSource::Maildir { path } => {
            let names = Maildir::open(path)?.scan()?;
            let known = store.known_names(mailbox, &names).await?;
            Ok(names.len() - known.len())
        }
    }
}
