//! Drift between two snapshots: every reading (`{Type}.{subtype}.{key}`) added, removed or
//! modified, sorted by path. Metadata (timestamps, source node) is not a reading.

use crate::document::Snapshot;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

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
    /// The baseline's value (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Value>,
    /// The target's value (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
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
    let mut out = BTreeMap::new();
    for m in &s.measurements {
        for st in &m.subtypes {
            for (k, v) in &st.data {
                out.insert(format!("{}.{}.{k}", m.kind, st.subtype), v.clone());
            }
        }
    }
    out
}

/// Compare `baseline` with `target`, skipping paths matched by `ignore`.
pub fn diff(baseline: &Snapshot, target: &Snapshot, ignore: &GlobSet) -> Drift {
    let (a, b) = (readings(baseline), readings(target));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
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
        match kind {
            ChangeKind::Added => summary.added += 1,
            ChangeKind::Removed => summary.removed += 1,
            ChangeKind::Modified => summary.modified += 1,
        }
        changes.push(Change {
            kind,
            path: k.clone(),
            baseline: x.cloned(),
            target: y.cloned(),
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

/// The drift as an aligned text table (`PATH  CHANGE  BASELINE  TARGET`) and a summary line;
/// paths and values with control characters are shown escaped ([`cns_files::terminal_safe`]).
pub fn table(d: &Drift) -> String {
    let rows: Vec<[String; 4]> = d
        .changes
        .iter()
        .map(|c| {
            [
                cns_files::terminal_safe(&c.path, false).into_owned(),
                format!("{:?}", c.kind).to_lowercase(),
                cns_files::terminal_safe(&show(c.baseline.as_ref()), false).into_owned(),
                cns_files::terminal_safe(&show(c.target.as_ref()), false).into_owned(),
            ]
        })
        .collect();
    let head = ["PATH", "CHANGE", "BASELINE", "TARGET"].map(String::from);
    let mut w = [0usize; 4];
    for r in std::iter::once(&head).chain(&rows) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    if !rows.is_empty() {
        for r in std::iter::once(&head).chain(&rows) {
            let line = format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let s = &d.summary;
    out.push_str(&format!(
        "{} added, {} removed, {} modified{}\n",
        s.added,
        s.removed,
        s.modified,
        if s.ignored > 0 {
            format!(" ({} ignored)", s.ignored)
        } else {
            String::new()
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(yaml: &str) -> Snapshot {
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
        let d = diff(&a, &b, &ignore_set(&[]).unwrap());
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
        let t = table(&d);
        assert!(
            t.contains("K8s.server.version  modified  v1.33.5   v1.34.1"),
            "{t}"
        );
        assert!(t.ends_with("1 added, 1 removed, 2 modified\n"));
        let d = diff(&a, &b, &ignore_set(&["K8s.image.*".into()]).unwrap());
        assert_eq!(d.summary.modified, 1);
        assert_eq!(d.summary.ignored, 1);
        assert!(diff(&a, &a, &ignore_set(&[]).unwrap()).changes.is_empty());
        assert!(
            ignore_set(&["a[".into()])
                .unwrap_err()
                .to_string()
                .contains("`a[`")
        );
    }
}
