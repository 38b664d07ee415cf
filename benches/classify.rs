//! Per-message cost of classification in-process, beside the bare sieve-rs loop over the same messages:
//! `triaged` = validate + parse + envelope + evaluate + verdict; `bare-engine` = sieve-rs's
//! `Runtime::filter` (which parses too) driven with the minimum event handling. Both use
//! rules/support.sieve over tests/corpus. Run: `cargo bench --bench classify`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sieve::{Compiler, Event, Input, Runtime};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use triaged::classify::{Context, Envelope, Rules};
use triaged::config::RulesConfig;
use triaged::message::Message;

fn corpus() -> Vec<Vec<u8>> {
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

fn bench(c: &mut Criterion) {
    let messages = corpus();
    let mut group = c.benchmark_group("classify-corpus");
    group.throughput(Throughput::Elements(messages.len() as u64));

    let cfg = RulesConfig {
        script: script(),
        include_dir: script().parent().map(Path::to_path_buf).unwrap_or_default(),
        max_message_size: 25 * 1024 * 1024,
        cpu_limit: 100_000,
    };
    let rules = Rules::load(&cfg).expect("rules load");
    let mailboxes: BTreeSet<String> = ["INBOX", "Archive", "Junk", "Support/Disputes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    group.bench_function("triaged", |b| {
        b.iter(|| {
            for raw in &messages {
                let verdict = match Message::parse(raw, cfg.max_message_size) {
                    Ok(msg) => {
                        let ctx = Context {
                            mailboxes: &mailboxes,
                            source_folder: "INBOX",
                            envelope: Envelope::derive(&msg),
                            explain: false,
                        };
                        rules.classify(msg, &ctx)
                    }
                    Err(e) => triaged::classify::Verdict::error(e.reason(), e.to_string()),
                };
                std::hint::black_box(verdict);
            }
        })
    });

    let source = std::fs::read(script()).expect("script");
    let sieve = std::sync::Arc::new(Compiler::new().compile(&source).expect("compile"));
    let runtime = Runtime::new().with_cpu_limit(100_000);
    group.bench_function("bare-engine", |b| {
        b.iter(|| {
            for raw in &messages {
                let mut instance = runtime.filter(raw);
                let mut input = Input::script("main", sieve.clone());
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
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
