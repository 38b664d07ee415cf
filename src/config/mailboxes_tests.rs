//! `[[mailbox]]` and `[lease]`: names, overrides, the one-folder-one-entry rule, the errors' keys.

use anyhow::Result;

use super::super::{Config, ConfigErrors, DEFAULT_MAILBOX};

fn load(text: &str) -> Result<(tempfile::TempDir, Result<Config, ConfigErrors>)> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
    std::fs::write(dir.path().join("rules/disputes.sieve"), "fileinto \"D\";\n")?;
    std::fs::write(dir.path().join("pw"), "secret\n")?;
    let file = dir.path().join("triaged.toml");
    std::fs::write(&file, text)?;
    let config = Config::load(&file);
    Ok((dir, config))
}

fn errors(e: &ConfigErrors) -> Vec<(String, String)> {
    e.errors
        .iter()
        .map(|e| (e.key.clone(), e.message.clone()))
        .collect()
}

const OUTBOX: &str = "[outbox]\nfrom = \"Support <support@example.org>\"\n";

#[test]
fn a_single_mailbox_table_is_one_mailbox_named_default() -> Result<()> {
    let (_dir, config) = load(&format!("[mailbox]\nurl = \"maildir:mail\"\n{OUTBOX}"))?;
    let config = config?;
    assert_eq!(config.mailboxes.len(), 1);
    assert_eq!(config.mailbox.name, DEFAULT_MAILBOX);
    assert_eq!(config.mailboxes[0].mailbox.name, DEFAULT_MAILBOX);
    assert_eq!(config.lease.ttl.as_secs(), 15);
    assert_eq!(config.lease.renew_every().as_secs(), 5);
    Ok(())
}

#[test]
fn several_mailboxes_have_names_and_their_own_rules_ack_and_sla() -> Result<()> {
    let (dir, config) = load(&format!(
        r#"
[[mailbox]]
name = "support"
url = "maildir:support"

[[mailbox]]
name = "disputes"
url = "imaps://disputes%40example.org@mail.example.org/INBOX"
password_file = "pw"
rules = {{ script = "rules/disputes.sieve" }}
ack = {{ buckets = ["D"], period = "2d" }}
sla = {{ buckets = ["D"], target = "4h" }}

[ack]
buckets = ["INBOX"]

[lease]
ttl = "30s"
{OUTBOX}"#
    ))?;
    let config = config?;
    let names: Vec<&str> = config
        .mailboxes
        .iter()
        .map(|m| m.mailbox.name.as_str())
        .collect();
    assert_eq!(names, ["support", "disputes"]);
    assert_eq!(
        config.mailbox.name, "support",
        "the first is the default one"
    );
    assert_eq!(config.lease.ttl.as_secs(), 30);
    let support = config.for_mailbox(&config.mailboxes[0]);
    assert_eq!(support.ack.buckets, ["INBOX"], "the top-level [ack]");
    assert!(support.rules.script.ends_with("rules/support.sieve"));
    let disputes = config.for_mailbox(&config.mailboxes[1]);
    assert_eq!(disputes.mailbox.name, "disputes");
    assert_eq!(disputes.ack.buckets, ["D"]);
    assert_eq!(disputes.ack.period.as_secs(), 2 * 86_400);
    assert_eq!(disputes.sla.target.as_secs(), 4 * 3600);
    assert_eq!(
        disputes.rules.script,
        std::path::absolute(dir.path())?.join("rules/disputes.sieve")
    );
    Ok(())
}

#[test]
fn duplicate_names_and_two_entries_for_one_folder_are_reported_by_key() -> Result<()> {
    let (_dir, config) = load(&format!(
        r#"
[[mailbox]]
name = "support"
url = "imaps://support%40example.org@mail.example.org/INBOX"
password_file = "pw"

[[mailbox]]
name = "support"
url = "maildir:other"

[[mailbox]]
name = "again"
url = "imaps://support%40example.org@mail.example.org:993/INBOX"
password_file = "pw"

[[mailbox]]
url = "maildir:x"
rules = {{ scirpt = "typo.sieve" }}

[lease]
ttl = "1s"
{OUTBOX}"#
    ))?;
    let e = config.expect_err("four problems");
    let found = errors(&e);
    let has = |key: &str, text: &str| found.iter().any(|(k, m)| k == key && m.contains(text));
    assert!(has("mailbox[1].name", "names another mailbox"), "{found:?}");
    assert!(
        has(
            "mailbox[2].url",
            "same account and folder as mailbox \"support\""
        ),
        "{found:?}"
    );
    assert!(has("mailbox[3].name", "is required"), "{found:?}");
    assert!(has("mailbox[3].rules.scirpt", "unknown key"), "{found:?}");
    assert!(has("lease.ttl", "at least 3s"), "{found:?}");
    Ok(())
}
