//! The bundle pipeline in three steps: [`plan`] (recipe, registry and options → one resolved
//! job per component, checked before any plugin runs), [`render`] (the bundler plugin of
//! each component, in parallel or serially) and [`assemble`] (the deployer plugin over the
//! rendered components, then `images.lock.yaml` from [`inventory`], `recipe.yaml` and
//! `checksums.txt`). [`generate`] runs all of them; [`images_of`] stops before the deployer.

mod assemble;
mod inventory;
mod mirror;
mod placement;
mod plan;
mod render;

pub use assemble::assemble;
pub use inventory::inventory;
pub use plan::{Plan, ResolvedComponent, plan};
pub use render::{Rendered, render};

use crate::{Backend, BundleOptions, FileTree, Result};
use cns_recipe::{RecipeResult, Store};

/// The bundle of `recipe`: [`plan`], [`render`] and [`assemble`] with any [`Backend`].
pub fn generate<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    store: &Store,
    backend: &B,
    opts: &BundleOptions,
) -> Result<FileTree> {
    let plan = plan(recipe, store, backend, opts)?;
    let rendered = render(&plan, backend)?;
    let inv = inventory(recipe, &plan, &rendered);
    assemble(recipe, &plan, rendered, backend, &inv)
}

/// What `images` and `mirror` need of `recipe`'s bundle: its [`plan`] and the image
/// inventory of its rendered components (no deployer runs).
pub fn images_of<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    store: &Store,
    backend: &B,
    opts: &BundleOptions,
) -> Result<(Plan, crate::images::Inventory)> {
    let plan = plan(recipe, store, backend, opts)?;
    let rendered = render(&plan, backend)?;
    let inv = inventory(recipe, &plan, &rendered);
    Ok((plan, inv))
}
