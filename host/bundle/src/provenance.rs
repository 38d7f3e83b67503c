//! The SLSA v1 provenance of a pushed bundle (signed and attached by `cns_oci::attest`):
//! what made it (cnsctl and each plugin, with its component's sha256), from what (the
//! recipe's digest and criteria, the flags that shaped it), and what came out (the digest of
//! `checksums.txt`, which covers every file). No timestamps: the same inputs give the same
//! statement.

use crate::{BundleOptions, BundleRequest, FileTree, Plan};
use cns_runtime::{Catalog, Origin, PluginKind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `buildType` of a bundle made by `cnsctl bundle`.
pub const BUILD_TYPE_BUNDLE: &str = "urn:cnsctl:build-type:bundle:v1";
/// `buildType` of a directory pushed by `cnsctl push` (made earlier, by whatever made it).
pub const BUILD_TYPE_PUSH: &str = "urn:cnsctl:build-type:push-directory:v1";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn builder() -> Value {
    json!({
        "id": format!("urn:cnsctl:builder:{}", env!("CARGO_PKG_VERSION")),
        "version": {
            "cnsctl": env!("CARGO_PKG_VERSION"),
            "wit": cns_runtime::WIT_VERSION,
            "wasmtime": cns_runtime::WASMTIME_VERSION,
            "recipeData": cns_recipe::resolve::DATA_VERSION,
        },
    })
}

/// The bundle's own files as the provenance names them: the recipe's digest, and
/// `checksums.txt` and `images.lock.yaml` (with the image references it lists) as byproducts.
fn outputs(get: impl Fn(&str) -> Option<Vec<u8>>) -> (Value, Value) {
    let recipe = get("recipe.yaml").map_or(Value::Null, |r| json!({ "sha256": sha256(&r) }));
    let mut byproducts = Vec::new();
    if let Some(c) = get("checksums.txt") {
        byproducts.push(json!({ "name": "checksums.txt", "digest": { "sha256": sha256(&c) } }));
    }
    if let Some(lock) = get(crate::images::LOCK_FILE) {
        let images: Vec<Value> = serde_norway::from_slice::<Value>(&lock)
            .ok()
            .and_then(|v| v.get("images").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.get("image").cloned())
            .collect();
        byproducts.push(json!({
            "name": crate::images::LOCK_FILE,
            "digest": { "sha256": sha256(&lock) },
            "annotations": { "images": images },
        }));
    }
    (recipe, Value::Array(byproducts))
}

/// A plugin as a resolved dependency.
fn dependency(p: &cns_runtime::Plugin) -> Value {
    let uri = match &p.origin {
        Origin::Builtin => format!("urn:cnsctl:builtin-plugin:{}", p.name),
        Origin::File(path) => format!("file:{}", path.display()),
        Origin::Memory(label) => label.clone(),
    };
    json!({
        "name": format!("{}/{}", p.kind.as_str(), p.name),
        "uri": uri,
        "digest": { "sha256": p.sha256 },
        "annotations": { "version": p.version, "wit": p.wit_version },
    })
}

/// The provenance predicate of a bundle made by `cnsctl bundle` from `plan` (`request` as
/// given, `opts` as validated; `resolve_digests`: whether image digests were looked up).
pub fn for_bundle(
    plan: &Plan,
    catalog: &Catalog,
    opts: &BundleOptions,
    request: &BundleRequest,
    resolve_digests: bool,
    tree: &FileTree,
) -> Value {
    let mut deps: Vec<Value> = Vec::new();
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
    // The charts the bundle installs (by version; their digests are the registries').
    for c in &plan.components {
        deps.push(json!({
            "name": format!("chart/{}", c.input.chart.chart),
            "uri": c.input.chart.repository,
            "annotations": { "version": c.input.chart.version, "component": c.input.name },
        }));
    }
    let components: Vec<Value> = plan
        .components
        .iter()
        .map(|c| {
            json!({
                "name": c.input.name,
                "chart": {
                    "repository": c.input.chart.repository,
                    "name": c.input.chart.chart,
                    "version": c.input.chart.version,
                },
                "namespace": c.input.namespace,
                "plugin": c.plugin,
            })
        })
        .collect();
    let (recipe, byproducts) = outputs(|p| tree.get(p).map(<[u8]>::to_vec));
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE_BUNDLE,
            "externalParameters": {
                "recipe": { "digest": recipe },
                "deployer": opts.deployer,
                "bundlers": request.bundlers,
                "set": request.sets,
                "systemNodeSelector": request.system_node_selector,
                "systemNodeToleration": request.system_node_toleration,
                "acceleratedNodeSelector": request.accelerated_node_selector,
                "acceleratedNodeToleration": request.accelerated_node_toleration,
                "deployerOptions": opts.deployer_options,
                "clusterValues": opts.clusters,
                "registryMirror": opts.registry_mirror,
                "resolveDigests": resolve_digests,
            },
            "internalParameters": { "components": components },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": builder(),
            "byproducts": byproducts,
        },
    })
}

/// The provenance predicate of a bundle directory pushed by `cnsctl push`: what the
/// directory itself shows (its recipe and checksums); the plugins that made it are not known
/// to the push.
pub fn for_directory(files: &[cns_files::File]) -> Value {
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.content.as_slice())
    };
    let (recipe, byproducts) = outputs(|p| get(p).map(<[u8]>::to_vec));
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE_PUSH,
            "externalParameters": { "recipe": { "digest": recipe } },
            "resolvedDependencies": [],
        },
        "runDetails": {
            "builder": builder(),
            "byproducts": byproducts,
        },
    })
}
