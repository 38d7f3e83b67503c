//! `cnsctl diff`: drift between two snapshots (files or `cm://`), exit 0 none, 1 drift: a
//! table that fits the terminal, YAML/JSON, or RFC 6902 operations.

use crate::outcome::Outcome;
use anyhow::Result;
use clap::{Args, ValueEnum};
use cns_kube::cm::Document;
use cns_kube::location::{Documents, Location};
use cns_snapshot::document::Snapshot;
use serde::Serialize;

/// Output format of a diff.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// An aligned table and a summary line (default).
    Table,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
    /// RFC 6902 JSON Patch operations that take the baseline document (as `snapshot
    /// --format json` writes it) to the target's readings.
    JsonPatch,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The earlier snapshot: FILE or cm://NAMESPACE/NAME.
    #[arg(value_name = "BASELINE", value_parser = Location::parse)]
    baseline: Location,
    /// The later snapshot: FILE or cm://NAMESPACE/NAME.
    #[arg(value_name = "TARGET", value_parser = Location::parse)]
    target: Location,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Skip readings whose path matches GLOB (e.g. 'K8s.image.*'). Repeatable.
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// Also compare volatile readings (timestamps, process ids, the node's name and
    /// instance id), left out by default.
    #[arg(long)]
    include_volatile: bool,
    /// Show every value whole; by default the table is cut to the terminal's width
    /// (COLUMNS, else the terminal's; not cut when stdout is not a terminal), each cut
    /// value ending in `…`.
    #[arg(long)]
    wide: bool,
}

/// The width the table must fit: none with --wide; COLUMNS; else the terminal's, when
/// stdout is one.
fn width(wide: bool) -> Option<usize> {
    if wide {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    kind: &'static str,
    api_version: &'static str,
    baseline: String,
    target: String,
    #[serde(flatten)]
    drift: &'a cns_snapshot::diff::Drift,
}

pub(crate) fn run(args: DiffArgs, kube: &Documents) -> Result<Outcome> {
    let ignore = cns_snapshot::diff::ignore_set(&args.ignore)?;
    let load = |loc: &Location| -> Result<Snapshot> {
        let text = kube.read(loc, Document::Snapshot)?;
        Ok(Snapshot::from_yaml(&loc.to_string(), &text)?)
    };
    let (a, b) = (load(&args.baseline)?, load(&args.target)?);
    let drift = cns_snapshot::diff::diff(&a, &b, &ignore, args.include_volatile);
    let report = Report {
        kind: "SnapshotDiff",
        api_version: cns_snapshot::API_VERSION,
        baseline: args.baseline.to_string(),
        target: args.target.to_string(),
        drift: &drift,
    };
    match args.format {
        Format::Table => print!("{}", cns_snapshot::diff::table(&drift, width(args.wide))),
        Format::JsonPatch => println!(
            "{}",
            serde_json::to_string_pretty(&cns_snapshot::diff::json_patch(&a, &drift))?
        ),
        Format::Yaml => print!("{}", serde_norway::to_string(&report)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if drift.changes.is_empty() {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}
