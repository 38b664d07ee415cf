//! `triaged classify` end to end: TSV lines, exit codes (0, 1 with --strict, 2 for a script that does
//! not load), FILE:LINE:COLUMN messages, error verdicts for each cause, Maildir and mbox inputs.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors")
}

fn classify(args: &[&str]) -> Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_triaged"))
        .arg("classify")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .context("run triaged classify")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const MSG: &str = "Return-Path: <bob@example.com>\nFrom: Bob <bob@example.com>\nTo: support@example.org\n\
Subject: Password reset\nMessage-ID: <m1@example.com>\n\nplease reset my password\n";

const SCRIPT: &str = "require [\"fileinto\", \"imap4flags\"];\n\
if header :contains \"subject\" \"password\" {\n    addflag \"\\\\Flagged\";\n    fileinto \"Accounts\";\n}\n";

#[test]
fn every_error_cause_gets_a_kept_error_verdict_and_strict_exits_1() -> Result<()> {
    let dir = fixtures();
    let rules = dir.join("keep.sieve");
    let rules = rules.to_string_lossy();
    let plain = classify(&[
        "--rules",
        &rules,
        "--max-message-size",
        "2000",
        "tests/fixtures/errors",
    ])?;
    assert_eq!(
        plain.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let expected = [
        "tests/fixtures/errors/cpu-limit.eml\tINBOX\t-\terror:too-large",
        "tests/fixtures/errors/empty.eml\tINBOX\t-\terror:empty",
        "tests/fixtures/errors/nul-in-headers.eml\tINBOX\t-\terror:nul-in-headers",
        "tests/fixtures/errors/too-large.eml\tINBOX\t-\terror:too-large",
    ];
    assert_eq!(stdout(&plain).lines().collect::<Vec<_>>(), expected);
    assert!(String::from_utf8_lossy(&plain.stderr).contains("4 with an error verdict"));
    let strict = classify(&[
        "--strict",
        "--rules",
        &rules,
        "--max-message-size",
        "2000",
        "tests/fixtures/errors",
    ])?;
    assert_eq!(strict.status.code(), Some(1));
    Ok(())
}

#[test]
fn header_only_mail_is_sorted_by_the_rules_not_quarantined() -> Result<()> {
    // Regression: a message without a blank line after its header (or with a header that runs into
    // a line that is no field) got error:no-header-separator; Pigeonhole sorts it by the rules.
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("rules.sieve");
    std::fs::write(
        &rules,
        "require [\"fileinto\", \"imap4flags\"];\n\
         if header :contains \"subject\" \"header\" { fileinto :flags \"\\\\Flagged\" \"Header\"; }\n\
         if exists \"x-after\" { fileinto \"After\"; }\n",
    )?;
    let out = classify(&[
        "--strict",
        "--rules",
        &rules.to_string_lossy(),
        "tests/fixtures/headeronly",
    ])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = [
        "tests/fixtures/headeronly/no-blank-line.eml\tHeader\t\\Flagged\t-",
        "tests/fixtures/headeronly/no-header-fields.eml\tINBOX\t-\t-",
        "tests/fixtures/headeronly/runs-into-text.eml\tAfter,Header\t\\Flagged\t-",
    ];
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), expected);
    Ok(())
}

#[test]
fn a_script_hitting_the_cpu_limit_is_an_error_verdict() -> Result<()> {
    let out = classify(&[
        "--rules",
        "tests/fixtures/errors/cpu-limit.sieve",
        "tests/fixtures/errors/cpu-limit.eml",
    ])?;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "tests/fixtures/errors/cpu-limit.eml\tINBOX\t-\terror:cpu-limit\n"
    );
    Ok(())
}

#[test]
fn a_syntax_error_prints_file_line_column_and_exits_2() -> Result<()> {
    let out = classify(&[
        "--rules",
        "tests/fixtures/errors/syntax-error.sieve",
        "tests/fixtures/errors/nul-in-headers.eml",
    ])?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("tests/fixtures/errors/syntax-error.sieve:4:1: "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    Ok(())
}

#[test]
fn an_unsupported_require_is_refused_at_load() -> Result<()> {
    let out = classify(&[
        "--rules",
        "tests/fixtures/errors/unsupported.sieve",
        "tests/fixtures/errors/nul-in-headers.eml",
    ])?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "tests/fixtures/errors/unsupported.sieve:1:22: unsupported extension \"spamtest\""
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn maildir_and_mbox_inputs_are_enumerated_in_order() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    std::fs::write(root.join("rules.sieve"), SCRIPT)?;
    for sub in ["cur", "new", ".Support.Disputes/cur"] {
        std::fs::create_dir_all(root.join("md").join(sub))?;
    }
    std::fs::write(root.join("md/cur/1:2,S"), MSG)?;
    std::fs::write(
        root.join("md/new/2"),
        MSG.replace("Password reset", "Hello"),
    )?;
    std::fs::write(root.join("md/.Support.Disputes/cur/3:2,"), MSG)?;
    let mbox = format!(
        "From bob@example.com Mon Jan  1 00:00:00 2024\n{MSG}\nFrom x@y Mon Jan  1 00:00:00 2024\n{}",
        MSG.replace("Password", "Other")
    );
    std::fs::write(root.join("box.mbox"), mbox)?;
    let r = root.join("rules.sieve");
    let (md, mb) = (root.join("md"), root.join("box.mbox"));
    let out = classify(&[
        "--rules",
        &r.to_string_lossy(),
        &md.to_string_lossy(),
        &mb.to_string_lossy(),
    ])?;
    assert_eq!(out.status.code(), Some(0));
    let p = |s: &str| root.join(s).to_string_lossy().into_owned();
    let expected = vec![
        format!("{}#1\tAccounts\t\\Flagged\t-", p("box.mbox")),
        format!("{}#2\tINBOX\t-\t-", p("box.mbox")),
        format!(
            "{}\tAccounts\t\\Flagged\t-",
            p("md/.Support.Disputes/cur/3:2,")
        ),
        format!("{}\tAccounts\t\\Flagged\t-", p("md/cur/1:2,S")),
        format!("{}\tINBOX\t-\t-", p("md/new/2")),
    ];
    assert_eq!(
        stdout(&out).lines().map(str::to_string).collect::<Vec<_>>(),
        expected
    );
    Ok(())
}

#[test]
fn explain_and_json_show_where_actions_come_from() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("rules.sieve"), SCRIPT)?;
    std::fs::write(dir.path().join("m.eml"), MSG)?;
    let r = dir.path().join("rules.sieve");
    let m = dir.path().join("m.eml");
    let out = classify(&[
        "--explain",
        "--rules",
        &r.to_string_lossy(),
        &m.to_string_lossy(),
    ])?;
    let text = stdout(&out);
    assert!(
        text.contains("#\t2:1\tif-matched\n#\t3:5\taddflag\n#\t4:5\tfileinto\n"),
        "{text}"
    );
    let json = classify(&[
        "--format",
        "json",
        "--rules",
        &r.to_string_lossy(),
        &m.to_string_lossy(),
    ])?;
    let value: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(value["folders"], serde_json::json!(["Accounts"]));
    assert_eq!(
        value["verdict"]["stores"][0]["flags"],
        serde_json::json!(["\\Flagged"])
    );
    Ok(())
}
