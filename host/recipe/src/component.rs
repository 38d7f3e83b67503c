//! The component and constraint entries of recipes and overlays, shared by the documents
//! (`model`) and their field checks (`fields`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A named constraint on the cluster, e.g. `K8s.server.version >= 1.30`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Measurement path `{Type}.{subtype}.{key}`, e.g. `OS.release.ID`.
    pub name: String,
    /// Expected value: `>= 1.30`, `== 24.04`, or a bare value for equality.
    pub value: String,
    /// Hint shown when the constraint fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// One component in a recipe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentRef {
    /// Component name, e.g. `gpu-operator`.
    pub name: String,
    /// Deployment type; only `Helm` is supported.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Chart repository (`https://…` or `oci://…`); defaults from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Chart name; defaults from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// Chart version; defaults from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Namespace; defaults from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Values file in the recipe data, deep-merged over `components/<name>/values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_file: Option<String>,
    /// Values with the highest recipe precedence; `enabled: false` disables the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Value>,
    /// Components that must be deployed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependency_refs: Vec<String>,
    /// Manifests in the recipe data to ship with the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_files: Vec<String>,
}

impl ComponentRef {
    /// False when `overrides.enabled` is `false`.
    pub fn enabled(&self) -> bool {
        self.overrides
            .as_ref()
            .and_then(|o| o.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }
}
