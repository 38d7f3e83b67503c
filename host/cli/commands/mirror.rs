//! `cnsctl mirror`: copy every image (all platforms) and every OCI chart of a recipe to
//! another registry, so a bundle made with `--registry-mirror` installs from it.

use super::images::{Selection, compute};
use crate::opts::{OutputFormat, RecipeDataOpts, print_json};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_bundle::images::{Copy, MirrorPlan};
use cns_oci::mirror::CopyStats;
use serde::Serialize;
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

    /// Output: text, or json (schemas/output/mirror.schema.json): every copy with its
    /// digest and counts, what was not copied and why, the totals.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}

/// What `mirror --format json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MirrorReport<'a> {
    to: &'a str,
    from: Option<&'a str>,
    dry_run: bool,
    copies: Vec<Copied<'a>>,
    /// What cannot be copied, with why.
    skipped: &'a [String],
    /// Absent in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<Totals>,
}

/// One image or chart copied (or, in a dry run, to copy).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Copied<'a> {
    what: &'a str,
    from: String,
    to: String,
    /// The digest the source must hold, when the recipe pins one.
    #[serde(skip_serializing_if = "Option::is_none")]
    expect: Option<&'a str>,
    /// The manifest digest copied (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    stats: Option<Counts>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Counts {
    manifests: usize,
    blobs_copied: usize,
    bytes_copied: u64,
    blobs_skipped: usize,
}

impl From<&CopyStats> for Counts {
    fn from(s: &CopyStats) -> Self {
        Counts {
            manifests: s.manifests,
            blobs_copied: s.blobs_copied,
            bytes_copied: s.bytes_copied,
            blobs_skipped: s.blobs_skipped,
        }
    }
}

#[derive(Serialize)]
struct Totals {
    #[serde(flatten)]
    counts: Counts,
    seconds: f64,
}

pub(crate) fn run(
    args: MirrorArgs,
    data: &RecipeDataOpts,
    kube: &cns_kube::location::Documents,
) -> Result<Outcome> {
    let start = Instant::now();
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
    let reference = |c: &Copy, r: &str| {
        cns_oci::OciRef::parse(&format!("oci://{r}")).with_context(|| c.what.clone())
    };
    let jobs = copies
        .iter()
        .map(|c| Ok((c, reference(c, &c.from)?, reference(c, &c.to)?)))
        .collect::<Result<Vec<_>>>()?;
    for s in &skipped {
        crate::ui::status(&format!("warning: not copied: {s}"));
    }
    let mut report = MirrorReport {
        to: &args.to,
        from: args.from.as_deref(),
        dry_run: args.dry_run,
        copies: jobs
            .iter()
            .map(|(c, from, to)| Copied {
                what: &c.what,
                from: from.to_string(),
                to: to.to_string(),
                expect: c.expect.as_deref(),
                digest: None,
                stats: None,
            })
            .collect(),
        skipped: &skipped,
        totals: None,
    };
    if args.dry_run {
        match args.format {
            OutputFormat::Json => print_json(&report)?,
            OutputFormat::Text => {
                for (_, from, to) in &jobs {
                    println!("{from} -> {to}");
                }
            }
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
    for (i, (c, from, to)) in jobs.iter().enumerate() {
        let t = Instant::now();
        let mut stats = CopyStats::default();
        let digest = cns_oci::mirror::copy(&src, from, &dst, to, c.expect.as_deref(), &mut stats)
            .with_context(|| format!("mirror {}: {from} -> {to}", c.what))?;
        crate::ui::status(&format!(
            "[{}/{}] {} -> {to} ({digest}): {} blobs copied ({} bytes), {} already there, {:.0?}",
            i + 1,
            jobs.len(),
            c.what,
            stats.blobs_copied,
            stats.bytes_copied,
            stats.blobs_skipped,
            t.elapsed()
        ));
        total.add(&stats);
        report.copies[i].digest = Some(digest);
        report.copies[i].stats = Some(Counts::from(&stats));
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
    if args.format == OutputFormat::Json {
        report.totals = Some(Totals {
            counts: Counts::from(&total),
            seconds: secs,
        });
        print_json(&report)?;
    }
    Ok(Outcome::Success)
}
