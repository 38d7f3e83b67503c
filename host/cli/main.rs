//! `cnsctl`: turns a GPU cluster recipe into a GitOps bundle through sandboxed WebAssembly
//! plugins. This file parses arguments, runs the command and reports errors with their
//! cause chain; the commands live in `commands/`.

// Doc comments here are clap's help text, which writes `[:TAG]` and `<NAME>` for optional
// parts and placeholders; they are not rustdoc links or HTML.
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    reason = "doc comments are CLI help text (see above)"
)]

mod commands;
mod opts;
mod outcome;
mod ui;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for success.
const EXIT_OK: u8 = 0;
/// Exit code when a check ran and failed: a constraint or criterion (`validate`), a
/// signature or attestation, a digest or checksum (a tampered blob), a plugin's signature,
/// or a plugin refusing the values it was given.
const EXIT_FAILED: u8 = 1;
/// Exit code for errors: bad input, bad flags, plugin failures, I/O.
const EXIT_ERROR: u8 = 2;

/// On SIGINT or SIGTERM, undo writes in progress (no half-written output, no staging
/// directories left behind), then exit with 128 + the signal number, as shells do. A signal
/// that comes after the output was moved into place changes nothing: the command finishes.
fn clean_up_on_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("cnsctl-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next()
                && let Some(_held) = cns_files::interrupt()
            {
                eprintln!("error: interrupted (signal {sig}); nothing was left half-written");
                std::process::exit(128 + sig);
            }
        });
    drop(spawned);
}

/// Whether `e` (one error of a chain) is a check that ran and failed rather than an error:
/// a plugin refusing the user's values, a signature, attestation or trust decision that
/// did not verify, a digest or checksum that did not match.
fn failed_check(e: &(dyn std::error::Error + 'static)) -> bool {
    use cns_oci::Error as Oci;
    e.downcast_ref::<cns_bundle::Error>()
        .is_some_and(cns_bundle::Error::is_refusal)
        || e.downcast_ref::<cns_runtime::Error>()
            .is_some_and(cns_runtime::Error::is_refusal)
        || e.downcast_ref::<Oci>().is_some_and(|o| {
            matches!(
                o,
                Oci::Unsigned { .. }
                    | Oci::Verify { .. }
                    | Oci::Digest { .. }
                    | Oci::Checksums { .. }
                    | Oci::NoChecksums { .. }
                    | Oci::NotVerified { .. }
            )
        })
}

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    // The server handles SIGTERM itself: it drains and finishes the requests in flight.
    if !matches!(cli.command, commands::Command::Serve(_)) {
        clean_up_on_signals();
    }
    ui::set_verbosity(cli.verbose, cli.quiet);
    match commands::run(cli) {
        Ok(outcome::Outcome::Success) => ExitCode::from(EXIT_OK),
        Ok(outcome::Outcome::CheckFailed) => ExitCode::from(EXIT_FAILED),
        Err(err) => {
            let refused = err.chain().any(failed_check);
            eprintln!(
                "error: {}",
                cns_files::terminal_safe(&err.to_string(), true)
            );
            let causes: Vec<_> = err.chain().skip(1).collect();
            if !causes.is_empty() {
                eprintln!("\nCaused by:");
                for (i, c) in causes.iter().enumerate() {
                    eprintln!("  {i}: {}", cns_files::terminal_safe(&c.to_string(), true));
                }
            }
            ExitCode::from(if refused { EXIT_FAILED } else { EXIT_ERROR })
        }
    }
}
