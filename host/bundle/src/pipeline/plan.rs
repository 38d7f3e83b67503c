//! Step 1 of the pipeline: the recipe, the registry defaults and the options → one resolved
//! job per enabled component, in deployment order, with everything checkable checked before
//! any plugin runs (deployer and bundlers exist, `--set` names a component, the order is
//! valid) and the warnings the user should see.

use super::mirror::point_at_mirror;
use super::placement::{cluster_tree, deployer_flags, scheduling, unplaced};
use crate::options::SetOverride;
use crate::{Backend, BundleOptions, Error, Result};
use cns_recipe::{ComponentRef, RecipeResult, Registry, Store};
use cns_runtime::types::{ChartSource, ComponentInput, Criteria, InputFile, OptionPair};
use serde_json::Value;
use std::collections::BTreeMap;

/// A component with every field its bundler needs, resolved from the recipe, the registry
/// defaults and the flags.
#[derive(Debug, Clone)]
pub struct ResolvedComponent {
    /// The bundler plugin that renders it.
    pub plugin: String,
    /// Position in the deployment order.
    pub order: u32,
    /// The bundler's input.
    pub input: ComponentInput,
    /// The recorded chart its final values are checked against, when the recipe data has
    /// one for this chart version.
    pub chart: Option<std::sync::Arc<cns_recipe::chart::ChartRecord>>,
}

/// `values` against `record`: every contradiction, as one error naming the component.
pub(super) fn check_chart_values(
    component: &str,
    record: &cns_recipe::chart::ChartRecord,
    values: &Value,
) -> Result<()> {
    let problems = record.check(values);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::ChartValues {
        component: component.to_string(),
        chart: record.chart.clone(),
        version: record.version.clone(),
        problems,
    })
}

/// What the image inventory needs of a component besides its final values: the registry's
/// image data with the chart version it was recorded for, and the `--cluster-values` tree.
#[derive(Debug, Clone, Default)]
pub(super) struct ImageContext {
    pub(super) data: Option<(std::sync::Arc<cns_recipe::registry::ImageData>, String)>,
    pub(super) cluster: Option<Value>,
}

/// What [`plan`] decided: the jobs in deployment order and what the user should know.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One per enabled component, in deployment order.
    pub components: Vec<ResolvedComponent>,
    /// Things that did not stop the bundle but may surprise (e.g. scheduling flags that
    /// have nowhere to go for a component).
    pub warnings: Vec<String>,
    pub(super) criteria: Criteria,
    pub(super) recipe_version: String,
    pub(super) deployer: String,
    /// The deployer flags, sorted by key.
    pub(super) deployer_flags: Vec<OptionPair>,
    /// The clusters of `--cluster-values`, in the order given.
    pub(super) clusters: Vec<String>,
    /// Per component: the Pod Security level its registry entry names.
    pub(super) pod_security: BTreeMap<String, String>,
    /// Per component, with `--cluster-values`: what differs per cluster.
    pub(super) cluster_trees: BTreeMap<String, Value>,
    pub(super) parallel: bool,
    /// Per component: its registry entry and, with `--cluster-values`, its cluster tree
    /// (what the image inventory needs besides the final values).
    pub(super) image_context: BTreeMap<String, ImageContext>,
    /// With `--upgrade-from`: what was named as installed, and the move judged.
    pub(super) upgrade: Option<(String, cns_recipe::upgrade::Report)>,
    /// Each bundled component as it will be installed, in deployment order (what
    /// `bundle-info.yaml` lists).
    pub(super) installed: Vec<cns_recipe::upgrade::Installed>,
}

/// Map each `--set` to a recipe component (by name or registry alias); collect disables.
fn group_sets<'a>(
    recipe: &RecipeResult,
    registry: &Registry,
    sets: &'a [SetOverride],
) -> Result<BTreeMap<String, Vec<&'a SetOverride>>> {
    let mut out: BTreeMap<String, Vec<&SetOverride>> = BTreeMap::new();
    for s in sets {
        let name = if recipe.component(&s.component).is_some() {
            Some(s.component.as_str())
        } else {
            registry
                .resolve_key(&s.component)
                .filter(|n| recipe.component(n).is_some())
        };
        let Some(name) = name else {
            return Err(Error::UnknownSetComponent {
                component: s.component.clone(),
                known: recipe
                    .component_refs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        out.entry(name.to_string()).or_default().push(s);
    }
    Ok(out)
}

fn criteria(recipe: &RecipeResult) -> Criteria {
    let c = &recipe.criteria;
    Criteria {
        service: c.service.clone(),
        accelerator: c.accelerator.clone(),
        os: c.os.clone(),
        intent: c.intent.clone(),
    }
}

/// The recipe's components with `--set NAME:enabled=…` applied and registry defaults
/// filled in.
fn components_with_defaults(
    recipe: &RecipeResult,
    store: &Store,
    registry: &Registry,
    sets: &BTreeMap<String, Vec<&SetOverride>>,
) -> Result<Vec<ComponentRef>> {
    let mut refs: Vec<ComponentRef> = recipe.component_refs.clone();
    for r in &mut refs {
        let Some(component_sets) = sets.get(&r.name) else {
            continue;
        };
        // `enabled` switches the component itself; it is not a chart value.
        match SetOverride::tree(component_sets)?.get("enabled") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                let o = r
                    .overrides
                    .get_or_insert_with(|| Value::Object(Default::default()));
                o["enabled"] = Value::Bool(false);
            }
            Some(other) => {
                return Err(Error::InvalidFlag {
                    flag: "--set",
                    value: format!("{}:enabled={other}", r.name),
                    reason: "`enabled` takes true or false".into(),
                });
            }
        }
    }
    cns_recipe::resolve::apply_registry_defaults(store, registry, &mut refs)?;
    Ok(refs)
}

/// The deployment order of `refs`, checked against the recipe's `deploymentOrder`.
fn checked_order(recipe: &RecipeResult, refs: &[ComponentRef]) -> Result<Vec<String>> {
    let order = cns_recipe::resolve::deployment_order(refs)?;
    if recipe.deployment_order.is_empty() {
        return Ok(order);
    }
    let given: Vec<&String> = recipe
        .deployment_order
        .iter()
        .filter(|n| order.contains(n))
        .collect();
    let valid = given.len() == order.len()
        && given.iter().enumerate().all(|(i, n)| {
            let r = refs.iter().find(|r| &&r.name == n).expect("in order");
            r.dependency_refs
                .iter()
                .all(|d| !order.contains(d) || given[..i].contains(&d))
        });
    if valid {
        Ok(order)
    } else {
        Err(Error::BadOrder {
            given: recipe.deployment_order.clone(),
            expected: order,
        })
    }
}

/// A field registry defaults always fill; missing means the recipe crate broke its promise.
fn filled(component: &str, field: &'static str, value: &Option<String>) -> Result<String> {
    value.clone().ok_or_else(|| {
        Error::Recipe(cns_recipe::Error::IncompleteComponent {
            component: component.to_string(),
            field,
        })
    })
}

/// Resolve every enabled component into its bundler's input, in deployment order,
/// and check everything that can be checked before a plugin runs.
pub fn plan<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    store: &Store,
    backend: &B,
    opts: &BundleOptions,
) -> Result<Plan> {
    let registry = store.registry()?;
    if !backend.has_deployer(&opts.deployer) {
        return Err(Error::UnknownDeployer {
            name: opts.deployer.clone(),
            available: backend.deployer_names().join(", "),
        });
    }
    let sets = group_sets(recipe, registry, &opts.sets)?;
    let refs = components_with_defaults(recipe, store, registry, &sets)?;
    let order = checked_order(recipe, &refs)?;
    let crit = criteria(recipe);
    let mut components = Vec::new();
    let mut warnings = Vec::new();
    let mut cluster_trees: BTreeMap<String, Value> = BTreeMap::new();
    let mut image_context = BTreeMap::new();
    let placed = |p: &crate::Placement| !p.selector.is_empty() || !p.tolerations.is_empty();
    if !opts.clusters.is_empty() && (placed(&opts.system) || placed(&opts.accelerated)) {
        warnings.push(
            "with --cluster-values the scheduling flags reach each cluster's values files only; manifests that bundlers write from them (such as skyhook's Skyhook resource) keep their default placement".to_string(),
        );
    }
    for (i, name) in order.iter().enumerate() {
        let cref = refs
            .iter()
            .find(|r| &r.name == name)
            .expect("ordered component exists");
        let mut values = store.component_values(cref)?;
        if let Some(component_sets) = sets.get(name) {
            let mut tree = SetOverride::tree(component_sets)?;
            tree.remove("enabled");
            if let Value::Object(map) = &mut values {
                cns_values::strvals::merge(map, tree);
            }
        }
        let mut manifests: Vec<InputFile> = store
            .manifests(cref)?
            .into_iter()
            .map(|(path, content)| InputFile { path, content })
            .collect();
        if let Some(mirror) = &opts.registry_mirror {
            point_at_mirror(name, registry, &mut values, &mut manifests, mirror)?;
        }
        let paths = registry
            .get(name)
            .map(|r| r.node_scheduling.clone())
            .unwrap_or_default();
        warnings.extend(unplaced(name, opts, &paths));
        // With --cluster-values, what differs per cluster leaves the shared values: the
        // bundler gets no scheduling, and the deployer gets the cluster tree.
        if !opts.clusters.is_empty() {
            let moved = registry
                .get(name)
                .map(|r| r.cluster_value_paths.as_slice())
                .unwrap_or_default();
            let tree = cluster_tree(name, &mut values, opts, &paths, moved)?;
            cluster_trees.insert(name.clone(), tree);
        }
        image_context.insert(
            name.clone(),
            ImageContext {
                data: registry
                    .get(name)
                    .and_then(|r| Some((r.images.clone()?, r.helm.version.clone()))),
                cluster: cluster_trees.get(name).cloned(),
            },
        );
        let (system, accelerated) = if opts.clusters.is_empty() {
            (opts.system.clone(), opts.accelerated.clone())
        } else {
            (crate::Placement::default(), crate::Placement::default())
        };
        let plugin = backend.bundler_name(name).ok_or_else(|| Error::NoBundler {
            component: name.clone(),
        })?;
        let chart = filled(name, "chart", &cref.chart)?;
        let version = filled(name, "version", &cref.version)?;
        let record = match store.chart_record(name)? {
            Some(r) if r.chart == chart && r.version == version => {
                if let Some(tree) = cluster_trees.get(name) {
                    check_chart_values(name, &r, tree)?;
                }
                Some(r)
            }
            Some(r) => {
                warnings.push(format!(
                    "the values of `{name}` are not checked against its chart: the recipe data records chart {} {}, the recipe uses {chart} {version}",
                    r.chart, r.version
                ));
                None
            }
            None => None,
        };
        let dependencies: Vec<String> = cref
            .dependency_refs
            .iter()
            .filter(|d| order.contains(d))
            .cloned()
            .collect();
        // In the order the errors for missing fields have always come.
        let namespace = filled(name, "namespace", &cref.namespace)?;
        let source = filled(name, "source", &cref.source)?;
        components.push(ResolvedComponent {
            plugin,
            order: i as u32,
            input: ComponentInput {
                name: name.clone(),
                namespace,
                chart: ChartSource {
                    repository: match &opts.registry_mirror {
                        Some(mirror) => {
                            crate::images::mirrored_chart_source(&source, &chart, mirror)
                        }
                        None => source,
                    },
                    chart,
                    version,
                },
                values_json: cns_values::to_json(&values),
                system: scheduling(
                    &system,
                    &paths.system.node_selector_paths,
                    &paths.system.toleration_paths,
                ),
                accelerated: scheduling(
                    &accelerated,
                    &paths.accelerated.node_selector_paths,
                    &paths.accelerated.toleration_paths,
                ),
                criteria: crit.clone(),
                manifests,
                dependencies,
            },
            chart: record,
        });
    }
    let installed = order
        .iter()
        .filter_map(|n| recipe.component(n))
        .map(|c| cns_recipe::upgrade::of_component(c, store))
        .collect();
    let upgrade = match &opts.upgrade_from {
        Some(from) => Some(judge_upgrade(
            recipe,
            &order,
            store,
            opts,
            from,
            &mut warnings,
        )?),
        None => None,
    };
    Ok(Plan {
        components,
        warnings,
        upgrade,
        installed,
        criteria: crit,
        recipe_version: recipe.metadata.version.clone().unwrap_or_default(),
        deployer: opts.deployer.clone(),
        deployer_flags: deployer_flags(opts),
        clusters: opts.clusters.clone(),
        pod_security: order
            .iter()
            .filter_map(|name| {
                let level = registry.get(name).and_then(|r| r.pod_security)?;
                Some((name.clone(), level.as_str().to_string()))
            })
            .collect(),
        cluster_trees,
        parallel: opts.parallel,
        image_context,
    })
}

/// The move from `from` to the bundled components of `recipe` (`order`); what the recipe
/// has but the bundle leaves out (`-b`, `enabled=false`) is not judged. `blocked` refuses
/// the bundle unless allowed; `unknown` and `identity-changed` are warnings.
fn judge_upgrade(
    recipe: &RecipeResult,
    order: &[String],
    store: &Store,
    opts: &BundleOptions,
    from: &crate::options::UpgradeFrom,
    warnings: &mut Vec<String>,
) -> Result<(String, cns_recipe::upgrade::Report)> {
    use cns_recipe::upgrade::Verdict;
    let mut to = recipe.clone();
    to.component_refs.retain(|c| order.contains(&c.name));
    let installed: Vec<_> = from
        .installed
        .iter()
        .filter(|c| order.contains(&c.name) || recipe.component(&c.name).is_none())
        .cloned()
        .collect();
    let report = cns_recipe::upgrade::check_installed(&installed, &to, store, &opts.deployer)?;
    let blocked: Vec<String> = report
        .components
        .iter()
        .filter(|c| c.verdict == Verdict::Blocked)
        .map(|c| format!("{} ({})", c.component, c.reason))
        .collect();
    if !blocked.is_empty() && !from.allow_blocked {
        return Err(Error::UpgradeBlocked {
            from: from.label.clone(),
            components: blocked.join("; "),
        });
    }
    for c in &report.components {
        if matches!(
            c.verdict,
            Verdict::Unknown | Verdict::IdentityChanged | Verdict::Blocked
        ) {
            warnings.push(format!(
                "--upgrade-from: {} is {}: {} (see UPGRADING.md)",
                c.component,
                c.verdict.as_str(),
                c.reason
            ));
        }
    }
    Ok((from.label.clone(), report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse_set;
    use crate::request::BundleRequest;
    use crate::stub::{Stub, example};

    fn opts(f: impl FnOnce(&mut BundleRequest)) -> BundleOptions {
        let mut r = BundleRequest::default();
        f(&mut r);
        r.options().unwrap()
    }

    #[test]
    fn components_in_deployment_order_with_their_inputs() {
        let (recipe, store) = example();
        let stub = Stub::default();
        let p = plan(&recipe, &store, &stub, &opts(|_| {})).unwrap();
        let names: Vec<&str> = p.components.iter().map(|c| c.input.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "aws-efa-k8s-device-plugin",
                "cert-manager",
                "gpu-operator",
                "nvsentinel",
                "skyhook"
            ]
        );
        let gpu = &p.components[2];
        assert_eq!((gpu.plugin.as_str(), gpu.order), ("stub-gpu-operator", 2));
        assert_eq!(gpu.input.chart.version, "v26.7.0");
        assert_eq!(gpu.input.namespace, "gpu-operator");
        assert_eq!(gpu.input.dependencies, ["cert-manager"]);
        assert_eq!(gpu.input.criteria.accelerator, "h100");
        // The recipe's override is in the bundler's values.
        let v = cns_values::from_json(&gpu.input.values_json).unwrap();
        assert_eq!(v["gdrcopy"]["enabled"], true);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert!(
            stub.rendered.lock().unwrap().is_empty(),
            "planning runs no plugin"
        );
        assert_eq!(p.deployer, "script");
        assert!(p.parallel);
    }

    #[test]
    fn sets_apply_by_name_or_alias_and_disable() {
        let (recipe, store) = example();
        let o = opts(|r| {
            r.sets = vec![
                "gpu-operator:driver.version=570.195.03".into(),
                "skyhook:enabled=false".into(),
            ]
        });
        let p = plan(&recipe, &store, &Stub::default(), &o).unwrap();
        let names: Vec<&str> = p.components.iter().map(|c| c.input.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "aws-efa-k8s-device-plugin",
                "cert-manager",
                "gpu-operator",
                "nvsentinel"
            ]
        );
        let v = cns_values::from_json(&p.components[2].input.values_json).unwrap();
        assert_eq!(v["driver"]["version"], "570.195.03");

        let mut o = BundleOptions {
            deployer: "script".into(),
            ..Default::default()
        };
        o.sets.push(parse_set("nope:a=1").unwrap());
        let e = plan(&recipe, &store, &Stub::default(), &o).unwrap_err();
        assert!(matches!(e, Error::UnknownSetComponent { .. }), "{e}");
        assert!(e.to_string().contains("cert-manager, gpu-operator"), "{e}");

        o.sets = vec![parse_set("skyhook:enabled=maybe").unwrap()];
        let e = plan(&recipe, &store, &Stub::default(), &o).unwrap_err();
        assert!(
            e.to_string().contains("`enabled` takes true or false"),
            "{e}"
        );
    }

    #[test]
    fn refuses_before_any_plugin_runs() {
        let (recipe, store) = example();
        let stub = Stub::default();
        let e = plan(
            &recipe,
            &store,
            &stub,
            &opts(|r| r.deployer = "helm".into()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown deployer `helm`; available: script, flux"
        );
        let stub = Stub {
            bundlers: vec![
                "aws-efa-k8s-device-plugin",
                "cert-manager",
                "gpu-operator",
                "skyhook",
            ],
            ..Default::default()
        };
        let e = plan(&recipe, &store, &stub, &opts(|_| {})).unwrap_err();
        assert!(
            matches!(&e, Error::NoBundler { component } if component == "nvsentinel"),
            "{e}"
        );
        let mut bad = recipe.clone();
        bad.deployment_order.reverse();
        let e = plan(&bad, &store, &Stub::default(), &opts(|_| {})).unwrap_err();
        assert!(matches!(e, Error::BadOrder { .. }), "{e}");
        assert!(stub.rendered.lock().unwrap().is_empty());
    }

    #[test]
    fn scheduling_reaches_the_bundlers_or_the_cluster_files() {
        let (recipe, store) = example();
        let o = opts(|r| {
            r.accelerated_node_selector = vec!["nvidia.com/gpu.present=true".into()];
            r.system_node_toleration = vec!["dedicated=system:NoSchedule".into()];
        });
        let p = plan(&recipe, &store, &Stub::default(), &o).unwrap();
        let gpu = &p.components[2].input;
        assert_eq!(
            gpu.accelerated.node_selector[0].key,
            "nvidia.com/gpu.present"
        );
        assert!(!gpu.accelerated.node_selector_paths.is_empty());
        assert_eq!(gpu.system.tolerations.len(), 1);

        // With --cluster-values the flags leave the bundlers' input for the deployer's options.
        let o = opts(|r| {
            r.deployer = "flux".into();
            r.cluster_values = vec!["a".into(), "b".into()];
            r.accelerated_node_selector = vec!["pool=gpu".into()];
        });
        let p = plan(&recipe, &store, &Stub::default(), &o).unwrap();
        let gpu = &p.components[2].input;
        assert!(gpu.accelerated.node_selector.is_empty());
        assert_eq!(p.clusters, ["a", "b"]);
        let tree = cns_values::to_json(&p.cluster_trees["gpu-operator"]);
        assert!(tree.contains("\"pool\":\"gpu\""), "{tree}");
        assert!(
            p.warnings.iter().any(|w| w.contains("--cluster-values")),
            "{:?}",
            p.warnings
        );
    }
}
