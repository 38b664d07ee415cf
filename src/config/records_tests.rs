//! Tests of `[sla]`, `[retention]` and `[disputes]`: the documented defaults, a full table, and every bad
//! value reported under its own key.

use std::time::Duration;

use anyhow::Result;

use crate::config::{Config, ConfigErrors};

const DAY: u64 = 86_400;

fn load(extra: &str) -> Result<(tempfile::TempDir, Result<Config, ConfigErrors>)> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::write(dir.path().join("rules/support.sieve"), "keep;\n")?;
    let file = dir.path().join("triaged.toml");
    let text = format!(
        "[mailbox]\nurl = \"maildir:mail\"\n[outbox]\nfrom = \"Support <support@example.org>\"\n{extra}"
    );
    std::fs::write(&file, text)?;
    let config = Config::load(&file);
    Ok((dir, config))
}

#[test]
fn absent_tables_get_the_documented_defaults() -> Result<()> {
    let (_dir, config) = load("")?;
    let config = config?;
    assert!(config.sla.buckets.is_empty());
    assert_eq!(config.sla.target, Duration::from_secs(3600));
    assert!(config.sla.hours.is_none());
    assert_eq!(config.sla.sent_folders, ["Sent"]);
    assert!(config.retention.buckets.is_empty());
    assert_eq!(config.retention.default, None);
    assert_eq!(config.retention.limit_for("Junk"), None, "no rule: kept");
    assert_eq!(config.retention.records, Duration::from_secs(730 * DAY));
    assert_eq!(config.retention.schedule, None);
    assert_eq!(config.retention.max_per_run, 1000);
    let d = &config.disputes;
    assert!(d.buckets.is_empty() && d.list.is_none() && !d.forward);
    assert!(d.arbitration_addresses.is_empty());
    assert_eq!(d.escalate_after.received, Duration::from_secs(7 * DAY));
    assert_eq!(d.escalate_after.forwarded, Duration::from_secs(DAY));
    assert_eq!(d.escalate_after.on_list, Duration::from_secs(7 * DAY));
    Ok(())
}

#[test]
fn a_full_records_config_reads_back() -> Result<()> {
    let (_dir, config) = load(
        r#"
[sla]
buckets = ["Triage", "Support/Disputes"]
target = "2h"
hours = "Mon-Fri 09:00-17:00 Europe/Berlin"
sent_folders = ["Sent", "Sent Items"]
[retention]
records = "1y"
schedule = "1d"
max_per_run = 50
[retention.buckets]
Junk = "30d"
"Support/Disputes" = "5y"
default = "2y"
[disputes]
buckets = ["Support/Disputes"]
list = "Arbitration cases <cases@lists.example.org>"
forward = true
arbitration_addresses = ["arbitration@example.org", "dra@example.org"]
escalate_after = { forwarded = "12h", on-list = "3d" }
"#,
    )?;
    let config = config?;
    assert_eq!(config.sla.buckets, ["Triage", "Support/Disputes"]);
    assert_eq!(config.sla.target, Duration::from_secs(7200));
    let hours = config.sla.hours.as_ref().map(ToString::to_string);
    assert_eq!(hours.as_deref(), Some("Mon-Fri 09:00-17:00 Europe/Berlin"));
    assert_eq!(config.sla.sent_folders, ["Sent", "Sent Items"]);
    let r = &config.retention;
    assert_eq!(r.limit_for("Junk"), Some(Duration::from_secs(30 * DAY)));
    assert_eq!(
        r.limit_for("Support/Disputes"),
        Some(Duration::from_secs(5 * 365 * DAY))
    );
    assert_eq!(r.limit_for("Triage"), Some(Duration::from_secs(730 * DAY)));
    assert!(
        !r.buckets.contains_key("default"),
        "default is not a bucket"
    );
    assert_eq!(r.records, Duration::from_secs(365 * DAY));
    assert_eq!(r.schedule, Some(Duration::from_secs(DAY)));
    assert_eq!(r.max_per_run, 50);
    let d = &config.disputes;
    assert!(d.forward);
    assert_eq!(
        d.list.as_ref().map(|m| m.email.to_string()).as_deref(),
        Some("cases@lists.example.org")
    );
    assert_eq!(d.arbitration_addresses.len(), 2);
    assert_eq!(d.escalate_after.received, Duration::from_secs(7 * DAY));
    assert_eq!(d.escalate_after.forwarded, Duration::from_secs(12 * 3600));
    assert_eq!(d.escalate_after.on_list, Duration::from_secs(3 * DAY));
    Ok(())
}

#[test]
fn every_bad_records_value_is_reported_with_its_key() -> Result<()> {
    let (_dir, config) = load(
        r#"
[sla]
target = "an hour"
hours = "Mon-Fri 17:00-09:00 Europe/Berlin"
[retention]
records = "0d"
schedule = "daily"
max_per_run = 0
[retention.buckets]
Junk = "30 days"
"Support/Disputes" = 30
[disputes]
forward = true
arbitration_addresses = ["not an address"]
escalate_after = { received = "1x", answered = "1d" }
"#,
    )?;
    let Err(errors) = config else {
        anyhow::bail!("a config full of mistakes loaded");
    };
    let mut keys: Vec<&str> = errors.errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "disputes.arbitration_addresses",
            "disputes.escalate_after.answered",
            "disputes.escalate_after.received",
            "disputes.list",
            "retention.buckets.\"Support/Disputes\"",
            "retention.buckets.Junk",
            "retention.max_per_run",
            "retention.records",
            "retention.schedule",
            "sla.hours",
            "sla.target",
        ],
        "{errors}"
    );
    let text = errors.to_string();
    assert!(text.contains("must close after it opens"), "{text}");
    assert!(
        text.contains("valid: received, forwarded, on-list"),
        "{text}"
    );
    assert!(text.contains("is required when forward = true"), "{text}");
    Ok(())
}

#[test]
fn an_empty_sent_folder_is_named() -> Result<()> {
    let (_dir, config) = load("[sla]\nsent_folders = [\"Sent\", \" \"]\n")?;
    let Err(errors) = config else {
        anyhow::bail!("an empty folder name was accepted");
    };
    assert_eq!(errors.errors.len(), 1, "{errors}");
    assert_eq!(errors.errors[0].key, "sla.sent_folders");
    Ok(())
}

#[test]
fn a_bad_timezone_is_named() -> Result<()> {
    let (_dir, config) = load("[sla]\nhours = \"Mon-Fri 09:00-17:00 Mars/Olympus\"\n")?;
    let Err(errors) = config else {
        anyhow::bail!("an unknown timezone loaded");
    };
    assert_eq!(errors.errors.len(), 1, "{errors}");
    assert_eq!(errors.errors[0].key, "sla.hours");
    assert!(
        errors.errors[0]
            .message
            .contains("\"Mars/Olympus\" is not a timezone")
    );
    Ok(())
}

#[test]
fn weeks_and_years_are_durations() -> Result<()> {
    let parse = |t: &str| crate::config::parse_duration(t).map_err(anyhow::Error::msg);
    assert_eq!(parse("2w")?, Duration::from_secs(14 * DAY));
    assert_eq!(parse("1y")?, Duration::from_secs(365 * DAY));
    assert!(parse("99999999999999999y").is_err(), "overflow is an error");
    Ok(())
}
