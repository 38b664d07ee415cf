//! Classification inside the worker: a batch of fetched messages through the rules on the blocking pool
//! (Sieve is CPU work), each parsed once, planned, and kept with what the verdict's mail needs and what
//! its signature teaches (verified here, as CPU work too). It records nothing and touches no mailbox.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::actions::{self, Classified};
use crate::classify::{Context, Rules};
use crate::clock::Clock;
use crate::config::Config;
use crate::mailbox::{Fetched, Key};
use crate::message::sha256_hex;
use crate::outbox::harvest::{Harvest, Harvester};

/// The rules and what classifying a watched folder's messages needs besides them; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Sorter {
    rules: Arc<Rules>,
    config: Arc<Config>,
    /// The watched folder: what `keep` means.
    folder: String,
    clock: Clock,
    /// Verifies signed mail, to learn members' certificates.
    harvester: Arc<Harvester>,
}

impl Sorter {
    pub(super) fn new(
        rules: Arc<Rules>,
        config: Arc<Config>,
        folder: String,
        clock: Clock,
        harvester: Harvester,
    ) -> Self {
        Sorter {
            rules,
            config,
            folder,
            clock,
            harvester: Arc::new(harvester),
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
        let harvest = if looks_signed(&f.raw) {
            self.harvester.harvest(&f.raw, ctx.now)
        } else {
            Harvest::Nothing
        };
        let causes_mail = !outcome.verdict.redirects.is_empty()
            || !outcome.verdict.vacations.is_empty()
            || self.config.ack.buckets.iter().any(|b| b == plan.bucket())
            // The disputes bridge forwards a new dispute's bytes to the arbitration list.
            || crate::records::bridge::forwards(&self.config.disputes, plan.bucket());
        let info = outcome.info.unwrap_or_default();
        let mentions = if outcome.verdict.is_error() {
            BTreeSet::new()
        } else {
            crate::records::threads::mentions(&f.raw, info.subject.as_deref())
        };
        Classified {
            key: Key {
                uid: f.uid,
                name: f.name,
            },
            digest,
            plan,
            verdict: outcome.verdict,
            info,
            envelope: outcome.envelope,
            raw: causes_mail.then_some(f.raw),
            harvest,
            mentions,
        }
    }
}

/// Whether the header block names a signed entity (`multipart/signed`, `pkcs7-mime`): the cheap test
/// that spares the harvester parsing every message again; it decides exactly itself.
fn looks_signed(raw: &[u8]) -> bool {
    let end = memchr::memmem::find(raw, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(raw, b"\n\n"))
        .unwrap_or(raw.len());
    let head = raw[..end].to_ascii_lowercase();
    memchr::memmem::find(&head, b"multipart/signed").is_some()
        || memchr::memmem::find(&head, b"pkcs7-mime").is_some()
}
