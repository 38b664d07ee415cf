//! Backlog progress: a bar on a terminal (indicatif), a log line every few seconds otherwise.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Progress over a known number of messages.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    /// Messages done, and when the last log line was written.
    state: Mutex<(u64, Instant)>,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// A bar only for more than one `batch` on a terminal: a short pass needs no bar.
    pub fn new(total: u64, batch: u64) -> Progress {
        let bar = (std::io::stderr().is_terminal() && total > batch).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} sorting {pos}/{len} messages [{bar:30}] {per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        tracing::info!(messages = total, "sorting pending messages");
        Progress {
            bar,
            total,
            state: Mutex::new((0, Instant::now())),
        }
    }

    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        if let Ok(mut s) = self.state.lock() {
            s.0 += n;
            if s.1.elapsed() >= LOG_EVERY {
                s.1 = Instant::now();
                tracing::info!(done = s.0, total = self.total, "sorting");
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
