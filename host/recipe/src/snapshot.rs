//! Cluster snapshots in the predecessor's format (`kind: Snapshot`, `measurements` of
//! `type` → `subtypes` → `data`), value lookup by constraint name, and criteria detection.

use crate::criteria::Criteria;
use crate::model::parse_yaml;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `apiVersion`s accepted for snapshots (ours and the predecessor agent's).
pub const SNAPSHOT_API_VERSIONS: &[&str] = &[
    "cns.nvidia.com/v1alpha1",
    "snapshot.dgxc.io/v1",
    "aicr.run/v1alpha2",
];

/// One measured subtype: a flat map of keys to values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtype {
    /// Subtype name, e.g. `server`, `release`, `sysctl`, `smi`.
    pub subtype: String,
    /// Measured values by key.
    #[serde(default)]
    pub data: BTreeMap<String, Value>,
}

/// One measurement type (e.g. `K8s`, `OS`, `GPU`, `SystemD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Type name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its subtypes.
    #[serde(default)]
    pub subtypes: Vec<Subtype>,
}

/// A cluster snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snapshot {
    /// Always `Snapshot`.
    pub kind: String,
    /// One of [`SNAPSHOT_API_VERSIONS`].
    pub api_version: String,
    /// Free-form metadata (source node, version).
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    /// The measurements.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Snapshot {
    /// Parse a snapshot; `path` is used in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Self> {
        let s: Snapshot = parse_yaml(path, "Snapshot", text)?;
        if s.kind != "Snapshot" {
            return Err(Error::WrongKind {
                path: path.into(),
                field: "kind",
                found: s.kind,
                expected: "Snapshot".into(),
            });
        }
        if !SNAPSHOT_API_VERSIONS.contains(&s.api_version.as_str()) {
            return Err(Error::WrongKind {
                path: path.into(),
                field: "apiVersion",
                found: s.api_version,
                expected: SNAPSHOT_API_VERSIONS.join("` or `"),
            });
        }
        Ok(s)
    }

    /// The value measured under `type.subtype.key` (the key may itself contain dots or
    /// slashes, e.g. `OS.sysctl./proc/sys/kernel/osrelease`).
    pub fn lookup(&self, name: &str) -> Option<String> {
        let (kind, rest) = name.split_once('.')?;
        let (subtype, key) = rest.split_once('.')?;
        self.measurements
            .iter()
            .filter(|m| m.kind == kind)
            .flat_map(|m| &m.subtypes)
            .filter(|s| s.subtype == subtype)
            .find_map(|s| s.data.get(key).and_then(scalar))
    }

    /// The GPU driver version the snapshot measured, and the reading it came from.
    pub fn driver_version(&self) -> Option<(String, &'static str)> {
        [
            "GPU.smi.driver",
            "GPU.driver.version",
            "GPU.smi.driver-version",
        ]
        .into_iter()
        .find_map(|k| self.lookup(k).filter(|v| !v.is_empty()).map(|v| (v, k)))
    }

    /// Criteria detected from the snapshot: service from the Kubernetes version or the
    /// node's provider id, accelerator from the GPU model, os from `/etc/os-release` `ID`.
    /// Undetectable fields are `any`.
    pub fn detect_criteria(&self) -> Criteria {
        let mut c = Criteria::default();
        let version = self.lookup("K8s.server.version").unwrap_or_default();
        let provider = self.lookup("K8s.node.provider-id").unwrap_or_default();
        let node_provider = self.lookup("K8s.node.provider").unwrap_or_default();
        c.service = if version.contains("-eks-")
            || provider.starts_with("aws://")
            || node_provider == "eks"
        {
            "eks"
        } else if version.contains("-gke.")
            || provider.starts_with("gce://")
            || node_provider == "gke"
        {
            "gke"
        } else if provider.starts_with("azure://") || node_provider == "aks" {
            "aks"
        } else if provider.starts_with("ocid1.") || node_provider == "oke" {
            "oke"
        } else {
            "any"
        }
        .into();
        // nvidia-smi's product name when it ran; else the model `cnsctl snapshot` derives
        // from the PCI device id (no driver needed).
        let model = self
            .lookup("GPU.smi.gpu.model")
            .or_else(|| self.lookup("GPU.smi.gpu.name"))
            .or_else(|| self.lookup("GPU.hardware.model"))
            .unwrap_or_default()
            .to_ascii_uppercase();
        c.accelerator = ["GB200", "H100", "A100"]
            .iter()
            .find(|m| model.contains(*m))
            .map_or("any".into(), |m| m.to_ascii_lowercase());
        c.os = match self.lookup("OS.release.ID").unwrap_or_default().as_str() {
            "ubuntu" => "ubuntu",
            "cos" => "cos",
            "amzn" => "amazonlinux",
            "azurelinux" => "azurelinux",
            "ol" => "oraclelinux",
            _ => "any",
        }
        .into();
        c
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SNAP: &str = r#"kind: Snapshot
apiVersion: cns.nvidia.com/v1alpha1
metadata: {source-node: n1}
measurements:
  - type: K8s
    subtypes:
      - subtype: server
        data: {version: v1.34.1-eks-3025e55}
      - subtype: node
        data: {provider-id: "aws:///us-east-1e/i-0"}
  - type: OS
    subtypes:
      - subtype: release
        data: {ID: ubuntu, VERSION_ID: "24.04"}
      - subtype: sysctl
        data: {/proc/sys/kernel/osrelease: 6.8.0-1043-aws}
  - type: GPU
    subtypes:
      - subtype: smi
        data: {gpu.model: NVIDIA H100 80GB HBM3, gpu-count: 8}
"#;

    #[test]
    fn lookup_and_detect() {
        let s = Snapshot::from_yaml("s.yaml", SNAP).unwrap();
        assert_eq!(
            s.lookup("OS.sysctl./proc/sys/kernel/osrelease").as_deref(),
            Some("6.8.0-1043-aws")
        );
        assert_eq!(s.lookup("GPU.smi.gpu-count").as_deref(), Some("8"));
        assert_eq!(s.lookup("GPU.smi.nope"), None);
        assert_eq!(
            s.detect_criteria().to_string(),
            "service=eks accelerator=h100 os=ubuntu intent=any"
        );
    }

    #[test]
    fn gpu_name_and_the_successors_format() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: aicr.run/v1alpha2\nmeasurements:\n- type: GPU\n  subtypes:\n  - subtype: smi\n    data: {gpu.name: NVIDIA GB200, driver: 580.95.05}\n",
        )
        .unwrap();
        assert_eq!(s.detect_criteria().accelerator, "gb200");
        assert_eq!(s.driver_version().unwrap().0, "580.95.05");
    }

    #[test]
    fn accelerator_from_pci_model_without_nvidia_smi() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements:\n- type: GPU\n  subtypes:\n  - subtype: hardware\n    data: {present: true, count: 1, model: H100 SXM5 80GB}\n",
        )
        .unwrap();
        assert_eq!(s.detect_criteria().accelerator, "h100");
    }

    #[test]
    fn wrong_kind() {
        let e = Snapshot::from_yaml("s.yaml", &SNAP.replace("kind: Snapshot", "kind: Snap"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`s.yaml` has kind `Snap`, expected `Snapshot`"
        );
    }
}
