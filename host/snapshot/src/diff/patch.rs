//! The drift as RFC 6902 JSON Patch operations on the baseline document.

use super::{ChangeKind, Drift};
use crate::document::Snapshot;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An RFC 6901 reference token: `~` as `~0`, `/` as `~1`.
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The drift as RFC 6902 operations on the baseline document (as `snapshot --format json`
/// writes it): `replace`, `remove` and `add` of each changed reading's `data` key; a subtype
/// or measurement the baseline lacks is added whole (after the key operations, appended with
/// `-`, so no index shifts). Applied to the baseline, the operations give a document with the
/// target's readings, save those the diff left out (ignored, volatile).
pub fn json_patch(baseline: &Snapshot, d: &Drift) -> Vec<Value> {
    // Where each (type, subtype) is in the baseline: the last, as `readings` lets it win.
    let mut index: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, m) in baseline.measurements.iter().enumerate() {
        kinds.insert(m.kind.as_str(), i);
        for (j, st) in m.subtypes.iter().enumerate() {
            index.insert((m.kind.as_str(), st.subtype.as_str()), (i, j));
        }
    }
    let mut ops = Vec::new();
    // New subtypes by type, then subtype: their data, in order.
    let mut new: BTreeMap<&str, BTreeMap<&str, serde_json::Map<String, Value>>> = BTreeMap::new();
    for c in &d.changes {
        let [kind, subtype, key] = &c.at;
        let Some((i, j)) = index.get(&(kind.as_str(), subtype.as_str())) else {
            if let Some(v) = &c.target {
                new.entry(kind)
                    .or_default()
                    .entry(subtype)
                    .or_default()
                    .insert(key.clone(), v.clone());
            }
            continue;
        };
        let path = format!("/measurements/{i}/subtypes/{j}/data/{}", token(key));
        ops.push(match (c.kind, &c.target) {
            (ChangeKind::Removed, _) | (_, None) => json!({"op": "remove", "path": path}),
            (ChangeKind::Modified, Some(v)) => json!({"op": "replace", "path": path, "value": v}),
            (ChangeKind::Added, Some(v)) => json!({"op": "add", "path": path, "value": v}),
        });
    }
    for (kind, subtypes) in new {
        let objects: Vec<Value> = subtypes
            .into_iter()
            .map(|(name, data)| json!({"subtype": name, "data": data}))
            .collect();
        match kinds.get(kind) {
            Some(i) => ops.extend(objects.into_iter().map(
                |o| json!({"op": "add", "path": format!("/measurements/{i}/subtypes/-"), "value": o}),
            )),
            None => ops.push(
                json!({"op": "add", "path": "/measurements/-", "value": {"type": kind, "subtypes": objects}}),
            ),
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::super::tests::two;
    use super::super::{diff, ignore_set};
    use super::*;

    #[test]
    fn json_patch_operations_take_the_baseline_to_the_target() {
        let (a, b) = two();
        let d = diff(&a, &b, &ignore_set(&[]).unwrap(), true);
        let ops = json_patch(&a, &d);
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "/measurements/1/subtypes/0/data/driver", "value": "580.95.05"}),
                json!({"op": "remove", "path": "/measurements/1/subtypes/0/data/gone"}),
                json!({"op": "add", "path": "/measurements/1/subtypes/0/data/new", "value": 1}),
                json!({"op": "replace", "path": "/measurements/0/subtypes/0/data/label.a~0b~1c", "value": "y"}),
                json!({"op": "replace", "path": "/measurements/0/subtypes/0/data/label.nvidia.com~1gfd.timestamp", "value": "2"}),
                json!({"op": "replace", "path": "/measurements/0/subtypes/0/data/name", "value": "n2"}),
                json!({"op": "add", "path": "/measurements/0/subtypes/-", "value": {"subtype": "server", "data": {"version": "v1.34.1"}}}),
                json!({"op": "add", "path": "/measurements/-", "value": {"type": "SystemD", "subtypes": [{"subtype": "kubelet.service", "data": {"ActiveState": "active"}}]}}),
            ]
        );
    }
}
