//! `cnsctl upgrade-check`: whether a cluster can move from what it runs (FROM) to a recipe
//! (TO), component by component; the judgement is `cns_recipe::upgrade`'s.

use crate::opts::{Format, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_kube::location::{Documents, Location};
use cns_recipe::upgrade::{BUNDLE_INFO, BundleInfo, Installed};
use cns_recipe::{Criteria, RecipeResult, Store};

/// Arguments of `upgrade-check`.
#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// What runs now: a recipe (FILE or cm://NAMESPACE/NAME, the predecessor's format
    /// included), a bundle directory (its bundle-info.yaml, or its recipe.yaml), or
    /// `cluster`: what the cluster of --kubeconfig runs (Helm release Secrets, and the Argo
    /// CD Applications and Flux HelmReleases bundles labelled; needs --to).
    #[arg(long, value_name = "FILE|DIR|cm://NS/NAME|cluster")]
    from: String,
    /// The recipe to move to (FILE, DIR or cm://NS/NAME). Default: FROM's criteria resolved
    /// with this cnsctl's recipe data.
    #[arg(long, value_name = "FILE|DIR|cm://NS/NAME")]
    to: Option<String>,
    /// The deployer whose steps to list. Default: the bundle's (FROM a bundle directory),
    /// else script.
    #[arg(short, long, value_name = "NAME", value_parser = cns_recipe::upgrade::DEPLOYERS)]
    deployer: Option<String>,
    /// Output: a table with the steps (default), or the report as json or yaml
    /// (schemas/output/upgrade-check.schema.json).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// What runs now, read from a flag.
pub(crate) struct Running {
    /// Each installed component.
    pub(crate) installed: Vec<Installed>,
    /// The criteria it was made for (a recipe's, a bundle's), to resolve TO with today.
    pub(crate) criteria: Option<Criteria>,
    /// The deployer a bundle was made with.
    pub(crate) deployer: Option<String>,
}

/// What runs now, from `at`: `cluster` (what the cluster of --kubeconfig runs, of the
/// components the recipe data knows and `also`), a bundle directory (its bundle-info.yaml,
/// or its recipe.yaml), a recipe file or cm://.
pub(crate) fn running(
    flag: &str,
    at: &str,
    kube: &Documents,
    store: &Store,
    also: Option<&RecipeResult>,
) -> Result<Running> {
    if at == "cluster" {
        let mut known: Vec<String> = store
            .registry()?
            .components
            .iter()
            .map(|c| c.name.clone())
            .collect();
        known.extend(
            also.into_iter()
                .flat_map(|r| r.component_refs.iter().map(|c| c.name.clone())),
        );
        let cluster = kube.cluster().with_context(|| format!("{flag} cluster"))?;
        let found = cluster
            .installed(&known)
            .with_context(|| format!("{flag} cluster ({})", cluster.source))?;
        for n in &found.notes {
            crate::ui::warn(&format!("{flag} cluster: {n}"));
        }
        crate::ui::status(&format!(
            "{flag} cluster: found {} of the recipe data's components installed ({})",
            found.installed.len(),
            found
                .installed
                .iter()
                .map(|i| format!("{} {}", i.name, i.version))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(Running {
            installed: found.installed,
            criteria: None,
            deployer: None,
        });
    }
    let info = std::path::Path::new(at).join(BUNDLE_INFO);
    if info.is_file() {
        let text = std::fs::read_to_string(&info)
            .with_context(|| format!("{flag} `{}`", info.display()))?;
        let b = BundleInfo::parse(&info.display().to_string(), &text)
            .with_context(|| format!("{flag} `{at}`"))?;
        return Ok(Running {
            installed: b.components,
            criteria: Some(b.criteria),
            deployer: Some(b.deployer),
        });
    }
    let recipe = read(flag, at, kube)?;
    Ok(Running {
        installed: cns_recipe::upgrade::of_recipe(&recipe, store),
        criteria: Some(recipe.criteria),
        deployer: None,
    })
}

/// A recipe from a flag: a bundle directory's recipe.yaml, a file or a ConfigMap.
pub(crate) fn read(flag: &str, at: &str, kube: &Documents) -> Result<RecipeResult> {
    if at == "cluster" {
        bail!("{flag} cluster: a recipe is needed here (FILE, DIR or cm://NS/NAME)");
    }
    let loc = Location::recipe_at(at).map_err(anyhow::Error::msg)?;
    kube.read_recipe(Some(&loc))
        .with_context(|| format!("{flag} `{at}`"))
}

pub(crate) fn run(args: UpgradeArgs, data: &RecipeDataOpts, kube: &Documents) -> Result<Outcome> {
    let store = data.store()?;
    if args.from == "cluster" && args.to.is_none() {
        bail!(
            "--from cluster: a cluster does not say which criteria it was made for; pass --to (a recipe: `cnsctl recipe --service … --accelerator …`)"
        );
    }
    let to = args
        .to
        .as_deref()
        .map(|t| read("--to", t, kube))
        .transpose()?;
    let from = running("--from", &args.from, kube, &store, to.as_ref())?;
    let to = match (to, &from.criteria) {
        (Some(to), _) => to,
        (None, Some(criteria)) => cns_recipe::resolve(&store, criteria).with_context(|| {
            format!(
                "--from `{}`: its criteria ({criteria}) resolve to no recipe today; pass --to",
                args.from
            )
        })?,
        (None, None) => unreachable!("only a cluster has no criteria, and it needs --to"),
    };
    let deployer = args
        .deployer
        .or(from.deployer)
        .unwrap_or_else(|| "script".to_string());
    let report = cns_recipe::upgrade::check_installed(&from.installed, &to, &store, &deployer)?;
    match args.format {
        None => print!("{}", report.text()),
        Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&report)?),
        Some(Format::Yaml) => print!("{}", serde_norway::to_string(&report)?),
    }
    Ok(if report.safe {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}
