//! Manual items: what `handover apply` and `verify` say of one not yet done, `handover tick` (a person
//! did it by hand), and the rotated shared password of an `imap-password` asset, which counts as done
//! only while triaged's own login works with the password configured now.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::assets::ROTATE;
use super::outcome::{AssetOutcome, Run};
use super::start::load_in;
use super::{FAILED, VERIFIED};
use crate::config::Config;
use crate::mailbox::imap::acl::check_login;
use crate::store::{HandoverAssetRow, Store};
use crate::team::Invalid;

/// What `apply` and `verify` say of a manual item not yet done; the CLI knows it by its first words.
pub(super) fn manual_item(id: i64, row: &HandoverAssetRow) -> String {
    if row.kind == "imap-password" {
        format!(
            "a manual item: {ROTATE} on the server and in [mailbox], then handover tick {id} --asset {}",
            row.asset
        )
    } else {
        "a manual item: a person does it".to_owned()
    }
}

/// `handover verify` of a manual item: one not done yet says what is to do; a verified rotated
/// password is checked again with triaged's own login, and fails when that login no longer works.
pub(super) async fn verify(
    run: &Run<'_>,
    config: &Config,
    row: &HandoverAssetRow,
) -> Result<AssetOutcome> {
    if row.state != VERIFIED {
        return Ok(AssetOutcome::as_is(row, manual_item(run.id, row)));
    }
    if row.kind == "imap-password"
        && let Err(e) = check_login(&config.mailbox).await
    {
        let error = format!("triaged's own login fails now: {e:#}");
        return run
            .record(row, FAILED, error, false, "asset-verify-failed")
            .await;
    }
    Ok(AssetOutcome::as_is(row, String::new()))
}

/// `handover tick ID --asset NAME`: a person did a manual item (wiki group, ticket-system admin, chat
/// room) by hand; it counts as verified. For an `imap-password` asset the person rotated the shared
/// password: triaged logs in to the `[mailbox]` account with the password as configured now (the
/// config, its password file or variable, read by this command), and the item is verified only when
/// that works; otherwise it is `failed` with the server's answer and the handover stays open.
pub async fn tick(
    config: &Config,
    store: &Store,
    id: i64,
    asset: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<AssetOutcome> {
    let mut tx = store.begin().await?;
    let (_, rows) = load_in(&mut tx, id).await?;
    drop(tx);
    let Some(row) = rows.iter().find(|r| r.asset == asset) else {
        let valid = rows.iter().map(|r| r.asset.clone()).collect();
        return Err(crate::team::Unknown::new("asset of the handover", asset, valid).into());
    };
    let (state, error, action) = match row.kind.as_str() {
        "manual" => (VERIFIED, String::new(), "asset-ticked"),
        "imap-password" => match check_login(&config.mailbox).await {
            Ok(()) => (VERIFIED, String::new(), "asset-ticked"),
            Err(e) => (
                FAILED,
                format!("triaged's own login fails after \"{ROTATE}\": {e:#}"),
                "asset-tick-failed",
            ),
        },
        _ => {
            return Err(Invalid(format!(
                "{asset} is not a manual item: handover apply {id} changes it"
            ))
            .into());
        }
    };
    let verified = state == VERIFIED;
    if !verified {
        tracing::warn!(handover = id, asset, error = %error, "handover tick");
    }
    let run = Run {
        store,
        id,
        actor,
        command: "handover tick",
        now,
    };
    run.record(row, state, error, verified, action).await
}
