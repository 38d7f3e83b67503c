//! Cluster snapshots in the predecessor's format (`kind: Snapshot`, `measurements` of
//! `type` → `subtypes` → `data`): the document types, parsing and value lookup by
//! constraint name. What a snapshot says about recipe criteria is `cns-recipe`'s job.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a snapshot document is refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not valid YAML for a snapshot, or unknown/missing fields.
    #[error("`{path}` is not a valid Snapshot: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// `kind` or `apiVersion` is wrong.
    #[error("`{path}` has {field} `{found}`, expected `{expected}`")]
    WrongKind {
        /// The file.
        path: String,
        /// `kind` or `apiVersion`.
        field: &'static str,
        /// What it has.
        found: String,
        /// What it should have.
        expected: String,
    },
}

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
    /// The snapshot as YAML, or JSON (pretty, with a final newline), with the format's name.
    pub fn to_text(&self, json: bool) -> Result<(String, &'static str), String> {
        let text = if json {
            serde_json::to_string_pretty(self)
                .map(|t| t + "\n")
                .map_err(|e| e.to_string())
        } else {
            serde_norway::to_string(self).map_err(|e| e.to_string())
        };
        Ok((text?, if json { "json" } else { "yaml" }))
    }

    /// Parse a snapshot; `path` is used in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Self, Error> {
        let parse_error = |message: String| Error::Parse {
            path: path.to_string(),
            message,
        };
        cns_files::nesting::check(text).map_err(|e| parse_error(e.to_string()))?;
        let s: Snapshot = serde_norway::from_str(text).map_err(|e| parse_error(e.to_string()))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements:\n- type: OS\n  subtypes:\n  - subtype: sysctl\n    data: {/proc/sys/kernel/osrelease: 6.8.0-1043-aws}\n- type: GPU\n  subtypes:\n  - subtype: smi\n    data: {gpu-count: 8, driver: 580.95.05}\n";

    #[test]
    fn lookup_by_constraint_name() {
        let s = Snapshot::from_yaml("s.yaml", SNAP).unwrap();
        assert_eq!(
            s.lookup("OS.sysctl./proc/sys/kernel/osrelease").as_deref(),
            Some("6.8.0-1043-aws")
        );
        assert_eq!(s.lookup("GPU.smi.gpu-count").as_deref(), Some("8"));
        assert_eq!(s.lookup("GPU.smi.nope"), None);
        assert_eq!(
            s.driver_version(),
            Some(("580.95.05".to_string(), "GPU.smi.driver"))
        );
    }

    #[test]
    fn wrong_kind_version_or_field() {
        let e = Snapshot::from_yaml("s.yaml", &SNAP.replace("kind: Snapshot", "kind: Snap"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`s.yaml` has kind `Snap`, expected `Snapshot`"
        );
        let e = Snapshot::from_yaml("s.yaml", &SNAP.replace("v1alpha1", "v9")).unwrap_err();
        assert!(
            e.to_string().contains("apiVersion `cns.nvidia.com/v9`"),
            "{e}"
        );
        let e = Snapshot::from_yaml("s.yaml", &format!("{SNAP}extra: 1\n")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`s.yaml` is not a valid Snapshot: "),
            "{e}"
        );
    }
}
