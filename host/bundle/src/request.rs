//! A bundle request as a user states it (the CLI's `bundle` flags, the server's query
//! parameters and body), validated into [`BundleOptions`] and a component selection in one
//! place, so both front ends accept and refuse the same things with the same message.
//!
//! ```
//! use cns_bundle::BundleRequest;
//! let req = BundleRequest { deployer: "flux".into(), repo: Some("oci://r.example/b".into()), ..Default::default() };
//! let opts = req.options().unwrap();
//! assert_eq!(opts.deployer_options["repo"], "oci://r.example/b");
//! let bad = BundleRequest { repo: Some("https://x/y\nevil".into()), ..Default::default() };
//! assert_eq!(bad.options().unwrap_err().field(), Some("repo"));
//! ```

use crate::options::{
    check_location, check_name, parse_mirror, parse_selectors, parse_set, parse_set_as,
    parse_tolerations,
};
use crate::{BundleOptions, Error, Placement, Result};
use cns_recipe::RecipeResult;
use std::collections::BTreeMap;

/// The `--flux-drift` modes.
pub const FLUX_DRIFT_MODES: &[&str] = &["enabled", "warn", "disabled"];

/// The raw inputs of one bundle, named as the CLI's flags are (without `--`; the server's
/// query parameters have the same names). Nothing here names a file: keys and outputs stay
/// with the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequest {
    /// `deployer`: the deployer plugin's name.
    pub deployer: String,
    /// `bundlers`: only these components (and what they depend on).
    pub bundlers: Vec<String>,
    /// `set`: `COMPONENT:NAME=VALUE[,…]` overrides in Helm's `--set` syntax and typing, in
    /// order.
    pub sets: Vec<String>,
    /// `set-string`: as `sets`, every value a string.
    pub set_strings: Vec<String>,
    /// `set-json`: as `sets`, every value JSON.
    pub set_jsons: Vec<String>,
    /// `set-file`: as `sets`, every value a file's content (read by the caller's process;
    /// the server takes no such parameter).
    pub set_files: Vec<String>,
    /// `system-node-selector`: `key=value` for system pods.
    pub system_node_selector: Vec<String>,
    /// `system-node-toleration`: tolerations for system pods.
    pub system_node_toleration: Vec<String>,
    /// `accelerated-node-selector`: `key=value` for GPU pods.
    pub accelerated_node_selector: Vec<String>,
    /// `accelerated-node-toleration`: tolerations for GPU pods.
    pub accelerated_node_toleration: Vec<String>,
    /// `repo`: where the bundle will live (Git URL or `oci://`).
    pub repo: Option<String>,
    /// `revision`: the revision of `repo`.
    pub revision: Option<String>,
    /// `argocd-namespace`.
    pub argocd_namespace: Option<String>,
    /// `argocd-project`.
    pub argocd_project: Option<String>,
    /// `argocd-create-project`.
    pub argocd_create_project: bool,
    /// `destination-server`: an `https://` API server URL.
    pub destination_server: Option<String>,
    /// `destination-name`: a cluster's name in Argo CD.
    pub destination_name: Option<String>,
    /// `app-name`: prefix of every Application name.
    pub app_name: Option<String>,
    /// `source-secret`: the Flux source's Secret.
    pub source_secret: Option<String>,
    /// `cluster-values`: clusters that share the bundle.
    pub cluster_values: Vec<String>,
    /// Whether a verification key (`verify-key`) is given; the caller reads the key itself.
    pub verify_key: bool,
    /// `flux-drift`: one of [`FLUX_DRIFT_MODES`].
    pub flux_drift: String,
    /// `serial`: render one component after another (and chain Flux's dependsOn).
    pub serial: bool,
    /// `registry-mirror`: `oci://REGISTRY/PREFIX`.
    pub registry_mirror: Option<String>,
    /// `plain-http`: the bundle's OCI registry speaks plain HTTP (the Flux `OCIRepository`
    /// reading it needs `insecure: true`).
    pub plain_http: bool,
    /// `vendor-charts`: each chart archive goes into the bundle (the script deployer
    /// installs from the file); the caller fetches the archives itself
    /// ([`crate::images::Inventory::vendor`]).
    pub vendor_charts: bool,
}

impl Default for BundleRequest {
    fn default() -> Self {
        BundleRequest {
            deployer: "script".into(),
            bundlers: Vec::new(),
            sets: Vec::new(),
            set_strings: Vec::new(),
            set_jsons: Vec::new(),
            set_files: Vec::new(),
            system_node_selector: Vec::new(),
            system_node_toleration: Vec::new(),
            accelerated_node_selector: Vec::new(),
            accelerated_node_toleration: Vec::new(),
            repo: None,
            revision: None,
            argocd_namespace: None,
            argocd_project: None,
            argocd_create_project: false,
            destination_server: None,
            destination_name: None,
            app_name: None,
            source_secret: None,
            cluster_values: Vec::new(),
            verify_key: false,
            flux_drift: "enabled".into(),
            serial: false,
            registry_mirror: None,
            plain_http: false,
            vendor_charts: false,
        }
    }
}

fn refuse(field: &'static str, message: String) -> Error {
    Error::Request { field, message }
}

impl BundleRequest {
    /// Validate everything that does not need the recipe into options.
    pub fn options(&self) -> Result<BundleOptions> {
        let mut deployer_options = BTreeMap::new();
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
                return Err(refuse(
                    "destination-server",
                    format!("--destination-server `{url}`: expected an https:// API server URL"),
                ));
            }
            if self.destination_name.is_some() {
                return Err(refuse(
                    "destination-server",
                    "--destination-server and --destination-name name two destinations: give one"
                        .into(),
                ));
            }
            deployer_options.insert("destination-server".to_string(), url.clone());
        }
        if self.argocd_create_project {
            if self.argocd_project.is_none() {
                return Err(refuse(
                    "argocd-create-project",
                    "--argocd-create-project needs --argocd-project NAME".into(),
                ));
            }
            if self.argocd_project.as_deref() == Some("default") {
                return Err(refuse(
                    "argocd-create-project",
                    "--argocd-create-project needs --argocd-project NAME other than `default`: the `default` project exists in every Argo CD and is not replaced".into(),
                ));
            }
            deployer_options.insert("argocd-create-project".to_string(), "true".to_string());
        }
        if !FLUX_DRIFT_MODES.contains(&self.flux_drift.as_str()) {
            return Err(Error::InvalidFlag {
                flag: "--flux-drift",
                value: self.flux_drift.escape_debug().to_string(),
                reason: format!("expected one of {}", FLUX_DRIFT_MODES.join(", ")),
            });
        }
        deployer_options.insert("flux-drift".to_string(), self.flux_drift.clone());
        if self.plain_http {
            deployer_options.insert("plain-http".to_string(), "true".to_string());
        }
        if self.verify_key
            && (self.deployer != "flux"
                || !self
                    .repo
                    .as_deref()
                    .is_some_and(|r| r.starts_with("oci://")))
        {
            return Err(refuse(
                "verify-key",
                "--verify-key is for --deployer flux with --repo oci://…: Flux's OCIRepository verifies cosign signatures (a Git source or another deployer has nothing to verify them)".into(),
            ));
        }
        if self.vendor_charts && self.deployer != "script" {
            return Err(refuse(
                "vendor-charts",
                format!(
                    "--vendor-charts is for --deployer script, which installs each chart from its archive in the bundle; the {} deployer installs charts from a repository (for the air gap, mirror them: `cnsctl mirror` and --registry-mirror)",
                    self.deployer
                ),
            ));
        }
        let mut clusters: Vec<String> = Vec::new();
        for c in &self.cluster_values {
            check_name("--cluster-values", c)?;
            if clusters.contains(c) {
                return Err(refuse(
                    "cluster-values",
                    format!("--cluster-values `{c}` is given twice"),
                ));
            }
            clusters.push(c.clone());
        }
        if !clusters.is_empty() {
            if !["argocd", "flux"].contains(&self.deployer.as_str()) {
                return Err(refuse(
                    "cluster-values",
                    "--cluster-values works with --deployer argocd or flux (the script deployer installs one cluster)".into(),
                ));
            }
            if self.destination_server.is_some() || self.destination_name.is_some() {
                return Err(refuse(
                    "cluster-values",
                    "--cluster-values deploys each cluster's Applications to the cluster of that name in Argo CD; drop --destination-server/--destination-name".into(),
                ));
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
            sets: {
                use cns_values::strvals::Kind;
                let mut sets = Vec::new();
                for (kind, given) in [
                    (Kind::Typed, &self.sets),
                    (Kind::String, &self.set_strings),
                    (Kind::Json, &self.set_jsons),
                    (Kind::File, &self.set_files),
                ] {
                    for s in given {
                        sets.push(parse_set_as(s, kind)?);
                    }
                }
                sets
            },
            deployer_options,
            parallel: !self.serial,
            clusters,
            registry_mirror: self
                .registry_mirror
                .as_deref()
                .map(|m| parse_mirror("--registry-mirror", m))
                .transpose()?,
            upgrade_from: None,
        })
    }

    /// The options, limited to `bundlers` for `recipe` (see [`select`]); also returns the
    /// components added because the named ones depend on them.
    pub fn validate(&self, recipe: &RecipeResult) -> Result<(BundleOptions, Vec<String>)> {
        let mut opts = self.options()?;
        let added = if self.bundlers.is_empty() {
            Vec::new()
        } else {
            select(recipe, &self.bundlers, &mut opts)?
        };
        Ok((opts, added))
    }
}

/// Limit `opts` to the components `named` (`-b/--bundlers`) and, transitively, what they
/// depend on: the others are dropped as with COMPONENT:enabled=false. Returns the
/// dependencies added beyond `named`, sorted. An unknown name is an error listing the
/// recipe's components.
pub fn select(
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
            return Err(refuse(
                "bundlers",
                format!(
                    "-b/--bundlers `{n}`: not a component of this recipe (components: {})",
                    all.join(", ")
                ),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> RecipeResult {
        let store = cns_recipe::Store::embedded();
        let text = store
            .text("examples/eks-h100-ubuntu-training.yaml", "test")
            .unwrap();
        RecipeResult::from_yaml("example", text).unwrap()
    }

    #[test]
    fn defaults_are_the_cli_defaults() {
        let opts = BundleRequest::default().options().unwrap();
        assert_eq!(opts.deployer, "script");
        assert!(opts.parallel);
        assert_eq!(
            opts.deployer_options,
            BTreeMap::from([("flux-drift".to_string(), "enabled".to_string())])
        );
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases: Vec<(BundleRequest, &str, &str)> = vec![
            (
                BundleRequest {
                    repo: Some("a b".into()),
                    ..Default::default()
                },
                "repo",
                "--repo",
            ),
            (
                BundleRequest {
                    destination_server: Some("http://x".into()),
                    ..Default::default()
                },
                "destination-server",
                "expected an https://",
            ),
            (
                BundleRequest {
                    destination_server: Some("https://x".into()),
                    destination_name: Some("x".into()),
                    ..Default::default()
                },
                "destination-server",
                "give one",
            ),
            (
                BundleRequest {
                    argocd_create_project: true,
                    ..Default::default()
                },
                "argocd-create-project",
                "needs --argocd-project",
            ),
            (
                BundleRequest {
                    deployer: "flux".into(),
                    vendor_charts: true,
                    ..Default::default()
                },
                "vendor-charts",
                "the flux deployer installs charts from a repository",
            ),
            (
                BundleRequest {
                    flux_drift: "maybe".into(),
                    ..Default::default()
                },
                "flux-drift",
                "maybe",
            ),
            (
                BundleRequest {
                    verify_key: true,
                    ..Default::default()
                },
                "verify-key",
                "--verify-key is for --deployer flux",
            ),
            (
                BundleRequest {
                    deployer: "argocd".into(),
                    cluster_values: vec!["a".into(), "a".into()],
                    ..Default::default()
                },
                "cluster-values",
                "given twice",
            ),
            (
                BundleRequest {
                    cluster_values: vec!["a".into()],
                    ..Default::default()
                },
                "cluster-values",
                "works with --deployer argocd or flux",
            ),
            (
                BundleRequest {
                    sets: vec!["nocolon".into()],
                    ..Default::default()
                },
                "set",
                "--set",
            ),
            (
                BundleRequest {
                    registry_mirror: Some("https://r/x".into()),
                    ..Default::default()
                },
                "registry-mirror",
                "expected oci://REGISTRY/PREFIX",
            ),
            (
                BundleRequest {
                    accelerated_node_toleration: vec!["a=b:Sometimes".into()],
                    ..Default::default()
                },
                "accelerated-node-toleration",
                "--accelerated-node-toleration",
            ),
        ];
        for (req, field, needle) in cases {
            let e = req.options().unwrap_err();
            assert_eq!(e.field(), Some(field), "{e}");
            assert!(e.to_string().contains(needle), "{field}: {e}");
        }
    }

    #[test]
    fn selection_adds_dependencies_and_drops_the_rest() {
        let r = recipe();
        let with_deps = r
            .component_refs
            .iter()
            .find(|c| !c.dependency_refs.is_empty())
            .expect("the example has a component with dependencies");
        let req = BundleRequest {
            bundlers: vec![with_deps.name.clone()],
            ..Default::default()
        };
        let (opts, added) = req.validate(&r).unwrap();
        let mut deps = with_deps.dependency_refs.clone();
        deps.sort();
        assert!(deps.iter().all(|d| added.contains(d)), "{added:?}");
        let dropped: Vec<&str> = opts.sets.iter().map(|s| s.component.as_str()).collect();
        assert!(!dropped.contains(&with_deps.name.as_str()));
        assert_eq!(
            dropped.len() + 1 + added.len(),
            r.component_refs.len(),
            "{dropped:?} {added:?}"
        );
        let e = BundleRequest {
            bundlers: vec!["nope".into()],
            ..Default::default()
        }
        .validate(&r)
        .unwrap_err();
        assert_eq!(e.field(), Some("bundlers"));
        assert!(
            e.to_string()
                .contains("`nope`: not a component of this recipe")
        );
    }
}
