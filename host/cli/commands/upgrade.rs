//! `cnsctl upgrade-check`: whether a cluster can move from what it runs (FROM) to a recipe
//! (TO), component by component; the judgement is `cns_recipe::upgrade`'s.

use crate::opts::{Format, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_kube::location::{Documents, Location};
use cns_recipe::RecipeResult;

/// Arguments of `upgrade-check`.
#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// What runs now: a recipe (FILE or cm://NAMESPACE/NAME, the predecessor's format
    /// included) or a bundle directory (its recipe.yaml).
    #[arg(long, value_name = "FILE|DIR|cm://NS/NAME")]
    from: String,
    /// The recipe to move to (FILE, DIR or cm://NS/NAME). Default: FROM's criteria resolved
    /// with this cnsctl's recipe data.
    #[arg(long, value_name = "FILE|DIR|cm://NS/NAME")]
    to: Option<String>,
    /// The deployer whose steps to list.
    #[arg(short, long, value_name = "NAME", default_value = "script", value_parser = cns_recipe::upgrade::DEPLOYERS)]
    deployer: String,
    /// Output: a table with the steps (default), or the report as json or yaml
    /// (schemas/output/upgrade-check.schema.json).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// A recipe from a flag: a bundle directory's recipe.yaml, a file or a ConfigMap.
pub(crate) fn read(flag: &str, at: &str, kube: &Documents) -> Result<RecipeResult> {
    if at == "cluster" {
        bail!(
            "{flag} cluster: reading what a cluster runs (Helm release Secrets, Argo CD Applications, Flux HelmReleases) is not implemented yet; pass the recipe or the bundle directory it was installed from"
        );
    }
    let loc = Location::recipe_at(at).map_err(anyhow::Error::msg)?;
    kube.read_recipe(Some(&loc))
        .with_context(|| format!("{flag} `{at}`"))
}

pub(crate) fn run(args: UpgradeArgs, data: &RecipeDataOpts, kube: &Documents) -> Result<Outcome> {
    let store = data.store()?;
    let from = read("--from", &args.from, kube)?;
    let to = match &args.to {
        Some(t) => read("--to", t, kube)?,
        None => cns_recipe::resolve(&store, &from.criteria).with_context(|| {
            format!(
                "--from `{}`: its criteria ({}) resolve to no recipe today; pass --to",
                args.from, from.criteria
            )
        })?,
    };
    let report = cns_recipe::upgrade::check(&from, &to, &store, &args.deployer)?;
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
