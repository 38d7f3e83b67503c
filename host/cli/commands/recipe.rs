//! `cnsctl recipe`: resolve criteria into a `recipeResult`, or list the supported ones.

use crate::opts::Format;
use crate::opts::RecipeDataOpts;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_kube::cm::Document;
use cns_kube::location::{Documents, Location};
use cns_recipe::Criteria;

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
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = Location::parse)]
    output: Option<Location>,
    /// Output format: yaml (default) or json; with --list a table unless given.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Detect the criteria from a cluster snapshot (FILE or cm://NAMESPACE/NAME); criteria
    /// flags override what is detected.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = Location::parse)]
    snapshot: Option<Location>,
    /// List the supported criteria combinations instead of resolving one: those the
    /// criteria flags given admit (`--list --service eks`), as a table, or with --format a
    /// YAML or JSON list of {service, accelerator, os, intent}.
    #[arg(long, conflicts_with_all = ["output", "snapshot"])]
    list: bool,
    /// Refuse a recipe with open criteria (any criterion left `any`) instead of warning.
    #[arg(long, env = "CNSCTL_CRITERIA_STRICT", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    criteria_strict: bool,
}

pub(crate) fn run(args: RecipeArgs, data: &RecipeDataOpts, kube: &Documents) -> Result<Outcome> {
    let store = data.store()?;
    if args.list {
        return list(&args, &store);
    }
    let mut driver = None;
    let detected = match &args.snapshot {
        Some(loc) => {
            let text = kube.read(loc, Document::Snapshot)?;
            let snap = cns_snapshot::document::Snapshot::from_yaml(&loc.to_string(), &text)?;
            let d = cns_recipe::detect::detect(&snap);
            let c = d.criteria;
            crate::ui::status(&format!("detected from {loc}: {c}"));
            for u in &d.unmatched {
                let given = match u.field {
                    "accelerator" => args.accelerator.is_some(),
                    _ => args.os.is_some(),
                };
                if !given {
                    crate::ui::warn(&u.to_string());
                }
            }
            driver = snap.driver_version();
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
    let mut recipe = cns_recipe::resolve(&store, &criteria)
        .with_context(|| format!("failed to resolve a recipe for {criteria}"))?;
    // Open criteria are loud: what each would decide here, or refused with --criteria-strict.
    let open = cns_recipe::open::open_criteria(&store, &criteria, &recipe)?;
    if args.criteria_strict && !open.is_empty() {
        let fields: Vec<String> = open.iter().map(|o| format!("--{}", o.field)).collect();
        anyhow::bail!(
            "--criteria-strict: the recipe for {criteria} leaves {} open; pass {}\n{}",
            open.iter().map(|o| o.field).collect::<Vec<_>>().join(", "),
            fields.join(" "),
            open.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    for o in &open {
        crate::ui::warn(&o.to_string());
    }
    if let Some((version, reading)) = driver {
        use cns_recipe::pin::DriverPin;
        match cns_recipe::pin::pin_driver(&mut recipe, &store, &version)? {
            DriverPin::NotApplicable | DriverPin::Same => {}
            DriverPin::NotAVersion => crate::ui::warn(&format!(
                "the snapshot's driver version `{}` ({reading}) is not a version; not pinned",
                version.escape_debug()
            )),
            DriverPin::Kept(v) => crate::ui::status(&format!(
                "the recipe pins driver.version {v}; the snapshot measured {version} ({reading}): kept {v}"
            )),
            DriverPin::Pinned => crate::ui::status(&format!(
                "pinned gpu-operator driver.version={version} from the snapshot ({reading}); the recipe left it open"
            )),
        }
    }
    let (text, fmt) = match args.format.unwrap_or_default() {
        Format::Yaml => (recipe.to_yaml(), "yaml"),
        Format::Json => (recipe.to_json(), "json"),
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

/// `recipe --list`: the supported combinations the criteria flags admit.
fn list(args: &RecipeArgs, store: &cns_recipe::Store) -> Result<Outcome> {
    let filter = Criteria::new(
        args.service.as_deref(),
        args.accelerator.as_deref(),
        args.os.as_deref(),
        args.intent.as_deref(),
    )?;
    let combos = cns_recipe::resolve::supported_matching(store, &filter)?;
    if combos.is_empty() {
        crate::ui::warn(&format!("no supported combination matches {filter}"));
    }
    match args.format {
        None => {
            println!("{:<8} {:<12} {:<12} INTENT", "SERVICE", "ACCELERATOR", "OS");
            for c in &combos {
                println!(
                    "{:<8} {:<12} {:<12} {}",
                    c.service, c.accelerator, c.os, c.intent
                );
            }
        }
        Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&combos)?),
        Some(Format::Yaml) => print!("{}", serde_norway::to_string(&combos)?),
    }
    Ok(Outcome::Success)
}
