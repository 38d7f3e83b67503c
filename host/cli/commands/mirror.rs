//! `cnsctl mirror`: copy every image (all platforms) and every chart of a recipe to another
//! registry (a classic repository's chart as an OCI chart), so a bundle made with
//! `--registry-mirror` installs from it.

use super::images::{Selection, compute};
use crate::opts::{OutputFormat, RecipeDataOpts, print_json};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_bundle::images::{Copy, MirrorPlan};
use cns_oci::mirror::{Job, Report};

/// Arguments of `mirror`.
#[derive(Debug, Args)]
pub(crate) struct MirrorArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,

    /// Target: oci://REGISTRY/PREFIX. Each image lands at REGISTRY/PREFIX/<its path without
    /// the original registry host>, with its tag, each chart (a classic repository's as an
    /// OCI chart) at REGISTRY/PREFIX/charts/<path>/<chart>:<version> (what `bundle
    /// --registry-mirror` points at).
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) to: String,

    /// Read the images and charts from this mirror of the upstream registries (same layout
    /// as --to) instead of from their own registries, e.g. a connected staging registry.
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) from: Option<String>,

    /// Talk plain HTTP to the --from registry (and to upstream registries).
    #[arg(long)]
    pub(crate) source_plain_http: bool,

    /// List what would be copied, and copy nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Also copy this artifact (a signed cnsctl bundle, say; repeatable) with its
    /// signature, attestations and referrers, to REGISTRY/PREFIX/<its repository>:<its tag>
    /// of --to. Read from its own registry (--source-plain-http applies), not from --from.
    #[arg(long = "bundle", value_name = "oci://REGISTRY/REPOSITORY:TAG")]
    pub(crate) bundles: Vec<String>,

    /// Refuse to copy an image or --bundle whose signature at the source (a Sigstore bundle
    /// referrer or cosign's `.sig` tag) does not verify with this public key (PEM, as
    /// cosign.pub); the run stops at the first (exit 1). Signatures, attestations and
    /// referrers are copied with every image and bundle either way.
    #[arg(long, value_name = "KEY")]
    pub(crate) verify_images: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub(crate) registry: crate::opts::RegistryArgs,

    /// Output: text, or json (schemas/output/mirror.schema.json): every copy with its
    /// digest and counts, what was not copied and why, the totals.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}

pub(crate) fn run(
    args: MirrorArgs,
    data: &RecipeDataOpts,
    kube: &cns_kube::location::Documents,
) -> Result<Outcome> {
    let to = cns_bundle::options::parse_mirror("--to", &args.to)?;
    let from = args
        .from
        .as_deref()
        .map(|f| cns_bundle::options::parse_mirror("--from", f))
        .transpose()?;
    let computed = compute(&args.selection, None, data, kube)?;
    let charts = computed
        .plan
        .components
        .iter()
        .map(|c| (c.input.name.as_str(), &c.input.chart));
    let MirrorPlan { copies, skipped } =
        cns_bundle::images::mirror_plan(&computed.inv, charts, &to, from.as_deref());
    let mut jobs = copies
        .iter()
        .map(|c: &Copy| match &c.helm_repository {
            Some(h) => Job::helm_repository(&c.what, &h.repository, &h.chart, &h.version, &c.to),
            None => Job::parse(&c.what, &c.from, &c.to, c.expect.clone()),
        })
        .collect::<cns_oci::Result<Vec<_>>>()?;
    for b in &args.bundles {
        jobs.push(Job::bundle(b, &to).with_context(|| format!("--bundle `{b}`"))?);
    }
    for s in &skipped {
        crate::ui::status(&format!("warning: not copied: {s}"));
    }
    let mut report = Report::plan(&format!("oci://{to}"), args.from.as_deref(), &jobs, skipped);
    if !args.dry_run {
        let src = crate::opts::RegistryArgs {
            plain_http: args.source_plain_http,
            registry_timeout: args.registry.registry_timeout,
        }
        .registry()?;
        let dst = args.registry.registry()?;
        let key = args
            .verify_images
            .as_deref()
            .map(|p| {
                cns_oci::publish::read_verifying_key(p)
                    .with_context(|| format!("--verify-images `{}`", p.display()))
            })
            .transpose()?;
        report
            .run(&src, &dst, &jobs, key.as_ref(), &|l| crate::ui::status(l))
            .map_err(|(what, e)| anyhow::Error::new(e).context(what))?;
        crate::ui::status(&report.summary());
    }
    match args.format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text if args.dry_run => {
            for j in &jobs {
                println!("{} -> {}", j.from, j.to);
            }
        }
        OutputFormat::Text => {}
    }
    Ok(Outcome::Success)
}
