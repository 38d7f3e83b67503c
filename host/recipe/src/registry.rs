//! The component registry (`recipes/registry.yaml`): per component its chart source,
//! default version and namespace, `--set` aliases and the values paths where node
//! selectors and tolerations go.

use crate::model::{is_name, parse_yaml};
use crate::{API_VERSION, Error, Result};
use serde::{Deserialize, Serialize};

/// Values paths for one class of pods.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchedulingPaths {
    /// Dotted paths receiving the node selector map.
    #[serde(default)]
    pub node_selector_paths: Vec<String>,
    /// Dotted paths receiving the tolerations list.
    #[serde(default)]
    pub toleration_paths: Vec<String>,
}

/// Scheduling paths for system and accelerated pods.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeScheduling {
    /// Control-plane pods (operators, webhooks).
    #[serde(default)]
    pub system: SchedulingPaths,
    /// Pods that must run on GPU nodes (daemonsets).
    #[serde(default)]
    pub accelerated: SchedulingPaths,
}

/// Chart defaults of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmDefaults {
    /// Repository URL (`https://…` or `oci://…`).
    pub repository: String,
    /// Chart name.
    pub chart: String,
    /// Default chart version.
    pub version: String,
    /// Default namespace.
    pub namespace: String,
}

/// One registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentConfig {
    /// Component name.
    pub name: String,
    /// Human-readable name.
    pub display_name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Extra names accepted in `--set NAME:path=value`.
    #[serde(default)]
    pub value_override_keys: Vec<String>,
    /// Chart defaults.
    pub helm: HelmDefaults,
    /// Where scheduling goes in the chart's values.
    #[serde(default)]
    pub node_scheduling: NodeScheduling,
    /// Pod Security Admission level the component's namespace needs (`privileged`,
    /// `baseline`, `restricted`); deployers label the namespace with it. Absent: no label
    /// (the cluster's default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurity>,
    /// Values paths that differ per cluster (e.g. the GPU Operator's `driver.version`): with
    /// `--cluster-values` they move from the shared values to each cluster's file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_value_paths: Vec<String>,
    /// The container images the chart (and, for operators, the operands they deploy) runs,
    /// as functions of the values: what `cnsctl images` and `images.lock.yaml` list.
    /// Shared: every bundle plan refers to it without copying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<std::sync::Arc<ImageData>>,
}

/// How a chart's values select its container images, for the chart version in `helm.version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageData {
    /// The image-related part of the chart's own `values.yaml` (and its subcharts'), under
    /// which the bundle's final values are merged: what the chart uses when a recipe is silent.
    #[serde(default)]
    pub chart_defaults: serde_json::Value,
    /// One entry per image the chart or its operator can run.
    pub refs: Vec<ImageSpec>,
    /// Custom resources among the component's manifests whose operands an operator deploys
    /// (every `{repository, image, version}` object in their `spec` is an image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_operands: Vec<ManifestOperands>,
    /// Values paths that switch on parts of the chart whose images this data does not
    /// describe: when one is truthy, the inventory says it is incomplete (never silently).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_covered: Vec<String>,
}

/// A custom-resource kind whose operand images its operator pulls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManifestOperands {
    /// The kind, e.g. `NicClusterPolicy`.
    pub kind: String,
    /// Per `spec` field, what the operator appends to that operand's tag on each node (see
    /// [`ImageSpec::node_tag_suffix`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub node_tag_suffix: std::collections::BTreeMap<String, String>,
}

/// One image: each of `repository`, `tag` and `digest` is a list of templates tried in order;
/// the first whose `{values.path}` placeholders all hold non-empty values is used (as a Helm
/// template's `default` chain does). `ref` instead gives the whole reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageSpec {
    /// Name within the component (`driver`, `webhook`).
    pub name: String,
    /// Paths that must be truthy for the image to run (`!path`: must be falsy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
    /// Full reference templates (`repo:tag`, `repo@digest`), instead of the three below.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#ref: Vec<String>,
    /// Repository templates (registry host included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repository: Vec<String>,
    /// Tag templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<String>,
    /// Digest templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digest: Vec<String>,
    /// What the operator appends to the tag on each node, e.g. `-{os}{osVersion}` (the GPU
    /// Operator's driver images); `{os}`/`{osVersion}` come from the recipe's
    /// `OS.release.ID`/`OS.release.VERSION_ID` constraints, `{arch}` from the accelerator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_tag_suffix: Option<String>,
    /// The values path that `--registry-mirror` rewrites to point this image at the mirror
    /// (its current value, or the computed repository when empty, moved under the mirror).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
}

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    /// Unrestricted: privileged pods, host namespaces and paths (node agents, drivers).
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened pods only.
    Restricted,
}

impl PodSecurity {
    /// The level as the `pod-security.kubernetes.io/*` labels spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Privileged => "privileged",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Restricted => "restricted",
        }
    }
}

/// The registry document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Registry {
    /// Always `ComponentRegistry`.
    pub kind: String,
    /// Always `cns.nvidia.com/v1alpha1`.
    pub api_version: String,
    /// Components, sorted by name.
    pub components: Vec<ComponentConfig>,
}

impl Registry {
    /// Parse and check the registry.
    pub fn from_yaml(path: &str, text: &str) -> Result<Self> {
        let mut r: Registry = parse_yaml(path, "ComponentRegistry", text)?;
        if r.kind != "ComponentRegistry" || r.api_version != API_VERSION {
            return Err(Error::WrongKind {
                path: path.into(),
                field: "kind/apiVersion",
                found: format!("{}/{}", r.kind, r.api_version),
                expected: format!("ComponentRegistry/{API_VERSION}"),
            });
        }
        let mut keys = std::collections::BTreeSet::new();
        let checker = crate::fields::Checker { path, text };
        for (i, c) in r.components.iter().enumerate() {
            // The chart defaults fill recipe fields, so they obey the same rules.
            let as_ref = crate::ComponentRef {
                name: c.name.clone(),
                source: Some(c.helm.repository.clone()),
                chart: Some(c.helm.chart.clone()),
                version: Some(c.helm.version.clone()),
                namespace: Some(c.helm.namespace.clone()),
                ..Default::default()
            };
            checker.component(&["components".to_string(), i.to_string()], &as_ref)?;
            if !is_name(&c.name) {
                return Err(Error::Invalid {
                    path: path.into(),
                    what: "component name",
                    value: c.name.clone(),
                    reason: "names must match [a-z0-9][a-z0-9-]*".into(),
                });
            }
            for k in std::iter::once(&c.name).chain(&c.value_override_keys) {
                if !keys.insert(k.clone()) {
                    return Err(Error::Duplicate {
                        path: path.into(),
                        what: "component name or override key",
                        name: k.clone(),
                    });
                }
            }
            for p in c
                .node_scheduling
                .system
                .node_selector_paths
                .iter()
                .chain(&c.node_scheduling.system.toleration_paths)
                .chain(&c.node_scheduling.accelerated.node_selector_paths)
                .chain(&c.node_scheduling.accelerated.toleration_paths)
            {
                cns_values::split_path(p).map_err(|e| Error::Invalid {
                    path: path.into(),
                    what: "scheduling path",
                    value: p.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        r.components.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(r)
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&ComponentConfig> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Resolve a `--set` key (component name or alias) to a component name.
    pub fn resolve_key<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.components
            .iter()
            .find(|c| c.name == key || c.value_override_keys.iter().any(|k| k == key))
            .map(|c| c.name.as_str())
    }
}
