//! `cnsctl bundle`: raw flags → validated `BundleOptions` → plugins → atomic directory.

use crate::opts::{PluginOpts, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_bundle::BundleRequest;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `bundle`.
#[derive(Debug, Args)]
pub(crate) struct BundleArgs {
    /// Recipe (a `recipeResult`, as written by `cnsctl recipe`): FILE or
    /// cm://NAMESPACE/NAME. Default: the embedded example recipe for EKS, H100, Ubuntu,
    /// training.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = cns_kube::location::Location::parse)]
    pub(crate) recipe: Option<cns_kube::location::Location>,

    /// Output directory (must not exist or be empty, see --force; written atomically), or
    /// oci://REGISTRY/REPOSITORY:TAG to push the bundle as an OCI artifact instead.
    #[arg(short, long, value_name = "DIR|REF", default_value = "bundle")]
    pub(crate) output: PathBuf,

    /// Replace a non-empty output directory.
    #[arg(long)]
    pub(crate) force: bool,

    /// Deployer: script (shell scripts), argocd (Applications + app-of-apps), flux
    /// (HelmReleases + sources + kustomization), or another deployer plugin's name.
    #[arg(short, long, value_name = "NAME", default_value = "script")]
    pub(crate) deployer: String,

    /// Bundle only these components (comma-separated or repeated), with the components they
    /// depend on; the others are left out as with COMPONENT:enabled=false.
    #[arg(
        short = 'b',
        long = "bundlers",
        value_name = "NAME,…",
        value_delimiter = ','
    )]
    pub(crate) bundlers: Vec<String>,

    #[command(flatten)]
    pub(crate) sets: crate::opts::SetArgs,

    /// Node selector for system pods (operators, webhooks): key=value. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) system_node_selector: Vec<String>,

    /// Toleration for system pods: key=value:Effect, key:Effect, key=value or *. Repeatable.
    #[arg(long, value_name = "TOLERATION")]
    pub(crate) system_node_toleration: Vec<String>,

    /// Node selector for GPU pods: key=value. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) accelerated_node_selector: Vec<String>,

    /// Toleration for GPU pods: key=value:Effect, key:Effect, key=value or *. Repeatable.
    #[arg(long, value_name = "TOLERATION")]
    pub(crate) accelerated_node_toleration: Vec<String>,

    /// Where the bundle will live, for argocd and flux: a Git URL, or oci://REGISTRY/REPO[:TAG]
    /// for an OCI artifact. Without it the manifests carry a clearly marked placeholder.
    #[arg(long, value_name = "URL")]
    pub(crate) repo: Option<String>,

    /// Revision of --repo: Git branch (default main) or OCI tag/digest (default latest).
    #[arg(long, value_name = "REV")]
    pub(crate) revision: Option<String>,

    /// argocd: namespace Argo CD runs in (Applications, AppProject, repository Secrets), e.g.
    /// openshift-gitops.
    #[arg(long, value_name = "NS")]
    pub(crate) argocd_namespace: Option<String>,

    /// argocd: AppProject of every Application (default: default).
    #[arg(long, value_name = "NAME")]
    pub(crate) argocd_project: Option<String>,

    /// argocd: also write argocd/appproject.yaml, an AppProject limited to the bundle's
    /// repositories and namespaces (needs --argocd-project).
    #[arg(long, requires = "argocd_project")]
    pub(crate) argocd_create_project: bool,

    /// argocd: deploy the components to the cluster with this API server URL (default: the
    /// cluster Argo CD runs in).
    #[arg(long, value_name = "URL", conflicts_with = "destination_name")]
    pub(crate) destination_server: Option<String>,

    /// argocd: deploy the components to the cluster registered in Argo CD under NAME.
    #[arg(long, value_name = "NAME")]
    pub(crate) destination_name: Option<String>,

    /// argocd: prefix every Application name (and the root one) with PREFIX-, so two
    /// bundles can share one Argo CD.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) app_name: Option<String>,

    /// flux: Secret (in flux-system) with credentials for the bundle's Git repository or
    /// registry; set as the source's secretRef.
    #[arg(long, value_name = "NAME")]
    pub(crate) source_secret: Option<String>,

    /// argocd/flux: one bundle for several clusters (repeatable NAME, a DNS label): the
    /// cluster-specific values (the scheduling flags, the GPU driver version) leave the shared
    /// values.yaml files for clusters/NAME/, which Argo CD reads as an extra value file (one
    /// set of Applications per cluster, destination = the cluster's name in Argo CD) and Flux
    /// through valuesFrom a ConfigMap applied on each cluster.
    #[arg(long, value_name = "NAME")]
    pub(crate) cluster_values: Vec<String>,

    /// flux: the cosign public key (cosign.pub) the bundle's OCIRepository verifies its
    /// signature with, for a bundle signed when it is pushed later (`cnsctl push --sign-key`).
    /// With --sign-key and --output oci://…, the signing key's public half is used instead.
    #[arg(long, value_name = "PUBKEY", conflicts_with = "sign_key")]
    pub(crate) verify_key: Option<PathBuf>,

    /// flux: driftDetection mode of every HelmRelease.
    #[arg(long, value_name = "MODE", default_value = "enabled", value_parser = ["enabled", "warn", "disabled"])]
    pub(crate) flux_drift: String,

    /// Render components one after another instead of in parallel; with flux, also chain
    /// each HelmRelease's dependsOn to the previous component in deployment order.
    #[arg(long)]
    pub(crate) serial: bool,

    /// Point every image and chart at a mirror registry: oci://REGISTRY/PREFIX (as `cnsctl
    /// mirror --to` fills it). Each chart's image repositories in values.yaml, and the
    /// operands of operator resources among the manifests, become REGISTRY/PREFIX/<path
    /// without the original registry host>; each chart is installed from
    /// oci://REGISTRY/PREFIX/charts/<path>; images.lock.yaml lists the mirrored references.
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) registry_mirror: Option<String>,

    /// Look up the digest of every image tag in its registry (--plain-http and
    /// --registry-timeout apply) and record it in images.lock.yaml.
    #[arg(long)]
    pub(crate) resolve_digests: bool,

    /// Look up each chart's digest at its source (a classic repository's index.yaml, an OCI
    /// registry's chart manifest) and record it in the SBOM and the SLSA provenance.
    #[arg(long)]
    pub(crate) resolve_chart_digests: bool,

    /// Put each chart's archive in the bundle (<component>/chart/<chart>-<version>.tgz, in
    /// checksums.txt), fetched from its source and checked against the digest the source
    /// lists: deploy.sh then installs without reaching a chart repository. --deployer
    /// script only (Argo CD and Flux install from a repository: mirror the charts instead).
    #[arg(long)]
    pub(crate) vendor_charts: bool,

    /// What the cluster runs now (a recipe FILE or cm://NS/NAME, a bundle DIR, or `cluster`
    /// through --kubeconfig): the move to this bundle is judged as `cnsctl upgrade-check`
    /// does, the bundle gets UPGRADING.md (the steps for its deployer, in deployment order),
    /// and a move a record blocks is refused.
    #[arg(long, value_name = "FILE|DIR|cm://NS/NAME|cluster")]
    pub(crate) upgrade_from: Option<String>,

    /// With --upgrade-from: bundle even where a transition record says `blocked`
    /// (UPGRADING.md still says why).
    #[arg(long, requires = "upgrade_from")]
    pub(crate) allow_blocked: bool,

    #[command(flatten)]
    pub(crate) plugins: PluginOpts,

    #[command(flatten)]
    pub(crate) push: crate::opts::PushArgs,
}

impl BundleArgs {
    /// The flags as a bundle request (validated by `cns_bundle`, as the server's are).
    pub(crate) fn request(&self) -> BundleRequest {
        BundleRequest {
            deployer: self.deployer.clone(),
            bundlers: self.bundlers.clone(),
            sets: self.sets.sets.clone(),
            set_strings: self.sets.set_strings.clone(),
            set_jsons: self.sets.set_jsons.clone(),
            set_files: self.sets.set_files.clone(),
            system_node_selector: self.system_node_selector.clone(),
            system_node_toleration: self.system_node_toleration.clone(),
            accelerated_node_selector: self.accelerated_node_selector.clone(),
            accelerated_node_toleration: self.accelerated_node_toleration.clone(),
            repo: self.repo.clone(),
            revision: self.revision.clone(),
            argocd_namespace: self.argocd_namespace.clone(),
            argocd_project: self.argocd_project.clone(),
            argocd_create_project: self.argocd_create_project,
            destination_server: self.destination_server.clone(),
            destination_name: self.destination_name.clone(),
            app_name: self.app_name.clone(),
            source_secret: self.source_secret.clone(),
            cluster_values: self.cluster_values.clone(),
            verify_key: self.verify_key.is_some(),
            flux_drift: self.flux_drift.clone(),
            serial: self.serial,
            registry_mirror: self.registry_mirror.clone(),
            plain_http: self.push.registry.plain_http,
            vendor_charts: self.vendor_charts,
        }
    }
}

pub(crate) fn run(
    args: BundleArgs,
    data: &RecipeDataOpts,
    kube: &cns_kube::location::Documents,
) -> Result<Outcome> {
    let start = Instant::now();
    let request = args.request();
    let mut opts = request.options()?;
    let store = data.store()?;
    let recipe = kube.read_recipe(args.recipe.as_ref())?;
    if !args.bundlers.is_empty() {
        let added = cns_bundle::request::select(&recipe, &args.bundlers, &mut opts)?;
        if !added.is_empty() {
            crate::ui::status(&format!(
                "-b/--bundlers: also bundling what they depend on: {}",
                added.join(", ")
            ));
        }
    }
    if let Some(at) = &args.upgrade_from {
        let running = super::upgrade::running("--upgrade-from", at, kube, &store, Some(&recipe))?;
        opts.upgrade_from = Some(cns_bundle::options::UpgradeFrom {
            label: at.clone(),
            installed: running.installed,
            allow_blocked: args.allow_blocked,
        });
    }
    // Everything the push needs is checked before any plugin runs.
    let push = match args.output.to_str().filter(|s| s.starts_with("oci://")) {
        Some(reference) => Some(super::oci::prepare_push(reference, &args.push)?),
        None => {
            if args.push.sign_key.is_some() || args.push.digest_file.is_some() {
                anyhow::bail!("--sign-key and --digest-file need --output oci://…");
            }
            None
        }
    };
    // Deployers that can verify what they deploy (flux's OCIRepository) get the public key.
    if let Some(pem) = push
        .as_ref()
        .map(|p| p.public_key_pem())
        .transpose()?
        .flatten()
    {
        opts.deployer_options.insert("sign-pubkey".to_string(), pem);
    }
    if let Some(path) = &args.verify_key {
        let key = cns_oci::publish::read_verifying_key(path)
            .with_context(|| format!("--verify-key `{}`", path.display()))?;
        opts.deployer_options.insert(
            "sign-pubkey".to_string(),
            cns_oci::sign::verifying_key_pem(&key)?,
        );
    }
    let catalog = cns_plugins::catalog_for_bundle(
        &args.plugins.options(),
        cns_plugin_artifacts::require(),
        &recipe,
        &opts.deployer,
    )?;
    let plan = cns_bundle::plan(&recipe, &store, &catalog, &opts)
        .context("failed to generate the bundle")?;
    for w in &plan.warnings {
        crate::ui::status(&format!("warning: {w}"));
    }
    let rendered = cns_bundle::render(&plan, &catalog).context("failed to generate the bundle")?;
    let mut inv = cns_bundle::inventory(&recipe, &plan, &rendered);
    for note in &inv.incomplete {
        crate::ui::status(&format!(
            "warning: images.lock.yaml may be incomplete: {note}"
        ));
    }
    if args.resolve_digests {
        super::images::resolve_digests(&mut inv, &args.push.registry)?;
    }
    if args.resolve_chart_digests {
        resolve_chart_digests(&plan, &mut inv, &args.push.registry)?;
    }
    if args.vendor_charts {
        vendor_charts(&plan, &mut inv, &args.push.registry)?;
    }
    let tree = cns_bundle::assemble(&recipe, &plan, rendered, &catalog, &inv)
        .context("failed to generate the bundle")?;
    if let Some(push) = push {
        let provenance = cns_bundle::provenance::for_bundle(
            &plan,
            &catalog,
            &opts,
            &request,
            args.resolve_digests,
            &inv.charts,
            &tree,
        );
        super::oci::push_bundle(
            push,
            &args.push.registry,
            &tree.to_files(),
            &provenance,
            crate::opts::OutputFormat::Text,
        )?;
        return Ok(Outcome::Success);
    }
    // The process ends next: unmapping every plugin's code and the instance pool one by
    // one would cost a warm run ~3 % of its time for nothing.
    std::mem::forget(catalog);
    let report = tree.write_to(&args.output, args.force)?;
    crate::ui::stale_removed(&report);
    crate::ui::status(&if report.unchanged {
        format!(
            "{} already held these {} files ({} bytes) with deployer `{}`: left as it was ({:.0?})",
            args.output.display(),
            tree.files().len(),
            tree.size(),
            opts.deployer,
            start.elapsed()
        )
    } else {
        format!(
            "wrote {} files ({} bytes) to {} with deployer `{}` in {:.0?}",
            tree.files().len(),
            tree.size(),
            args.output.display(),
            opts.deployer,
            start.elapsed()
        )
    });
    Ok(Outcome::Success)
}

/// Look up each chart's digest at its source (`--resolve-chart-digests`): a classic repository's
/// `index.yaml`, an OCI registry's manifest.
fn resolve_chart_digests(
    plan: &cns_bundle::Plan,
    inv: &mut cns_bundle::images::Inventory,
    registry: &crate::opts::RegistryArgs,
) -> Result<()> {
    let reg = registry.registry()?;
    for c in plan.components.iter().map(|c| &c.input) {
        let chart = &c.chart;
        let d = cns_oci::charts::resolve(&reg, &chart.repository, &chart.chart, &chart.version)
            .with_context(|| {
                format!(
                    "--resolve-chart-digests: chart {} {} of `{}`",
                    chart.chart, chart.version, c.name
                )
            })?;
        inv.charts.insert(
            c.name.clone(),
            cns_bundle::images::ResolvedChart {
                digest: d.digest,
                of: d.of.as_str().to_string(),
                vendored: false,
            },
        );
    }
    crate::ui::status(&format!("resolved {} chart digests", inv.charts.len()));
    Ok(())
}

/// Fetch each chart's archive from its source, digest checked, into the bundle
/// (`--vendor-charts`).
fn vendor_charts(
    plan: &cns_bundle::Plan,
    inv: &mut cns_bundle::images::Inventory,
    registry: &crate::opts::RegistryArgs,
) -> Result<()> {
    let reg = registry.registry()?;
    let mut bytes = 0;
    for c in plan.components.iter().map(|c| &c.input) {
        let chart = &c.chart;
        let what = || {
            format!(
                "--vendor-charts: chart {} {} of `{}`",
                chart.chart, chart.version, c.name
            )
        };
        let got = cns_oci::charts::fetch(&reg, &chart.repository, &chart.chart, &chart.version)
            .with_context(what)?;
        bytes += got.archive.len();
        inv.vendor(&c.name, &chart.chart, &chart.version, got.archive)
            .map_err(anyhow::Error::msg)
            .with_context(what)?;
    }
    crate::ui::status(&format!(
        "vendored {} chart archives ({bytes} bytes)",
        inv.vendored.len()
    ));
    Ok(())
}
