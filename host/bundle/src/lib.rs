//! cnsctl bundle orchestration: a resolved recipe goes through the bundler plugins (one per
//! component) and a deployer plugin into an in-memory, sorted, checksummed file tree, which
//! is then written atomically to a directory (`cns_files`).
//!
//! Knows nothing about wasmtime (that is `cns-runtime`) or recipe resolution
//! (`cns-recipe`); it wires them together.

mod backend;
mod error;
pub mod images;
pub mod options;
pub mod packages;
mod pipeline;
pub mod provenance;
pub mod request;
pub mod sbom;
#[cfg(test)]
mod stub;

pub use backend::{Backend, builtins_needed};
pub use cns_files::FileTree;
pub use error::{Error, Result};
pub use options::{BundleOptions, Placement, SetOverride};
pub use pipeline::{
    Plan, Rendered, ResolvedComponent, assemble, generate, images_of, inventory, plan, render,
};
pub use request::BundleRequest;
