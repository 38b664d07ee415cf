//! # triaged
//!
//! # Layout
//! - `cli`: argument parsing, exit codes.
//! - `config`: validated configuration.
//! - `message`: the parsed message the rest of the code sees.
//! - `classify`: Sieve compile and evaluation into a `Verdict`.

pub mod classify;
pub mod cli;
pub mod config;
pub mod message;
