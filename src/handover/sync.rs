//! `team sync [--apply] [--prune]`: for each asset, what the roster (with the applied handovers) wants
//! compared with what GETACL and Mailman's REST API say. `--apply` grants what is missing, reads it back
//! and records each change; rights beyond the wish are drift (log, `status`, metrics), removed only with
//! `--prune`, which never touches triaged's own login, the tree's owner.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::assets::{Asset, Assets, Grant, Kind};
pub use super::change::{Change, Drift, Op};
use super::holdings::{Holdings, imap_user};
use super::{asset_subject, imap, lists};
use crate::config::Config;
use crate::lists::{Action, Mailman};
use crate::mailbox::imap::acl::{AclSession, Rights};
use crate::store::{DriftRow, NewEvent, Store};
use crate::team::Roster;

/// What `team sync` found and did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Each change, with its outcome when applied (`None`: only reported).
    pub changes: Vec<(Change, Option<Result<(), String>>)>,
    /// Rights beyond the wish, as read after any changes.
    pub drift: Vec<Drift>,
    /// What kept an asset or a person from being compared (no `imap-user`, a server unreachable).
    pub problems: Vec<String>,
}

/// The real systems, connected when first needed.
pub(super) struct Systems<'a> {
    config: &'a Config,
    acl: Option<AclSession>,
    mailman: Option<Mailman>,
}

impl<'a> Systems<'a> {
    pub(super) fn new(config: &'a Config) -> Systems<'a> {
        Systems {
            config,
            acl: None,
            mailman: None,
        }
    }

    pub(super) async fn acl(&mut self) -> Result<&mut AclSession> {
        if self.acl.is_none() {
            let session = AclSession::connect(&self.config.mailbox)
                .await
                .context("connect to the IMAP server for its ACLs")?;
            self.acl = Some(session);
        }
        self.acl.as_mut().context("no IMAP session")
    }

    pub(super) fn mailman(&mut self) -> Result<&Mailman> {
        if self.mailman.is_none() {
            let cfg = self
                .config
                .mailman
                .as_ref()
                .context("mailing-list assets need the [mailman] table")?;
            self.mailman = Some(Mailman::new(cfg)?);
        }
        self.mailman.as_ref().context("no Mailman client")
    }

    /// Forgets a session that failed, so the next use logs in afresh.
    pub(super) fn drop_acl(&mut self) {
        self.acl = None;
    }

    pub(super) async fn close(self) {
        if let Some(session) = self.acl {
            session.logout().await;
        }
    }

    /// The asset's differences (see `imap::look`, `lists::look`); manual assets have none.
    pub(super) async fn look(
        &mut self,
        asset: &Asset,
        wanted: &Wanted,
        prune: bool,
    ) -> Result<(Vec<Change>, Vec<Drift>)> {
        match (&asset.kind, wanted) {
            (Kind::Imap { .. }, Wanted::Imap(w)) => {
                let out = imap::look(self.acl().await?, asset, w, prune).await;
                if out.is_err() {
                    self.drop_acl();
                }
                out
            }
            (Kind::List { .. }, Wanted::List(w)) => {
                lists::look(self.mailman()?, asset, w, prune).await
            }
            _ => Ok((Vec::new(), Vec::new())),
        }
    }

    /// Carries out one change and reads it back.
    pub(super) async fn carry_out(&mut self, asset: &Asset, change: &Change) -> Result<()> {
        match asset.kind {
            Kind::Imap { .. } => {
                let out = imap::carry_out(self.acl().await?, change).await;
                if out.as_ref().is_err_and(|e| !is_refused(e)) {
                    self.drop_acl();
                }
                out
            }
            _ => lists::carry_out(self.mailman()?, asset, change).await,
        }
    }
}

/// Whether the server turned the command down (as against not answering).
pub(super) fn is_refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<crate::mailbox::imap::acl::Refused>()
            || c.downcast_ref::<crate::lists::ListError>()
                .is_some_and(|l| !l.is_transient())
    })
}

/// Who should hold one asset, by identifier in its system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Wanted {
    Imap(BTreeMap<String, Rights>),
    List(BTreeMap<String, Action>),
    Manual,
}

/// The asset's wish by identifier; people the system cannot name (no `imap-user`) are problems.
pub(super) fn wanted(
    asset: &Asset,
    holdings: &Holdings,
    roster: &Roster,
    problems: &mut Vec<String>,
) -> Wanted {
    match asset.kind {
        Kind::Imap { .. } => {
            let mut w = BTreeMap::new();
            for (id, grant) in holdings.holders(asset) {
                let (Some(p), Grant::Imap(r)) = (roster.get(*id), grant) else {
                    continue;
                };
                match imap_user(p) {
                    Some(user) => {
                        w.insert(user.to_owned(), r.clone());
                    }
                    None => problems.push(format!(
                        "{}: {} has no imap-user fact (team record {:?} imap-user LOGIN)",
                        asset.name, p.name, p.name
                    )),
                }
            }
            Wanted::Imap(w)
        }
        Kind::List { .. } => {
            let mut w = BTreeMap::new();
            for (id, grant) in holdings.holders(asset) {
                if let (Some(p), Grant::List(a)) = (roster.get(*id), grant) {
                    w.insert(p.primary().to_owned(), *a);
                }
            }
            Wanted::List(w)
        }
        Kind::Manual { .. } | Kind::Password { .. } => Wanted::Manual,
    }
}

/// Reads the roster and the handovers and works out who should hold what.
pub(super) async fn holdings(store: &Store, assets: &Assets) -> Result<(Roster, Holdings)> {
    let mut tx = store.begin().await?;
    let roster = Roster::load_in(&mut tx, None).await?;
    let handovers = Store::handovers_in(&mut tx, None).await?;
    let rows = Store::handover_assets_in(&mut tx, None).await?;
    let holdings = Holdings::new(assets, &roster, &handovers, &rows);
    Ok((roster, holdings))
}

/// Records a change made in a real system.
pub(super) async fn record_change(
    store: &Store,
    change: &Change,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let subject = asset_subject(&change.asset);
    let detail = change.to_string();
    store
        .record_event(&NewEvent {
            at_ms: now.timestamp_millis(),
            actor,
            subject: &subject,
            action: change.action(),
            reason,
            detail: &detail,
        })
        .await?;
    Ok(())
}

/// Keeps what was found beyond the wish on `asset`, for `status` and the metrics, and logs it.
pub(super) async fn keep_drift(
    store: &Store,
    asset: &str,
    drift: &[Drift],
    now: DateTime<Utc>,
) -> Result<()> {
    for d in drift {
        tracing::warn!(asset = %d.asset, place = %d.place, identifier = %d.identifier,
            detail = %d.detail, "rights drift");
    }
    let rows: Vec<DriftRow> = drift
        .iter()
        .map(|d| DriftRow {
            asset: d.asset.clone(),
            place: d.place.clone(),
            identifier: d.identifier.clone(),
            detail: d.detail.clone(),
            seen_ms: now.timestamp_millis(),
        })
        .collect();
    let mut tx = store.begin().await?;
    Store::rights_drift_replace_in(&mut tx, asset, &rows).await?;
    tx.commit().await.context("commit drift")?;
    Ok(())
}

/// `team sync`: compares every asset; with `apply`, makes the changes, reads each back, records it.
pub async fn sync(
    config: &Config,
    store: &Store,
    assets: &Assets,
    apply: bool,
    prune: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<SyncReport> {
    let (roster, holdings) = holdings(store, assets).await?;
    let mut report = SyncReport::default();
    let mut systems = Systems::new(config);
    let reason = if prune {
        "team sync --prune"
    } else {
        "team sync"
    };
    for asset in &assets.0 {
        let want = wanted(asset, &holdings, &roster, &mut report.problems);
        if want == Wanted::Manual {
            continue;
        }
        let (changes, mut drift) = match systems.look(asset, &want, prune).await {
            Ok(found) => found,
            Err(e) => {
                report.problems.push(format!("{}: {e:#}", asset.name));
                continue;
            }
        };
        if apply && !changes.is_empty() {
            for change in changes {
                let out = systems.carry_out(asset, &change).await;
                if out.is_ok() {
                    record_change(store, &change, actor, reason, now).await?;
                    tracing::info!(change = %change, "rights changed");
                }
                report
                    .changes
                    .push((change, Some(out.map_err(|e| format!("{e:#}")))));
            }
            // Read back the whole asset: what remains beyond the wish is drift.
            match systems.look(asset, &want, false).await {
                Ok((_, after)) => drift = after,
                Err(e) => report
                    .problems
                    .push(format!("{}: read back: {e:#}", asset.name)),
            }
        } else {
            report
                .changes
                .extend(changes.into_iter().map(|c| (c, None)));
        }
        keep_drift(store, &asset.name, &drift, now).await?;
        report.drift.extend(drift);
    }
    systems.close().await;
    Ok(report)
}
