//! `cnsctl mirror`: copy every image (all platforms) and every OCI chart of a recipe to
//! another registry, so a bundle made with `--registry-mirror` installs from it.

use super::images::{Selection, compute, image_ref};
use crate::opts::RecipeDataOpts;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_oci::mirror::CopyStats;
use std::time::Instant;

/// Arguments of `mirror`.
#[derive(Debug, Args)]
pub(crate) struct MirrorArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,

    /// Target: oci://REGISTRY/PREFIX. Each image lands at REGISTRY/PREFIX/<its path without
    /// the original registry host>, with its tag (what `bundle --registry-mirror` points at).
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) to: String,

    /// Read the images from this mirror of the upstream registries (same layout as --to)
    /// instead of from each image's own registry, e.g. a connected staging registry.
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) from: Option<String>,

    /// Talk plain HTTP to the --from registry (and to upstream registries).
    #[arg(long)]
    pub(crate) source_plain_http: bool,

    /// List what would be copied, and copy nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    #[command(flatten)]
    pub(crate) registry: crate::opts::RegistryArgs,
}

/// One thing to copy: source and target references, the pinned digest, and what it is.
struct Job {
    what: String,
    from: cns_oci::OciRef,
    to: cns_oci::OciRef,
    expect: Option<String>,
}

/// `repository` with its registry host replaced by `mirror` (REGISTRY/PREFIX).
fn under(mirror: &str, repository: &str) -> String {
    cns_bundle::images::mirrored(repository, mirror)
}

pub(crate) fn run(
    args: MirrorArgs,
    data: &RecipeDataOpts,
    kube: &crate::location::Kube,
) -> Result<Outcome> {
    let start = Instant::now();
    let to = cns_bundle::options::parse_mirror("--to", &args.to)?;
    let from = args
        .from
        .as_deref()
        .map(|f| cns_bundle::options::parse_mirror("--from", f))
        .transpose()?;
    let computed = compute(&args.selection, None, data, kube)?;
    let mut jobs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut skipped = Vec::new();
    for img in &computed.inv.images {
        if let Some(s) = &img.unresolved_suffix {
            skipped.push(format!(
                "{} ({}): the operator appends `{s}` per node and the recipe does not say which",
                img.reference(),
                img.component
            ));
            continue;
        }
        if !seen.insert(img.reference()) {
            continue;
        }
        let src_repo = match &from {
            Some(f) => under(f, &img.repository),
            None => img.repository.clone(),
        };
        let what = format!("image {}", img.reference());
        // Fetched at the tag (or the digest when there is no tag); a pinned digest must be
        // what the source holds there, or the copy is refused.
        let source = image_ref(
            &src_repo,
            img.tag.as_deref(),
            if img.tag.is_none() {
                img.digest.as_deref()
            } else {
                None
            },
        )
        .with_context(|| what.clone())?;
        let target_tag = img.tag.as_deref();
        let target = image_ref(
            &under(&to, &img.repository),
            target_tag,
            if target_tag.is_none() {
                img.digest.as_deref()
            } else {
                None
            },
        )
        .with_context(|| what.clone())?;
        jobs.push(Job {
            what,
            from: source,
            to: target,
            expect: img.digest.clone(),
        });
    }
    for c in &computed.plan.components {
        let chart = &c.input.chart;
        let Some(repo) = chart.repository.strip_prefix("oci://") else {
            skipped.push(format!(
                "chart {} {} of `{}`: a classic Helm repository ({}), not an OCI registry; `helm pull` it and `helm push` it to oci://{to}",
                chart.chart, chart.version, c.input.name, chart.repository
            ));
            continue;
        };
        let repository = format!("{}/{}", repo.trim_end_matches('/'), chart.chart);
        let src_repo = match &from {
            Some(f) => under(f, &repository),
            None => repository.clone(),
        };
        let what = format!("chart {repository}:{}", chart.version);
        jobs.push(Job {
            from: image_ref(&src_repo, Some(&chart.version), None).with_context(|| what.clone())?,
            to: image_ref(&under(&to, &repository), Some(&chart.version), None)
                .with_context(|| what.clone())?,
            expect: None,
            what,
        });
    }
    for s in &skipped {
        crate::ui::status(&format!("warning: not copied: {s}"));
    }
    if args.dry_run {
        for j in &jobs {
            println!("{} -> {}", j.from, j.to);
        }
        return Ok(Outcome::Success);
    }
    let src = crate::opts::RegistryArgs {
        plain_http: args.source_plain_http,
        registry_timeout: args.registry.registry_timeout,
    }
    .registry()?;
    let dst = args.registry.registry()?;
    let mut total = CopyStats::default();
    for (i, j) in jobs.iter().enumerate() {
        let t = Instant::now();
        let mut stats = CopyStats::default();
        let digest =
            cns_oci::mirror::copy(&src, &j.from, &dst, &j.to, j.expect.as_deref(), &mut stats)
                .with_context(|| format!("mirror {}: {} -> {}", j.what, j.from, j.to))?;
        crate::ui::status(&format!(
            "[{}/{}] {} -> {} ({digest}): {} blobs copied ({} bytes), {} already there, {:.0?}",
            i + 1,
            jobs.len(),
            j.what,
            j.to,
            stats.blobs_copied,
            stats.bytes_copied,
            stats.blobs_skipped,
            t.elapsed()
        ));
        total.add(&stats);
    }
    let secs = start.elapsed().as_secs_f64();
    crate::ui::status(&format!(
        "mirrored {} images and charts to oci://{to}: {} manifests, {} blobs copied ({} bytes, {:.1} MB/s), {} blobs already there, in {:.1} s",
        jobs.len(),
        total.manifests,
        total.blobs_copied,
        total.bytes_copied,
        total.bytes_copied as f64 / 1e6 / secs.max(1e-9),
        total.blobs_skipped,
        secs
    ));
    Ok(Outcome::Success)
}
