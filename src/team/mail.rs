//! The team's side of mail other commands send: `send welcome` queues the welcome pack and, when the
//! recipient is on the roster, ticks the checklist items the pack covers, in the same transaction.

use anyhow::Result;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use super::checklist::{ItemRef, tick_action_in};
use super::{State, by_address_in};
use crate::outbox::{Outbox, Queued};
use crate::store::Store;
use crate::templates::{RenderedMail, Role as MailRole};

/// What queueing a welcome pack did.
#[derive(Debug, Clone)]
pub struct Welcomed {
    pub queued: Queued,
    /// The roster's name for the recipient, when they are on it (and not retired).
    pub member: Option<String>,
    /// Items the pack ticked.
    pub ticked: Vec<ItemRef>,
}

/// The checklist action a welcome pack for `role` performs.
pub fn welcome_action(role: MailRole) -> &'static str {
    match role {
        MailRole::Se => "welcome-pack-se",
        _ => "welcome-pack",
    }
}

/// Queues the rendered welcome pack `mail` to `recipient` and ticks the items its action covers for the
/// member with that address, in one transaction.
pub async fn queue_welcome(
    store: &Store,
    outbox: &Outbox,
    mail: &RenderedMail,
    recipient: &Mailbox,
    role: MailRole,
    now: DateTime<Utc>,
) -> Result<Welcomed> {
    let mut tx = store.begin().await?;
    let queued = outbox
        .enqueue_in(&mut tx, mail, "cli:send welcome", now)
        .await?;
    let person = by_address_in(&mut tx, recipient.email.as_ref())
        .await?
        .filter(|p| p.state != State::Retired);
    let mut ticked = Vec::new();
    if let Some(p) = &person
        && queued.held.is_none()
    {
        let reason = format!("welcome pack queued as outbox {}", queued.id);
        ticked = tick_action_in(&mut tx, p, welcome_action(role), &reason, now).await?;
    }
    tx.commit().await?;
    Ok(Welcomed {
        queued,
        member: person.map(|p| p.name),
        ticked,
    })
}
