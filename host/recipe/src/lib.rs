//! cnsctl recipes: the data model, the recipe data store (embedded or a directory), overlay
//! resolution into a `recipeResult`, component values, and constraint evaluation.
//!
//! Pure Rust, no plugins, no network. The bundle pipeline reads a [`RecipeResult`] and the
//! [`Registry`]; the `recipe` and `validate` commands are built on [`resolve()`] and
//! [`constraints`].

pub mod ask;
pub mod chart;
pub mod component;
pub mod constraints;
pub mod coverage;
pub mod criteria;
pub mod ctrf;
pub mod detect;
mod embedded;
mod error;
pub mod fields;
pub mod model;
pub mod open;
pub mod pin;
pub mod registry;
pub mod resolve;
pub mod scheduling;
pub mod schema;
pub mod store;
pub mod upgrade;
pub mod validation;

pub use criteria::Criteria;
pub use error::{Error, Result};
pub use model::{ComponentRef, Constraint, RecipeMetadata, RecipeResult};
pub use registry::{ComponentConfig, Registry};
pub use resolve::resolve;
pub use store::Store;

/// `apiVersion` of every recipe document.
pub const API_VERSION: &str = "cns.nvidia.com/v1alpha1";
