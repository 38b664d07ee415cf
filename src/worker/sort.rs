//! Classification inside the worker: a batch of fetched messages through the rules on the blocking pool
//! (Sieve is CPU work), each parsed once, planned, and kept with what the verdict's mail needs. It
//! records nothing and touches no mailbox.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::actions::{self, Classified};
use crate::classify::{Context, Rules};
use crate::clock::Clock;
use crate::config::Config;
use crate::mailbox::{Fetched, Key};
use crate::message::sha256_hex;

/// The rules and what classifying a watched folder's messages needs besides them; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Sorter {
    rules: Arc<Rules>,
    config: Arc<Config>,
    /// The watched folder: what `keep` means.
    folder: String,
    clock: Clock,
}

impl Sorter {
    pub(super) fn new(
        rules: Arc<Rules>,
        config: Arc<Config>,
        folder: String,
        clock: Clock,
    ) -> Self {
        Sorter {
            rules,
            config,
            folder,
            clock,
        }
    }

    /// Classifies a batch on the blocking pool; `folders` are the folders that exist.
    pub(super) async fn classify(
        &self,
        batch: Vec<Fetched>,
        folders: Arc<BTreeSet<String>>,
    ) -> Result<Vec<Classified>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = Context {
                mailboxes: &folders,
                source_folder: &this.folder,
                explain: false,
                now: this.clock.now(),
            };
            batch
                .into_iter()
                .map(|f| this.classify_one(&ctx, f))
                .collect()
        })
        .await
        .context("classification task")
    }

    /// Parses, classifies and plans one message; one that cannot be read gets an error verdict.
    fn classify_one(&self, ctx: &Context<'_>, f: Fetched) -> Classified {
        let digest = sha256_hex(&f.raw);
        let outcome =
            self.rules
                .classify_raw(&f.raw, self.config.rules.max_message_size, ctx, true);
        let plan = actions::plan(&outcome.verdict, &self.config.mailbox, &f.flags);
        let causes_mail = !outcome.verdict.redirects.is_empty()
            || !outcome.verdict.vacations.is_empty()
            || self.config.ack.buckets.iter().any(|b| b == plan.bucket());
        Classified {
            key: Key {
                uid: f.uid,
                name: f.name,
            },
            digest,
            plan,
            verdict: outcome.verdict,
            info: outcome.info.unwrap_or_default(),
            envelope: outcome.envelope,
            raw: causes_mail.then_some(f.raw),
        }
    }
}
