//! The command line (placeholder until the shared CLI lands): the `classify` command only.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "triaged", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify messages with a Sieve script and print one verdict per message; changes nothing.
    Classify(crate::classify::cli::ClassifyArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => crate::classify::cli::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("triaged: {err:#}");
            ExitCode::from(1)
        }
    }
}
