//! `cnsctl plugin list`: the loaded plugins with their kind, versions, size and digest.

use super::Outcome;
use crate::opts::PluginOpts;
use anyhow::Result;
use clap::{Args, Subcommand};

/// Plugin commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// List the built-in plugins and any given with --plugin.
    List(ListArgs),
}

/// Arguments of `plugin list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    plugins: PluginOpts,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: PluginCommand) -> Result<Outcome> {
    let PluginCommand::List(args) = cmd;
    let runtime = args.plugins.runtime()?;
    let catalog = args.plugins.catalog(&runtime)?;
    if args.json {
        let list: Vec<_> = catalog
            .plugins()
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "kind": p.kind.as_str(), "version": p.version, "wit": p.wit_version,
                    "size": p.size, "sha256": p.sha256, "serves": p.serves, "origin": p.origin.to_string(),
                    "imports": p.imports, "description": p.description,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Outcome::Success);
    }
    let w = catalog
        .plugins()
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<w$} {:<9} {:<8} {:<6} {:>9}  {:<64}  SERVES",
        "NAME", "KIND", "VERSION", "WIT", "SIZE", "SHA256"
    );
    for p in catalog.plugins() {
        println!(
            "{:<w$} {:<9} {:<8} {:<6} {:>9}  {:<64}  {}",
            p.name,
            p.kind.as_str(),
            p.version,
            p.wit_version,
            p.size,
            p.sha256,
            p.serves.join(",")
        );
    }
    Ok(Outcome::Success)
}
