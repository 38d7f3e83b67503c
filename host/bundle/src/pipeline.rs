//! The bundle pipeline in three steps: [`plan`] (recipe, registry and flags → one resolved
//! job per component, checked before any plugin runs), [`render`] (the bundler plugin of
//! each component, in parallel or serially) and [`assemble`] (the deployer plugin over the
//! rendered components, then `recipe.yaml` and `checksums.txt`).

use crate::Backend;
use crate::options::SetOverride;
use crate::{BundleOptions, Error, FileTree, Result};
use cns_recipe::{ComponentRef, RecipeResult, Registry, Store};
use cns_runtime::types::{
    ChartSource, ComponentInput, Criteria, DeployerInput, InputFile, OptionPair, RenderedComponent,
    Scheduling,
};
use cns_runtime::{Catalog, OutputFile};
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
}

/// What the image inventory needs of a component besides its final values: the registry's
/// image data with the chart version it was recorded for, and the `--cluster-values` tree.
#[derive(Debug, Clone, Default)]
struct ImageContext {
    data: Option<(std::sync::Arc<cns_recipe::registry::ImageData>, String)>,
    cluster: Option<Value>,
}

/// What [`plan`] decided: the jobs in deployment order and what the user should know.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One per enabled component, in deployment order.
    pub components: Vec<ResolvedComponent>,
    /// Things that did not stop the bundle but may surprise (e.g. scheduling flags that
    /// have nowhere to go for a component).
    pub warnings: Vec<String>,
    criteria: Criteria,
    recipe_version: String,
    deployer: String,
    deployer_options: Vec<OptionPair>,
    parallel: bool,
    /// Per component: its registry entry and, with `--cluster-values`, its cluster tree
    /// (what the image inventory needs besides the final values).
    image_context: BTreeMap<String, ImageContext>,
}

fn scheduling(
    placement: &crate::Placement,
    selector_paths: &[String],
    toleration_paths: &[String],
) -> Scheduling {
    Scheduling {
        node_selector: placement.labels(),
        tolerations: placement.tolerations.clone(),
        node_selector_paths: selector_paths.to_vec(),
        toleration_paths: toleration_paths.to_vec(),
    }
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
        for s in sets.get(&r.name).into_iter().flatten() {
            if s.path != "enabled" {
                continue;
            }
            match s.value {
                Value::Bool(false) => {
                    let o = r
                        .overrides
                        .get_or_insert_with(|| Value::Object(Default::default()));
                    o["enabled"] = Value::Bool(false);
                }
                Value::Bool(true) => {}
                _ => {
                    return Err(Error::InvalidFlag {
                        flag: "--set",
                        value: format!("{}:enabled={}", s.component, s.value),
                        reason: "`enabled` takes true or false".into(),
                    });
                }
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

/// A warning when scheduling flags were given but the component's registry entry declares
/// no scheduling paths at all (a component outside the registry, or one added without
/// them): the flags would otherwise vanish without a word. A component with paths for one
/// class only (e.g. no GPU pods) is fine.
fn unplaced(
    name: &str,
    opts: &BundleOptions,
    paths: &cns_recipe::registry::NodeScheduling,
) -> Option<String> {
    let declared = [&paths.system, &paths.accelerated]
        .iter()
        .any(|p| !p.node_selector_paths.is_empty() || !p.toleration_paths.is_empty());
    if declared {
        return None;
    }
    let given: Vec<String> = [("system", &opts.system), ("accelerated", &opts.accelerated)]
        .iter()
        .flat_map(|(class, p)| {
            let sel = (!p.selector.is_empty()).then(|| format!("--{class}-node-selector"));
            let tol = (!p.tolerations.is_empty()).then(|| format!("--{class}-node-toleration"));
            sel.into_iter().chain(tol)
        })
        .collect();
    (!given.is_empty()).then(|| {
        format!(
            "{} not applied to component `{name}`: its registry entry declares no scheduling paths \
             (add `nodeScheduling` to it, see README \"Scheduling\"), so only its bundler can place them",
            given.join(", ")
        )
    })
}

/// Deployer option naming the clusters of `--cluster-values`, comma-separated.
pub const CLUSTERS_OPTION: &str = "clusters";
/// Deployer option prefix for a component's cluster-specific values (JSON).
pub const CLUSTER_VALUES_OPTION: &str = "cluster-values/";

/// The values of one component that differ per cluster: the scheduling flags at the
/// registry's paths (as the SDK's `scheduling::apply` writes them) and the registry's
/// `clusterValuePaths`, each removed from the shared `values` so that a cluster's file is the
/// only place that sets them.
fn cluster_tree(
    name: &str,
    values: &mut Value,
    opts: &BundleOptions,
    paths: &cns_recipe::registry::NodeScheduling,
    moved: &[String],
) -> Result<Value> {
    let err = |source| Error::Values {
        component: name.to_string(),
        source,
    };
    let mut tree = Value::Object(Default::default());
    for (placement, p) in [
        (&opts.system, &paths.system),
        (&opts.accelerated, &paths.accelerated),
    ] {
        if !placement.selector.is_empty() {
            let sel = Value::Object(
                placement
                    .selector
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
            for path in &p.node_selector_paths {
                cns_values::remove_path(values, path);
                cns_values::set_path(&mut tree, path, sel.clone()).map_err(err)?;
            }
        }
        if !placement.tolerations.is_empty() {
            let tol = Value::Array(placement.tolerations.iter().map(toleration_value).collect());
            for path in &p.toleration_paths {
                cns_values::remove_path(values, path);
                cns_values::set_path(&mut tree, path, tol.clone()).map_err(err)?;
            }
        }
    }
    for path in moved {
        if let Some(v) = cns_values::remove_path(values, path) {
            cns_values::set_path(&mut tree, path, v).map_err(err)?;
        }
    }
    Ok(tree)
}

/// A toleration as the SDK writes it into values.
fn toleration_value(t: &cns_runtime::types::Toleration) -> Value {
    cns_values::toleration(
        t.key.as_deref(),
        &t.operator,
        t.value.as_deref(),
        t.effect.as_deref(),
    )
}

/// Deployer option prefix for a component's Pod Security level (the SDK's
/// `deploy::POD_SECURITY_OPTION`, which deployers read; a test holds the two equal).
pub const POD_SECURITY_OPTION: &str = "pod-security/";

/// The deployer's options: the flags', and `pod-security/<component>` for each component whose
/// registry entry names a Pod Security level; sorted by key.
fn deployer_options(
    opts: &BundleOptions,
    registry: &Registry,
    order: &[String],
    cluster_trees: &BTreeMap<String, Value>,
) -> Vec<OptionPair> {
    let mut all = opts.deployer_options.clone();
    if !opts.clusters.is_empty() {
        all.insert(CLUSTERS_OPTION.to_string(), opts.clusters.join(","));
        for (name, tree) in cluster_trees {
            all.insert(
                format!("{CLUSTER_VALUES_OPTION}{name}"),
                cns_values::to_json(tree),
            );
        }
    }
    for name in order {
        if let Some(level) = registry.get(name).and_then(|r| r.pod_security) {
            all.insert(
                format!("{POD_SECURITY_OPTION}{name}"),
                level.as_str().to_string(),
            );
        }
    }
    all.into_iter()
        .map(|(key, value)| OptionPair { key, value })
        .collect()
}

/// Step 1: resolve every enabled component into its bundler's input, in deployment order,
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
        for s in sets
            .get(name)
            .into_iter()
            .flatten()
            .filter(|s| s.path != "enabled")
        {
            cns_values::set_path(&mut values, &s.path, s.value.clone()).map_err(|source| {
                Error::Values {
                    component: name.clone(),
                    source,
                }
            })?;
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
        let dependencies: Vec<String> = cref
            .dependency_refs
            .iter()
            .filter(|d| order.contains(d))
            .cloned()
            .collect();
        components.push(ResolvedComponent {
            plugin,
            order: i as u32,
            input: ComponentInput {
                name: name.clone(),
                namespace: filled(name, "namespace", &cref.namespace)?,
                chart: ChartSource {
                    repository: filled(name, "source", &cref.source)?,
                    chart: filled(name, "chart", &cref.chart)?,
                    version: filled(name, "version", &cref.version)?,
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
        });
    }
    Ok(Plan {
        components,
        warnings,
        criteria: crit,
        recipe_version: recipe.metadata.version.clone().unwrap_or_default(),
        deployer: opts.deployer.clone(),
        deployer_options: deployer_options(opts, registry, &order, &cluster_trees),
        parallel: opts.parallel,
        image_context,
    })
}

/// What a bundler produced for one component.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Files, paths relative to the component folder.
    pub files: Vec<OutputFile>,
    /// The component's final values: the bundler's `values.yaml`, or its input values when
    /// it writes none.
    pub values_json: String,
    /// The same values as a tree (the image inventory reads them).
    pub values: Value,
}

/// The final values a bundler produced, as JSON and as a tree: its `values.yaml` (which must
/// parse), or its input values when it writes none.
fn final_values(c: &ResolvedComponent, files: &[OutputFile]) -> Result<(String, Value)> {
    let Some(f) = files.iter().find(|f| f.path == "values.yaml") else {
        // The host wrote this JSON itself, from a values tree.
        let values = cns_values::from_json(&c.input.values_json).unwrap_or_default();
        return Ok((c.input.values_json.clone(), values));
    };
    let text = std::str::from_utf8(&f.content).map_err(|_| Error::BadValues {
        component: c.input.name.clone(),
        plugin: c.plugin.clone(),
        reason: "values.yaml is not UTF-8".into(),
    })?;
    let values = cns_values::from_yaml(text).map_err(|e| Error::BadValues {
        component: c.input.name.clone(),
        plugin: c.plugin.clone(),
        reason: e.to_string(),
    })?;
    Ok((cns_values::to_json(&values), values))
}

/// Step 2: run each component's bundler (on every core unless the options say serial).
pub fn render<B: Backend + ?Sized>(plan: &Plan, backend: &B) -> Result<Vec<Rendered>> {
    let run = |c: &ResolvedComponent| -> Result<Rendered> {
        let files = backend.render(&c.input).map_err(|error| Error::Component {
            component: c.input.name.clone(),
            error,
        })?;
        let (values_json, values) = final_values(c, &files)?;
        Ok(Rendered {
            files,
            values_json,
            values,
        })
    };
    let results: Vec<Result<Rendered>> = if plan.parallel {
        cns_runtime::par_map(&plan.components, run)
    } else {
        plan.components.iter().map(run).collect()
    };
    results.into_iter().collect()
}

/// `--registry-mirror` for one component: its values at the registry's mirror paths, and the
/// repositories of the operator custom resources among its manifests.
fn point_at_mirror(
    name: &str,
    registry: &Registry,
    values: &mut Value,
    manifests: &mut [InputFile],
    mirror: &str,
) -> Result<()> {
    let Some(data) = registry.get(name).and_then(|c| c.images.as_ref()) else {
        return Ok(());
    };
    for (path, v) in crate::images::mirror_overrides(data, values, mirror) {
        cns_values::set_path(values, &path, v).map_err(|source| Error::Values {
            component: name.to_string(),
            source,
        })?;
    }
    let kinds: Vec<&str> = data
        .manifest_operands
        .iter()
        .map(|m| m.kind.as_str())
        .collect();
    for f in manifests.iter_mut() {
        if let Some(text) = crate::images::mirror_manifest(&f.content, &kinds, mirror) {
            f.content = text;
        }
    }
    Ok(())
}

/// The image inventory of a rendered plan (what `images.lock.yaml` holds).
pub fn inventory(
    recipe: &RecipeResult,
    plan: &Plan,
    rendered: &[Rendered],
) -> crate::images::Inventory {
    let node = crate::images::NodeFacts::of(recipe);
    let mut inv = crate::images::Inventory::default();
    for (c, r) in plan.components.iter().zip(rendered) {
        let ctx = plan.image_context.get(&c.input.name);
        crate::images::add_component(
            &mut inv,
            &crate::images::ComponentImages {
                component: &c.input.name,
                chart_version: &c.input.chart.version,
                data: ctx
                    .and_then(|x| x.data.as_ref())
                    .map(|(d, v)| (d.as_ref(), v.as_str())),
                values: &r.values,
                cluster_values: ctx.and_then(|x| x.cluster.as_ref()),
                manifests: &c.input.manifests,
            },
            &node,
        );
    }
    crate::images::finish(inv)
}

/// Step 3: the component files, the deployer's files, `recipe.yaml` and `checksums.txt`.
pub fn assemble<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    plan: &Plan,
    rendered: Vec<Rendered>,
    backend: &B,
) -> Result<FileTree> {
    let inv = inventory(recipe, plan, &rendered);
    assemble_with(recipe, plan, rendered, backend, &inv)
}

/// [`assemble`] with an image inventory taken (and perhaps completed with digests) by the
/// caller.
pub fn assemble_with<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    plan: &Plan,
    rendered: Vec<Rendered>,
    backend: &B,
    inv: &crate::images::Inventory,
) -> Result<FileTree> {
    let lock = inv.to_yaml();
    let mut tree = FileTree::default();
    let mut components = Vec::new();
    for (c, r) in plan.components.iter().zip(rendered) {
        let producer = format!("bundler `{}` for `{}`", c.plugin, c.input.name);
        let mut paths = Vec::new();
        for f in r.files {
            paths.push(f.path.clone());
            tree.add(
                format!("{}/{}", c.input.name, f.path),
                f.content,
                f.executable,
                &producer,
            )?;
        }
        components.push(RenderedComponent {
            name: c.input.name.clone(),
            namespace: c.input.namespace.clone(),
            chart: c.input.chart.clone(),
            order: c.order,
            dependencies: c.input.dependencies.clone(),
            values_json: r.values_json,
            files: paths,
        });
    }
    let input = DeployerInput {
        components,
        criteria: plan.criteria.clone(),
        recipe_version: plan.recipe_version.clone(),
        options: plan.deployer_options.clone(),
    };
    let files = backend
        .generate(&plan.deployer, &input)
        .map_err(|error| Error::Deployer {
            deployer: plan.deployer.clone(),
            error,
        })?;
    let producer = format!("deployer `{}`", plan.deployer);
    for f in files {
        tree.add(f.path, f.content, f.executable, &producer)?;
    }
    tree.add(
        crate::images::LOCK_FILE.into(),
        lock.into_bytes(),
        false,
        "cnsctl",
    )?;
    tree.add(
        "recipe.yaml".into(),
        recipe.to_yaml().into_bytes(),
        false,
        "cnsctl",
    )?;
    tree.seal()?;
    Ok(tree)
}

/// Generate the bundle for `recipe` with the plugins in `catalog`.
pub fn generate(
    recipe: &RecipeResult,
    store: &Store,
    catalog: &Catalog,
    opts: &BundleOptions,
) -> Result<FileTree> {
    generate_with(recipe, store, catalog, opts)
}

/// [`plan`], [`render`] and [`assemble`] with any [`Backend`].
pub fn generate_with<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    store: &Store,
    backend: &B,
    opts: &BundleOptions,
) -> Result<FileTree> {
    let plan = plan(recipe, store, backend, opts)?;
    let rendered = render(&plan, backend)?;
    assemble(recipe, &plan, rendered, backend)
}
