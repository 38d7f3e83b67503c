//! `cnsctl recipe`: resolve criteria into a `recipeResult`, or list the supported ones.

use crate::location::{Kube, Location};
use crate::opts::RecipeDataOpts;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use cns_kube::cm::Document;
use cns_recipe::Criteria;

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
    /// Write the recipe to FILE or cm://NAMESPACE/NAME instead of stdout.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = crate::location::parse)]
    output: Option<Location>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
    /// Detect the criteria from a cluster snapshot (FILE or cm://NAMESPACE/NAME); criteria
    /// flags override what is detected.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = crate::location::parse)]
    snapshot: Option<Location>,
    /// List the supported criteria combinations instead of resolving one.
    #[arg(long, conflicts_with_all = ["service", "accelerator", "os", "intent", "output", "snapshot"])]
    list: bool,
}

pub(crate) fn run(args: RecipeArgs, data: &RecipeDataOpts, kube: &Kube) -> Result<Outcome> {
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
        Some(loc) => {
            let text = kube.read(loc, Document::Snapshot)?;
            let c = cns_recipe::snapshot::Snapshot::from_yaml(&loc.to_string(), &text)?
                .detect_criteria();
            crate::ui::status(&format!("detected from {loc}: {c}"));
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
    let (text, fmt) = match args.format {
        Format::Yaml => (recipe.to_yaml(), "yaml"),
        Format::Json => (serde_json::to_string_pretty(&recipe)? + "\n", "json"),
    };
    match args.output {
        Some(loc) => {
            kube.write(&loc, Document::Recipe, &text, fmt)?;
            crate::ui::status(&format!(
                "wrote {loc} ({} components, overlays: {})",
                recipe.component_refs.len(),
                recipe.metadata.applied_overlays.join(", ")
            ));
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}
