//! `cnsctl version`.

use crate::outcome::Outcome;
use anyhow::Result;

/// Print versions of cnsctl, the WIT package, wasmtime, and how plugins were built.
pub(crate) fn run() -> Result<Outcome> {
    println!("cnsctl {}", env!("CARGO_PKG_VERSION"));
    println!("wit cns:plugin@{}", cns_runtime::WIT_VERSION);
    println!("wasmtime {}", cns_runtime::WASMTIME_VERSION);
    println!("recipe data {}", cns_recipe::resolve::DATA_VERSION);
    println!(
        "built-in plugins: {} ({})",
        cns_plugin_artifacts::BUILTIN.len(),
        cns_plugin_artifacts::SKIPPED.unwrap_or(cns_plugin_artifacts::ROUTE)
    );
    let runtime = cns_runtime::Runtime::new(
        Default::default(),
        None,
        std::sync::Arc::new(|_: &str, _, _: &str| {}),
    )?;
    if runtime.pooled() {
        println!(
            "plugin instances: pooling allocator, {} slots",
            cns_runtime::POOL_SLOTS
        );
    } else {
        println!("plugin instances: mapped per call (the instance pool could not be reserved)");
    }
    Ok(Outcome::Success)
}
