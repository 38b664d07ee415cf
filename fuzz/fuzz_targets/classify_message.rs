//! Raw message → parse → classify with the team's rules (`rules/support.sieve`, loaded through the
//! example config as `triaged run` loads it) → the worker's plan and the `classify` output lines.
//! Any input must give a verdict (an error verdict for mail that cannot be read), never a panic.

#![no_main]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use triaged::classify::{Context, Rules};
use triaged::config::Config;

struct Setup {
    config: Config,
    rules: Rules,
    mailboxes: BTreeSet<String>,
    now: DateTime<Utc>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triaged.toml");
    let config = Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let rules = Rules::load(&config.rules).unwrap_or_else(|e| panic!("{e}"));
    let mailboxes = ["INBOX", "Triage", "Junk", "Support/Disputes", "Accounts"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let now = DateTime::from_timestamp(1_796_083_200, 0).unwrap_or_default();
    Setup {
        config,
        rules,
        mailboxes,
        now,
    }
});

fuzz_target!(|data: &[u8]| {
    let s = &*SETUP;
    let ctx = Context {
        mailboxes: &s.mailboxes,
        source_folder: "INBOX",
        explain: false,
        now: s.now,
    };
    let outcome = s
        .rules
        .classify_raw(data, s.config.rules.max_message_size, &ctx, true);
    let plan = triaged::actions::plan(&outcome.verdict, &s.config.mailbox, &[]);
    let _ = plan.steps();
    let _ = outcome.verdict.tsv_line("fuzz.eml");
    let _ = outcome.verdict.json_line("fuzz.eml");
});
