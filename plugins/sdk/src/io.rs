//! What plugins return and deployers take, with values as [`Value`] trees: [`Rendered`]
//! (a bundler's files and final values) and [`Deployment`] of [`Component`]s, converted
//! from and to the WIT records (values as node lists) by the export glue.

use crate::values::Value;
use crate::wit;
use crate::{BundleFile, ChartSource, Criteria, OptionPair, PluginError};
use cns_values::tree::{self, Node};

/// What a bundler returns: its files, and the component's final values, from which the
/// host writes `values.yaml` (so a bundler does not return that file itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Files, paths relative to the component folder (`manifests/*.yaml`, `README.md`, …).
    pub files: Vec<BundleFile>,
    /// The final Helm values (a mapping).
    pub values: Value,
}

/// A component after its bundler ran, as a deployer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Component name; also its folder in the bundle.
    pub name: String,
    /// Namespace it installs into.
    pub namespace: String,
    /// Helm chart to install.
    pub chart: ChartSource,
    /// Position in the deployment order, from 0.
    pub order: u32,
    /// Components it depends on (all earlier in the order).
    pub dependencies: Vec<String>,
    /// Its final values (what `values.yaml` holds).
    pub values: Value,
    /// Paths (relative to its folder) of its files, `values.yaml` included.
    pub files: Vec<String>,
    /// Pod Security Admission level its namespace needs, when the registry names one.
    pub pod_security: Option<String>,
    /// With `--cluster-values`: the values that differ per cluster, which each cluster
    /// supplies itself; `None` for a bundle of one cluster.
    pub cluster_values: Option<Value>,
}

/// Everything a deployer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Components in deployment order.
    pub components: Vec<Component>,
    /// Criteria of the recipe.
    pub criteria: Criteria,
    /// Recipe version, if the recipe names one.
    pub recipe_version: String,
    /// The deployer flags (`repo`, `revision`, …), sorted by key.
    pub flags: Vec<OptionPair>,
    /// The clusters sharing the bundle (`--cluster-values`); empty for one cluster's.
    pub clusters: Vec<String>,
}

/// `v` as WIT's `values`.
fn to_wit(v: &Value) -> wit::Values {
    wit::Values {
        nodes: tree::flatten(v)
            .into_iter()
            .map(|n| match n {
                Node::Null => wit::Value::Null,
                Node::Boolean(b) => wit::Value::Boolean(b),
                Node::Integer(i) => wit::Value::Integer(i),
                Node::Unsigned(u) => wit::Value::Unsigned(u),
                Node::Float(f) => wit::Value::Float(f),
                Node::Text(s) => wit::Value::Text(s),
                Node::Sequence(items) => wit::Value::Sequence(items),
                Node::Mapping(members) => wit::Value::Mapping(
                    members
                        .into_iter()
                        .map(|(key, value)| wit::Member { key, value })
                        .collect(),
                ),
            })
            .collect(),
    }
}

/// The tree of WIT's `values` (the host's, so malformed only by a host bug).
fn from_wit(v: wit::Values) -> Result<Value, PluginError> {
    let nodes: Vec<Node> = v
        .nodes
        .into_iter()
        .map(|n| match n {
            wit::Value::Null => Node::Null,
            wit::Value::Boolean(b) => Node::Boolean(b),
            wit::Value::Integer(i) => Node::Integer(i),
            wit::Value::Unsigned(u) => Node::Unsigned(u),
            wit::Value::Float(f) => Node::Float(f),
            wit::Value::Text(s) => Node::Text(s),
            wit::Value::Sequence(items) => Node::Sequence(items),
            wit::Value::Mapping(members) => {
                Node::Mapping(members.into_iter().map(|m| (m.key, m.value)).collect())
            }
        })
        .collect();
    tree::unflatten(&nodes).map_err(|e| PluginError::InvalidInput(format!("values: {e}")))
}

impl Rendered {
    /// As the WIT record the export returns.
    pub fn into_wit(self) -> wit::Rendered {
        wit::Rendered {
            values: to_wit(&self.values),
            files: self.files,
        }
    }
}

impl Deployment {
    /// From the WIT record the export receives.
    pub fn from_wit(d: wit::Deployment) -> Result<Self, PluginError> {
        Ok(Deployment {
            components: d
                .components
                .into_iter()
                .map(|c| {
                    Ok(Component {
                        name: c.name,
                        namespace: c.namespace,
                        chart: c.chart,
                        order: c.order,
                        dependencies: c.dependencies,
                        values: from_wit(c.values)?,
                        files: c.files,
                        pod_security: c.pod_security,
                        cluster_values: c.cluster_values.map(from_wit).transpose()?,
                    })
                })
                .collect::<Result<_, PluginError>>()?,
            criteria: d.criteria,
            recipe_version: d.recipe_version,
            flags: d.options.flags,
            clusters: d.options.clusters,
        })
    }

    /// As the WIT record (what the host sends; for tests and native callers).
    pub fn into_wit(self) -> wit::Deployment {
        wit::Deployment {
            components: self
                .components
                .into_iter()
                .map(|c| wit::Component {
                    values: to_wit(&c.values),
                    cluster_values: c.cluster_values.as_ref().map(to_wit),
                    name: c.name,
                    namespace: c.namespace,
                    chart: c.chart,
                    order: c.order,
                    dependencies: c.dependencies,
                    files: c.files,
                    pod_security: c.pod_security,
                })
                .collect(),
            criteria: self.criteria,
            recipe_version: self.recipe_version,
            options: wit::DeployerOptions {
                flags: self.flags,
                clusters: self.clusters,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::json;

    #[test]
    fn a_deployment_crosses_the_boundary_unchanged() {
        let mut c = crate::testing::rendered("a", 0, "https://x", &["values.yaml"]);
        c.values = json!({"image": {"tag": "v1"}, "n": [1, 2.5, null]});
        c.cluster_values = Some(json!({"nodeSelector": {"pool": "gpu"}}));
        c.pod_security = Some("privileged".into());
        let d = crate::testing::deployment(vec![c], &[("repo", "oci://r/b")]);
        assert_eq!(Deployment::from_wit(d.clone().into_wit()).unwrap(), d);
        let r = Rendered {
            files: vec![],
            values: json!({"a": true}),
        };
        assert_eq!(from_wit(r.clone().into_wit().values).unwrap(), r.values);
    }
}
