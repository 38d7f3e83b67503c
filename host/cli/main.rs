//! `cnsctl`: turns a GPU cluster recipe into a GitOps bundle through sandboxed WebAssembly
//! plugins. This file parses arguments, runs the command and reports errors with their
//! cause chain; the commands live in `commands/`.

mod commands;
mod opts;
mod trust;
mod ui;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for success.
const EXIT_OK: u8 = 0;
/// Exit code when a check ran and failed (e.g. `validate` found a failing constraint).
const EXIT_FAILED: u8 = 1;
/// Exit code for errors: bad input, bad flags, plugin failures, I/O.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    ui::set_verbosity(cli.verbose, cli.quiet);
    match commands::run(cli) {
        Ok(commands::Outcome::Success) => ExitCode::from(EXIT_OK),
        Ok(commands::Outcome::CheckFailed) => ExitCode::from(EXIT_FAILED),
        Err(err) => {
            eprintln!("error: {err}");
            let causes: Vec<_> = err.chain().skip(1).collect();
            if !causes.is_empty() {
                eprintln!("\nCaused by:");
                for (i, c) in causes.iter().enumerate() {
                    eprintln!("  {i}: {c}");
                }
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}
