//! Drift between two snapshots: every reading (`{Type}.{subtype}.{key}`) added, removed or
//! modified, sorted by path, each with a severity ([`severity`]); volatile readings
//! ([`VOLATILE`]: timestamps, ids) left out unless asked for. Shown as a table that fits a
//! width ([`table`]) or as RFC 6902 operations from one snapshot to the other
//! ([`json_patch`]). Metadata (timestamps, source node) is not a reading.

use crate::document::Snapshot;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

mod patch;
mod table;

pub use patch::json_patch;
pub use table::{CUT, table};

/// How much a changed reading matters to a GPU cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The kernel, the GPU driver, the Kubernetes server version, the GPU model or count.
    Critical,
    /// Other GPU, OS, SystemD, node-version, ClusterPolicy and topology readings.
    Warning,
    /// Everything else (images, labels, taints).
    Info,
}

/// Severity by reading path, first match wins; a path matching none is [`Severity::Info`].
/// `*` crosses `.` and `/`.
pub const SEVERITY_RULES: &[(&str, Severity)] = &[
    ("OS.sysctl./proc/sys/kernel/osrelease", Severity::Critical),
    ("K8s.node.kernel-version", Severity::Critical),
    ("GPU.driver.version", Severity::Critical),
    ("GPU.driver.kernel-module", Severity::Critical),
    ("GPU.smi.driver", Severity::Critical),
    ("GPU.smi.cuda-version", Severity::Critical),
    ("K8s.server.version", Severity::Critical),
    ("GPU.hardware.model", Severity::Critical),
    ("GPU.hardware.count", Severity::Critical),
    ("GPU.smi.gpu.model", Severity::Critical),
    ("GPU.smi.gpu.name", Severity::Critical),
    ("GPU.smi.gpu-count", Severity::Critical),
    ("K8s.policy.driver.version", Severity::Critical),
    ("GPU.*", Severity::Warning),
    ("OS.*", Severity::Warning),
    ("SystemD.*", Severity::Warning),
    ("K8s.server.*", Severity::Warning),
    ("K8s.node.*-version", Severity::Warning),
    ("K8s.node.architecture", Severity::Warning),
    ("K8s.node.os-image", Severity::Warning),
    ("K8s.policy.*", Severity::Warning),
    ("K8s.topology.*", Severity::Warning),
];

/// Readings that change without the node changing: times, process and boot ids, the node's
/// own name and instance id (two nodes of one pool differ in them). Left out of a diff
/// unless `--include-volatile`.
pub const VOLATILE: &[&str] = &[
    "*timestamp*",
    "*Timestamp*",
    "SystemD.*.InvocationID",
    "SystemD.*.MainPID",
    "SystemD.*.ExecMainPID",
    "SystemD.*.NRestarts",
    "K8s.node.name",
    "K8s.node.provider-id",
    "K8s.node.label.kubernetes.io/hostname",
    "K8s.node.label.nvidia.com/gfd.timestamp",
];

fn globs(patterns: &[&str]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).expect("built-in glob"));
    }
    b.build().expect("built-in globs")
}

/// The severity of a reading's change ([`SEVERITY_RULES`]).
pub fn severity(path: &str) -> Severity {
    static RULES: OnceLock<Vec<(GlobSet, Severity)>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            SEVERITY_RULES
                .iter()
                .map(|(p, s)| (globs(&[p]), *s))
                .collect()
        })
        .iter()
        .find(|(g, _)| g.is_match(path))
        .map_or(Severity::Info, |(_, s)| *s)
}

/// Whether a reading is volatile ([`VOLATILE`]).
pub fn is_volatile(path: &str) -> bool {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| globs(VOLATILE)).is_match(path)
}

/// What happened to a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the target.
    Added,
    /// Only in the baseline.
    Removed,
    /// In both, with different values.
    Modified,
}

/// One changed reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Added, removed or modified.
    pub kind: ChangeKind,
    /// `{Type}.{subtype}.{key}`.
    pub path: String,
    /// How much it matters.
    pub severity: Severity,
    /// The baseline's value (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Value>,
    /// The target's value (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
    /// Where the reading is: type, subtype, key (the path's parts; a key may hold dots).
    #[serde(skip)]
    pub at: [String; 3],
}

/// Counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Readings only in the target.
    pub added: usize,
    /// Readings only in the baseline.
    pub removed: usize,
    /// Readings with different values.
    pub modified: usize,
    /// Readings ignored by `--ignore`.
    pub ignored: usize,
    /// Volatile readings left out ([`VOLATILE`]; 0 with `--include-volatile`).
    pub volatile: usize,
    /// Changes by severity.
    pub critical: usize,
    /// Changes by severity.
    pub warning: usize,
    /// Changes by severity.
    pub info: usize,
}

/// The comparison of two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// Counts.
    pub summary: Summary,
    /// Changes, sorted by path.
    pub changes: Vec<Change>,
}

/// A bad `--ignore` pattern.
#[derive(Debug, thiserror::Error)]
#[error("invalid --ignore pattern `{pattern}`: {message}")]
pub struct IgnoreError {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub message: String,
}

/// Compile `--ignore` globs (`*` does not stop at `.` or `/`: `K8s.image.*` ignores every
/// image reading).
pub fn ignore_set(patterns: &[String]) -> Result<GlobSet, IgnoreError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| IgnoreError {
            pattern: p.clone(),
            message: e.kind().to_string(),
        })?);
    }
    b.build().map_err(|e| IgnoreError {
        pattern: patterns.join(" "),
        message: e.to_string(),
    })
}

/// Every reading of a snapshot by path. Where a type or subtype appears twice, the later
/// value of a key wins (as `Snapshot::lookup` finds the first, documents written by cnsctl
/// never repeat one).
pub fn readings(s: &Snapshot) -> BTreeMap<String, Value> {
    located(s).into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// [`readings`] with where each is: type, subtype, key.
fn located(s: &Snapshot) -> BTreeMap<String, ([String; 3], Value)> {
    let mut out = BTreeMap::new();
    for m in &s.measurements {
        for st in &m.subtypes {
            for (k, v) in &st.data {
                out.insert(
                    format!("{}.{}.{k}", m.kind, st.subtype),
                    ([m.kind.clone(), st.subtype.clone(), k.clone()], v.clone()),
                );
            }
        }
    }
    out
}

/// Compare `baseline` with `target`, skipping paths matched by `ignore`, and volatile
/// readings unless `include_volatile`.
pub fn diff(
    baseline: &Snapshot,
    target: &Snapshot,
    ignore: &GlobSet,
    include_volatile: bool,
) -> Drift {
    let (a, b) = (located(baseline), located(target));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        let at = x.or(y).map(|(at, _)| at.clone()).unwrap_or_default();
        let (x, y) = (x.map(|(_, v)| v), y.map(|(_, v)| v));
        let kind = match (x, y) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => ChangeKind::Modified,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (None, None) => continue,
        };
        if ignore.is_match(k) {
            summary.ignored += 1;
            continue;
        }
        if !include_volatile && is_volatile(k) {
            summary.volatile += 1;
            continue;
        }
        match kind {
            ChangeKind::Added => summary.added += 1,
            ChangeKind::Removed => summary.removed += 1,
            ChangeKind::Modified => summary.modified += 1,
        }
        let severity = severity(k);
        match severity {
            Severity::Critical => summary.critical += 1,
            Severity::Warning => summary.warning += 1,
            Severity::Info => summary.info += 1,
        }
        changes.push(Change {
            kind,
            path: k.clone(),
            severity,
            baseline: x.cloned(),
            target: y.cloned(),
            at,
        });
    }
    Drift { summary, changes }
}

/// A value as the table shows it (strings bare).
pub fn show(v: Option<&Value>) -> String {
    match v {
        None => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn snap(yaml: &str) -> Snapshot {
        Snapshot::from_yaml(
            "s.yaml",
            &format!("kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\n{yaml}"),
        )
        .unwrap()
    }

    #[test]
    fn added_removed_modified_sorted_and_ignored() {
        let a = snap(
            "metadata: {timestamp: a}\nmeasurements:\n- type: K8s\n  subtypes:\n  - subtype: server\n    data: {version: v1.33.5}\n  - subtype: image\n    data: {nginx: '1.0'}\n- type: OS\n  subtypes:\n  - subtype: kmod\n    data: {nvidia: true, old: true}\n",
        );
        let b = snap(
            "metadata: {timestamp: b}\nmeasurements:\n- type: OS\n  subtypes:\n  - subtype: kmod\n    data: {nvidia: true, new: true}\n- type: K8s\n  subtypes:\n  - subtype: server\n    data: {version: v1.34.1}\n  - subtype: image\n    data: {nginx: '2.0'}\n",
        );
        let d = diff(&a, &b, &ignore_set(&[]).unwrap(), false);
        let paths: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.kind))
            .collect();
        assert_eq!(
            paths,
            [
                ("K8s.image.nginx", ChangeKind::Modified),
                ("K8s.server.version", ChangeKind::Modified),
                ("OS.kmod.new", ChangeKind::Added),
                ("OS.kmod.old", ChangeKind::Removed),
            ]
        );
        let t = table(&d, None);
        assert!(
            t.contains("K8s.server.version  modified  critical  v1.33.5   v1.34.1"),
            "{t}"
        );
        assert!(t.ends_with("1 added, 1 removed, 2 modified: 1 critical, 2 warning, 1 info\n"));
        let d = diff(&a, &b, &ignore_set(&["K8s.image.*".into()]).unwrap(), false);
        assert_eq!(d.summary.modified, 1);
        assert_eq!(d.summary.ignored, 1);
        assert!(
            diff(&a, &a, &ignore_set(&[]).unwrap(), false)
                .changes
                .is_empty()
        );
        assert!(
            ignore_set(&["a[".into()])
                .unwrap_err()
                .to_string()
                .contains("`a[`")
        );
    }

    #[test]
    fn severity_follows_what_breaks_a_gpu_node() {
        for (path, want) in [
            ("OS.sysctl./proc/sys/kernel/osrelease", Severity::Critical),
            ("GPU.smi.driver", Severity::Critical),
            ("GPU.hardware.count", Severity::Critical),
            ("K8s.server.version", Severity::Critical),
            ("GPU.smi.persistence-mode", Severity::Warning),
            ("OS.kmod.nvidia_peermem", Severity::Warning),
            ("SystemD.containerd.service.LimitNOFILE", Severity::Warning),
            ("K8s.node.kubelet-version", Severity::Warning),
            ("K8s.topology.gpu-h100.nodes", Severity::Warning),
            ("K8s.image.nvcr.io/nvidia/gpu-operator", Severity::Info),
            ("K8s.node.label.nodeGroup", Severity::Info),
        ] {
            assert_eq!(severity(path), want, "{path}");
        }
        for v in [
            "K8s.node.label.nvidia.com/gfd.timestamp",
            "SystemD.kubelet.service.ActiveEnterTimestamp",
            "SystemD.kubelet.service.MainPID",
            "K8s.node.provider-id",
        ] {
            assert!(is_volatile(v), "{v}");
        }
        assert!(!is_volatile("K8s.node.kubelet-version"));
    }

    /// Two snapshots of one node: volatile readings, an escaped key, new subtypes.
    pub(super) fn two() -> (Snapshot, Snapshot) {
        let a = snap(
            "measurements:\n- type: K8s\n  subtypes:\n  - subtype: node\n    data: {name: n1, label.nvidia.com/gfd.timestamp: '1', label.a~b/c: x}\n- type: GPU\n  subtypes:\n  - subtype: smi\n    data: {driver: 570.1, gone: true}\n",
        );
        let b = snap(
            "measurements:\n- type: K8s\n  subtypes:\n  - subtype: node\n    data: {name: n2, label.nvidia.com/gfd.timestamp: '2', label.a~b/c: y}\n  - subtype: server\n    data: {version: v1.34.1}\n- type: GPU\n  subtypes:\n  - subtype: smi\n    data: {driver: 580.95.05, new: 1}\n- type: SystemD\n  subtypes:\n  - subtype: kubelet.service\n    data: {ActiveState: active}\n",
        );
        (a, b)
    }

    #[test]
    fn volatile_readings_are_left_out_unless_asked_for() {
        let (a, b) = two();
        let none = ignore_set(&[]).unwrap();
        let d = diff(&a, &b, &none, false);
        assert_eq!(d.summary.volatile, 2);
        assert!(d.changes.iter().all(|c| !is_volatile(&c.path)));
        assert!(
            table(&d, None).ends_with("(2 volatile)\n"),
            "{}",
            table(&d, None)
        );
        let all = diff(&a, &b, &none, true);
        assert_eq!(all.summary.volatile, 0);
        assert_eq!(all.changes.len(), d.changes.len() + 2);
    }
}
