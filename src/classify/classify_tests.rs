//! Semantic rules and engine-difference fixes, each checked against what Pigeonhole does.

use super::{Context, Envelope, Rules, RulesError, Verdict};
use crate::config::RulesConfig;
use crate::message::Message;
use anyhow::{Context as _, Result};
use std::collections::BTreeSet;

pub(super) const MSG: &str = "Return-Path: <bob@example.com>\nFrom: Bob <bob@example.com>\nTo: support@example.org\n\
Subject: Hello There\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <a@b>\n\nplease reset my password\n";

pub(super) fn load(
    script: &str,
) -> Result<(tempfile::TempDir, std::result::Result<Rules, RulesError>)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("main.sieve");
    std::fs::write(&path, script)?;
    let cfg = RulesConfig {
        script: path,
        include_dir: dir.path().to_path_buf(),
        global_dir: dir.path().to_path_buf(),
        max_message_size: 0,
        cpu_limit: 100_000,
    };
    let rules = Rules::load(&cfg);
    Ok((dir, rules))
}

pub(super) fn classify_with(script: &str, msg: &str, explain: bool) -> Result<Verdict> {
    let (_dir, rules) = load(script)?;
    let rules = rules.map_err(|e| anyhow::anyhow!("{e}"))?;
    let msg = Message::parse(msg.as_bytes(), 0).context("parse")?;
    let mailboxes: BTreeSet<String> = ["INBOX", "Archive"].iter().map(|s| s.to_string()).collect();
    let envelope = Envelope::derive(&msg);
    let ctx = Context {
        mailboxes: &mailboxes,
        source_folder: "INBOX",
        explain,
        now: crate::clock::Clock::system().now(),
    };
    Ok(rules.classify(msg, &envelope, &ctx))
}

pub(super) fn tsv(script: &str, msg: &str) -> Result<String> {
    Ok(classify_with(script, msg, false)?.tsv_line("m"))
}

#[test]
fn implicit_keep_when_nothing_matches() -> Result<()> {
    assert_eq!(
        tsv("require \"fileinto\";\nif false { fileinto \"A\"; }\n", MSG)?,
        "m\tINBOX\t-\t-"
    );
    Ok(())
}

#[test]
fn fileinto_cancels_implicit_keep_but_copy_does_not() -> Result<()> {
    assert_eq!(
        tsv("require \"fileinto\";\nfileinto \"A\";\n", MSG)?,
        "m\tA\t-\t-"
    );
    assert_eq!(
        tsv(
            "require [\"fileinto\",\"copy\"];\nfileinto :copy \"A\";\n",
            MSG
        )?,
        "m\tA,INBOX\t-\t-"
    );
    Ok(())
}

#[test]
fn explicit_keep_survives_later_fileinto() -> Result<()> {
    // sieve-rs alone drops the keep here; Pigeonhole stores in both.
    assert_eq!(
        tsv("require \"fileinto\";\nkeep;\nfileinto \"A\";\n", MSG)?,
        "m\tA,INBOX\t-\t-"
    );
    Ok(())
}

#[test]
fn explicit_keep_survives_later_redirect_and_discard() -> Result<()> {
    assert_eq!(
        tsv("keep;\nredirect \"x@example.net\";\n", MSG)?,
        "m\tINBOX\t-\tredirect:x@example.net"
    );
    assert_eq!(tsv("keep;\ndiscard;\n", MSG)?, "m\tINBOX\t-\t-");
    Ok(())
}

#[test]
fn same_folder_twice_files_once() -> Result<()> {
    assert_eq!(
        tsv(
            "require \"fileinto\";\nfileinto \"A\";\nfileinto \"A\";\n",
            MSG
        )?,
        "m\tA\t-\t-"
    );
    Ok(())
}

#[test]
fn stop_ends_evaluation() -> Result<()> {
    assert_eq!(
        tsv(
            "require \"fileinto\";\nfileinto \"A\";\nstop;\nfileinto \"B\";\n",
            MSG
        )?,
        "m\tA\t-\t-"
    );
    Ok(())
}

#[test]
fn discard_and_redirect() -> Result<()> {
    assert_eq!(tsv("discard;\n", MSG)?, "m\t-\t-\tdiscard");
    assert_eq!(
        tsv("redirect \"x@example.net\";\n", MSG)?,
        "m\t-\t-\tredirect:x@example.net"
    );
    assert_eq!(
        tsv(
            "require \"copy\";\nredirect :copy \"x@example.net\";\n",
            MSG
        )?,
        "m\tINBOX\t-\tredirect-copy:x@example.net"
    );
    Ok(())
}

#[test]
fn flags_accumulate_per_rfc5232() -> Result<()> {
    let script = "require [\"fileinto\",\"imap4flags\"];\naddflag \"\\\\seen\";\nfileinto \"A\";\naddflag \"urgent\";\n\
removeflag \"\\\\Seen\";\nfileinto :flags \"x\" \"B\";\nkeep;\n";
    // A gets \Seen (the variable at that time), B gets only :flags, keep gets "urgent".
    assert_eq!(tsv(script, MSG)?, "m\tA,B,INBOX\t\\Seen,urgent,x\t-");
    Ok(())
}

#[test]
fn regex_is_case_insensitive_with_default_comparator() -> Result<()> {
    let script = "require [\"fileinto\",\"regex\"];\nif header :regex \"subject\" \"^hello\" { fileinto \"A\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tA\t-\t-");
    let octet = "require [\"fileinto\",\"regex\",\"comparator-i;octet\"];\n\
if header :regex :comparator \"i;octet\" \"subject\" \"^hello\" { fileinto \"A\"; }\n";
    assert_eq!(tsv(octet, MSG)?, "m\tINBOX\t-\t-");
    Ok(())
}

#[test]
fn date_with_obsolete_zone_does_not_hide_next_header() -> Result<()> {
    let msg = "From: bob@example.com\nTo: support@example.org\nDate: Mon, 1 Jan 2024 10:00:00 UT\nX-Tag: urgent\n\nhi\n";
    let script = "require \"fileinto\";\nif header :is \"x-tag\" \"urgent\" { fileinto \"A\"; }\n";
    assert_eq!(tsv(script, msg)?, "m\tA\t-\t-");
    Ok(())
}

#[test]
fn mailboxexists_answers_from_the_mailbox_list() -> Result<()> {
    let script = "require [\"fileinto\",\"mailbox\"];\nif mailboxexists \"Archive\" { fileinto \"A\"; }\n\
if mailboxexists \"Nope\" { fileinto \"B\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tA\t-\t-");
    Ok(())
}

#[test]
fn unsupported_require_is_refused_with_position() -> Result<()> {
    let (_dir, rules) = load("require [\"fileinto\", \"spamtest\"];\n")?;
    let err = rules.err().context("must fail")?.to_string();
    assert!(
        err.contains("main.sieve:1:22: unsupported extension \"spamtest\""),
        "{err}"
    );
    Ok(())
}

#[test]
fn syntax_error_has_file_line_column() -> Result<()> {
    let (_dir, rules) = load("require \"fileinto\";\nif header :is \"a\" {\n")?;
    let err = rules.err().context("must fail")?.to_string();
    assert!(err.contains("main.sieve:"), "{err}");
    Ok(())
}

#[test]
fn cpu_limit_gives_error_verdict() -> Result<()> {
    let script = "if true {}\n".repeat(2000);
    let (dir, _) = load("")?;
    let path = dir.path().join("loop.sieve");
    std::fs::write(&path, script)?;
    let cfg = RulesConfig {
        script: path,
        include_dir: dir.path().to_path_buf(),
        global_dir: dir.path().to_path_buf(),
        max_message_size: 0,
        cpu_limit: 500,
    };
    let rules = Rules::load(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let msg = Message::parse(MSG.as_bytes(), 0)?;
    let mailboxes = BTreeSet::new();
    let envelope = Envelope::derive(&msg);
    let ctx = Context {
        mailboxes: &mailboxes,
        source_folder: "INBOX",
        explain: false,
        now: crate::clock::Clock::system().now(),
    };
    assert_eq!(
        rules.classify(msg, &envelope, &ctx).tsv_line("m"),
        "m\tINBOX\t-\terror:cpu-limit"
    );
    Ok(())
}

#[test]
fn too_many_redirects_fail_like_pigeonhole() -> Result<()> {
    let script: String = (0..5)
        .map(|i| format!("redirect \"r{i}@example.net\";\n"))
        .collect();
    assert_eq!(tsv(&script, MSG)?, "m\tINBOX\t-\terror:too-many-redirects");
    Ok(())
}

#[test]
fn vacation_replies_when_recipient_is_addressed() -> Result<()> {
    let v = classify_with(
        "require \"vacation\";\nvacation :days 3 :handle \"h\" \"away\";\n",
        MSG,
        false,
    )?;
    let reply = v.vacations.first().context("vacation")?;
    assert_eq!(
        (reply.recipient.as_str(), reply.body.as_str()),
        ("bob@example.com", "away")
    );
    assert_eq!(
        (reply.handle.as_deref(), reply.period_seconds),
        (Some("h"), 3 * 86400)
    );
    assert_eq!(reply.subject, "Auto: Hello There");
    Ok(())
}

#[test]
fn vacation_not_sent_to_auto_submitted_precedence_list_or_system_senders() -> Result<()> {
    let script = "require \"vacation\";\nvacation \"away\";\n";
    let list = MSG.replace("Message-ID", "Precedence: list\nMessage-ID");
    assert_eq!(tsv(script, &list)?, "m\tINBOX\t-\t-");
    let auto = MSG.replace("Message-ID", "Auto-Submitted: auto-replied\nMessage-ID");
    assert_eq!(tsv(script, &auto)?, "m\tINBOX\t-\t-");
    let not_auto = MSG.replace("Message-ID", "Auto-Submitted: no\nMessage-ID");
    assert_eq!(tsv(script, &not_auto)?, "m\tINBOX\t-\tvacation");
    let listserv = MSG.replace("<bob@example.com>\nFrom", "<LISTSERV@example.com>\nFrom");
    assert_eq!(tsv(script, &listserv)?, "m\tINBOX\t-\t-");
    let not_me = MSG.replace(
        "To: support@example.org",
        "To: other@example.org\nDelivered-To: support@example.org",
    );
    assert_eq!(tsv(script, &not_me)?, "m\tINBOX\t-\t-");
    Ok(())
}

#[test]
fn explain_traces_tests_and_action_lines() -> Result<()> {
    let script = "require \"fileinto\";\nif header :contains \"subject\" \"hello\" {\n  fileinto \"A\";\n}\n";
    let v = classify_with(script, MSG, true)?;
    let steps: Vec<String> = v
        .trace
        .iter()
        .map(|s| format!("{}:{} {}", s.line, s.column, s.what))
        .collect();
    assert_eq!(steps, vec!["2:1 if-matched", "3:3 fileinto"]);
    assert_eq!(
        v.stores.first().and_then(|s| s.origin.clone()).as_deref(),
        Some("3:3")
    );
    Ok(())
}

#[test]
fn include_runs_scripts_from_the_include_dir() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("lists.sieve"),
        "require \"fileinto\";\nfileinto \"Lists\";\n",
    )?;
    let path = dir.path().join("main.sieve");
    std::fs::write(
        &path,
        "require \"include\";\ninclude :personal \"lists\";\n",
    )?;
    let cfg = RulesConfig {
        script: path.clone(),
        include_dir: dir.path().to_path_buf(),
        global_dir: dir.path().to_path_buf(),
        max_message_size: 0,
        cpu_limit: 1000,
    };
    let rules = Rules::load(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let msg = Message::parse(MSG.as_bytes(), 0)?;
    let mailboxes = BTreeSet::new();
    let envelope = Envelope::derive(&msg);
    let ctx = Context {
        mailboxes: &mailboxes,
        source_folder: "INBOX",
        explain: false,
        now: crate::clock::Clock::system().now(),
    };
    assert_eq!(
        rules.classify(msg, &envelope, &ctx).tsv_line("m"),
        "m\tLists\t-\t-"
    );
    std::fs::write(&path, "require \"include\";\ninclude \"missing\";\n")?;
    let err = Rules::load(&cfg).err().context("must fail")?.to_string();
    assert!(
        err.contains("main.sieve:2:9: included script \"missing\""),
        "{err}"
    );
    Ok(())
}

#[test]
fn reject_beside_fileinto_is_an_action_conflict_like_pigeonhole() -> Result<()> {
    let script = "require [\"fileinto\",\"reject\"];\nfileinto \"A\";\nreject \"no\";\n";
    assert_eq!(tsv(script, MSG)?, "m\tINBOX\t-\terror:action-conflict");
    assert_eq!(
        tsv("require \"reject\";\nreject \"no\";\n", MSG)?,
        "m\t-\t-\treject"
    );
    Ok(())
}

#[test]
fn a_command_without_its_semicolon_does_not_compile_like_pigeonhole() -> Result<()> {
    // sieve-rs accepts both scripts; Pigeonhole's sievec refuses them ("expected end of command ';'
    // or the beginning of a compound block '{', but found '}'").
    let before_brace = "require \"fileinto\";\nif true {\n  fileinto \"A\"\n}\n";
    let err = load(before_brace)?
        .1
        .err()
        .context("must fail")?
        .to_string();
    assert!(err.contains("main.sieve:4:1: "), "{err}");
    let at_end = "require \"fileinto\";\nfileinto \"A\"\n";
    let err = load(at_end)?.1.err().context("must fail")?.to_string();
    assert!(err.contains("main.sieve:"), "{err}");
    let good = "require [\"fileinto\",\"imap4flags\"];\nif anyof (not exists \"x\", header :is [\"a\",\"b\"] \"c\") {\n  fileinto :flags [\"\\\\Flagged\"] \"A\"; stop;\n} elsif true { keep; } else { discard; }\n";
    assert!(load(good)?.1.is_ok());
    Ok(())
}

#[test]
fn an_included_script_that_does_not_compile_names_its_own_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("main.sieve");
    std::fs::write(
        &path,
        "require \"include\";\ninclude :personal \"lists\";\n",
    )?;
    std::fs::write(
        dir.path().join("lists.sieve"),
        "require \"fileinto\";\nfileinto \"A\"\n",
    )?;
    let cfg = RulesConfig {
        script: path,
        include_dir: dir.path().to_path_buf(),
        global_dir: dir.path().to_path_buf(),
        max_message_size: 0,
        cpu_limit: 1000,
    };
    let err = Rules::load(&cfg).err().context("must fail")?.to_string();
    assert!(err.contains("lists.sieve:"), "{err}");
    assert!(!err.contains("main.sieve"), "{err}");
    Ok(())
}

#[test]
fn a_script_given_as_text_compiles_as_its_file_would_and_errors_name_that_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = RulesConfig {
        script: dir.path().join("text.sieve"),
        include_dir: dir.path().to_path_buf(),
        global_dir: dir.path().to_path_buf(),
        max_message_size: 0,
        cpu_limit: 100_000,
    };
    std::fs::write(
        dir.path().join("inc.sieve"),
        "require \"fileinto\";\nfileinto \"Inc\";\n",
    )?;
    let rules = Rules::load_source(&cfg, b"require \"include\";\ninclude :personal \"inc\";\n")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let msg = Message::parse(MSG.as_bytes(), 0).context("parse")?;
    let mailboxes = BTreeSet::new();
    let ctx = Context {
        mailboxes: &mailboxes,
        source_folder: "INBOX",
        explain: false,
        now: crate::clock::Clock::system().now(),
    };
    let envelope = Envelope::derive(&msg);
    assert_eq!(
        rules.classify(msg, &envelope, &ctx).tsv_line("m"),
        "m\tInc\t-\t-"
    );
    let Err(e) = Rules::load_source(&cfg, b"require \"fileinto\";\nif true { fileinto \"A\" }\n")
    else {
        anyhow::bail!("a missing ; must not compile")
    };
    assert!(
        e.to_string()
            .starts_with(&format!("{}:2:", cfg.script.display())),
        "{e}"
    );
    Ok(())
}
