//! Where the watched mailbox stands, for `triaged status`: its sync state, what is pending on the
//! server, verdicts not yet applied, the quarantine, the outbox, what was sorted today, and how the team
//! stands (thin critical roles, unresponsive members, overdue checklist items). Reads only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use anyhow::Result;
use chrono::{TimeZone, Utc};

use crate::clock::Clock;
use crate::config::{Config, MailboxSource};
use crate::mailbox::imap::Imap;
use crate::mailbox::maildir::Maildir;
use crate::store::{GIVEN_UP, HELD, RELEASED, Store, SyncState};

/// One watched mailbox as the store and the server see it.
#[derive(Debug, Clone)]
pub struct Status {
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
    /// Outbox mails not yet sent.
    pub outbox_depth: i64,
    /// Messages sorted since midnight UTC, per bucket.
    pub today: BTreeMap<String, i64>,
    /// How the team stands now.
    pub team: crate::team::Health,
    /// Rights left after retirements, and drift the latest sync or verify found.
    pub rights: crate::handover::Alerts,
}

/// Gathers the status of the configured mailbox (connects to the server for the pending count).
pub async fn status(config: &Config, clock: &Clock) -> Result<Status> {
    let store = Store::open_current(&config.store.url).await?;
    let mailbox = crate::mailbox::id(&config.mailbox.source);
    let state = store.sync_state(&mailbox).await?;
    let pending = match &state {
        Some(s) => pending(config, &store, &mailbox, s.last_uid)
            .await
            .map_err(|e| format!("{e:#}")),
        None => Ok(0),
    };
    let (unapplied, errors) = store.verdict_backlog(&mailbox).await?;
    let held = store.quarantine_counts(&mailbox).await?;
    let count = |state: &str| held.get(state).copied().unwrap_or(0);
    let now = clock.now();
    let settings = crate::team::Settings::new(config)?;
    let team = crate::team::health(&store, &settings, now).await?;
    let rights = crate::handover::alerts(&store, config.team.revoke_within, now).await?;
    let midnight = Utc
        .from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis();
    let status = Status {
        pending,
        unapplied,
        errors,
        held: count(HELD),
        given_up: count(GIVEN_UP),
        released: count(RELEASED),
        outbox_depth: store.outbox_depth().await?,
        today: store.bucket_counts(&mailbox, midnight).await?,
        team,
        rights,
        mailbox,
        state,
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
