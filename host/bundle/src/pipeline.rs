//! The bundle pipeline: per component, merged values and `--set`, a bundler plugin call;
//! then the deployer plugin; then `recipe.yaml` and `checksums.txt`.

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

/// Where bundlers and deployers run: the sandboxed WASM [`Catalog`] (what cnsctl uses), or
/// the same plugin crates linked natively (benchmarks measure the sandbox's cost with it).
pub trait Backend: Sync {
    /// Name of the bundler that serves `component`, if any.
    fn bundler_name(&self, component: &str) -> Option<String>;
    /// Whether a deployer `name` exists.
    fn has_deployer(&self, name: &str) -> bool;
    /// Deployer names, for error messages.
    fn deployer_names(&self) -> Vec<String>;
    /// Run the bundler serving `input.name`.
    fn render(&self, input: &ComponentInput) -> cns_runtime::Result<Vec<OutputFile>>;
    /// Run deployer `name`.
    fn generate(&self, name: &str, input: &DeployerInput) -> cns_runtime::Result<Vec<OutputFile>>;
}

impl Backend for Catalog {
    fn bundler_name(&self, component: &str) -> Option<String> {
        self.bundler_for(component).map(|p| p.name.clone())
    }
    fn has_deployer(&self, name: &str) -> bool {
        self.deployer(name).is_some()
    }
    fn deployer_names(&self) -> Vec<String> {
        Catalog::deployer_names(self)
            .into_iter()
            .map(String::from)
            .collect()
    }
    fn render(&self, input: &ComponentInput) -> cns_runtime::Result<Vec<OutputFile>> {
        self.bundler_for(&input.name)
            .expect("bundler checked before rendering")
            .render(input)
    }
    fn generate(&self, name: &str, input: &DeployerInput) -> cns_runtime::Result<Vec<OutputFile>> {
        self.deployer(name)
            .expect("deployer checked before generating")
            .generate(input)
    }
}

/// A component ready for its bundler.
struct Job {
    plugin: String,
    input: ComponentInput,
    order: u32,
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

/// Generate the bundle for `recipe` with the plugins in `catalog`.
pub fn generate(
    recipe: &RecipeResult,
    store: &Store,
    catalog: &Catalog,
    opts: &BundleOptions,
) -> Result<FileTree> {
    generate_with(recipe, store, catalog, opts)
}

/// [`generate`] with any [`Backend`].
pub fn generate_with<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    store: &Store,
    catalog: &B,
    opts: &BundleOptions,
) -> Result<FileTree> {
    let registry = store.registry()?;
    if !catalog.has_deployer(&opts.deployer) {
        return Err(Error::UnknownDeployer {
            name: opts.deployer.clone(),
            available: catalog.deployer_names().join(", "),
        });
    }
    let sets = group_sets(recipe, registry, &opts.sets)?;

    // Components switched off by the recipe or by `--set NAME:enabled=false`.
    let mut refs: Vec<ComponentRef> = recipe.component_refs.clone();
    for r in &mut refs {
        for s in sets.get(&r.name).into_iter().flatten() {
            if s.path == "enabled" {
                if s.value != Value::Bool(false) && s.value != Value::Bool(true) {
                    return Err(Error::InvalidFlag {
                        flag: "--set",
                        value: format!("{}:enabled={}", s.component, s.value),
                        reason: "`enabled` takes true or false".into(),
                    });
                }
                if s.value == Value::Bool(false) {
                    let o = r
                        .overrides
                        .get_or_insert_with(|| Value::Object(Default::default()));
                    o["enabled"] = Value::Bool(false);
                }
            }
        }
    }
    let mut refs_for_defaults = refs.clone();
    cns_recipe::resolve::apply_registry_defaults(store, registry, &mut refs_for_defaults)?;
    let order = cns_recipe::resolve::deployment_order(&refs_for_defaults)?;
    if !recipe.deployment_order.is_empty() {
        let given: Vec<String> = recipe
            .deployment_order
            .iter()
            .filter(|n| order.contains(n))
            .cloned()
            .collect();
        let valid = given.len() == order.len()
            && given.iter().enumerate().all(|(i, n)| {
                let r = refs_for_defaults
                    .iter()
                    .find(|r| &r.name == n)
                    .expect("in order");
                r.dependency_refs
                    .iter()
                    .all(|d| !order.contains(d) || given[..i].contains(d))
            });
        if !valid {
            return Err(Error::BadOrder {
                given: recipe.deployment_order.clone(),
                expected: order,
            });
        }
    }

    let crit = criteria(recipe);
    let mut jobs = Vec::new();
    for (i, name) in order.iter().enumerate() {
        let cref = refs_for_defaults
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
        let reg = registry.get(name);
        let paths = reg.map(|r| r.node_scheduling.clone()).unwrap_or_default();
        let manifests = store
            .manifests(cref)?
            .into_iter()
            .map(|(path, content)| InputFile { path, content })
            .collect();
        let plugin = catalog.bundler_name(name).ok_or_else(|| Error::NoBundler {
            component: name.clone(),
        })?;
        let dependencies: Vec<String> = cref
            .dependency_refs
            .iter()
            .filter(|d| order.contains(d))
            .cloned()
            .collect();
        jobs.push(Job {
            plugin,
            order: i as u32,
            input: ComponentInput {
                name: name.clone(),
                namespace: cref.namespace.clone().expect("defaults applied"),
                chart: ChartSource {
                    repository: cref.source.clone().expect("defaults applied"),
                    chart: cref.chart.clone().expect("defaults applied"),
                    version: cref.version.clone().expect("defaults applied"),
                },
                values_json: cns_values::to_json(&values),
                system: scheduling(
                    &opts.system,
                    &paths.system.node_selector_paths,
                    &paths.system.toleration_paths,
                ),
                accelerated: scheduling(
                    &opts.accelerated,
                    &paths.accelerated.node_selector_paths,
                    &paths.accelerated.toleration_paths,
                ),
                criteria: crit.clone(),
                manifests,
                dependencies,
            },
        });
    }

    let run = |job: &Job| -> Result<Vec<OutputFile>> {
        catalog
            .render(&job.input)
            .map_err(|source| Error::Component {
                component: job.input.name.clone(),
                source,
            })
    };
    let results: Vec<Result<Vec<OutputFile>>> = if opts.parallel && jobs.len() > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs.iter().map(|j| s.spawn(move || run(j))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("render thread panicked"))
                .collect()
        })
    } else {
        jobs.iter().map(run).collect()
    };

    let mut tree = FileTree::default();
    let mut rendered = Vec::new();
    for (job, files) in jobs.iter().zip(results) {
        let files = files?;
        let producer = format!("bundler `{}` for `{}`", job.plugin, job.input.name);
        let mut paths = Vec::new();
        for f in files {
            paths.push(f.path.clone());
            tree.add(
                format!("{}/{}", job.input.name, f.path),
                f.content,
                f.executable,
                &producer,
            )?;
        }
        let values_json = tree
            .get(&format!("{}/values.yaml", job.input.name))
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| cns_values::from_yaml(t).ok())
            .map(|v| cns_values::to_json(&v))
            .unwrap_or_else(|| job.input.values_json.clone());
        rendered.push(RenderedComponent {
            name: job.input.name.clone(),
            namespace: job.input.namespace.clone(),
            chart: job.input.chart.clone(),
            order: job.order,
            dependencies: job.input.dependencies.clone(),
            values_json,
            files: paths,
        });
    }

    let input = DeployerInput {
        components: rendered,
        criteria: crit,
        recipe_version: recipe.metadata.version.clone().unwrap_or_default(),
        options: opts
            .deployer_options
            .iter()
            .map(|(k, v)| OptionPair {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    };
    let files = catalog
        .generate(&opts.deployer, &input)
        .map_err(|source| Error::Deployer {
            deployer: opts.deployer.clone(),
            source,
        })?;
    let producer = format!("deployer `{}`", opts.deployer);
    for f in files {
        tree.add(f.path, f.content, f.executable, &producer)?;
    }
    tree.add(
        "recipe.yaml".into(),
        recipe.to_yaml().into_bytes(),
        false,
        "cnsctl",
    )?;
    tree.seal()?;
    Ok(tree)
}
