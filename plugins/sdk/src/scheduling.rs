//! Node scheduling helpers: turn selectors and tolerations into values and put them at paths.

use crate::values::{Map, Value, set_path};
use crate::{Label, PluginError, Scheduling, Toleration};

/// A node selector as a values map (`{key: value}`), sorted by key.
pub fn selector_value(labels: &[Label]) -> Value {
    let map: Map<String, Value> = labels
        .iter()
        .map(|l| (l.key.clone(), Value::String(l.value.clone())))
        .collect();
    Value::Object(map)
}

/// Tolerations as a values list, each in Pod-spec form (`key`, `operator`, `value`, `effect`).
pub fn tolerations_value(tolerations: &[Toleration]) -> Value {
    Value::Array(
        tolerations
            .iter()
            .map(|t| {
                cns_values::toleration(
                    t.key.as_deref(),
                    &t.operator,
                    t.value.as_deref(),
                    t.effect.as_deref(),
                )
            })
            .collect(),
    )
}

/// Write the selector at every node-selector path and the tolerations at every toleration
/// path. An empty selector or toleration list leaves the values untouched.
pub fn apply(values: &mut Value, scheduling: &Scheduling) -> Result<(), PluginError> {
    if !scheduling.node_selector.is_empty() {
        let sel = selector_value(&scheduling.node_selector);
        for path in &scheduling.node_selector_paths {
            set_path(values, path, sel.clone())?;
        }
    }
    if !scheduling.tolerations.is_empty() {
        let tol = tolerations_value(&scheduling.tolerations);
        for path in &scheduling.toleration_paths {
            set_path(values, path, tol.clone())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::json;

    fn sched() -> Scheduling {
        Scheduling {
            node_selector: vec![Label {
                key: "nodeGroup".into(),
                value: "system-pool".into(),
            }],
            tolerations: vec![
                Toleration {
                    key: Some("dedicated".into()),
                    operator: "Equal".into(),
                    value: Some("sys".into()),
                    effect: Some("NoSchedule".into()),
                },
                Toleration {
                    key: None,
                    operator: "Exists".into(),
                    value: None,
                    effect: None,
                },
            ],
            node_selector_paths: vec!["nodeSelector".into(), "webhook.nodeSelector".into()],
            toleration_paths: vec!["tolerations".into()],
        }
    }

    #[test]
    fn applies_at_every_path() {
        let mut v = json!({"webhook": {"replicaCount": 1}});
        apply(&mut v, &sched()).unwrap();
        assert_eq!(v["nodeSelector"], json!({"nodeGroup": "system-pool"}));
        assert_eq!(
            v["webhook"]["nodeSelector"],
            json!({"nodeGroup": "system-pool"})
        );
        assert_eq!(v["webhook"]["replicaCount"], json!(1));
        assert_eq!(
            v["tolerations"],
            json!([{"key": "dedicated", "operator": "Equal", "value": "sys", "effect": "NoSchedule"}, {"operator": "Exists"}])
        );
    }

    #[test]
    fn empty_scheduling_changes_nothing() {
        let mut v = json!({"a": 1});
        let s = Scheduling {
            node_selector: vec![],
            tolerations: vec![],
            node_selector_paths: vec!["x".into()],
            toleration_paths: vec!["y".into()],
        };
        apply(&mut v, &s).unwrap();
        assert_eq!(v, json!({"a": 1}));
    }
}
