//! The binary as a user runs it: `check` and `migrate`, exit codes, and config errors named by key.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context, Result};

use super::support::ConfigBuilder;

fn triaged(args: &[&str], dir: &Path) -> Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_triaged"))
        .args(args)
        .current_dir(dir)
        .env_remove("TRIAGED_CONFIG")
        .output()
        .context("run triaged")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_accepts_the_example_config() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = triaged(&["check", "--config", "examples/triaged.toml"], root)?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line when all is well: {stdout}"
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
    Ok(())
}

#[test]
fn check_reports_every_problem_with_its_key_and_exits_2() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
    std::fs::write(
        dir.path().join("triaged.toml"),
        r#"
[mailbox]
url = "imap://support%40example.org@imap.example.org/INBOX"
password_file = "secrets/imap"
allow_plaintext = true
[outbox]
from = "Support <support@example.org>"
tranport = "file:var/outbox"
"#,
    )?;
    // The default config file is triaged.toml in the working directory.
    let out = triaged(&["check"], dir.path())?;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("outbox.tranport: unknown key"), "{all}");
    assert!(all.contains("mailbox.password_file: cannot read"), "{all}");
    assert!(
        all.contains("mailbox.allow_plaintext: plaintext is allowed only to a loopback host"),
        "{all}"
    );
    assert!(all.contains("3 problems"), "{all}");
    assert!(!out.stdout.starts_with(b"ok"), "{all}");
    Ok(())
}

#[test]
fn check_names_buckets_the_rules_never_file_into() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(
        dir.path().join("rules/support.sieve"),
        "require \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }\n",
    )?;
    std::fs::write(
        dir.path().join("triaged.toml"),
        r#"
[mailbox]
url = "maildir:mail"
[outbox]
from = "Support <support@example.org>"
[sla]
buckets = ["INBOX"]
[retention.buckets]
Junk = "30d"
Spam = "7d"
default = "2y"
"#,
    )?;
    let out = triaged(&["check"], dir.path())?;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("retention.buckets.Spam: \"Spam\" is not a bucket"),
        "{all}"
    );
    assert!(
        all.contains("1 problem"),
        "Junk, INBOX and default are fine: {all}"
    );
    Ok(())
}

#[test]
fn check_compiles_the_script_and_its_includes_and_exits_2_on_a_syntax_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    let config =
        "[mailbox]\nurl = \"maildir:mail\"\n[outbox]\nfrom = \"Support <support@example.org>\"\n";
    std::fs::write(dir.path().join("triaged.toml"), config)?;
    // `fileinto "A"` without its `;` before `}`: sieve-rs alone would accept it, Pigeonhole does not.
    std::fs::write(
        dir.path().join("rules/support.sieve"),
        "require \"fileinto\";\nif true {\n  fileinto \"A\"\n}\n",
    )?;
    let out = triaged(&["check"], dir.path())?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // The line is FILE:LINE:COLUMN: message, as `classify` prints it (the path as configured,
    // made absolute).
    let first = stderr.lines().next().unwrap_or_default();
    let at = dir.path().join("rules/support.sieve:4:1: ");
    assert!(first.starts_with(&*at.to_string_lossy()), "{stderr}");
    // The same error in an included script names that script.
    std::fs::write(
        dir.path().join("rules/support.sieve"),
        "require \"include\";\ninclude :personal \"lists\";\n",
    )?;
    std::fs::write(
        dir.path().join("rules/lists.sieve"),
        "require \"fileinto\";\nif true { fileinto \"A\" }\n",
    )?;
    let out = triaged(&["check"], dir.path())?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let first = stderr.lines().next().unwrap_or_default();
    let at = dir.path().join("rules/lists.sieve:2:24: ");
    assert!(first.starts_with(&*at.to_string_lossy()), "{stderr}");
    std::fs::write(
        dir.path().join("rules/lists.sieve"),
        "require \"fileinto\";\nif true { fileinto \"A\"; }\n",
    )?;
    let out = triaged(&["check"], dir.path())?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = triaged(&["no-such-command"], dir.path())?;
    assert_eq!(out.status.code(), Some(2));
    let out = triaged(&["check", "--config", "missing.toml"], dir.path())?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("missing.toml"));
    Ok(())
}

#[test]
fn help_lists_the_commands() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = triaged(&["--help"], dir.path())?;
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out);
    for command in ["check", "migrate"] {
        assert!(
            help.contains(command),
            "{command} missing from --help: {help}"
        );
    }
    assert!(help.contains("Exit codes"), "{help}");
    Ok(())
}

/// Writes a config whose store is `store_url` and runs `migrate` twice: the second run applies nothing.
fn migrate_twice(store_url: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    ConfigBuilder::new()
        .store(store_url)
        .from("support@example.org")
        .write(dir.path(), None)?;
    let first = triaged(&["migrate"], dir.path())?;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(text(&first).contains("applied"), "{}", text(&first));
    let second = triaged(&["migrate"], dir.path())?;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(
        text(&second).contains("is current"),
        "second run is a no-op: {}",
        text(&second)
    );
    Ok(())
}

#[test]
fn migrate_on_a_fresh_sqlite_file_then_again_is_a_no_op() -> Result<()> {
    migrate_twice("sqlite:var/fresh.db")
}

#[test]
fn migrate_on_postgres_then_again_is_a_no_op() -> Result<()> {
    let base = std::env::var("TRIAGED_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("t_cli_{}_{}", std::process::id(), rand::random::<u32>());
    let psql = Command::new("psql")
        .args([
            base.as_str(),
            "-X",
            "-q",
            "-c",
            &format!("CREATE SCHEMA {schema}"),
        ])
        .output()
        .context("run psql (PostgreSQL client; scripts/test installs it)")?;
    assert!(
        psql.status.success(),
        "PostgreSQL at {base}: {}",
        text(&psql)
    );
    let sep = if base.contains('?') { '&' } else { '?' };
    migrate_twice(&format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// Runs triaged with its standard output on a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str], dir: &Path) -> Result<Output> {
    let (reader, writer) = std::io::pipe().context("pipe")?;
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_triaged"))
        .args(args)
        .current_dir(dir)
        .env_remove("TRIAGED_CONFIG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .context("run triaged")
}

fn count(dir: &Path) -> Result<usize> {
    Ok(std::fs::read_dir(dir)?.count())
}

#[test]
fn a_reader_that_goes_away_stops_the_output_not_the_work() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = ["classify", "--rules", "rules/support.sieve", "tests/corpus"];
    let out = with_closed_stdout(&args, root)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "classify: {:?} {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");

    // `run --once` over the sample mail in a Maildir: the summary is lost, the sorting is not.
    let dir = tempfile::tempdir()?;
    let mail = dir.path().join("mail");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(mail.join(sub))?;
    }
    for (i, entry) in std::fs::read_dir(root.join("examples/mail"))?.enumerate() {
        let name = format!("1700000000.M{i}P1.example");
        std::fs::copy(entry?.path(), mail.join("new").join(name))?;
    }
    let unsorted = count(&mail.join("new"))?;
    assert!(unsorted > 0);
    ConfigBuilder::new()
        .from("Support <support@example.org>")
        .write(dir.path(), None)?;
    let out = with_closed_stdout(&["run", "--once", "--config", "triaged.toml"], dir.path())?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run --once: {:?} {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    let left = count(&mail.join("new"))? + count(&mail.join("cur"))?;
    assert!(
        left < unsorted,
        "nothing sorted: {left} of {unsorted} still in INBOX"
    );
    let status = triaged(&["status", "--config", "triaged.toml"], dir.path())?;
    assert!(text(&status).contains("last uid"), "{}", text(&status));
    Ok(())
}
