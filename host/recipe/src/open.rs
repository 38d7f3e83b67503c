//! Criteria a query leaves open (`any`), and what each would decide for this recipe: every
//! value the recipe data supports with the criteria given is resolved, and the recipe it
//! gives compared with the open one (components added or removed, chart versions, values),
//! so `recipe` can say, for example, that an open OS on EKS leaves the GPU Operator
//! installing a driver that Amazon Linux's accelerated AMIs already bring.

use crate::criteria::Criteria;
use crate::{RecipeResult, Result, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A criterion the query left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCriterion {
    /// `service`, `accelerator`, `os` or `intent`.
    pub field: &'static str,
    /// Each value the data supports here, with what choosing it would change.
    pub choices: Vec<Choice>,
}

/// One value of an open criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The value (`ubuntu`).
    pub value: String,
    /// What it changes in the recipe, most telling first (empty: nothing).
    pub changes: Vec<String>,
}

/// At most this many changes are listed per choice.
const SHOWN: usize = 3;

impl std::fmt::Display for OpenCriterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is open (any)", self.field)?;
        if self.choices.is_empty() {
            return write!(
                f,
                "; the recipe data has no value for it with these criteria"
            );
        }
        let (same, differ): (Vec<&Choice>, Vec<&Choice>) =
            self.choices.iter().partition(|c| c.changes.is_empty());
        for c in &differ {
            write!(
                f,
                "; --{} {} gives {}",
                self.field,
                c.value,
                c.changes.join(", ")
            )?;
        }
        if !same.is_empty() {
            let names: Vec<&str> = same.iter().map(|c| c.value.as_str()).collect();
            write!(f, "; {} the same recipe", names.join(", "))?;
        }
        if !differ.is_empty() {
            write!(f, ". Pass --{} to choose", self.field)?;
        }
        Ok(())
    }
}

/// The criteria `query` leaves open, each with the values the data supports given the
/// criteria it does name, and what each would change in `recipe` (resolved for `query`).
pub fn open_criteria(
    store: &Store,
    query: &Criteria,
    recipe: &RecipeResult,
) -> Result<Vec<OpenCriterion>> {
    let supported = crate::resolve::supported(store)?;
    let fields = |c: &Criteria| -> [(&'static str, String); 4] {
        [
            ("service", c.service.clone()),
            ("accelerator", c.accelerator.clone()),
            ("os", c.os.clone()),
            ("intent", c.intent.clone()),
        ]
    };
    let given = fields(query);
    let ours = component_values(store, recipe)?;
    let mut out = Vec::new();
    for (i, (field, value)) in given.iter().enumerate() {
        if value != "any" {
            continue;
        }
        // Values of this field among the supported combinations that agree with every
        // criterion the query names.
        let values: BTreeSet<String> = supported
            .iter()
            .filter(|s| {
                let f = fields(s);
                given
                    .iter()
                    .zip(f.iter())
                    .all(|((_, g), (_, v))| g == "any" || g == v)
            })
            .map(|s| fields(s)[i].1.clone())
            .collect();
        let mut choices = Vec::new();
        for v in values {
            let mut q = query.clone();
            match *field {
                "service" => q.service = v.clone(),
                "accelerator" => q.accelerator = v.clone(),
                "os" => q.os = v.clone(),
                _ => q.intent = v.clone(),
            }
            let Ok(other) = crate::resolve(store, &q) else {
                continue;
            };
            let theirs = component_values(store, &other)?;
            choices.push(Choice {
                value: v,
                changes: changes(&ours, &theirs),
            });
        }
        out.push(OpenCriterion { field, choices });
    }
    Ok(out)
}

type Components = BTreeMap<String, (String, Value)>;

/// Each component's chart version and merged values.
fn component_values(store: &Store, r: &RecipeResult) -> Result<Components> {
    r.component_refs
        .iter()
        .filter(|c| c.enabled())
        .map(|c| {
            Ok((
                c.name.clone(),
                (
                    c.version.clone().unwrap_or_default(),
                    store.component_values(c)?,
                ),
            ))
        })
        .collect()
}

/// What `theirs` changes from `ours`: components, chart versions, then values, the first
/// [`SHOWN`] and a count of the rest.
fn changes(ours: &Components, theirs: &Components) -> Vec<String> {
    let mut all = Vec::new();
    for name in ours.keys().filter(|n| !theirs.contains_key(*n)) {
        all.push(format!("component {name} dropped"));
    }
    for name in theirs.keys().filter(|n| !ours.contains_key(*n)) {
        all.push(format!("component {name} added"));
    }
    for (name, (version, values)) in ours {
        let Some((v2, values2)) = theirs.get(name) else {
            continue;
        };
        if version != v2 {
            all.push(format!("{name} chart {version} instead of {v2}"));
        }
        let mut diffs = Vec::new();
        diff("", values, values2, &mut diffs);
        all.extend(diffs.into_iter().map(|d| format!("{name} {d}")));
    }
    let n = all.len();
    if n > SHOWN {
        all.truncate(SHOWN);
        all.push(format!("and {} more", n - SHOWN));
    }
    all
}

/// Leaf differences `path: a → b` between two values trees.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    let show = |v: Option<&Value>| match v {
        None => "unset".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(&p, u, v, out),
                    (u, v) => out.push(format!("{p} {} instead of {}", show(v), show(u))),
                }
            }
        }
        (x, y) if x != y => out.push(format!(
            "{path} {} instead of {}",
            show(Some(y)),
            show(Some(x))
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_os_on_eks_says_what_amazon_linux_would_change() {
        let store = Store::embedded();
        let q = Criteria::new(Some("eks"), Some("h100"), None, Some("training")).unwrap();
        let r = crate::resolve(&store, &q).unwrap();
        let open = open_criteria(&store, &q, &r).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        let os = &open[0];
        assert_eq!(os.field, "os");
        let al = os
            .choices
            .iter()
            .find(|c| c.value == "amazonlinux")
            .expect("EKS supports Amazon Linux");
        assert!(
            al.changes
                .iter()
                .any(|c| c.starts_with("gpu-operator driver.enabled false instead of true")),
            "{al:?}"
        );
        let text = os.to_string();
        assert!(
            text.starts_with("os is open (any); --os amazonlinux gives component skyhook dropped, gpu-operator driver.enabled false instead of true"),
            "{text}"
        );
        assert!(text.ends_with("Pass --os to choose"), "{text}");
        // Every criterion given: nothing is open.
        let full =
            Criteria::new(Some("eks"), Some("h100"), Some("ubuntu"), Some("training")).unwrap();
        let r = crate::resolve(&store, &full).unwrap();
        assert!(open_criteria(&store, &full, &r).unwrap().is_empty());
    }
}
