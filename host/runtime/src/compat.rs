//! A deployment as deployers built for WIT 0.1 and 0.2 take it: values as JSON strings and
//! every setting as an option pair, exactly as hosts of those versions passed them, so such
//! plugins produce the same bytes as before.

use crate::bindings::types::{DeployerInput, Deployment, OptionPair, RenderedComponent};
use std::collections::BTreeMap;

/// Option naming the clusters of `--cluster-values`, comma-separated (0.2).
pub const CLUSTERS_OPTION: &str = "clusters";
/// Option prefix of a component's cluster-specific values, a JSON object (0.2).
pub const CLUSTER_VALUES_OPTION: &str = "cluster-values/";
/// Option prefix of a component's Pod Security level (0.2).
pub const POD_SECURITY_OPTION: &str = "pod-security/";

/// The JSON text of a tree the host made itself (it is always a tree).
fn json(v: &crate::bindings::types::Values) -> String {
    crate::values::from_wit(v.clone())
        .map(|v| cns_values::to_json(&v))
        .unwrap_or_else(|_| "{}".into())
}

/// `d` as a 0.1/0.2 `deployer-input`.
pub(crate) fn deployer_input(d: &Deployment) -> DeployerInput {
    let mut options: BTreeMap<String, String> = d
        .options
        .flags
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect();
    if !d.options.clusters.is_empty() {
        options.insert(CLUSTERS_OPTION.into(), d.options.clusters.join(","));
    }
    for c in &d.components {
        if let Some(tree) = &c.cluster_values {
            options.insert(format!("{CLUSTER_VALUES_OPTION}{}", c.name), json(tree));
        }
        if let Some(level) = &c.pod_security {
            options.insert(format!("{POD_SECURITY_OPTION}{}", c.name), level.clone());
        }
    }
    DeployerInput {
        components: d
            .components
            .iter()
            .map(|c| RenderedComponent {
                name: c.name.clone(),
                namespace: c.namespace.clone(),
                chart: c.chart.clone(),
                order: c.order,
                dependencies: c.dependencies.clone(),
                values_json: json(&c.values),
                files: c.files.clone(),
            })
            .collect(),
        criteria: d.criteria.clone(),
        recipe_version: d.recipe_version.clone(),
        options: options
            .into_iter()
            .map(|(key, value)| OptionPair { key, value })
            .collect(),
    }
}
