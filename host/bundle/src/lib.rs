//! cnsctl bundle orchestration: a resolved recipe goes through the bundler plugins (one per
//! component) and a deployer plugin into an in-memory, sorted, checksummed file tree, which
//! is then written atomically to a directory.
//!
//! Knows nothing about wasmtime (that is `cns-runtime`) or recipe resolution
//! (`cns-recipe`); it wires them together.

mod error;
pub mod options;
mod pipeline;
pub mod tree;

pub use error::{Error, Result};
pub use options::{BundleOptions, Placement, SetOverride};
pub use pipeline::{Backend, generate, generate_with};
pub use tree::FileTree;
