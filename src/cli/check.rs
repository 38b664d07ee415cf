//! `triaged check` (is the config good enough to run on?) and `triaged migrate` (bring the store's
//! tables up to date). Both print one line; what is checked and how migrations run belongs to the worker
//! and the store.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::{ConfigArg, init_logging};
use crate::classify::RulesError;
use crate::config::{Config, MailboxSource};
use crate::store::Store;

/// Validates the config, compiles the rules, loads the keys and renders every template with sample
/// data; prints one line when all is well.
pub(super) async fn check(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let checked = match crate::worker::check(&config) {
        Ok(checked) => checked,
        // A script that does not compile is printed as `FILE:LINE:COLUMN: message`, as `classify`
        // prints it, so that an editor or CI can jump to it; the exit code is 2.
        Err(e) => match e.downcast_ref::<RulesError>() {
            Some(rules) => {
                eprintln!("{rules}");
                return Ok(ExitCode::from(2));
            }
            None => return Err(e),
        },
    };
    crate::outln!(
        "ok: {}: {}, {} templates rendered, {} checklists ({} items)",
        config.file.display(),
        describe(&config),
        checked.templates,
        checked.team.checklists,
        checked.team.items
    );
    Ok(ExitCode::SUCCESS)
}

/// One line saying what the config sets up.
fn describe(config: &Config) -> String {
    let mailbox = match &config.mailbox.source {
        MailboxSource::Imap {
            host, port, folder, ..
        } => format!("imap {host}:{port} {folder}"),
        MailboxSource::Maildir { path } => format!("maildir {}", path.display()),
    };
    let store = if config.store.url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    format!(
        "mailbox {mailbox}, store {store}, rules {}",
        short(&config.rules.script)
    )
}

fn short(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Applies the migrations the store lacks; a second run changes nothing.
pub(super) async fn migrate(args: &ConfigArg) -> Result<ExitCode> {
    let config = args.load()?;
    init_logging(config.log.format);
    let (store, report) = Store::open_migrated(&config.store.url).await?;
    let backend = format!("{:?}", store.backend()).to_lowercase();
    if report.applied.is_empty() {
        crate::outln!(
            "store ({backend}) is current: {} migrations applied",
            report.known
        );
    } else {
        crate::outln!(
            "applied {} migration(s) to the {backend} store: {:?}",
            report.applied.len(),
            report.applied
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
