//! Input builders for plugin unit tests (native): a minimal component or deployer input
//! that a test then adjusts field by field.

use crate::values::{Map, Value};
use crate::{
    BundleFile, ChartSource, Component, ComponentInput, Criteria, Deployment, OptionPair, Rendered,
    Scheduling,
};

/// A bundler's result as the host writes it: `values.yaml` (from the returned values, with
/// its header) first, then the bundler's files.
pub fn written(input: &ComponentInput, r: Rendered) -> Vec<BundleFile> {
    let text = cns_values::values_file(
        &input.name,
        &input.chart.chart,
        &input.chart.version,
        &r.values,
    )
    .expect("values write as YAML");
    let mut files = vec![crate::file("values.yaml", text)];
    files.extend(r.files);
    files
}

/// Criteria `eks`/`h100`/`ubuntu`/`training`.
pub fn criteria() -> Criteria {
    Criteria {
        service: "eks".into(),
        accelerator: "h100".into(),
        os: "ubuntu".into(),
        intent: "training".into(),
    }
}

/// A component `name` in namespace `name`, chart `name` `v1.0.0` from `https://charts.example`,
/// with `values_json` and no scheduling, manifests or dependencies.
pub fn component_input(name: &str, values_json: &str) -> ComponentInput {
    ComponentInput {
        name: name.into(),
        namespace: name.into(),
        chart: ChartSource {
            repository: "https://charts.example".into(),
            chart: name.into(),
            version: "v1.0.0".into(),
        },
        values_json: values_json.into(),
        system: Scheduling::default_empty(),
        accelerated: Scheduling::default_empty(),
        criteria: criteria(),
        manifests: vec![],
        dependencies: vec![],
    }
}

/// A rendered component `name` at `order` in namespace `<name>-ns`, chart `name` `v1.0.0`
/// from `repo`, with the given files, values `{}`, no Pod Security level and no cluster
/// values.
pub fn rendered(name: &str, order: u32, repo: &str, files: &[&str]) -> Component {
    Component {
        name: name.into(),
        namespace: format!("{name}-ns"),
        chart: ChartSource {
            repository: repo.into(),
            chart: name.into(),
            version: "v1.0.0".into(),
        },
        order,
        dependencies: vec![],
        values: Value::Object(Map::new()),
        files: files.iter().map(|s| s.to_string()).collect(),
        pod_security: None,
        cluster_values: None,
    }
}

/// A deployment of `components` with `key=value` flags and no clusters.
pub fn deployment(components: Vec<Component>, flags: &[(&str, &str)]) -> Deployment {
    Deployment {
        components,
        criteria: criteria(),
        recipe_version: String::new(),
        clusters: vec![],
        flags: flags
            .iter()
            .map(|(k, v)| OptionPair {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
    }
}

impl Scheduling {
    /// No selector, no tolerations, no paths.
    pub fn default_empty() -> Self {
        Scheduling {
            node_selector: vec![],
            tolerations: vec![],
            node_selector_paths: vec![],
            toleration_paths: vec![],
        }
    }
}
