use std::path::PathBuf;
use std::time::Duration;

use super::{CopyTo, Plan, Target, plan};
use crate::classify::{Folder, Redirect, StoreAction, Verdict};
use crate::config::{Backlog, MailboxConfig, MailboxSource};
use crate::mailbox::Step;

fn mailbox(allow_delete: bool) -> MailboxConfig {
    MailboxConfig {
        name: "default".to_owned(),
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

fn copy(folder: &str, flags: &[&str]) -> CopyTo {
    CopyTo {
        folder: folder.into(),
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
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
            store(named("SE"), &["\\seen"]),
        ],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false), &[]);
    assert_eq!(p.target, Target::Move("SE".into()));
    assert_eq!(p.copies, vec![copy("meta", &[])]);
    // The later store into SE replaces the flags of the first, as in Pigeonhole.
    assert_eq!(p.flags, vec!["\\Seen".to_owned()]);
    assert_eq!(p.bucket(), "SE");
    Ok(())
}

#[test]
fn keep_stays_and_copies_the_other_folders() -> anyhow::Result<()> {
    let v = Verdict {
        stores: vec![store(named("help"), &[]), store(Folder::Keep, &[])],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false), &[]);
    assert_eq!(p.target, Target::Keep);
    assert_eq!(p.copies, vec![copy("help", &[])]);
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
        plan(&v, &mailbox(false), &[]).target,
        Target::Move("Trash".into())
    );
    assert_eq!(plan(&v, &mailbox(true), &[]).target, Target::Delete);
    let discard = Verdict {
        discard: true,
        ..Verdict::default()
    };
    assert_eq!(
        plan(&discard, &mailbox(false), &[]).target,
        Target::Move("Trash".into())
    );
    Ok(())
}

#[test]
fn error_verdict_goes_to_quarantine_flagged() -> anyhow::Result<()> {
    let p = plan(&Verdict::error("cpu-limit", "x"), &mailbox(true), &[]);
    assert_eq!(p.target, Target::Move("Quarantine".into()));
    assert_eq!(p.flags, vec!["\\Flagged".to_owned()]);
    Ok(())
}

#[test]
fn a_plan_lowers_to_flags_then_copies_then_the_move() -> anyhow::Result<()> {
    let help = Plan {
        target: Target::Move("help".into()),
        copies: vec![copy("meta", &["\\Flagged"]), copy("SE", &["\\Flagged"])],
        flags: vec!["\\Flagged".into()],
        had: vec![],
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
        had: vec![],
    };
    assert_eq!(gone.steps(), vec![Step::Delete]);
    let keep = Plan {
        target: Target::Keep,
        copies: vec![],
        flags: vec![],
        had: vec![],
    };
    assert!(keep.steps().is_empty());
    Ok(())
}

#[test]
fn each_copy_gets_its_own_flags_never_those_of_another() -> anyhow::Result<()> {
    // fileinto :copy :flags "\\Flagged" "Privacy"; fileinto "Accounts"; (RFC 5232 §5)
    let v = Verdict {
        stores: vec![
            store(named("Privacy"), &["\\flagged"]),
            store(named("Accounts"), &[]),
        ],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false), &["\\Answered".to_owned()]);
    assert_eq!(p.target, Target::Move("Privacy".into()));
    assert_eq!(p.flags, vec!["\\Flagged".to_owned()]);
    assert_eq!(p.copies, vec![copy("Accounts", &[])]);
    assert_eq!(p.had, vec!["\\Answered".to_owned()]);
    assert_eq!(
        p.steps(),
        vec![
            Step::Unflag(vec!["\\Flagged".into()]),
            Step::Copy("Accounts".into()),
            Step::Flag(vec!["\\Flagged".into()]),
            Step::Move("Privacy".into()),
        ]
    );
    assert_eq!(p.flags_of("Accounts"), Some(vec!["\\Answered".to_owned()]));
    assert_eq!(p.foreign_flags("Accounts"), vec!["\\Flagged".to_owned()]);
    // Re-applied with the copy already made: the copy is skipped, the move keeps its flags.
    assert_eq!(
        p.steps_except(&["Accounts".to_owned()]),
        vec![
            Step::Flag(vec!["\\Flagged".into()]),
            Step::Move("Privacy".into())
        ]
    );
    Ok(())
}

#[test]
fn keep_with_flags_beside_a_fileinto_without() -> anyhow::Result<()> {
    let v = Verdict {
        stores: vec![
            store(named("Archive"), &["$Done"]),
            store(Folder::Keep, &["\\Seen"]),
            store(named("Archive"), &["\\Flagged"]),
        ],
        ..Verdict::default()
    };
    let p = plan(&v, &mailbox(false), &["$Done".to_owned()]);
    assert_eq!(p.target, Target::Keep);
    assert_eq!(p.flags, vec!["\\Seen".to_owned()]);
    // Two actions into one folder are one copy, with the flags of the last.
    assert_eq!(p.copies, vec![copy("Archive", &["\\Flagged"])]);
    // $Done was on the message when fetched: it is never taken off.
    assert_eq!(
        p.steps(),
        vec![
            Step::Unflag(vec!["\\Seen".into()]),
            Step::Flag(vec!["\\Flagged".into()]),
            Step::Copy("Archive".into()),
            Step::Unflag(vec!["\\Flagged".into()]),
            Step::Flag(vec!["\\Seen".into()]),
        ]
    );
    Ok(())
}

#[test]
fn plans_recorded_before_flags_were_per_copy_read_back_with_their_old_meaning() -> anyhow::Result<()>
{
    let old =
        r#"{"target":{"kind":"move","folder":"help"},"copies":["meta"],"flags":["\\Flagged"]}"#;
    let p: Plan = serde_json::from_str(old)?;
    assert_eq!(p.copies, vec![copy("meta", &["\\Flagged"])]);
    assert!(p.had.is_empty());
    assert_eq!(
        p.steps(),
        vec![
            Step::Flag(vec!["\\Flagged".into()]),
            Step::Copy("meta".into()),
            Step::Move("help".into()),
        ]
    );
    let new: Plan = serde_json::from_str(&serde_json::to_string(&p)?)?;
    assert_eq!(new, p);
    Ok(())
}
