//! `cnsctl completion SHELL` and `cnsctl man`: shell completion scripts (clap_complete) and
//! man pages (clap_mangen), both generated from the command tree itself, so they list
//! exactly the commands and flags this binary has.

use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::path::PathBuf;

/// Arguments of `completion`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Folder to write the pages into: cnsctl.1, and cnsctl-COMMAND.1 for each command.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
}

/// `cnsctl completion`: the script on stdout (e.g. `source <(cnsctl completion bash)`).
pub(crate) fn completion(args: CompletionArgs) -> Result<Outcome> {
    use std::io::Write;
    let mut cmd = super::Cli::command();
    // Into a buffer: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cnsctl", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::from(e).context("failed to write the completion script"))
        }
        _ => Ok(Outcome::Success),
    }
}

/// `cnsctl man`: one page for cnsctl and one per command.
pub(crate) fn man(args: ManArgs) -> Result<Outcome> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("failed to create `{}`", args.output.display()))?;
    clap_mangen::generate_to(super::Cli::command(), &args.output).with_context(|| {
        format!(
            "failed to write the man pages to `{}`",
            args.output.display()
        )
    })?;
    crate::ui::status(&format!("wrote the man pages to {}", args.output.display()));
    Ok(Outcome::Success)
}
