//! Where plugins run for the pipeline ([`Backend`]: the sandboxed WASM catalog, or the same
//! crates linked natively for benchmarks), and which built-in plugins a bundle needs.

use cns_recipe::RecipeResult;
use cns_runtime::RenderOutput;
use cns_runtime::types::{ComponentInput, Deployment};
use cns_runtime::{Catalog, OutputFile};

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
    fn render(&self, input: &ComponentInput) -> cns_runtime::Result<RenderOutput>;
    /// Run deployer `name`.
    fn generate(&self, name: &str, input: &Deployment) -> cns_runtime::Result<Vec<OutputFile>>;
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
    fn render(&self, input: &ComponentInput) -> cns_runtime::Result<RenderOutput> {
        self.bundler_for(&input.name)
            .expect("bundler checked before rendering")
            .render(input)
    }
    fn generate(&self, name: &str, input: &Deployment) -> cns_runtime::Result<Vec<OutputFile>> {
        self.deployer(name)
            .expect("deployer checked before generating")
            .generate(input)
    }
}

/// Which built-in plugins a bundle of `recipe` with `deployer` can use: the bundlers named
/// like its components, `helm` when a component has no bundler of its own, and the
/// deployer. A deployer that is not built in (an external plugin, or a typo) needs them
/// all, so that errors can list every choice.
pub fn builtins_needed<'a>(
    recipe: &'a RecipeResult,
    deployer: &'a str,
    builtin: &'a [&'a str],
) -> impl Fn(&str) -> bool + 'a {
    let generic = recipe
        .component_refs
        .iter()
        .any(|c| !builtin.contains(&c.name.as_str()));
    let all = !builtin.contains(&deployer);
    move |name: &str| {
        all || name == deployer || recipe.component(name).is_some() || (name == "helm" && generic)
    }
}
