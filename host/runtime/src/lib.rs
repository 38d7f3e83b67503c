//! The wasmtime host for cnsctl plugins: one engine, sandboxed calls, on-disk compile cache.
//!
//! Plugins are WebAssembly components implementing the `cns:plugin` WIT worlds. This crate
//! loads them (compiling with Cranelift, or loading a cached compiled copy), refuses any
//! that import more than the `host` interface, and calls them with a fresh `Store` per call
//! under a memory cap, a wall-clock deadline and caps on output size and file count. Every
//! failure becomes an [`Error`] naming the plugin. It knows nothing about recipes or bundles.

pub mod bindings;
mod cache;
mod call;
mod catalog;
mod compat;
mod error;
mod host_impl;
mod limits;
mod load;
pub mod output;
mod par;
mod plugin;
mod runtime;
pub mod values;
mod wit_version;

pub use bindings::types;
pub use cache::Cache;
#[cfg(unix)]
pub use cache::current_uid;
pub use call::RenderOutput;
pub use catalog::{Catalog, Embedded};
pub use cns_engine::POOL_SLOTS;
pub use compat::{CLUSTER_VALUES_OPTION, CLUSTERS_OPTION, POD_SECURITY_OPTION};
pub use error::{Error, Refusal, Result};
pub use host_impl::{LogFilter, LogSink};
pub use limits::Limits;
pub use output::OutputFile;
pub use par::{cores, par_map};
pub use plugin::{Origin, Plugin, PluginKind, is_plugin_name};
pub use runtime::Runtime;

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.3.0";

/// The wasmtime release plugins run on (pinned in the workspace).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Older WIT versions this host still loads (`major.minor`), newest first.
pub const WIT_COMPAT: &[&str] = &["0.2", "0.1"];
