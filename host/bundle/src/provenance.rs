//! The SLSA v1 provenance of a pushed bundle (signed and attached by `cns_oci::attest`):
//! what made it (cnsctl and each plugin, with its component's sha256), from what (the
//! recipe's digest and criteria, the flags that shaped it), and what came out (the digest of
//! `checksums.txt`, which covers every file). No timestamps: the same inputs give the same
//! statement.
//!
//! The predicate is typed ([`Provenance`], SLSA's `buildDefinition`/`runDetails` with
//! in-toto `ResourceDescriptor`s); every struct declares its fields in the sorted order of
//! their JSON names, so serialising the struct and serialising it through a
//! `serde_json::Value` (what `cns_oci::attest` signs) give the same bytes.

use crate::{BundleOptions, BundleRequest, FileTree, Plan};
use cns_runtime::{Catalog, Origin, PluginKind};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// `buildType` of a bundle made by `cnsctl bundle`.
pub const BUILD_TYPE_BUNDLE: &str = "urn:cnsctl:build-type:bundle:v1";
/// `buildType` of a directory pushed by `cnsctl push` (made earlier, by whatever made it).
pub const BUILD_TYPE_PUSH: &str = "urn:cnsctl:build-type:push-directory:v1";

/// An SLSA provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was built, how and from what.
    pub build_definition: BuildDefinition,
    /// Who built it and what else came out.
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// [`BUILD_TYPE_BUNDLE`] or [`BUILD_TYPE_PUSH`].
    pub build_type: String,
    /// The user's inputs.
    pub external_parameters: ExternalParameters,
    /// What cnsctl resolved from them (bundles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<InternalParameters>,
    /// Plugins and charts the bundle was made with.
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `externalParameters`: a bundle's flags, or only the recipe of a pushed directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ExternalParameters {
    /// `cnsctl bundle`.
    Bundle(Box<BundleParameters>),
    /// `cnsctl push DIR`.
    Directory {
        /// The directory's `recipe.yaml`.
        recipe: RecipeDigest,
    },
}

/// The flags of `cnsctl bundle` that shaped the bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleParameters {
    /// `--accelerated-node-selector`, as given.
    pub accelerated_node_selector: Vec<String>,
    /// `--accelerated-node-toleration`, as given.
    pub accelerated_node_toleration: Vec<String>,
    /// `-b/--bundlers`, as given.
    pub bundlers: Vec<String>,
    /// `--cluster-values`.
    pub cluster_values: Vec<String>,
    /// The deployer.
    pub deployer: String,
    /// The deployer's options, sorted by key.
    pub deployer_options: BTreeMap<String, String>,
    /// The recipe's digest.
    pub recipe: RecipeDigest,
    /// `--registry-mirror` (`null` without one).
    pub registry_mirror: Option<String>,
    /// `--resolve-chart-digests` (absent when not given).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resolve_chart_digests: bool,
    /// `--resolve-digests`.
    pub resolve_digests: bool,
    /// `--set`, as given.
    pub set: Vec<String>,
    /// `--set-file`, as given (the files' content is in the bundle's values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_file: Vec<String>,
    /// `--set-json`, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_json: Vec<String>,
    /// `--set-string`, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_string: Vec<String>,
    /// `--system-node-selector`, as given.
    pub system_node_selector: Vec<String>,
    /// `--system-node-toleration`, as given.
    pub system_node_toleration: Vec<String>,
    /// `--vendor-charts` (absent when not given).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vendor_charts: bool,
}

/// `{digest: {sha256}}` of the recipe, `digest: null` when the bundle has no `recipe.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecipeDigest {
    /// The digest.
    pub digest: Option<DigestSet>,
}

/// An in-toto `DigestSet` with the one algorithm cnsctl records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestSet {
    /// Hex sha256.
    pub sha256: String,
}

/// SLSA `internalParameters` of a bundle: each component as resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalParameters {
    /// In deployment order.
    pub components: Vec<ComponentParameters>,
}

/// One resolved component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentParameters {
    /// Its chart.
    pub chart: ChartParameters,
    /// The component.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The bundler plugin that rendered it.
    pub plugin: String,
}

/// A component's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartParameters {
    /// Chart name.
    pub name: String,
    /// Chart repository.
    pub repository: String,
    /// Chart version.
    pub version: String,
}

/// An in-toto `ResourceDescriptor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDescriptor {
    /// Extra facts (versions, the component, the images a lock lists), sorted by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, Value>>,
    /// Its digest, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSet>,
    /// `bundler/NAME`, `deployer/NAME`, `chart/NAME`, or a file name.
    pub name: String,
    /// Where it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// SLSA `runDetails`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetails {
    /// cnsctl and what it is built from.
    pub builder: Builder,
    /// `checksums.txt` and `images.lock.yaml`.
    pub byproducts: Vec<ResourceDescriptor>,
}

/// SLSA `builder`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Builder {
    /// `urn:cnsctl:builder:VERSION`.
    pub id: String,
    /// The versions that make up cnsctl's behaviour.
    pub version: BuilderVersion,
}

/// The versions of a [`Builder`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderVersion {
    /// cnsctl.
    pub cnsctl: String,
    /// The embedded recipe data.
    pub recipe_data: String,
    /// wasmtime.
    pub wasmtime: String,
    /// The WIT package.
    pub wit: String,
}

impl Provenance {
    /// The predicate as the JSON tree `cns_oci::attest` signs.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a provenance always serialises")
    }
}

fn sha256(bytes: &[u8]) -> DigestSet {
    DigestSet {
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

fn annotations<const N: usize>(pairs: [(&str, Value); N]) -> Option<BTreeMap<String, Value>> {
    Some(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn builder() -> Builder {
    Builder {
        id: format!("urn:cnsctl:builder:{}", env!("CARGO_PKG_VERSION")),
        version: BuilderVersion {
            cnsctl: env!("CARGO_PKG_VERSION").into(),
            recipe_data: cns_recipe::resolve::DATA_VERSION.into(),
            wasmtime: cns_runtime::WASMTIME_VERSION.into(),
            wit: cns_runtime::WIT_VERSION.into(),
        },
    }
}

/// The bundle's own files as the provenance names them: the recipe's digest, and
/// `checksums.txt` and `images.lock.yaml` (with the image references it lists) as byproducts.
fn outputs(get: impl Fn(&str) -> Option<Vec<u8>>) -> (RecipeDigest, Vec<ResourceDescriptor>) {
    let recipe = RecipeDigest {
        digest: get("recipe.yaml").map(|r| sha256(&r)),
    };
    let mut byproducts = Vec::new();
    if let Some(c) = get("checksums.txt") {
        byproducts.push(ResourceDescriptor {
            annotations: None,
            digest: Some(sha256(&c)),
            name: "checksums.txt".into(),
            uri: None,
        });
    }
    if let Some(lock) = get(crate::images::LOCK_FILE) {
        let images: Vec<Value> = serde_norway::from_slice::<Value>(&lock)
            .ok()
            .and_then(|v| v.get("images").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.get("image").cloned())
            .collect();
        byproducts.push(ResourceDescriptor {
            annotations: annotations([("images", Value::Array(images))]),
            digest: Some(sha256(&lock)),
            name: crate::images::LOCK_FILE.into(),
            uri: None,
        });
    }
    (recipe, byproducts)
}

/// A plugin as a resolved dependency.
fn dependency(p: &cns_runtime::Plugin) -> ResourceDescriptor {
    let uri = match &p.origin {
        Origin::Builtin => format!("urn:cnsctl:builtin-plugin:{}", p.name),
        Origin::File(path) => format!("file:{}", path.display()),
        Origin::Memory(label) => label.clone(),
    };
    ResourceDescriptor {
        annotations: annotations([
            ("version", p.version.clone().into()),
            ("wit", p.wit_version.clone().into()),
        ]),
        digest: Some(DigestSet {
            sha256: p.sha256.clone(),
        }),
        name: format!("{}/{}", p.kind.as_str(), p.name),
        uri: Some(uri),
    }
}

/// The provenance of a bundle made by `cnsctl bundle` from `plan` (`request` as given,
/// `opts` as validated; `resolve_digests`: whether image digests were looked up; `charts`:
/// the chart digests `--resolve-chart-digests` found, by component).
pub fn for_bundle(
    plan: &Plan,
    catalog: &Catalog,
    opts: &BundleOptions,
    request: &BundleRequest,
    resolve_digests: bool,
    charts: &BTreeMap<String, crate::images::ResolvedChart>,
    tree: &FileTree,
) -> Provenance {
    let mut deps = Vec::new();
    let mut seen: Vec<(PluginKind, String)> = Vec::new();
    for c in &plan.components {
        if !seen.contains(&(PluginKind::Bundler, c.plugin.clone())) {
            seen.push((PluginKind::Bundler, c.plugin.clone()));
            if let Some(p) = catalog.get(PluginKind::Bundler, &c.plugin) {
                deps.push(dependency(p));
            }
        }
    }
    if let Some(p) = catalog.deployer(&opts.deployer) {
        deps.push(dependency(p));
    }
    // The charts the bundle installs: by version, and by digest where it was resolved (of
    // the archive or the OCI manifest, said).
    for c in &plan.components {
        let resolved = charts.get(&c.input.name);
        let mut notes = vec![
            ("component", c.input.name.clone().into()),
            ("version", c.input.chart.version.clone().into()),
        ];
        if let Some(r) = resolved {
            notes.push(("digestOf", r.of.clone().into()));
        }
        deps.push(ResourceDescriptor {
            annotations: Some(notes.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            digest: resolved.and_then(|r| {
                r.digest.strip_prefix("sha256:").map(|hex| DigestSet {
                    sha256: hex.to_string(),
                })
            }),
            name: format!("chart/{}", c.input.chart.chart),
            uri: Some(c.input.chart.repository.clone()),
        });
    }
    let components = plan
        .components
        .iter()
        .map(|c| ComponentParameters {
            chart: ChartParameters {
                name: c.input.chart.chart.clone(),
                repository: c.input.chart.repository.clone(),
                version: c.input.chart.version.clone(),
            },
            name: c.input.name.clone(),
            namespace: c.input.namespace.clone(),
            plugin: c.plugin.clone(),
        })
        .collect();
    let (recipe, byproducts) = outputs(|p| tree.get(p).map(<[u8]>::to_vec));
    Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE_BUNDLE.into(),
            external_parameters: ExternalParameters::Bundle(Box::new(BundleParameters {
                accelerated_node_selector: request.accelerated_node_selector.clone(),
                accelerated_node_toleration: request.accelerated_node_toleration.clone(),
                bundlers: request.bundlers.clone(),
                cluster_values: opts.clusters.clone(),
                deployer: opts.deployer.clone(),
                deployer_options: opts.deployer_options.clone(),
                recipe,
                registry_mirror: opts.registry_mirror.clone(),
                resolve_chart_digests: charts.values().any(|c| !c.vendored),
                resolve_digests,
                set: request.sets.clone(),
                set_file: request.set_files.clone(),
                set_json: request.set_jsons.clone(),
                set_string: request.set_strings.clone(),
                system_node_selector: request.system_node_selector.clone(),
                system_node_toleration: request.system_node_toleration.clone(),
                vendor_charts: request.vendor_charts,
            })),
            internal_parameters: Some(InternalParameters { components }),
            resolved_dependencies: deps,
        },
        run_details: RunDetails {
            builder: builder(),
            byproducts,
        },
    }
}

/// The provenance of a bundle directory pushed by `cnsctl push`: what the directory itself
/// shows (its recipe and checksums); the plugins that made it are not known to the push.
pub fn for_directory(files: &[cns_files::File]) -> Provenance {
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.content.clone())
    };
    let (recipe, byproducts) = outputs(get);
    Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE_PUSH.into(),
            external_parameters: ExternalParameters::Directory { recipe },
            internal_parameters: None,
            resolved_dependencies: Vec::new(),
        },
        run_details: RunDetails {
            builder: builder(),
            byproducts,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(path: &str, content: &str) -> cns_files::File {
        cns_files::File {
            path: path.into(),
            content: content.into(),
            executable: false,
        }
    }

    /// The typed predicate serialises to the very bytes of its JSON tree: fields are
    /// declared in sorted order, as a `serde_json::Value` writes them.
    #[test]
    fn fields_are_in_json_order() {
        let p = for_directory(&[
            file("recipe.yaml", "kind: recipeResult\n"),
            file("checksums.txt", "x\n"),
            file(
                crate::images::LOCK_FILE,
                "images:\n- image: nvcr.io/nvidia/x:1\n",
            ),
        ]);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            serde_json::to_string(&p.to_value()).unwrap()
        );
        let v = p.to_value();
        assert_eq!(v["buildDefinition"]["buildType"], BUILD_TYPE_PUSH);
        assert_eq!(
            v["buildDefinition"]["externalParameters"],
            json!({"recipe": {"digest": {"sha256": hex::encode(Sha256::digest(b"kind: recipeResult\n"))}}})
        );
        assert_eq!(v["buildDefinition"]["resolvedDependencies"], json!([]));
        assert!(v["buildDefinition"].get("internalParameters").is_none());
        let lock = &v["runDetails"]["byproducts"][1];
        assert_eq!(lock["annotations"]["images"], json!(["nvcr.io/nvidia/x:1"]));
        assert_eq!(v["runDetails"]["byproducts"][0]["name"], "checksums.txt");
        assert!(
            v["runDetails"]["byproducts"][0]
                .get("annotations")
                .is_none()
        );
        assert_eq!(
            v["runDetails"]["builder"]["version"]["wasmtime"],
            cns_runtime::WASMTIME_VERSION
        );
        // No recipe.yaml: the digest is null, as before.
        let bare = for_directory(&[file("a", "b")]).to_value();
        assert_eq!(
            bare["buildDefinition"]["externalParameters"],
            json!({"recipe": {"digest": null}})
        );
    }

    #[test]
    fn bundle_parameters_are_in_json_order() {
        let p = BundleParameters {
            accelerated_node_selector: vec!["a=b".into()],
            accelerated_node_toleration: vec![],
            bundlers: vec!["gpu-operator".into()],
            cluster_values: vec![],
            deployer: "flux".into(),
            deployer_options: BTreeMap::from([("repo".into(), "oci://r/b".into())]),
            recipe: RecipeDigest { digest: None },
            registry_mirror: None,
            resolve_chart_digests: false,
            resolve_digests: false,
            set: vec!["a:b=c".into()],
            set_file: vec![],
            set_json: vec!["a:d=[1]".into()],
            set_string: vec!["a:e=1".into()],
            system_node_selector: vec![],
            system_node_toleration: vec![],
            vendor_charts: false,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert_eq!(v["registryMirror"], Value::Null, "written as null");
    }
}
