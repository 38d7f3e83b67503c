//! `cnsctl recipe`: resolve criteria into a `recipeResult`, or list the supported ones.

use crate::opts::Format;
use crate::opts::RecipeDataOpts;
use crate::outcome::Outcome;
use anyhow::Result;
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
    /// Detect the criteria from this node pool of the snapshot's cluster topology (its GPU
    /// product and OS image) instead of from the node the snapshot ran on: for clusters with
    /// mixed pools. The pools are the K8s.topology reading's (EKS node group, Karpenter
    /// NodePool, GKE node pool, AKS agent pool, else the instance type).
    #[arg(long, value_name = "NAME", requires = "snapshot")]
    node_pool: Option<String>,
    /// List the supported criteria combinations instead of resolving one: those the
    /// criteria flags given admit (`--list --service eks`), as a table, or with --format a
    /// YAML or JSON list of {service, accelerator, os, intent}.
    #[arg(long, conflicts_with_all = ["output", "snapshot"])]
    list: bool,
    /// With --list: the coverage table, each leaf with the overlays that make it, its content
    /// group (leaves in one group get the same components, values, manifests and constraints)
    /// and why each overlay is there; with --format, the same as JSON or YAML.
    #[arg(long, requires = "list")]
    explain: bool,
    /// Refuse a recipe with open criteria (any criterion left `any`) instead of warning.
    #[arg(long, env = "CNSCTL_CRITERIA_STRICT", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    criteria_strict: bool,
    /// What the cluster runs: the recipe it was installed from (FILE or cm://NS/NAME), the
    /// bundle DIR, or `cluster` (read through --kubeconfig): each component it has keeps its
    /// namespace, chart and source, so a regenerated recipe never moves what is installed;
    /// what was kept is printed. `cnsctl upgrade-check` then judges the versions.
    #[arg(
        long,
        value_name = "FILE|DIR|cm://NS/NAME|cluster",
        conflicts_with = "list"
    )]
    inherit_from: Option<String>,
}

pub(crate) fn run(args: RecipeArgs, data: &RecipeDataOpts, kube: &Documents) -> Result<Outcome> {
    let store = data.store()?;
    if args.list {
        return list(&args, &store);
    }
    let snapshot = match &args.snapshot {
        Some(loc) => {
            let text = kube.read(loc, Document::Snapshot)?;
            let snap = cns_snapshot::document::Snapshot::from_yaml(&loc.to_string(), &text)?;
            Some((loc.to_string(), snap))
        }
        None => None,
    };
    let installed = args
        .inherit_from
        .as_deref()
        .map(|at| super::upgrade::running("--inherit-from", at, kube, &store, None))
        .transpose()?;
    let recipe = cns_recipe::ask::ask(
        &store,
        cns_recipe::ask::Ask {
            service: args.service.as_deref(),
            accelerator: args.accelerator.as_deref(),
            os: args.os.as_deref(),
            intent: args.intent.as_deref(),
            snapshot: snapshot.as_ref().map(|(n, s)| (n.as_str(), s)),
            node_pool: args.node_pool.as_deref(),
            strict: args.criteria_strict,
            inherit_from: installed.as_ref().map(|r| r.installed.as_slice()),
        },
        |n| match n.warning {
            true => crate::ui::warn(&n.text),
            false => crate::ui::status(&n.text),
        },
    )?;
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
    if args.explain {
        let mut c = cns_recipe::coverage::coverage(store)?;
        c.retain(|l| filter.matches(&l.criteria));
        match args.format {
            None => print!("{}", c.text()),
            Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&c)?),
            Some(Format::Yaml) => print!("{}", serde_norway::to_string(&c)?),
        }
        return Ok(Outcome::Success);
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
