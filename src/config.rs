//! Configuration (placeholder until the configuration module lands): only the rules section.

use std::path::PathBuf;

/// The `[rules]` section.
#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// The Sieve script every message runs through.
    pub script: PathBuf,
    /// Where `include` finds personal/global scripts.
    pub include_dir: PathBuf,
    /// Messages larger than this get an error verdict instead of being parsed.
    pub max_message_size: u64,
    /// Sieve instructions one message may cost before evaluation stops with an error verdict.
    pub cpu_limit: usize,
}
