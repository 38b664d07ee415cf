//! One pass over the watched folder: attach (sync state vs. UIDVALIDITY), re-apply verdicts recorded
//! before a crash, then fetch → classify → record → apply → mark applied, batch by batch, classifying a
//! batch while the next one is fetched. A member's certificate learnt from their signed mail is recorded
//! with the verdict, and so is each message's place in its support ticket's thread (`records::threads`).
//! Verdicts and the mail they cause commit in one transaction before
//! the mailbox is touched (DESIGN invariant 2). Writes no SQL itself; never cancelled mid-transaction:
//! shutdown is checked between batches only.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::caused::Caused;
use super::lease::Fence;
use super::progress::Progress;
use super::quarantine::Quarantine;
use super::sort::Sorter;
pub use super::summary::Summary;
use crate::actions::{Classified, Effects, Plan};
use crate::classify::Rules;
use crate::clock::Clock;
use crate::config::{Backlog, Config};
use crate::mailbox::{Key, Selected, Source, Step};
use crate::metrics::{MailboxMetrics, Metrics};
use crate::outbox::Outbox;
use crate::outbox::harvest::Harvest;
use crate::store::{NewEvent, NewVerdict, Store, SyncState, VerdictRow};
use crate::team::Learnt;
use crate::templates::Templates;

/// Messages fetched, classified and committed together.
pub const BATCH: usize = 500;

/// Recorded verdicts are applied in groups of up to this many (one MOVE per target folder per group):
/// each IMAP command costs the server an index update and sync whatever its size, so fewer, larger
/// commands sort a backlog several times faster. Verdicts are committed per fetch batch all the same.
pub const APPLY_BATCH: usize = 10_000;

/// Applying a plan fails this many times before the message goes to quarantine instead.
pub const MAX_APPLY_ATTEMPTS: i64 = 5;

/// Everything a pass over one watched folder needs; shared by the `run` loop and `run --once`.
pub(super) struct Pipeline {
    store: Store,
    config: Arc<Config>,
    clock: Clock,
    /// The worker's counters (certificates) and the mailbox's own (buckets, errors).
    metrics: Arc<Metrics>,
    counters: Arc<MailboxMetrics>,
    /// The lease the mailbox is watched under: every transaction that records or applies checks it.
    fence: Fence,
    /// Classifies fetched messages on the blocking pool.
    sorter: Sorter,
    /// What each recorded verdict causes (thread, mail, dispute), inside the verdict's transaction.
    caused: Arc<Caused>,
    /// Second chances for quarantined messages.
    quarantine: Quarantine,
    /// The mailbox's identity in the store.
    mailbox: String,
    /// The watched folder's name, for display and for `keep`.
    folder: String,
    /// Fingerprint of the rules and limits, recorded with each quarantined message.
    rules_digest: String,
    /// [`BATCH`] and [`APPLY_BATCH`], unless a test with fail points made them smaller.
    batch: usize,
    apply_batch: usize,
}

impl Pipeline {
    /// Builds the pipeline for `config`'s mailbox with rules already loaded.
    pub(super) fn new(
        config: Arc<Config>,
        store: Store,
        (rules, loaded): (Arc<Rules>, (Arc<Outbox>, Arc<Templates>)),
        metrics: (Arc<Metrics>, Arc<MailboxMetrics>),
        clock: Clock,
        fence: Fence,
    ) -> Result<Pipeline> {
        let (metrics, counters) = metrics;
        let mailbox = crate::mailbox::id(&config.mailbox.source);
        let folder = crate::mailbox::folder_name(&config.mailbox.source);
        let effects = Arc::new(Effects::with(loaded, &config, &mailbox));
        let caused = Arc::new(Caused::new(
            &config,
            store.clone(),
            effects.clone(),
            &mailbox,
        ));
        let rules_digest = super::quarantine::rules_fingerprint(&config.rules)?;
        let sorter = Sorter::new(
            rules,
            config.clone(),
            folder.clone(),
            clock.clone(),
            effects.harvester(),
        );
        let batch = crate::failpoint::batch(BATCH);
        let quarantine = Quarantine {
            store: store.clone(),
            clock: clock.clone(),
            metrics: counters.clone(),
            fence: fence.clone(),
            sorter: sorter.clone(),
            caused: caused.clone(),
            mailbox: mailbox.clone(),
            folder: folder.clone(),
            quarantine_folder: config.mailbox.quarantine.clone(),
            rules_digest: rules_digest.clone(),
            batch,
        };
        Ok(Pipeline {
            store,
            config,
            clock,
            metrics,
            counters,
            fence,
            sorter,
            caused,
            quarantine,
            mailbox,
            folder,
            rules_digest,
            batch,
            apply_batch: crate::failpoint::batch(APPLY_BATCH),
        })
    }

    /// The mailbox's identity in the store.
    pub(super) fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// Reconciles the stored sync state with the folder: first attach (backlog processed or skipped) or
    /// a UIDVALIDITY change (resync from UID 1; messages already seen are recognised by digest).
    pub async fn attach(&self, selected: Option<Selected>) -> Result<SyncState> {
        let now = self.clock.now_ms();
        let uidvalidity = selected.map_or(0, |s| s.uidvalidity);
        let stored = self.store.sync_state(&self.mailbox).await?;
        let state = match stored {
            Some(s) if s.uidvalidity == uidvalidity => return Ok(s),
            Some(old) => {
                tracing::warn!(mailbox = %self.mailbox, old = old.uidvalidity, new = uidvalidity, "UIDVALIDITY changed: resyncing by Message-ID and digest");
                SyncState {
                    uidvalidity,
                    last_uid: 0,
                    updated_ms: now,
                    ..old
                }
            }
            None => {
                let last_uid = match (self.config.mailbox.backlog, selected) {
                    (Backlog::Skip, Some(s)) => s.uidnext.saturating_sub(1),
                    _ => 0,
                };
                SyncState {
                    mailbox: self.mailbox.clone(),
                    folder: self.folder.clone(),
                    uidvalidity,
                    last_uid,
                    last_error: String::new(),
                    updated_ms: now,
                }
            }
        };
        self.fence.check().await?;
        self.store.save_sync_state(&state).await?;
        Ok(state)
    }

    /// Everything pending: re-apply unapplied verdicts, then sort every new message, batch by batch.
    pub async fn pass(
        &self,
        source: &mut Source,
        state: &mut SyncState,
        cancel: &CancellationToken,
    ) -> Result<Summary> {
        let mut summary = Summary::default();
        self.recover(source, &mut summary).await?;
        self.quarantine.revisit(source, &mut summary).await?;
        let mut keys = source.pending(state.last_uid).await?;
        if let Source::Maildir(_) = source {
            // Maildir messages kept in place stay in the listing: drop those with a verdict.
            let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
            let known = self.store.known_names(&self.mailbox, &names).await?;
            keys.retain(|k| !known.contains(&k.name));
        }
        if keys.is_empty() {
            return Ok(summary);
        }
        let progress = Progress::new(keys.len() as u64, self.batch as u64);
        let mut unapplied: Vec<(i64, Key, Plan)> = Vec::new();
        let mut batches = keys.chunks(self.batch);
        let mut fetched = match batches.next() {
            Some(first) => source.fetch(first).await?,
            None => Vec::new(),
        };
        // Three batches are in hand at once: the one being committed, the one being classified and
        // the one being fetched. Commits stay in order, one after the other.
        let mut to_commit: Option<Vec<Classified>> = None;
        loop {
            if cancel.is_cancelled() {
                // Shutdown: the classified batch is committed and applied; the one fetched is left
                // for the next run.
                let n = to_commit.as_ref().map_or(0, Vec::len) as u64;
                unapplied.extend(
                    self.commit_some(state, to_commit.take(), &mut summary)
                        .await?,
                );
                progress.advance(n);
                self.apply_recorded(source, std::mem::take(&mut unapplied), &mut summary)
                    .await?;
                break;
            }
            let folders = Arc::new(source.folders()?);
            let classify = self.sorter.classify(std::mem::take(&mut fetched), folders);
            let next = batches.next();
            let started = std::time::Instant::now();
            let committing = to_commit.as_ref().map_or(0, Vec::len) as u64;
            let commit = self.commit_some(state, to_commit.take(), &mut summary);
            let (classified, next_fetched, committed) = match next {
                Some(keys) => {
                    let (c, f, m) = tokio::join!(classify, source.fetch(keys), commit);
                    (c?, f?, m?)
                }
                None => {
                    let (c, m) = tokio::join!(classify, commit);
                    (c?, Vec::new(), m?)
                }
            };
            tracing::debug!(
                classify_fetch_commit_ms = started.elapsed().as_millis() as u64,
                "batch classified"
            );
            progress.advance(committing);
            unapplied.extend(committed);
            if next.is_none() {
                let n = classified.len() as u64;
                let last = self
                    .commit_some(state, Some(classified), &mut summary)
                    .await?;
                progress.advance(n);
                unapplied.extend(last);
                self.apply_recorded(source, std::mem::take(&mut unapplied), &mut summary)
                    .await?;
                break;
            }
            to_commit = Some(classified);
            if unapplied.len() >= self.apply_batch {
                self.apply_recorded(source, std::mem::take(&mut unapplied), &mut summary)
                    .await?;
            }
            fetched = next_fetched;
        }
        progress.finish();
        Ok(summary)
    }

    /// [`Pipeline::commit_batch`] for a batch in hand, if any.
    async fn commit_some(
        &self,
        state: &mut SyncState,
        classified: Option<Vec<Classified>>,
        summary: &mut Summary,
    ) -> Result<Vec<(i64, Key, Plan)>> {
        match classified {
            Some(batch) => self.commit_batch(state, batch, summary).await,
            None => Ok(Vec::new()),
        }
    }

    /// Records the batch's verdicts (and the mail they cause) in one transaction; returns what the
    /// mailbox must now do.
    async fn commit_batch(
        &self,
        state: &mut SyncState,
        classified: Vec<Classified>,
        summary: &mut Summary,
    ) -> Result<Vec<(i64, Key, Plan)>> {
        let started = std::time::Instant::now();
        let digests: Vec<String> = classified.iter().map(|c| c.digest.clone()).collect();
        let known = self.store.known_digests(&self.mailbox, &digests).await?;
        let max_uid = classified.iter().map(|c| c.key.uid).max().unwrap_or(0);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.fence.check_in(&mut tx).await?;
        let mut recorded: Vec<(i64, Key, Plan)> = Vec::new();
        let mut seen_in_batch = BTreeSet::new();
        let mut caused = self.caused.batch_in(&mut tx, &classified, now).await?;
        let fresh: Vec<&Classified> = classified
            .iter()
            .filter(|item| {
                let new = !known.contains(&item.digest) && seen_in_batch.insert(item.digest.clone());
                if !new {
                    tracing::info!(uid = item.key.uid, name = %item.key.name, "already has a verdict: left alone");
                    summary.known += 1;
                }
                new
            })
            .collect();
        let ids = self
            .record(&mut tx, &fresh, state.uidvalidity, now.timestamp_millis())
            .await?;
        for (item, (id, uid)) in fresh.iter().zip(ids) {
            self.caused
                .record_batched_in(&mut tx, &mut caused, item, id, now)
                .await?;
            self.learn(&mut tx, item, now).await?;
            recorded.push((
                id,
                Key {
                    uid,
                    name: item.key.name.clone(),
                },
                item.plan.clone(),
            ));
        }
        self.caused.finish_in(&mut tx, caused).await?;
        if max_uid > 0 {
            Store::advance_sync_in(
                &mut tx,
                &self.mailbox,
                state.uidvalidity,
                max_uid,
                now.timestamp_millis(),
            )
            .await?;
            state.last_uid = state.last_uid.max(max_uid);
        }
        crate::team::note_ping_replies(&mut tx, classified.iter().map(|c| &c.info), now).await?;
        crate::failpoint::hit("before-verdict-commit");
        tx.commit().await.context("commit verdicts")?;
        crate::failpoint::hit("after-verdict-commit");
        tracing::debug!(
            messages = recorded.len(),
            record_ms = started.elapsed().as_millis() as u64,
            "verdicts committed"
        );
        summary.errors += classified.iter().filter(|c| c.verdict.is_error()).count() as u64;
        Ok(recorded)
    }

    /// Records the certificate a member's signed message carried, in the verdict's transaction; a
    /// signature that failed is logged with its reason and counted, and changes nothing else.
    async fn learn(
        &self,
        tx: &mut crate::store::Tx,
        item: &Classified,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let uid = item.key.uid;
        match &item.harvest {
            Harvest::Nothing => {}
            Harvest::Rejected(why) => {
                let from = item.info.from.as_deref().unwrap_or("");
                tracing::warn!(uid, name = %item.key.name, from, reason = why.reason(), why = %why, "signature not trusted: no certificate learnt");
                self.metrics.certificate("rejected", why.reason());
            }
            Harvest::Verified(found) => {
                let learnt = crate::team::learn_in(tx, found, now).await?;
                let outcome = match &learnt {
                    Learnt::Recorded {
                        person,
                        scheme,
                        fingerprint,
                        ticked,
                    } => {
                        let ticked: Vec<String> = ticked.iter().map(ToString::to_string).collect();
                        tracing::info!(uid, person = %person, scheme = %scheme, fingerprint = %fingerprint, ticked = %ticked.join(" "), "certificate learnt from signed mail");
                        "recorded"
                    }
                    Learnt::Known { .. } => "known",
                    Learnt::NotMember => "not-member",
                    Learnt::NotActive { .. } => "not-active",
                };
                if outcome != "recorded" {
                    tracing::info!(uid, from = %found.address, outcome, "signed mail: no certificate recorded");
                }
                self.metrics.certificate("learnt", outcome);
            }
        }
        Ok(())
    }

    /// Applies committed verdicts (one operation per flag set and folder) and counts them.
    async fn apply_recorded(
        &self,
        source: &mut Source,
        recorded: Vec<(i64, Key, Plan)>,
        summary: &mut Summary,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        self.apply(source, &recorded).await?;
        tracing::debug!(
            messages = recorded.len(),
            apply_ms = started.elapsed().as_millis() as u64,
            "verdicts applied"
        );
        for (_, key, plan) in &recorded {
            let bucket = plan.bucket().to_owned();
            tracing::info!(uid = key.uid, name = %key.name, bucket = %bucket, "sorted");
            self.counters.sorted(&bucket);
            *summary.buckets.entry(bucket).or_default() += 1;
        }
        Ok(())
    }

    /// Records the verdicts of `items` with their events (and quarantines those with errors), a few
    /// statements for the whole batch; returns each one's verdict id and UID, in order.
    async fn record(
        &self,
        tx: &mut crate::store::Tx,
        items: &[&Classified],
        uidvalidity: i64,
        now_ms: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let mut texts = Vec::with_capacity(items.len());
        for item in items {
            let plan = serde_json::to_string(&item.plan).context("serialise plan")?;
            let error = item
                .verdict
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.reason, e.detail))
                .unwrap_or_default();
            texts.push((plan, error));
        }
        let verdicts: Vec<NewVerdict<'_>> = items
            .iter()
            .zip(&texts)
            .map(|(item, (plan, error))| NewVerdict {
                mailbox: &self.mailbox,
                uidvalidity,
                uid: item.key.name.is_empty().then_some(item.key.uid),
                name: &item.key.name,
                message_id: item.message_id(),
                digest: &item.digest,
                bucket: item.plan.bucket(),
                plan,
                error,
                created_ms: now_ms,
            })
            .collect();
        let ids = Store::record_verdicts_in(tx, &verdicts).await?;
        let mut notes = Vec::with_capacity(items.len());
        for (item, &(id, uid)) in items.iter().zip(&ids) {
            if let Some(e) = &item.verdict.error {
                Store::quarantine_in(
                    tx,
                    id,
                    &self.mailbox,
                    &item.digest,
                    &e.reason,
                    &self.rules_digest,
                    now_ms,
                )
                .await?;
            }
            let subject = format!(
                "message:{}",
                if item.message_id().is_empty() {
                    &item.digest
                } else {
                    item.message_id()
                }
            );
            let origin = item
                .verdict
                .stores
                .iter()
                .find_map(|s| s.origin.clone())
                .unwrap_or_default();
            let detail = format!("uid {uid} {}", item.verdict.tsv_line("").trim_start());
            notes.push((subject, format!("rule:{origin}"), detail));
        }
        let events: Vec<NewEvent<'_>> = items
            .iter()
            .zip(&notes)
            .map(|(item, (subject, reason, detail))| NewEvent {
                at_ms: now_ms,
                actor: "worker",
                subject,
                action: if item.verdict.is_error() {
                    "quarantined"
                } else {
                    "classified"
                },
                reason,
                detail,
            })
            .collect();
        Store::record_events_in(tx, &events).await?;
        Ok(ids)
    }

    /// Applies recorded plans in one go and marks them applied; a failure schedules a retry per verdict.
    async fn apply(&self, source: &mut Source, recorded: &[(i64, Key, Plan)]) -> Result<()> {
        if recorded.is_empty() {
            return Ok(());
        }
        let items: Vec<(Key, Vec<Step>)> = recorded
            .iter()
            .map(|(_, k, p)| (k.clone(), p.steps()))
            .collect();
        self.fence.check().await?;
        crate::failpoint::hit("after-lease-check");
        if let Err(e) = source.apply(&items).await {
            // A lease lost meanwhile: the failure is the new holder's business, not ours to record.
            self.fence.check().await?;
            // A connection that failed mid-apply is no fault of the plans: they stay due, and the
            // next connection re-applies them at once (`recover`), finding what the server did.
            if !crate::mailbox::connection_failed(&e) {
                let error = format!("{e:#}");
                let next = self.clock.now_ms() + super::backoff::retry_delay_ms(1);
                for (id, ..) in recorded {
                    self.store.record_apply_failure(*id, &error, next).await?;
                }
            }
            self.counters.error();
            return Err(e.context("apply verdicts"));
        }
        crate::failpoint::hit("after-apply");
        let ids: Vec<i64> = recorded.iter().map(|(id, ..)| *id).collect();
        self.mark_applied(&ids).await
    }

    /// Marks verdicts applied, in a transaction that checks the lease first.
    async fn mark_applied(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.store.begin().await?;
        self.fence.check_in(&mut tx).await?;
        Store::mark_applied_in(&mut tx, ids, self.clock.now_ms()).await?;
        tx.commit().await.context("commit verdicts applied")
    }

    /// Re-applies verdicts recorded but not applied (a crash or a failed apply): a message no longer in
    /// the watched folder was already moved; copies already made are found by Message-ID or name.
    async fn recover(&self, source: &mut Source, summary: &mut Summary) -> Result<()> {
        let rows = self
            .store
            .unapplied(&self.mailbox, self.clock.now_ms())
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        self.fence.check().await?;
        let keys: Vec<Key> = rows
            .iter()
            .map(|r| Key {
                uid: r.uid,
                name: r.name.clone(),
            })
            .collect();
        let present = source.present(&keys).await?;
        let mut done = Vec::new();
        for row in &rows {
            let key = Key {
                uid: row.uid,
                name: row.name.clone(),
            };
            if !present.contains(&key) {
                done.push(row.id);
                continue;
            }
            self.reapply(source, row, key).await?;
            done.push(row.id);
        }
        tracing::info!(
            count = rows.len(),
            "re-applied verdicts recorded before a restart"
        );
        summary.recovered += rows.len() as u64;
        self.mark_applied(&done).await
    }

    async fn reapply(&self, source: &mut Source, row: &VerdictRow, key: Key) -> Result<()> {
        let plan: Plan = serde_json::from_str(&row.plan).context("read recorded plan")?;
        let mut made = Vec::new();
        for copy in &plan.copies {
            let want = plan.flags_of(&copy.folder).unwrap_or_default();
            let foreign = plan.foreign_flags(&copy.folder);
            if source
                .repair_copy(&copy.folder, &key, &row.message_id, want, foreign)
                .await?
            {
                made.push(copy.folder.clone());
            }
        }
        match source
            .apply(&[(key.clone(), plan.steps_except(&made))])
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if crate::mailbox::connection_failed(&e) => Err(e),
            Err(e) if let Err(lost) = self.fence.check().await => Err(lost.context(e)),
            Err(e) if row.attempts + 1 >= MAX_APPLY_ATTEMPTS => {
                tracing::error!(verdict = row.id, error = %format!("{e:#}"), "giving up applying: quarantine");
                let q = Plan::quarantine(&self.config.mailbox.quarantine, plan.had.clone());
                self.store
                    .replace_plan(row.id, q.bucket(), &serde_json::to_string(&q)?)
                    .await?;
                source.apply(&[(key, q.steps())]).await
            }
            Err(e) => {
                let next = self.clock.now_ms() + super::backoff::retry_delay_ms(row.attempts + 1);
                self.store
                    .record_apply_failure(row.id, &format!("{e:#}"), next)
                    .await?;
                Err(e)
            }
        }
    }
}
