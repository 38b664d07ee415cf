//! Per-message cost of classification in-process, beside the bare sieve-rs loop over the same messages
//! (see `common/loops.rs` for what each loop does). Run: `cargo bench --bench classify`.

#[path = "common/loops.rs"]
mod loops;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let messages = loops::corpus();
    let mut group = c.benchmark_group("classify-corpus");
    group.throughput(Throughput::Elements(messages.len() as u64));
    let triaged = loops::TriagedLoop::new();
    group.bench_function("triaged", |b| b.iter(|| triaged.pass(&messages)));
    let bare = loops::BareLoop::new();
    group.bench_function("bare-engine", |b| b.iter(|| bare.pass(&messages)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
