use super::{Maildir, folder_dir, merge_flags, split_name};
use crate::mailbox::Op;
use std::path::Path;

#[test]
fn names_split_into_unique_part_and_flags() -> anyhow::Result<()> {
    assert_eq!(
        split_name("1700000000.M1P2.host:2,FS"),
        ("1700000000.M1P2.host", "FS")
    );
    assert_eq!(
        split_name("1700000000.M1P2.host"),
        ("1700000000.M1P2.host", "")
    );
    assert_eq!(
        split_name("1700000000.M1P2.host:2,"),
        ("1700000000.M1P2.host", "")
    );
    assert_eq!(split_name("odd:1,x"), ("odd", ""));
    Ok(())
}

#[test]
fn flags_merge_sorted_and_keywords_are_left_out() -> anyhow::Result<()> {
    let flags = vec![
        "\\Seen".to_owned(),
        "\\flagged".to_owned(),
        "work".to_owned(),
    ];
    assert_eq!(merge_flags("RS", &flags), "FRS");
    assert_eq!(merge_flags("", &[]), "");
    Ok(())
}

#[test]
fn folders_map_to_maildir_plus_plus_directories() -> anyhow::Result<()> {
    let root = Path::new("/m");
    assert_eq!(folder_dir(root, "INBOX"), Path::new("/m"));
    assert_eq!(
        folder_dir(root, "Support/Disputes"),
        Path::new("/m/.Support.Disputes")
    );
    Ok(())
}

#[test]
fn moves_carry_flags_and_copies_keep_the_original() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut md = Maildir::open(dir.path())?;
    std::fs::write(dir.path().join("new/100.a.host"), b"Subject: a\n\nbody\n")?;
    std::fs::write(
        dir.path().join("cur/101.b.host:2,S"),
        b"Subject: b\n\nbody\n",
    )?;
    assert_eq!(
        md.scan()?,
        vec!["100.a.host".to_owned(), "101.b.host".to_owned()]
    );
    md.ensure_folders(["SE", "Support/Disputes"].into_iter())?;
    assert!(md.folders()?.contains("Support/Disputes"));
    md.apply(&[
        Op::Flag {
            flags: vec!["\\Flagged".into()],
            ids: vec!["100.a.host".into()],
        },
        Op::Copy {
            folder: "Support/Disputes".into(),
            ids: vec!["101.b.host".into()],
        },
        Op::Move {
            folder: "SE".into(),
            ids: vec!["100.a.host".into()],
        },
    ])?;
    assert!(dir.path().join(".SE/cur/100.a.host:2,F").is_file());
    assert!(
        dir.path()
            .join(".Support.Disputes/cur/101.b.host:2,S")
            .is_file()
    );
    assert!(md.folder_has("SE", "100.a.host"));
    assert!(!md.folder_has("SE", "101.b.host"));
    assert_eq!(md.scan()?, vec!["101.b.host".to_owned()]);
    let fetched = md.fetch(&["101.b.host".to_owned()])?;
    assert_eq!(fetched[0].raw, b"Subject: b\n\nbody\n");
    Ok(())
}

#[test]
fn a_message_in_another_folder_is_unflagged_and_moved_out_of_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut m = Maildir::open(dir.path())?;
    m.ensure_folders(["Quarantine"].into_iter())?;
    let q = folder_dir(dir.path(), "Quarantine");
    std::fs::write(
        q.join("cur").join("1.M1P1.h:2,FS"),
        b"Subject: x\r\n\r\nx\r\n",
    )?;
    assert!(!m.enter("Missing"));
    assert!(m.enter("Quarantine"));
    assert_eq!(m.scan()?, ["1.M1P1.h"]);
    let ids = vec!["1.M1P1.h".to_owned()];
    m.ensure_folders(["Fixed"].into_iter())?;
    m.apply(&[
        Op::Unflag {
            flags: vec!["\\Flagged".to_owned()],
            ids: ids.clone(),
        },
        Op::Move {
            folder: "Fixed".to_owned(),
            ids,
        },
    ])?;
    m.leave();
    assert!(m.scan()?.is_empty(), "the top level is scanned again");
    let fixed = folder_dir(dir.path(), "Fixed").join("cur");
    assert!(fixed.join("1.M1P1.h:2,S").is_file());
    assert!(std::fs::read_dir(q.join("cur"))?.next().is_none());
    Ok(())
}

/// Guards against: a copy or a move that gives the message a new date, so that the retention rules
/// count its age from when it was sorted rather than from when it arrived.
#[test]
fn copies_and_moves_keep_the_arrival_time_and_aged_mail_is_found_and_removed() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let mut md = Maildir::open(dir.path())?;
    let arrived = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for name in ["1.a.host", "2.b.host"] {
        let path = dir.path().join("new").join(name);
        std::fs::write(&path, b"Subject: a\n\nbody\n")?;
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(arrived)?;
    }
    md.scan()?;
    md.ensure_folders(["Junk", "Copies"].into_iter())?;
    md.apply(&[
        Op::Copy {
            folder: "Copies".into(),
            ids: vec!["1.a.host".into()],
        },
        Op::Move {
            folder: "Junk".into(),
            ids: vec!["1.a.host".into(), "2.b.host".into()],
        },
    ])?;
    let copy = dir.path().join(".Copies/cur/1.a.host:2,");
    assert_eq!(std::fs::metadata(copy)?.modified()?, arrived);
    assert!(md.enter("Junk"));
    let cutoff_ms = 1_700_000_001_000;
    let aged = md.aged(cutoff_ms)?;
    let names: Vec<&str> = aged.iter().map(|a| a.key.name.as_str()).collect();
    assert_eq!(names, ["1.a.host", "2.b.host"]);
    assert_eq!(aged[0].internal_ms, 1_700_000_000_000);
    assert!(
        md.aged(1_700_000_000_000)?.is_empty(),
        "not before its own time"
    );
    md.remove(&["2.b.host".to_owned()])?;
    assert_eq!(md.scan()?, ["1.a.host"]);
    Ok(())
}
