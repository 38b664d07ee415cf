//! The data retention practice: per bucket, how long mail is kept (`[retention.buckets]`), and a purge
//! that is a dry run unless asked to apply. A message's age is its INTERNALDATE, the time it arrived in
//! the watched folder: IMAP keeps it across MOVE and COPY (Dovecot does; checked by the tests), and
//! triaged's Maildir moves and copies keep the file's time, so a message sorted into a bucket still
//! shows when it arrived.
//!
//! A run surveys every bucket folder under a rule, reads what the holds need from each message past its
//! limit, and lists what is due and what is held and why. Applying purges in batches of
//! [`PURGE_BATCH`]: each batch is checked against the holds again, written to the purge journal, marked
//! `\Deleted`, removed by UID EXPUNGE (never a plain EXPUNGE), looked for again, and recorded with one
//! audit event per purged message (Message-ID, folder, date). A run killed part-way is finished by the
//! next: journal entries whose message is gone are recorded, and those still there lose the `\Deleted`
//! the run gave them and are looked at afresh, holds and all. triaged's own records are pruned under
//! `[retention] records` (`prune`). More than `[retention] max_per_run` due stops the run unless forced.
//!
//! Owns these rules; mail changes go through `mailbox`, SQL through `store`. It spawns nothing: the
//! worker runs [`scheduled`] as one of its loops.

mod holds;
mod prune;
mod purge;
mod rules;
pub(crate) mod scan;
mod threads;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone as _, Utc};
use tokio_util::sync::CancellationToken;

pub use self::holds::Hold;
pub use self::prune::RecordsReport;
pub use self::rules::{FolderRule, limit_text, rule_for};
use self::scan::Facts;
pub use self::scan::{bare_id, numbers};
use crate::clock::Clock;
use crate::config::Config;
use crate::mailbox::{Aged, Key, Source};
use crate::records::buckets::KnownBuckets;
use crate::records::report::RetentionFigures;
use crate::store::{HoldKind, HoldRow, RunEnd, Store};

/// Messages purged per batch: one journal transaction, one UID STORE, one UID EXPUNGE and one audit
/// transaction each, and the holds asked again just before.
pub const PURGE_BATCH: usize = 100;

/// Messages fetched at once to read what the holds need.
const SURVEY_BATCH: usize = 200;

/// A scheduled run that failed is tried again after this long (or after the schedule, when shorter).
const RETRY: Duration = Duration::from_secs(5 * 60);

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Purge what is due; without it nothing is changed.
    pub apply: bool,
    /// Purge even more than `[retention] max_per_run`.
    pub force: bool,
    /// Who runs it, for the audit trail: `cli`, `schedule`.
    pub actor: &'static str,
}

/// A message past its bucket's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: Key,
    /// Its INTERNALDATE, ms since the epoch.
    pub internal_ms: i64,
    /// It carried `\Deleted` before the run (another client's).
    pub was_deleted: bool,
    facts: Facts,
}

impl Item {
    /// Its Message-ID, without angle brackets; empty when it has none.
    pub fn message_id(&self) -> &str {
        &self.facts.message_id
    }

    /// How a listing names it: `<Message-ID>`, else its UID or file name.
    pub fn label(&self) -> String {
        match (self.facts.message_id.as_str(), self.key.uid) {
            ("", 0) => format!("(no Message-ID, file {})", self.key.name),
            ("", uid) => format!("(no Message-ID, uid {uid})"),
            (id, _) => format!("<{id}>"),
        }
    }

    pub fn received(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.internal_ms)
            .single()
            .unwrap_or_default()
    }
}

/// One folder under a rule, as a run found and left it.
#[derive(Debug, Clone)]
pub struct FolderReport {
    pub rule: FolderRule,
    /// Mail received before this is past the limit.
    pub cutoff: DateTime<Utc>,
    pub uidvalidity: i64,
    /// Past the limit and not held: what a dry run would purge, and what an applying run did not purge
    /// (stopped, cancelled, or still there after the expunge).
    pub due: Vec<Item>,
    /// Past the limit but held, and why.
    pub held: Vec<(Item, Hold)>,
    /// Purged by this run.
    pub purged: Vec<Item>,
}

/// An applying run that found more due than `[retention] max_per_run` and stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany {
    pub due: u64,
    pub max: u64,
}

/// What a run finished of one killed before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Gone from the server: recorded as purged now.
    pub purged: u64,
    /// Still there: `\Deleted` taken off again, looked at afresh.
    pub kept: u64,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct RunReport {
    pub at: DateTime<Utc>,
    pub apply: bool,
    /// The run's record in the store (applying runs only).
    pub run_id: Option<i64>,
    pub recovered: Recovered,
    pub folders: Vec<FolderReport>,
    pub stopped: Option<TooMany>,
    /// Shutdown came between two batches.
    pub cancelled: bool,
    pub records: Option<RecordsReport>,
}

impl RunReport {
    pub fn due(&self) -> u64 {
        self.folders.iter().map(|f| f.due.len() as u64).sum()
    }

    pub fn held(&self) -> u64 {
        self.folders.iter().map(|f| f.held.len() as u64).sum()
    }

    pub fn purged(&self) -> u64 {
        self.folders.iter().map(|f| f.purged.len() as u64).sum()
    }
}

/// One run's context.
struct Run<'a> {
    config: &'a Config,
    store: &'a Store,
    clock: &'a Clock,
    opts: RunOptions,
    cancel: &'a CancellationToken,
    /// The account's identity in the store.
    mailbox: String,
    at: DateTime<Utc>,
}

/// Runs the retention rules over the configured mailbox: a dry run, or with `opts.apply` a purge.
/// `cancel` stops an applying run between batches.
pub async fn run(
    config: &Config,
    store: &Store,
    clock: &Clock,
    opts: RunOptions,
    cancel: &CancellationToken,
) -> Result<RunReport> {
    crate::records::buckets::check(config)?;
    let known = KnownBuckets::from_config(config)?;
    let mut source = Source::connect(&config.mailbox).await?;
    let run = Run {
        config,
        store,
        clock,
        opts,
        cancel,
        mailbox: crate::mailbox::id(&config.mailbox.source),
        at: clock.now(),
    };
    let result = run.go(&mut source, &known).await;
    source.close().await;
    result
}

impl Run<'_> {
    async fn go(&self, source: &mut Source, known: &KnownBuckets) -> Result<RunReport> {
        let mut report = RunReport {
            at: self.at,
            apply: self.opts.apply,
            run_id: None,
            recovered: Recovered::default(),
            folders: Vec::new(),
            stopped: None,
            cancelled: false,
            records: None,
        };
        if self.opts.apply {
            let id = self
                .store
                .start_retention_run(self.opts.actor, self.opts.force, self.at.timestamp_millis())
                .await?;
            report.run_id = Some(id);
        }
        let result = self.steps(source, known, &mut report).await;
        if let Some(id) = report.run_id {
            let outcome = match (&result, report.stopped, report.cancelled) {
                (Err(_), ..) => "failed",
                (Ok(()), Some(_), _) => "too-many",
                (Ok(()), None, true) => "cancelled",
                (Ok(()), None, false) => "done",
            };
            let end = RunEnd {
                due: report.due(),
                held: report.held(),
                purged: report.purged(),
                outcome,
            };
            let finished = self
                .store
                .finish_retention_run(id, &end, self.clock.now_ms())
                .await;
            match (&result, finished) {
                (Ok(()), Err(e)) => return Err(e),
                (Err(_), Err(e)) => {
                    tracing::warn!(error = %format!("{e:#}"), run = id, "record the end of a failed retention run");
                }
                (_, Ok(())) => {}
            }
        }
        result.map(|()| report)
    }

    async fn steps(
        &self,
        source: &mut Source,
        known: &KnownBuckets,
        report: &mut RunReport,
    ) -> Result<()> {
        if let Some(run_id) = report.run_id {
            report.recovered = self.recover(source, run_id).await?;
        }
        let existing = source.folders()?;
        for rule in rules::folder_rules(self.config, known, &existing) {
            if self.cancel.is_cancelled() {
                report.cancelled = true;
                return Ok(());
            }
            let folder = self.survey(source, rule).await?;
            report.folders.push(folder);
        }
        let (due, max) = (report.due(), self.config.retention.max_per_run);
        if self.opts.apply && !self.opts.force && due > max {
            report.stopped = Some(TooMany { due, max });
            return Ok(());
        }
        if let Some(run_id) = report.run_id {
            for folder in &mut report.folders {
                if self.purge_folder(source, folder, run_id).await? {
                    report.cancelled = true;
                    return Ok(());
                }
            }
        }
        report.records = Some(self.records(source).await?);
        Ok(())
    }

    /// One folder's messages past the limit, each due or held.
    async fn survey(&self, source: &mut Source, rule: FolderRule) -> Result<FolderReport> {
        let cutoff = chrono::Duration::from_std(rule.limit)
            .ok()
            .and_then(|limit| self.at.checked_sub_signed(limit))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut report = FolderReport {
            cutoff,
            uidvalidity: 0,
            due: Vec::new(),
            held: Vec::new(),
            purged: Vec::new(),
            rule,
        };
        let folder = report.rule.folder.clone();
        if !report.rule.exists {
            return Ok(report);
        }
        let Some(uidvalidity) = source.open_folder(&folder, false).await? else {
            report.rule.exists = false;
            return Ok(report);
        };
        report.uidvalidity = uidvalidity;
        let mut aged = source
            .aged(cutoff)
            .await
            .with_context(|| format!("find mail past its limit in {folder:?}"))?;
        if report.rule.watched {
            aged = self.sorted_only(aged, uidvalidity).await?;
        }
        for chunk in aged.chunks(SURVEY_BATCH) {
            let items = read(source, chunk).await?;
            let facts: Vec<&Facts> = items.iter().map(|i| &i.facts).collect();
            let holds = holds::check(self.store, self.config, &folder, &facts).await?;
            for (item, hold) in items.into_iter().zip(holds) {
                match hold {
                    Some(hold) => report.held.push((item, hold)),
                    None => report.due.push(item),
                }
            }
        }
        Ok(report)
    }

    /// In the watched folder, only mail whose verdict was carried out (kept mail): never mail still
    /// waiting to be sorted, whatever its date.
    async fn sorted_only(&self, aged: Vec<Aged>, uidvalidity: i64) -> Result<Vec<Aged>> {
        let uids: Vec<i64> = aged.iter().map(|a| a.key.uid).filter(|u| *u > 0).collect();
        let names: Vec<String> = aged
            .iter()
            .filter(|a| !a.key.name.is_empty())
            .map(|a| a.key.name.clone())
            .collect();
        let (uids, names) = self
            .store
            .sorted_among(&self.mailbox, uidvalidity, &uids, &names)
            .await?;
        Ok(aged
            .into_iter()
            .filter(|a| uids.contains(&a.key.uid) || names.contains(&a.key.name))
            .collect())
    }
}

/// Fetches `aged` messages and reads their facts; one that vanished meanwhile is left out.
async fn read(source: &mut Source, aged: &[Aged]) -> Result<Vec<Item>> {
    let keys: Vec<Key> = aged.iter().map(|a| a.key.clone()).collect();
    let fetched = source.fetch(&keys).await?;
    let mut items = Vec::with_capacity(fetched.len());
    for f in &fetched {
        let found = aged.iter().find(|a| {
            (a.key.uid > 0 && a.key.uid == f.uid) || (!f.name.is_empty() && a.key.name == f.name)
        });
        if let Some(a) = found {
            items.push(Item {
                key: a.key.clone(),
                internal_ms: a.internal_ms,
                was_deleted: a.deleted,
                facts: scan::scan(&f.raw),
            });
        }
    }
    Ok(items)
}

/// The `[retention] schedule` loop of `triaged run`: applies the rules every `every`, counted from the
/// last applying run that went through (from the command line too), so a restart does not run them
/// again early. A run that stops at `max_per_run` is logged and purges nothing; a failed, killed or
/// shut-down run is tried again within a few minutes. Returns only once `cancel` fires.
pub async fn scheduled(
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    every: Duration,
    cancel: CancellationToken,
) -> Result<()> {
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let mut wait = Duration::ZERO;
    loop {
        match store.last_retention_run_ms().await {
            Ok(last) => {
                let due = last.map_or(0, |l| l.saturating_add(every_ms));
                let left = u64::try_from(due - clock.now_ms()).unwrap_or(0);
                wait = wait.max(Duration::from_millis(left));
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "retention: read the last run");
                wait = wait.max(RETRY.min(every));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return Ok(()),
        }
        let opts = RunOptions {
            apply: true,
            force: false,
            actor: "schedule",
        };
        wait = match run(&config, &store, &clock, opts, &cancel).await {
            Ok(report) => {
                log_run(&report, &config);
                Duration::ZERO
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "retention run failed");
                RETRY.min(every)
            }
        };
        if cancel.is_cancelled() {
            return Ok(());
        }
    }
}

fn log_run(report: &RunReport, config: &Config) {
    if let Some(stop) = report.stopped {
        tracing::error!(
            due = stop.due,
            max_per_run = stop.max,
            "retention: more mail past its limit than [retention] max_per_run; nothing purged \
             (triaged retention run shows it, --apply --force purges it)"
        );
        return;
    }
    let pruned = report
        .records
        .as_ref()
        .map(|r| r.pruned)
        .unwrap_or_default();
    tracing::info!(
        purged = report.purged(),
        held = report.held(),
        recovered = report.recovered.purged,
        verdicts_pruned = pruned.verdicts,
        outbox_bodies_pruned = pruned.outbox_bodies,
        records = %limit_text(config.retention.records),
        "retention run"
    );
}

/// A manual hold's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    /// A message, by Message-ID (angle brackets optional).
    MessageId(String),
    /// A support ticket `sYYYYMMDD.NNN`: every message of its thread.
    Ticket(String),
}

impl HoldTarget {
    /// The target as the store keeps it; `None` for a ticket number that is not `sYYYYMMDD.NNN` or an
    /// empty Message-ID.
    pub fn parse(kind: HoldKind, text: &str) -> Option<HoldTarget> {
        match kind {
            HoldKind::MessageId => {
                let id = scan::bare_id(text);
                (!id.is_empty() && !id.contains(char::is_whitespace))
                    .then_some(HoldTarget::MessageId(id))
            }
            HoldKind::Ticket => {
                let found = numbers(text.trim(), 's');
                let ticket = found.into_iter().next()?;
                (ticket.eq_ignore_ascii_case(text.trim())).then_some(HoldTarget::Ticket(ticket))
            }
        }
    }

    fn parts(&self) -> (HoldKind, &str) {
        match self {
            HoldTarget::MessageId(id) => (HoldKind::MessageId, id),
            HoldTarget::Ticket(t) => (HoldKind::Ticket, t),
        }
    }
}

/// Places a manual hold: the mail it names is never purged until it is released. Returns its id.
pub async fn hold(
    store: &Store,
    clock: &Clock,
    target: &HoldTarget,
    reason: &str,
    actor: &str,
) -> Result<i64> {
    let (kind, text) = target.parts();
    store
        .add_hold(kind, text, reason, actor, clock.now_ms())
        .await
}

/// Releases every active hold on `target`; returns their ids (none when nothing held it).
pub async fn release(
    store: &Store,
    clock: &Clock,
    target: &HoldTarget,
    reason: &str,
    actor: &str,
) -> Result<Vec<i64>> {
    let (kind, text) = target.parts();
    store
        .release_holds(kind, text, reason, actor, clock.now_ms())
        .await
}

/// The holds in force, oldest first.
pub async fn holds(store: &Store) -> Result<Vec<HoldRow>> {
    store.active_holds().await
}

/// Messages purged per bucket with `since <= purged < until`: the team report's retention figures.
pub async fn figures(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<RetentionFigures> {
    let rows = store
        .purged_per_bucket(since.timestamp_millis(), until.timestamp_millis())
        .await?;
    Ok(RetentionFigures::from_counts(rows))
}

#[cfg(test)]
#[path = "retention/retention_tests.rs"]
mod tests;
