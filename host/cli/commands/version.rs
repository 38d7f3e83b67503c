//! `cnsctl version`.

use crate::opts::{OutputFormat, print_json};
use crate::outcome::Outcome;
use anyhow::Result;
use clap::Args;

/// Arguments of `version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Output: text, or json (schemas/output/version.schema.json).
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// Print the versions (text, or JSON as schemas/output/version.schema.json).
pub(crate) fn run(args: VersionArgs) -> Result<Outcome> {
    let v = cns_plugins::report::Versions::current(
        env!("CARGO_PKG_VERSION"),
        (
            cns_plugin_artifacts::BUILTIN.len(),
            cns_plugin_artifacts::SKIPPED.unwrap_or(cns_plugin_artifacts::ROUTE),
        ),
    )?;
    match args.format {
        OutputFormat::Json => print_json(&v)?,
        OutputFormat::Text => print!("{}", v.text()),
    }
    Ok(Outcome::Success)
}
