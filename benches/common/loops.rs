//! The two loops the classification benchmarks compare, shared by `benches/classify.rs` (wall time)
//! and `examples/classify_loops.rs` (instruction counts, alternating timings). `triaged` is
//! `Rules::classify_raw` (validate, parse, envelope, evaluate and verdict), as the worker runs it; `bare` is sieve-rs's `Runtime::filter` (which parses too)
//! driven with the minimum event handling. Both use rules/support.sieve over tests/corpus.

use sieve::{Compiler, Event, Input, Runtime, Sieve};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use triaged::classify::{Context, Rules};
use triaged::clock::Clock;
use triaged::config::RulesConfig;

/// Every corpus message, in file-name order.
pub fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus message"))
        .collect()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/support.sieve")
}

/// triaged's classification, as the worker and `triaged classify` run it.
pub struct TriagedLoop {
    rules: Rules,
    max_size: u64,
    mailboxes: BTreeSet<String>,
}

impl TriagedLoop {
    pub fn new() -> TriagedLoop {
        let dir = script().parent().map(Path::to_path_buf).unwrap_or_default();
        let cfg = RulesConfig {
            script: script(),
            global_dir: dir.clone(),
            include_dir: dir,
            max_message_size: 25 * 1024 * 1024,
            cpu_limit: 100_000,
        };
        TriagedLoop {
            rules: Rules::load(&cfg).expect("rules load"),
            max_size: cfg.max_message_size,
            mailboxes: ["INBOX", "Archive", "Junk", "Support/Disputes"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    pub fn pass(&self, messages: &[Vec<u8>]) {
        let ctx = Context {
            mailboxes: &self.mailboxes,
            source_folder: "INBOX",
            explain: false,
            now: Clock::system().now(),
        };
        for raw in messages {
            let outcome = self.rules.classify_raw(raw, self.max_size, &ctx, false);
            std::hint::black_box(outcome);
        }
    }
}

/// sieve-rs on its own: the same script compiled as written, every event answered at once.
pub struct BareLoop {
    sieve: Arc<Sieve>,
    runtime: Runtime,
}

impl BareLoop {
    pub fn new() -> BareLoop {
        let source = std::fs::read(script()).expect("script");
        BareLoop {
            sieve: Arc::new(Compiler::new().compile(&source).expect("compile")),
            runtime: Runtime::new().with_cpu_limit(100_000),
        }
    }

    pub fn pass(&self, messages: &[Vec<u8>]) {
        for raw in messages {
            let mut instance = self.runtime.filter(raw);
            let mut input = Input::script("main", self.sieve.clone());
            let mut actions = 0usize;
            while let Some(result) = instance.run(input) {
                input = match result {
                    Ok(
                        Event::IncludeScript { .. }
                        | Event::MailboxExists { .. }
                        | Event::DuplicateId { .. },
                    ) => Input::False,
                    Ok(Event::Function { .. }) => Input::result(Default::default()),
                    Ok(_) => {
                        actions += 1;
                        Input::True
                    }
                    Err(_) => Input::True,
                };
            }
            std::hint::black_box(actions);
        }
    }
}
