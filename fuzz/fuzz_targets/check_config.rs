//! Config TOML → `triaged check`: parsing and validation (`Config::parse`, every key's checks), then, for
//! a config that validates, what `check` does next: compile the rules, check the buckets and the team
//! files, load the keys, render and compose every template. Relative paths resolve beside
//! `examples/triaged.toml`, so the example's rules are found. Nothing here opens a connection. Any text
//! must give a config or a list of keyed errors, never a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use triaged::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fuzz.toml");
    match Config::parse(&file, text) {
        Ok(config) => {
            if let Err(e) = triaged::worker::check(&config) {
                let _ = format!("{e:#}");
            }
        }
        Err(errors) => {
            let _ = errors.to_string();
        }
    }
});
