use std::path::PathBuf;
use std::time::Duration;

use super::{Plan, Target, plan};
use crate::classify::{Folder, Redirect, StoreAction, Verdict};
use crate::config::{Backlog, MailboxConfig, MailboxSource};
use crate::mailbox::Step;

fn mailbox(allow_delete: bool) -> MailboxConfig {
    MailboxConfig {
        source: MailboxSource::Maildir {
            path: PathBuf::from("/m"),
        },
        password: None,
        ca_file: None,
        backlog: Backlog::Process,
        poll_interval: Duration::from_secs(60),
        liveness_limit: Duration::from_secs(360),
        quarantine: "Quarantine".into(),
        trash: "Trash".into(),
        allow_delete,
    }
}

fn store(folder: Folder, flags: &[&str]) -> StoreAction {
    StoreAction {
        folder,
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        create: false,
        implicit: false,
        origin: None,
    }
}

fn named(name: &str) -> Folder {
    Folder::Named(name.into())
}

#[test]
fn first_fileinto_is_the_move_and_the_rest_are_copies() -> anyhow::Result<()> {
    let v = Verdict {
        stores: vec![
            store(named("SE"), &["\\flagged"]),
            store(named("meta"), &[]),
            store(named("SE"), &[]),
        ],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false));
    assert_eq!(p.target, Target::Move("SE".into()));
    assert_eq!(p.copies, vec!["meta".to_owned()]);
    assert_eq!(p.flags, vec!["\\Flagged".to_owned()]);
    assert_eq!(p.bucket(), "SE");
    Ok(())
}

#[test]
fn keep_stays_and_copies_the_other_folders() -> anyhow::Result<()> {
    let v = Verdict {
        stores: vec![store(named("help"), &[]), store(Folder::Keep, &[])],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false));
    assert_eq!(p.target, Target::Keep);
    assert_eq!(p.copies, vec!["help".to_owned()]);
    assert_eq!(p.bucket(), "INBOX");
    Ok(())
}

#[test]
fn no_folder_left_goes_to_trash_unless_deletion_is_allowed() -> anyhow::Result<()> {
    let v = Verdict {
        redirects: vec![Redirect {
            address: "a@b".into(),
            copy: false,
            origin: None,
        }],
        ..Verdict::default()
    };
    assert_eq!(
        plan(&v, &mailbox(false)).target,
        Target::Move("Trash".into())
    );
    assert_eq!(plan(&v, &mailbox(true)).target, Target::Delete);
    let discard = Verdict {
        discard: true,
        ..Verdict::default()
    };
    assert_eq!(
        plan(&discard, &mailbox(false)).target,
        Target::Move("Trash".into())
    );
    Ok(())
}

#[test]
fn error_verdict_goes_to_quarantine_flagged() -> anyhow::Result<()> {
    let p = plan(&Verdict::error("cpu-limit", "x"), &mailbox(true));
    assert_eq!(p.target, Target::Move("Quarantine".into()));
    assert_eq!(p.flags, vec!["\\Flagged".to_owned()]);
    Ok(())
}

#[test]
fn a_plan_lowers_to_flags_then_copies_then_the_move() -> anyhow::Result<()> {
    let help = Plan {
        target: Target::Move("help".into()),
        copies: vec!["meta".into(), "SE".into()],
        flags: vec!["\\Flagged".into()],
    };
    assert_eq!(
        help.steps(),
        vec![
            Step::Flag(vec!["\\Flagged".into()]),
            Step::Copy("meta".into()),
            Step::Copy("SE".into()),
            Step::Move("help".into()),
        ]
    );
    let gone = Plan {
        target: Target::Delete,
        copies: vec![],
        flags: vec![],
    };
    assert_eq!(gone.steps(), vec![Step::Delete]);
    let keep = Plan {
        target: Target::Keep,
        copies: vec![],
        flags: vec![],
    };
    assert!(keep.steps().is_empty());
    Ok(())
}
