//! `cnsctl recipe`: resolve criteria into a `recipeResult`, or list the supported ones.

use crate::opts::RecipeDataOpts;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use cns_recipe::Criteria;
use std::path::PathBuf;

/// Output format of a recipe.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// YAML (default).
    Yaml,
    /// JSON.
    Json,
}

/// Arguments of `recipe`.
#[derive(Debug, Args)]
pub(crate) struct RecipeArgs {
    /// Kubernetes service: eks, gke, aks or oke.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// GPU model: h100, gb200 or a100.
    #[arg(long, visible_alias = "gpu", value_name = "ACCELERATOR")]
    accelerator: Option<String>,
    /// Node operating system, e.g. ubuntu.
    #[arg(long, value_name = "OS")]
    os: Option<String>,
    /// Workload intent: training or inference.
    #[arg(long, value_name = "INTENT")]
    intent: Option<String>,
    /// Write the recipe to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
    /// Detect the criteria from a cluster snapshot file; criteria flags override what is
    /// detected.
    #[arg(short, long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// List the supported criteria combinations instead of resolving one.
    #[arg(long, conflicts_with_all = ["service", "accelerator", "os", "intent", "output", "snapshot"])]
    list: bool,
}

pub(crate) fn run(args: RecipeArgs, data: &RecipeDataOpts) -> Result<Outcome> {
    let store = data.store()?;
    if args.list {
        println!("{:<8} {:<12} {:<12} INTENT", "SERVICE", "ACCELERATOR", "OS");
        for c in cns_recipe::resolve::supported(&store)? {
            println!(
                "{:<8} {:<12} {:<12} {}",
                c.service, c.accelerator, c.os, c.intent
            );
        }
        return Ok(Outcome::Success);
    }
    let detected = match &args.snapshot {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("failed to read snapshot `{}`", p.display()))?;
            let c = cns_recipe::snapshot::Snapshot::from_yaml(&p.display().to_string(), &text)?
                .detect_criteria();
            crate::ui::status(&format!("detected from {}: {c}", p.display()));
            Some(c)
        }
        None => None,
    };
    let pick = |flag: &Option<String>, det: Option<&str>| {
        flag.clone()
            .or_else(|| det.filter(|d| *d != "any").map(str::to_string))
    };
    let criteria = Criteria::new(
        pick(&args.service, detected.as_ref().map(|d| d.service.as_str())).as_deref(),
        pick(
            &args.accelerator,
            detected.as_ref().map(|d| d.accelerator.as_str()),
        )
        .as_deref(),
        pick(&args.os, detected.as_ref().map(|d| d.os.as_str())).as_deref(),
        pick(&args.intent, detected.as_ref().map(|d| d.intent.as_str())).as_deref(),
    )?;
    let recipe = cns_recipe::resolve(&store, &criteria)
        .with_context(|| format!("failed to resolve a recipe for {criteria}"))?;
    let text = match args.format {
        Format::Yaml => recipe.to_yaml(),
        Format::Json => serde_json::to_string_pretty(&recipe)? + "\n",
    };
    match args.output {
        Some(path) => {
            crate::fsutil::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("failed to write `{}`", path.display()))?;
            crate::ui::status(&format!(
                "wrote {} ({} components, overlays: {})",
                path.display(),
                recipe.component_refs.len(),
                recipe.metadata.applied_overlays.join(", ")
            ));
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}
