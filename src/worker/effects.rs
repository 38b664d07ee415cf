//! The mail a verdict causes, written inside the verdict's transaction so a verdict and its mail commit
//! together (and a restart never queues it twice). Acknowledgements go to new threads (no In-Reply-To or
//! References naming a message already seen) sorted into `[ack] buckets`, through the outbox's RFC 3834
//! guard, which also refuses the team's own address. Redirects and vacation replies are recorded as
//! events and logged: the outbox has no pass-through of the original message yet.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::pipeline::Classified;
use crate::config::Config;
use crate::message::Message;
use crate::outbox::{AutoReply, Outbox};
use crate::store::{NewEvent, Store, Tx};
use crate::templates::Templates;

/// What the worker needs to queue caused mail.
#[derive(Debug, Clone)]
pub struct Effects {
    outbox: Arc<Outbox>,
    templates: Arc<Templates>,
    /// Buckets whose new threads get an acknowledgement.
    ack_buckets: Vec<String>,
    /// At most one acknowledgement per sender per period.
    period: std::time::Duration,
    /// The store's identity of the mailbox, to look up known Message-IDs.
    mailbox: String,
    max_size: u64,
}

impl Effects {
    /// Loads the outbox settings (and OpenPGP keys) and the templates once.
    pub fn new(config: &Config, mailbox: &str) -> Result<Effects> {
        Ok(Effects {
            outbox: Arc::new(Outbox::new(config).context("load the outbox settings")?),
            templates: Arc::new(
                Templates::load(config.outbox.templates_dir.as_deref())
                    .context("load the templates")?,
            ),
            ack_buckets: config.ack.buckets.clone(),
            period: config.ack.period,
            mailbox: mailbox.to_owned(),
            max_size: config.rules.max_message_size,
        })
    }

    /// Whether `item` is a new thread sorted into an acknowledged bucket.
    async fn wants_ack(&self, store: &Store, item: &Classified) -> Result<bool> {
        if item.verdict.is_error() || !self.ack_buckets.iter().any(|b| b == item.plan.bucket()) {
            return Ok(false);
        }
        if item.answers.is_empty() {
            return Ok(true);
        }
        let known = store
            .known_message_ids(&self.mailbox, &item.answers)
            .await?;
        Ok(known.is_empty())
    }

    /// Writes the mail `item` causes inside the verdict's transaction.
    pub async fn in_tx(
        &self,
        tx: &mut Tx,
        store: &Store,
        item: &Classified,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(raw) = &item.raw else { return Ok(()) };
        self.record_unsent(tx, item, now).await?;
        if !self.wants_ack(store, item).await? {
            return Ok(());
        }
        let Ok(msg) = Message::parse(raw, self.max_size) else {
            return Ok(());
        };
        let reply = self
            .outbox
            .acknowledge_in(
                tx,
                &self.templates,
                msg.parsed(),
                self.period,
                "worker",
                now,
            )
            .await?;
        match reply {
            AutoReply::Queued { ticket, .. } => {
                tracing::info!(uid = item.key.uid, ticket = %ticket, "acknowledgement queued")
            }
            AutoReply::Declined(why) => {
                tracing::info!(uid = item.key.uid, reason = %why, "no acknowledgement")
            }
        }
        Ok(())
    }

    /// Redirects and vacation replies the rules asked for, recorded so none goes unnoticed.
    async fn record_unsent(
        &self,
        tx: &mut Tx,
        item: &Classified,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let v = &item.verdict;
        let asked: Vec<String> = v
            .redirects
            .iter()
            .map(|r| format!("redirect to {}", r.address))
            .chain(
                v.vacations
                    .iter()
                    .map(|x| format!("vacation reply to {}", x.recipient)),
            )
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        let detail = asked.join("; ");
        tracing::warn!(uid = item.key.uid, actions = %detail, "rules asked for mail the worker does not send yet");
        let subject = format!("message:{}", item.message_id);
        Store::record_event_in(
            tx,
            &NewEvent {
                at_ms: now.timestamp_millis(),
                actor: "worker",
                subject: &subject,
                action: "not-sent",
                reason: "unsupported action",
                detail: &detail,
            },
        )
        .await?;
        Ok(())
    }
}
