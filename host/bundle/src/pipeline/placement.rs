//! Where a component's pods go: the scheduling flags as the bundler's input, the warning
//! when they have nowhere to go, and with `--cluster-values` the per-cluster part of the
//! values that leaves the shared `values.yaml` for the deployer's options.

use crate::{BundleOptions, Error, Result};
use cns_runtime::types::{OptionPair, Scheduling};
use serde_json::Value;

/// The scheduling of one class of pods as the bundler's input.
pub(super) fn scheduling(
    placement: &crate::Placement,
    selector_paths: &[String],
    toleration_paths: &[String],
) -> Scheduling {
    Scheduling {
        node_selector: placement.labels(),
        tolerations: placement.tolerations.clone(),
        node_selector_paths: selector_paths.to_vec(),
        toleration_paths: toleration_paths.to_vec(),
    }
}

/// A warning when scheduling flags were given but the component's registry entry declares
/// no scheduling paths at all (a component outside the registry, or one added without
/// them): the flags would otherwise vanish without a word. A component with paths for one
/// class only (e.g. no GPU pods) is fine.
pub(super) fn unplaced(
    name: &str,
    opts: &BundleOptions,
    paths: &cns_recipe::registry::NodeScheduling,
) -> Option<String> {
    let declared = [&paths.system, &paths.accelerated]
        .iter()
        .any(|p| !p.node_selector_paths.is_empty() || !p.toleration_paths.is_empty());
    if declared {
        return None;
    }
    let given: Vec<String> = [("system", &opts.system), ("accelerated", &opts.accelerated)]
        .iter()
        .flat_map(|(class, p)| {
            let sel = (!p.selector.is_empty()).then(|| format!("--{class}-node-selector"));
            let tol = (!p.tolerations.is_empty()).then(|| format!("--{class}-node-toleration"));
            sel.into_iter().chain(tol)
        })
        .collect();
    (!given.is_empty()).then(|| {
        format!(
            "{} not applied to component `{name}`: its registry entry declares no scheduling paths \
             (add `nodeScheduling` to it, see README \"Scheduling\"), so only its bundler can place them",
            given.join(", ")
        )
    })
}

/// The values of one component that differ per cluster: the scheduling flags at the
/// registry's paths (as the SDK's `scheduling::apply` writes them) and the registry's
/// `clusterValuePaths`, each removed from the shared `values` so that a cluster's file is the
/// only place that sets them.
pub(super) fn cluster_tree(
    name: &str,
    values: &mut Value,
    opts: &BundleOptions,
    paths: &cns_recipe::registry::NodeScheduling,
    moved: &[String],
) -> Result<Value> {
    let err = |source| Error::Values {
        component: name.to_string(),
        source,
    };
    let mut tree = Value::Object(Default::default());
    for (placement, p) in [
        (&opts.system, &paths.system),
        (&opts.accelerated, &paths.accelerated),
    ] {
        if !placement.selector.is_empty() {
            let sel = Value::Object(
                placement
                    .selector
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
            for path in &p.node_selector_paths {
                cns_values::remove_path(values, path);
                cns_values::set_path(&mut tree, path, sel.clone()).map_err(err)?;
            }
        }
        if !placement.tolerations.is_empty() {
            let tol = Value::Array(placement.tolerations.iter().map(toleration_value).collect());
            for path in &p.toleration_paths {
                cns_values::remove_path(values, path);
                cns_values::set_path(&mut tree, path, tol.clone()).map_err(err)?;
            }
        }
    }
    for path in moved {
        if let Some(v) = cns_values::remove_path(values, path) {
            cns_values::set_path(&mut tree, path, v).map_err(err)?;
        }
    }
    Ok(tree)
}

/// A toleration as the SDK writes it into values.
fn toleration_value(t: &cns_runtime::types::Toleration) -> Value {
    cns_values::toleration(
        t.key.as_deref(),
        &t.operator,
        t.value.as_deref(),
        t.effect.as_deref(),
    )
}

/// The deployer flags as option pairs, sorted by key.
pub(super) fn deployer_flags(opts: &BundleOptions) -> Vec<OptionPair> {
    opts.deployer_options
        .iter()
        .map(|(key, value)| OptionPair {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}
