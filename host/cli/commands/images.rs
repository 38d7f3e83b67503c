//! `cnsctl images`: the container images a recipe's bundle will run (the bundle's
//! `images.lock.yaml`), as a list, JSON, the lock itself, or a Hauler or Zarf manifest.

use crate::opts::{PluginOpts, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use cns_bundle::images::Inventory;
use cns_recipe::RecipeResult;

/// Output formats of `images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImagesFormat {
    /// One reference per line, sorted, each once.
    List,
    /// The lock as JSON.
    Json,
    /// images.lock.yaml, as the bundle holds it.
    Lock,
    /// Hauler manifests (content.hauler.cattle.io/v1 Images and Charts) for `hauler store sync`.
    Hauler,
    /// A Zarf package config (zarf.yaml): one component per recipe component, with its chart and images.
    Zarf,
}

/// Which recipe, values and components an image list is for (shared by `images` and
/// `mirror`).
#[derive(Debug, Args)]
pub(crate) struct Selection {
    /// Recipe (FILE or cm://NAMESPACE/NAME). Default: the embedded example recipe.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = cns_kube::location::Location::parse)]
    pub(crate) recipe: Option<cns_kube::location::Location>,

    #[command(flatten)]
    pub(crate) sets: crate::opts::SetArgs,

    /// Only these components (with what they depend on), as in `bundle -b`.
    #[arg(
        short = 'b',
        long = "bundlers",
        value_name = "NAME,…",
        value_delimiter = ','
    )]
    pub(crate) bundlers: Vec<String>,

    #[command(flatten)]
    pub(crate) plugins: PluginOpts,
}

/// Arguments of `images`.
#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,

    /// List the images as a bundle made with --registry-mirror oci://REGISTRY/PREFIX pulls them.
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) registry_mirror: Option<String>,

    /// Look up the digest of every tag in its registry (the index digest for a
    /// multi-platform image) and list it with the tag.
    #[arg(long)]
    pub(crate) resolve_digests: bool,

    #[command(flatten)]
    pub(crate) registry: crate::opts::RegistryArgs,

    /// Output format.
    #[arg(short, long, value_enum, default_value = "list")]
    pub(crate) format: ImagesFormat,

    /// Exit 1 when the list may be incomplete (a component without image data, a part the
    /// data does not cover, a node-specific tag suffix the recipe does not determine).
    #[arg(long)]
    pub(crate) strict: bool,
}

/// Render the inventory in `format`.
pub(crate) fn render(
    format: ImagesFormat,
    recipe: &RecipeResult,
    plan: &cns_bundle::Plan,
    inv: &Inventory,
) -> String {
    match format {
        ImagesFormat::List => inv.references().iter().map(|r| format!("{r}\n")).collect(),
        ImagesFormat::Json => {
            let mut s = serde_json::to_string_pretty(&inv.to_value()).expect("json");
            s.push('\n');
            s
        }
        ImagesFormat::Lock => inv.to_yaml(),
        ImagesFormat::Hauler => cns_bundle::packages::hauler(recipe, plan, inv),
        ImagesFormat::Zarf => cns_bundle::packages::zarf(recipe, plan, inv),
    }
}

/// A recipe's plan, rendered components and image inventory.
pub(crate) struct Computed {
    pub(crate) recipe: RecipeResult,
    pub(crate) plan: cns_bundle::Plan,
    pub(crate) inv: Inventory,
}

/// Plan and render `sel`'s recipe (as `bundle` would, with `mirror` applied) and take its
/// image inventory.
pub(crate) fn compute(
    sel: &Selection,
    mirror: Option<&str>,
    data: &RecipeDataOpts,
    kube: &cns_kube::location::Documents,
) -> Result<Computed> {
    let store = data.store()?;
    let recipe = kube.read_recipe(sel.recipe.as_ref())?;
    let mut opts = cns_bundle::BundleRequest {
        sets: sel.sets.sets.clone(),
        set_strings: sel.sets.set_strings.clone(),
        set_jsons: sel.sets.set_jsons.clone(),
        set_files: sel.sets.set_files.clone(),
        registry_mirror: mirror.map(str::to_string),
        ..Default::default()
    }
    .options()?;
    if !sel.bundlers.is_empty() {
        cns_bundle::request::select(&recipe, &sel.bundlers, &mut opts)?;
    }
    let catalog = cns_plugins::catalog_for_bundle(
        &sel.plugins.options(),
        cns_plugin_artifacts::require(),
        &recipe,
        &opts.deployer,
    )?;
    let (plan, inv) = cns_bundle::images_of(&recipe, &store, &catalog, &opts)
        .context("failed to compute the images")?;
    for note in &inv.incomplete {
        crate::ui::status(&format!("warning: incomplete: {note}"));
    }
    Ok(Computed { recipe, plan, inv })
}

/// An image reference as an [`cns_oci::OciRef`] (a Docker Hub name normalised).
pub(crate) fn image_ref(
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> Result<cns_oci::OciRef> {
    let full = cns_bundle::images::normalized_reference(repository, tag, digest);
    Ok(cns_oci::OciRef::parse(&format!("oci://{full}"))?)
}

/// Look up the digest of every image that has none (each distinct tag once).
pub(crate) fn resolve_digests(
    inv: &mut Inventory,
    registry: &crate::opts::RegistryArgs,
) -> Result<()> {
    let reg = registry.registry()?;
    let resolved = inv
        .resolve_digests(|img| {
            let r = image_ref(&img.repository, img.tag.as_deref(), None)?;
            cns_oci::mirror::resolve_digest(&reg, &r).map_err(anyhow::Error::from)
        })
        .map_err(|(key, component, e)| {
            e.context(format!("--resolve-digests: image `{key}` of `{component}`"))
        })?;
    crate::ui::status(&format!("resolved {resolved} digests"));
    Ok(())
}

pub(crate) fn run(
    args: ImagesArgs,
    data: &RecipeDataOpts,
    kube: &cns_kube::location::Documents,
) -> Result<Outcome> {
    let Computed {
        recipe,
        plan,
        mut inv,
    } = compute(&args.selection, args.registry_mirror.as_deref(), data, kube)?;
    if args.resolve_digests {
        resolve_digests(&mut inv, &args.registry)?;
    }
    print!("{}", render(args.format, &recipe, &plan, &inv));
    if args.strict && !inv.incomplete.is_empty() {
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}
