//! `cnsctl bundle`: raw flags → validated `BundleOptions` → plugins → atomic directory.

use crate::opts::{PluginOpts, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_bundle::options::{
    check_location, check_name, parse_selectors, parse_set, parse_tolerations,
};
use cns_bundle::{BundleOptions, Placement};
use cns_recipe::RecipeResult;
use std::path::PathBuf;
use std::time::Instant;

/// The recipe used when `--recipe` is not given (embedded in cnsctl).
pub(crate) const DEFAULT_RECIPE: &str = "examples/eks-h100-ubuntu-training.yaml";

/// Arguments of `bundle`.
#[derive(Debug, Args)]
pub(crate) struct BundleArgs {
    /// Recipe (a `recipeResult`, as written by `cnsctl recipe`): FILE or
    /// cm://NAMESPACE/NAME. Default: the embedded example recipe for EKS, H100, Ubuntu,
    /// training.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = crate::location::parse)]
    pub(crate) recipe: Option<crate::location::Location>,

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

    /// Override a value: COMPONENT:dotted.path=VALUE (bool, int, float or string);
    /// COMPONENT:enabled=false drops a component. Repeatable.
    #[arg(long = "set", value_name = "COMPONENT:PATH=VALUE")]
    pub(crate) sets: Vec<String>,

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

    /// Point every image at a mirror registry: oci://REGISTRY/PREFIX (as `cnsctl mirror
    /// --to` fills it). Each chart's image repositories in values.yaml, and the operands of
    /// operator resources among the manifests, become REGISTRY/PREFIX/<path without the
    /// original registry host>; images.lock.yaml lists the mirrored references.
    #[arg(long, value_name = "oci://REGISTRY/PREFIX")]
    pub(crate) registry_mirror: Option<String>,

    /// Look up the digest of every image tag in its registry (--plain-http and
    /// --registry-timeout apply) and record it in images.lock.yaml.
    #[arg(long)]
    pub(crate) resolve_digests: bool,

    #[command(flatten)]
    pub(crate) plugins: PluginOpts,

    #[command(flatten)]
    pub(crate) push: crate::opts::PushArgs,
}

/// `--registry-mirror oci://REGISTRY/PREFIX` → `REGISTRY/PREFIX`, checked.
pub(crate) fn parse_mirror(flag: &'static str, raw: &str) -> Result<String> {
    check_location(flag, raw)?;
    let Some(rest) = raw.strip_prefix("oci://") else {
        anyhow::bail!("{flag} `{raw}`: expected oci://REGISTRY/PREFIX");
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let path_ok = path.split('/').all(|seg| {
        seg.is_empty() && path.is_empty()
            || (!seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && seg.starts_with(|c: char| c.is_ascii_alphanumeric()))
    });
    if !host_ok || !path_ok || path.contains(':') || path.contains('@') {
        anyhow::bail!(
            "{flag} `{raw}`: expected oci://REGISTRY[:PORT]/PREFIX with a lowercase repository prefix and no tag"
        );
    }
    Ok(rest.to_string())
}

/// The recipe of `--recipe` (a file or cm://), or the embedded default.
pub(crate) fn read_recipe(
    recipe: &Option<crate::location::Location>,
    kube: &crate::location::Kube,
) -> Result<RecipeResult> {
    Ok(match recipe {
        Some(loc) => {
            let text = kube.read(loc, cns_kube::cm::Document::Recipe)?;
            RecipeResult::from_yaml(&loc.to_string(), &text)?
        }
        None => {
            let embedded = cns_recipe::Store::embedded();
            let text = embedded.text(DEFAULT_RECIPE, "cnsctl")?;
            RecipeResult::from_yaml(DEFAULT_RECIPE, text)?
        }
    })
}

impl BundleArgs {
    /// Validate the raw flags into options before any work.
    pub(crate) fn options(&self) -> Result<BundleOptions> {
        let mut deployer_options = std::collections::BTreeMap::new();
        if let Some(r) = &self.repo {
            check_location("--repo", r)?;
            deployer_options.insert("repo".to_string(), r.clone());
        }
        if let Some(r) = &self.revision {
            check_location("--revision", r)?;
            deployer_options.insert("revision".to_string(), r.clone());
        }
        if self.serial {
            deployer_options.insert("serial".to_string(), "true".to_string());
        }
        for (flag, key, value) in [
            (
                "--argocd-namespace",
                "argocd-namespace",
                &self.argocd_namespace,
            ),
            ("--argocd-project", "argocd-project", &self.argocd_project),
            (
                "--destination-name",
                "destination-name",
                &self.destination_name,
            ),
            ("--app-name", "app-name", &self.app_name),
            ("--source-secret", "source-secret", &self.source_secret),
        ] {
            if let Some(v) = value {
                check_name(flag, v)?;
                deployer_options.insert(key.to_string(), v.clone());
            }
        }
        if let Some(url) = &self.destination_server {
            check_location("--destination-server", url)?;
            if !url.starts_with("https://") {
                anyhow::bail!("--destination-server `{url}`: expected an https:// API server URL");
            }
            deployer_options.insert("destination-server".to_string(), url.clone());
        }
        if self.argocd_create_project {
            if self.argocd_project.as_deref() == Some("default") {
                anyhow::bail!(
                    "--argocd-create-project needs --argocd-project NAME other than `default`: the `default` project exists in every Argo CD and is not replaced"
                );
            }
            deployer_options.insert("argocd-create-project".to_string(), "true".to_string());
        }
        deployer_options.insert("flux-drift".to_string(), self.flux_drift.clone());
        if self.verify_key.is_some()
            && (self.deployer != "flux"
                || !self
                    .repo
                    .as_deref()
                    .is_some_and(|r| r.starts_with("oci://")))
        {
            anyhow::bail!(
                "--verify-key is for --deployer flux with --repo oci://…: Flux's OCIRepository verifies cosign signatures (a Git source or another deployer has nothing to verify them)"
            );
        }
        let mut clusters: Vec<String> = Vec::new();
        for c in &self.cluster_values {
            check_name("--cluster-values", c)?;
            if clusters.contains(c) {
                anyhow::bail!("--cluster-values `{c}` is given twice");
            }
            clusters.push(c.clone());
        }
        if !clusters.is_empty() {
            if !["argocd", "flux"].contains(&self.deployer.as_str()) {
                anyhow::bail!(
                    "--cluster-values works with --deployer argocd or flux (the script deployer installs one cluster)"
                );
            }
            if self.destination_server.is_some() || self.destination_name.is_some() {
                anyhow::bail!(
                    "--cluster-values deploys each cluster's Applications to the cluster of that name in Argo CD; drop --destination-server/--destination-name"
                );
            }
        }
        Ok(BundleOptions {
            deployer: self.deployer.clone(),
            system: Placement {
                selector: parse_selectors("--system-node-selector", &self.system_node_selector)?,
                tolerations: parse_tolerations(
                    "--system-node-toleration",
                    &self.system_node_toleration,
                )?,
            },
            accelerated: Placement {
                selector: parse_selectors(
                    "--accelerated-node-selector",
                    &self.accelerated_node_selector,
                )?,
                tolerations: parse_tolerations(
                    "--accelerated-node-toleration",
                    &self.accelerated_node_toleration,
                )?,
            },
            sets: self
                .sets
                .iter()
                .map(|s| parse_set(s))
                .collect::<Result<_, _>>()?,
            deployer_options,
            parallel: !self.serial,
            clusters,
            registry_mirror: self
                .registry_mirror
                .as_deref()
                .map(|m| parse_mirror("--registry-mirror", m))
                .transpose()?,
        })
    }
}

/// A bundle's files as the entries of an OCI artifact's archive.
pub(crate) fn oci_entries(tree: &cns_bundle::FileTree) -> Vec<cns_oci::Entry> {
    tree.files()
        .iter()
        .map(|(path, e)| cns_oci::Entry {
            path: path.clone(),
            content: e.content.clone(),
            executable: e.executable,
        })
        .collect()
}

/// Limit `opts` to the components `named` (`-b/--bundlers`) and, transitively, what they
/// depend on: the others are dropped as with COMPONENT:enabled=false. Returns the
/// dependencies added beyond `named`. An unknown name is an error listing the recipe's
/// components.
pub(crate) fn only(
    recipe: &RecipeResult,
    named: &[String],
    opts: &mut BundleOptions,
) -> Result<Vec<String>> {
    let all: Vec<&str> = recipe
        .component_refs
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let named: Vec<String> = named.iter().map(|n| n.trim().to_string()).collect();
    let mut keep: Vec<String> = Vec::new();
    let mut todo = named.clone();
    while let Some(n) = todo.pop() {
        if keep.contains(&n) {
            continue;
        }
        let Some(c) = recipe.component(&n) else {
            anyhow::bail!(
                "-b/--bundlers `{n}`: not a component of this recipe (components: {})",
                all.join(", ")
            );
        };
        todo.extend(c.dependency_refs.iter().cloned());
        keep.push(n);
    }
    for name in all.iter().filter(|a| !keep.iter().any(|k| k == *a)) {
        opts.sets.push(parse_set(&format!("{name}:enabled=false"))?);
    }
    let mut added: Vec<String> = keep.into_iter().filter(|k| !named.contains(k)).collect();
    added.sort();
    Ok(added)
}

pub(crate) fn run(
    args: BundleArgs,
    data: &RecipeDataOpts,
    kube: &crate::location::Kube,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut opts = args.options()?;
    let store = data.store()?;
    let recipe = read_recipe(&args.recipe, kube)?;
    if !args.bundlers.is_empty() {
        let added = only(&recipe, &args.bundlers, &mut opts)?;
        if !added.is_empty() {
            crate::ui::status(&format!(
                "-b/--bundlers: also bundling what they depend on: {}",
                added.join(", ")
            ));
        }
    }
    // Everything the push needs is checked before any plugin runs.
    let push = match args.output.to_str().filter(|s| s.starts_with("oci://")) {
        Some(reference) => Some(super::oci::PushPlan::prepare(reference, &args.push)?),
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
        let key = super::oci::verifying_key(path)
            .with_context(|| format!("--verify-key `{}`", path.display()))?;
        opts.deployer_options.insert(
            "sign-pubkey".to_string(),
            cns_oci::sign::verifying_key_pem(&key)?,
        );
    }
    let catalog = crate::plugins::catalog_for_bundle(&args.plugins, &recipe, &opts.deployer)?;
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
    let tree = cns_bundle::assemble_with(&recipe, &plan, rendered, &catalog, &inv)
        .context("failed to generate the bundle")?;
    if let Some(push) = push {
        let provenance = crate::provenance::for_bundle(&plan, &catalog, &opts, &args, &tree);
        push.push_bundle(&oci_entries(&tree), provenance)?;
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
