//! Resolution of criteria into a `recipeResult`: matching overlays, most specific leaves,
//! inheritance chains merged base-first, registry defaults, and the deployment order.

use crate::model::{
    ComponentRef, Constraint, OverlaySpec, RecipeMetadata, RecipeResult, ResultMeta,
};
use crate::{API_VERSION, Criteria, Error, Registry, Result, Store};
use std::collections::{BTreeMap, BTreeSet};

/// Version stamped into `metadata.version` of resolved recipes.
pub const DATA_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// The inheritance chain of `name`, root first (`base → … → name`); detects cycles and
/// unknown bases.
pub fn chain(overlays: &BTreeMap<String, RecipeMetadata>, name: &str) -> Result<Vec<String>> {
    let mut out = vec![name.to_string()];
    let mut cur = name.to_string();
    loop {
        let o = &overlays[&cur];
        let parent = match (o.spec.base.as_deref(), cur.as_str()) {
            (Some(b), _) if !b.is_empty() => b.to_string(),
            (_, "base") => break,
            _ => "base".to_string(),
        };
        if !overlays.contains_key(&parent) {
            return Err(Error::UnknownBase {
                overlay: cur,
                base: parent,
            });
        }
        if out.contains(&parent) {
            out.reverse();
            out.push(parent);
            return Err(Error::InheritanceCycle {
                chain: out.join(" -> "),
            });
        }
        out.push(parent.clone());
        cur = parent;
    }
    out.reverse();
    Ok(out)
}

/// Merge `over` into `acc`: constraints and components are unions by name (later wins);
/// scalar component fields are replaced when set, `overrides` deep-merge, and
/// `dependencyRefs`/`manifestFiles` accumulate without duplicates.
pub fn merge_spec(acc: &mut OverlaySpec, over: &OverlaySpec) {
    for c in &over.constraints {
        match acc.constraints.iter_mut().find(|x| x.name == c.name) {
            Some(x) => *x = c.clone(),
            None => acc.constraints.push(c.clone()),
        }
    }
    for r in &over.component_refs {
        match acc.component_refs.iter_mut().find(|x| x.name == r.name) {
            Some(x) => merge_ref(x, r),
            None => acc.component_refs.push(r.clone()),
        }
    }
}

fn merge_ref(acc: &mut ComponentRef, over: &ComponentRef) {
    macro_rules! scalar {
        ($($f:ident),*) => { $( if over.$f.is_some() { acc.$f = over.$f.clone(); } )* };
    }
    scalar!(kind, source, chart, version, namespace, values_file);
    if let Some(o) = &over.overrides {
        match &mut acc.overrides {
            Some(a) => cns_values::deep_merge(a, o),
            None => acc.overrides = Some(o.clone()),
        }
    }
    for d in &over.dependency_refs {
        if !acc.dependency_refs.contains(d) {
            acc.dependency_refs.push(d.clone());
        }
    }
    for m in &over.manifest_files {
        if !acc.manifest_files.contains(m) {
            acc.manifest_files.push(m.clone());
        }
    }
}

/// Fill chart source, name, version and namespace from the registry where the recipe
/// leaves them empty; a component outside the registry must carry them itself.
pub fn apply_registry_defaults(
    store: &Store,
    registry: &Registry,
    refs: &mut [ComponentRef],
) -> Result<()> {
    for r in refs {
        let d = registry.get(&r.name);
        let fill = |field: &mut Option<String>,
                    default: Option<&String>,
                    name: &'static str|
         -> Result<()> {
            if field.is_none() {
                *field = Some(default.cloned().ok_or_else(|| Error::IncompleteComponent {
                    component: r.name.clone(),
                    field: name,
                })?);
            }
            Ok(())
        };
        let name = r.name.clone();
        fill(&mut r.source, d.map(|d| &d.helm.repository), "source")?;
        fill(&mut r.version, d.map(|d| &d.helm.version), "version")?;
        if r.chart.is_none() {
            r.chart = Some(
                d.map(|d| d.helm.chart.clone())
                    .unwrap_or_else(|| name.clone()),
            );
        }
        if r.namespace.is_none() {
            r.namespace = Some(
                d.map(|d| d.helm.namespace.clone())
                    .unwrap_or_else(|| name.clone()),
            );
        }
        if r.kind.is_none() {
            r.kind = Some("Helm".into());
        }
        let default_values = format!("components/{name}/values.yaml");
        if r.values_file.is_none() && store.get(&default_values).is_some() {
            r.values_file = Some(default_values);
        }
        r.dependency_refs.sort();
        r.manifest_files.sort();
    }
    Ok(())
}

/// Topological order of the enabled components (Kahn's algorithm, ties alphabetical).
/// A dependency on a disabled component counts as satisfied; on an absent one, an error.
pub fn deployment_order(refs: &[ComponentRef]) -> Result<Vec<String>> {
    let all: BTreeSet<&str> = refs.iter().map(|r| r.name.as_str()).collect();
    let enabled: BTreeMap<&str, &ComponentRef> = refs
        .iter()
        .filter(|r| r.enabled())
        .map(|r| (r.name.as_str(), r))
        .collect();
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, r) in &enabled {
        let mut deps = BTreeSet::new();
        for d in &r.dependency_refs {
            if !all.contains(d.as_str()) {
                return Err(Error::UnknownDependency {
                    component: name.to_string(),
                    dependency: d.clone(),
                });
            }
            if enabled.contains_key(d.as_str()) {
                deps.insert(d.as_str());
            }
        }
        pending.insert(name, deps);
    }
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(n, _)| *n);
        let Some(next) = ready else {
            return Err(Error::DependencyCycle {
                components: pending.keys().copied().collect::<Vec<_>>().join(", "),
            });
        };
        pending.remove(next);
        for deps in pending.values_mut() {
            deps.remove(next);
        }
        order.push(next.to_string());
    }
    Ok(order)
}

/// The supported combinations nearest to `query` that keep its field `keep`: most given
/// fields equal first, at most four, `; `-separated.
fn closest(store: &Store, query: &Criteria, keep: usize) -> Result<String> {
    let all = supported(store)?;
    let q = query.fields();
    let score = |c: &Criteria| {
        c.fields()
            .iter()
            .zip(q.iter())
            .filter(|((_, a, _), (_, b, _))| *b != "any" && a == b)
            .count()
    };
    let with: Vec<&Criteria> = all
        .iter()
        .filter(|c| c.fields()[keep].1 == q[keep].1)
        .collect();
    if with.is_empty() {
        let field = q[keep].0;
        let mut values: Vec<&str> = all.iter().map(|c| c.fields()[keep].1).collect();
        values.sort_unstable();
        values.dedup();
        return Ok(format!(
            "none with {field}={}; supported {field} values: {}",
            q[keep].1,
            values.join(", ")
        ));
    }
    let best = with.iter().map(|c| score(c)).max().unwrap_or(0);
    Ok(with
        .into_iter()
        .filter(|c| score(c) == best)
        .take(4)
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("; "))
}

/// Resolve `query` against the recipe data.
pub fn resolve(store: &Store, query: &Criteria) -> Result<RecipeResult> {
    query.check()?;
    let overlays = store.overlays()?;
    if !overlays.contains_key("base") {
        return Err(Error::MissingFile {
            from: store.origin().to_string(),
            path: "overlays/base.yaml".into(),
        });
    }
    let registry = store.registry()?;
    let mut chains = BTreeMap::new();
    for name in overlays.keys() {
        chains.insert(name.clone(), chain(overlays, name)?);
    }
    let matching: Vec<&String> = overlays
        .iter()
        .filter(|(_, o)| o.spec.criteria.as_ref().is_some_and(|c| c.matches(query)))
        .map(|(n, _)| n)
        .collect();
    // Keep the maximal leaves: drop a match that is an ancestor of another match.
    let mut leaves: Vec<&String> = matching
        .iter()
        .filter(|m| !matching.iter().any(|o| o != *m && chains[*o].contains(m)))
        .copied()
        .collect();
    if leaves.is_empty() {
        return Err(Error::NoMatch {
            criteria: query.to_string(),
        });
    }
    leaves.sort_by_key(|n| {
        (
            overlays[*n]
                .spec
                .criteria
                .as_ref()
                .map_or(0, Criteria::specificity),
            (*n).clone(),
        )
    });

    let mut spec = OverlaySpec::default();
    let mut applied: Vec<String> = Vec::new();
    for leaf in leaves {
        for name in &chains[leaf] {
            if !applied.contains(name) {
                merge_spec(&mut spec, &overlays[name].spec);
                applied.push(name.clone());
            }
        }
    }
    // Right or loud: every criterion the query gives must be one an applied overlay is
    // specialised for, or the recipe would claim it without carrying anything for it.
    for (i, (field, value, _)) in query.fields().iter().enumerate() {
        if *value == "any" {
            continue;
        }
        let covered = applied.iter().any(|n| {
            overlays[n]
                .spec
                .criteria
                .as_ref()
                .is_some_and(|c| c.fields()[i].1 == *value)
        });
        if !covered {
            return Err(Error::Unspecialised {
                criterion: format!("{field}={value}"),
                criteria: query.to_string(),
                closest: closest(store, query, i)?,
            });
        }
    }
    let mut refs = spec.component_refs;
    apply_registry_defaults(store, registry, &mut refs)?;
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    for r in &refs {
        store.component_values(r)?;
        store.manifests(r)?;
    }
    let order = deployment_order(&refs)?;
    let mut constraints: Vec<Constraint> = spec.constraints;
    constraints.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(RecipeResult {
        kind: "recipeResult".into(),
        api_version: API_VERSION.into(),
        metadata: ResultMeta {
            version: Some(DATA_VERSION.into()),
            applied_overlays: applied,
            open_criteria: query
                .fields()
                .iter()
                .filter(|(_, v, _)| *v == "any")
                .map(|(f, _, _)| f.to_string())
                .collect(),
            extra: Default::default(),
        },
        criteria: query.clone(),
        constraints,
        component_refs: refs,
        deployment_order: order,
    })
}

/// Every full criteria combination (service, accelerator, os, intent) the data supports: those
/// whose every field is named by an overlay that matches them, sorted.
pub fn supported(store: &Store) -> Result<Vec<Criteria>> {
    use crate::criteria::{ACCELERATORS, INTENTS, OSES, SERVICES};
    let overlays = store.overlays()?;
    let mut out = Vec::new();
    for service in SERVICES {
        for accelerator in ACCELERATORS {
            for os in OSES {
                for intent in INTENTS {
                    let q = Criteria {
                        service: service.to_string(),
                        accelerator: accelerator.to_string(),
                        os: os.to_string(),
                        intent: intent.to_string(),
                    };
                    if covered(overlays, &q) {
                        out.push(q);
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The supported combinations that `filter` admits: each of its fields `any` or equal
/// (what `recipe --list --service eks` lists).
pub fn supported_matching(store: &Store, filter: &Criteria) -> Result<Vec<Criteria>> {
    filter.check()?;
    Ok(supported(store)?
        .into_iter()
        .filter(|c| filter.matches(c))
        .collect())
}

/// Whether every criterion `q` gives is named by an overlay that matches it (the right-or-loud
/// rule of [`resolve`], without merging anything).
fn covered(overlays: &BTreeMap<String, RecipeMetadata>, q: &Criteria) -> bool {
    let matching: Vec<&Criteria> = overlays
        .values()
        .filter_map(|o| o.spec.criteria.as_ref())
        .filter(|c| c.matches(q))
        .collect();
    q.fields()
        .iter()
        .enumerate()
        .all(|(i, (_, v, _))| *v == "any" || matching.iter().any(|c| c.fields()[i].1 == *v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(name: &str, deps: &[&str]) -> ComponentRef {
        ComponentRef {
            name: name.into(),
            dependency_refs: deps.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn topological_order_ties_alphabetical() {
        let refs = [
            r("gpu-operator", &["cert-manager"]),
            r("cert-manager", &[]),
            r("b", &[]),
            r("z", &["b"]),
        ];
        assert_eq!(
            deployment_order(&refs).unwrap(),
            ["b", "cert-manager", "gpu-operator", "z"]
        );
    }

    #[test]
    fn topological_errors() {
        let e = deployment_order(&[r("a", &["nope"])])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "component `a` depends on `nope`, which is not in the recipe"
        );
        let e = deployment_order(&[r("a", &["b"]), r("b", &["a"]), r("c", &[])])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "dependency cycle among components: a, b");
    }

    #[test]
    fn disabled_dependency_is_satisfied() {
        let mut off = r("cert-manager", &[]);
        off.overrides = Some(json!({"enabled": false}));
        assert_eq!(
            deployment_order(&[r("gpu-operator", &["cert-manager"]), off]).unwrap(),
            ["gpu-operator"]
        );
    }

    #[test]
    fn merge_semantics() {
        let mut acc = OverlaySpec {
            constraints: vec![Constraint {
                name: "K".into(),
                value: ">= 1.25".into(),
                remediation: None,
            }],
            component_refs: vec![ComponentRef {
                name: "a".into(),
                version: Some("1".into()),
                overrides: Some(json!({"x": {"y": 1, "z": 2}})),
                dependency_refs: vec!["d1".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let over = OverlaySpec {
            constraints: vec![
                Constraint {
                    name: "K".into(),
                    value: ">= 1.30".into(),
                    remediation: None,
                },
                Constraint {
                    name: "O".into(),
                    value: "ubuntu".into(),
                    remediation: None,
                },
            ],
            component_refs: vec![ComponentRef {
                name: "a".into(),
                overrides: Some(json!({"x": {"z": 3}})),
                dependency_refs: vec!["d1".into(), "d2".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        merge_spec(&mut acc, &over);
        assert_eq!(acc.constraints.len(), 2);
        assert_eq!(acc.constraints[0].value, ">= 1.30");
        let a = &acc.component_refs[0];
        assert_eq!(a.version.as_deref(), Some("1"));
        assert_eq!(a.overrides, Some(json!({"x": {"y": 1, "z": 3}})));
        assert_eq!(a.dependency_refs, ["d1", "d2"]);
    }

    #[test]
    fn supported_matching_keeps_what_the_filter_names() {
        let store = Store::embedded();
        let all = supported(&store).unwrap();
        let any = Criteria::new(None, None, None, None).unwrap();
        assert_eq!(supported_matching(&store, &any).unwrap(), all);
        let eks = Criteria::new(Some("eks"), None, None, Some("training")).unwrap();
        let got = supported_matching(&store, &eks).unwrap();
        assert!(!got.is_empty() && got.len() < all.len());
        assert!(
            got.iter()
                .all(|c| c.service == "eks" && c.intent == "training")
        );
        assert_eq!(
            got.len(),
            all.iter()
                .filter(|c| c.service == "eks" && c.intent == "training")
                .count()
        );
        let bad = Criteria {
            service: "nope".into(),
            ..any
        };
        assert!(supported_matching(&store, &bad).is_err());
    }
}
