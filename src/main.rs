//! The `triaged` binary: everything is in the library; see `cli.rs`.

fn main() -> std::process::ExitCode {
    triaged::cli::main()
}
