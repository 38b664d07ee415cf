//! Bucket names checked against the shipped Sieve script and against patterns built from variables.

use anyhow::Result;

use super::{KnownBuckets, matches_pattern, unknown_buckets};
use crate::config::Config;

#[test]
fn patterns_stand_for_at_least_one_character() {
    assert!(matches_pattern("Lists/${list}", "Lists/announce"));
    assert!(!matches_pattern("Lists/${list}", "Lists/"));
    assert!(!matches_pattern("Lists/${list}", "Other/announce"));
    assert!(matches_pattern("${a}-${b}", "x-y"));
    assert!(matches_pattern("${a}-${b}", "x-y-z"));
    assert!(!matches_pattern("${a}-${b}", "-y"));
    assert!(matches_pattern("L/${a}/x/${b}/end", "L/1/x/x/2/end"));
    assert!(!matches_pattern("L/${a}/x/${b}/end", "L/1/x//end"));
    assert!(matches_pattern("Junk", "Junk") && !matches_pattern("Junk", "Junk2"));
}

#[test]
fn the_shipped_script_knows_its_folders() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let file = dir.path().join("triaged.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[mailbox]
url = "maildir:mail"
[rules]
script = "{}/support.sieve"
[outbox]
from = "Support <support@example.org>"
[sla]
buckets = ["Triage", "Support/Disputes", "Tirage"]
[retention.buckets]
Junk = "30d"
Bounces = "60d"
"Lists/announce" = "90d"
Quarantine = "1y"
inbox = "2y"
"Spam" = "7d"
default = "2y"
[disputes]
buckets = ["Support/Disputes", "Disputes"]
"#,
            rules.display()
        ),
    )?;
    let config = Config::load(&file)?;
    let known = KnownBuckets::from_config(&config)?;
    assert!(known.contains("Certificates") && known.contains("Trash"));
    let errors = unknown_buckets(&config, &known);
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["sla.buckets", "retention.buckets.Spam", "disputes.buckets"]
    );
    assert!(
        errors[0].message.starts_with("\"Tirage\" is not a bucket"),
        "{}",
        errors[0]
    );
    assert!(errors[2].message.contains("\"Disputes\""), "{}", errors[2]);
    assert!(
        errors[1].message.contains("Support/Disputes"),
        "lists the buckets"
    );
    Ok(())
}
