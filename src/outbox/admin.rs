//! Acting on mail already in the outbox, for `triaged outbox list|retry|cancel`: list it, queue a
//! mail's failed and held recipients again (a held mail composed again first, now that a key or
//! certificate may have been added), or cancel what is still waiting. It writes no SQL itself.

use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone as _, Utc};

use super::{Outbox, millis};
use crate::store::{OutboxMail, Store};
use crate::templates::RenderedMail;

/// The newest `limit` mails, each with where its recipients stand.
pub async fn list(store: &Store, limit: i64) -> Result<Vec<OutboxMail>> {
    store.outbox_mails(limit).await
}

/// What `retry` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// This many recipients are queued again.
    Requeued(u64),
    /// The mail is held still: composing it again failed for this reason (no certificate yet, say).
    StillHeld(String),
}

/// Cancels the queued and held recipients of mail `id`; returns how many.
pub async fn cancel(store: &Store, id: i64, now: DateTime<Utc>) -> Result<u64> {
    existing(store, id).await?;
    store.cancel_outbox_mail(id, now.timestamp_millis()).await
}

async fn existing(store: &Store, id: i64) -> Result<OutboxMail> {
    store
        .outbox_mail(id)
        .await?
        .with_context(|| format!("no outbox mail {id}"))
}

impl Outbox {
    /// Queues mail `id`'s failed and held recipients again, with a fresh `give_up_after`. A held mail
    /// is composed again from its stored source, with its original Message-ID and date, so that it is
    /// still recognisably the same mail.
    pub async fn retry(&self, store: &Store, id: i64, now: DateTime<Utc>) -> Result<Retried> {
        let mail = existing(store, id).await?;
        let give_up = now.timestamp_millis() + millis(self.config.give_up_after);
        let raw = if mail.hold_error.is_empty() {
            None
        } else {
            let held = store.outbox_source(id).await?;
            let source: RenderedMail =
                serde_json::from_str(&held.source).context("read the held mail's source")?;
            let date = Utc
                .timestamp_millis_opt(held.created_at_ms)
                .single()
                .unwrap_or(now);
            let known = super::recorded_certs(store, &source).await?;
            let composed = self.compose_with(&source, &held.message_id, date, &known)?;
            if let Some(why) = composed.hold_error {
                store
                    .hold_outbox_mail(id, &why, now.timestamp_millis())
                    .await?;
                return Ok(Retried::StillHeld(why));
            }
            Some(composed.raw)
        };
        let n = store
            .requeue_outbox_mail(id, raw.as_deref(), give_up, now.timestamp_millis())
            .await?;
        Ok(Retried::Requeued(n))
    }
}
