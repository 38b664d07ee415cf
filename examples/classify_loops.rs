//! The classification benchmark loops (`benches/common/loops.rs`) outside criterion:
//! - `classify_loops triaged|bare PASSES` runs one loop PASSES times over the corpus, for counting
//!   instructions under `valgrind --tool=callgrind` (`scripts/count-classify`);
//! - `classify_loops compare ROUNDS` alternates blocks of 10 passes of each loop ROUNDS times and prints
//!   the fastest and the median block of each (per pass) and their ratio. Alternating keeps a machine
//!   whose speed drifts (shared cores) from favouring whichever loop ran while it was fast; blocks let
//!   each loop run with its own code and data in the caches, as it does in a worker.

#[path = "../benches/common/loops.rs"]
mod loops;

use std::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(1).and_then(|n| n.parse::<usize>().ok());
    let messages = loops::corpus();
    match (args.first().map(String::as_str), n) {
        (Some("triaged"), Some(n)) => {
            let l = loops::TriagedLoop::new();
            (0..n).for_each(|_| l.pass(&messages));
        }
        (Some("bare"), Some(n)) => {
            let l = loops::BareLoop::new();
            (0..n).for_each(|_| l.pass(&messages));
        }
        (Some("compare"), Some(rounds)) if rounds > 0 => compare(&messages, rounds),
        _ => {
            eprintln!("usage: classify_loops triaged|bare PASSES | classify_loops compare ROUNDS");
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}

fn compare(messages: &[Vec<u8>], rounds: usize) {
    let (triaged, bare) = (loops::TriagedLoop::new(), loops::BareLoop::new());
    const BLOCK: u32 = 10;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        (0..BLOCK).for_each(|_| f());
        start.elapsed() / BLOCK
    };
    let mut t = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        t.push(time(&|| triaged.pass(messages)));
        b.push(time(&|| bare.pass(messages)));
    }
    t.sort();
    b.sort();
    let per_sec = |d: Duration| messages.len() as f64 / d.as_secs_f64();
    for (name, v) in [("triaged", &t), ("bare", &b)] {
        let (min, median) = (v[0], v[v.len() / 2]);
        println!(
            "{name:>8}: fastest {:.3} ms ({:.0} messages/s), median {:.3} ms",
            min.as_secs_f64() * 1e3,
            per_sec(min),
            median.as_secs_f64() * 1e3
        );
    }
    let ratio = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64();
    println!(
        "triaged/bare over {rounds} alternating blocks of {BLOCK} passes of {} messages: fastest {:.3} ({:+.1} %), median {:.3} ({:+.1} %)",
        messages.len(),
        ratio(t[0], b[0]),
        (ratio(t[0], b[0]) - 1.0) * 100.0,
        ratio(t[rounds / 2], b[rounds / 2]),
        (ratio(t[rounds / 2], b[rounds / 2]) - 1.0) * 100.0
    );
}
