//! Sieve script text → compile with the limits `triaged run` uses (`Rules::load_source`: the original,
//! the `require` and `include` checks, and the rewritten forms), includes resolved in `rules/`. A script
//! that compiles is then run over one message. Any text must load or fail with an error, never panic.

#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use triaged::classify::{Context, Rules};
use triaged::config::RulesConfig;

const MESSAGE: &[u8] = b"Return-Path: <bob@example.com>\nFrom: Bob <bob@example.com>\n\
To: support@example.org\nSubject: Password reset\nDate: Mon, 30 Nov 2026 01:02:03 +0100\n\
Message-ID: <m1@example.com>\n\nplease reset my password\n";

fuzz_target!(|data: &[u8]| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let cfg = RulesConfig {
        script: dir.join("fuzz.sieve"),
        include_dir: dir.clone(),
        global_dir: dir,
        max_message_size: 1 << 20,
        cpu_limit: 10_000,
    };
    match Rules::load_source(&cfg, data) {
        Ok(rules) => {
            let mailboxes = BTreeSet::from(["INBOX".to_owned(), "Junk".to_owned()]);
            let ctx = Context {
                mailboxes: &mailboxes,
                source_folder: "INBOX",
                explain: false,
                now: DateTime::from_timestamp(1_796_083_200, 0).unwrap_or_default(),
            };
            let outcome = rules.classify_raw(MESSAGE, cfg.max_message_size, &ctx, false);
            let _ = outcome.verdict.tsv_line("fuzz.eml");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
