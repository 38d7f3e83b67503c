//! `cnsctl version`.

use crate::opts::{OutputFormat, print_json};
use crate::outcome::Outcome;
use anyhow::Result;
use clap::Args;
use serde::Serialize;

/// Arguments of `version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Output: text, or json (schemas/output/version.schema.json).
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// What `version --format json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Versions {
    cnsctl: &'static str,
    wit: &'static str,
    wasmtime: &'static str,
    recipe_data: &'static str,
    builtin_plugins: BuiltinPlugins,
    plugin_instances: PluginInstances,
}

#[derive(Serialize)]
struct BuiltinPlugins {
    count: usize,
    source: &'static str,
}

#[derive(Serialize)]
struct PluginInstances {
    /// `pooling` or `mapped` (per call, when the pool could not be reserved).
    allocator: &'static str,
    /// Slots of the pool; null when mapped per call.
    slots: Option<u32>,
}

/// Print versions of cnsctl, the WIT package, wasmtime, and how plugins were built.
pub(crate) fn run(args: VersionArgs) -> Result<Outcome> {
    let runtime = cns_runtime::Runtime::new(
        Default::default(),
        None,
        std::sync::Arc::new(|_: &str, _, _: &str| {}),
    )?;
    let v = Versions {
        cnsctl: env!("CARGO_PKG_VERSION"),
        wit: cns_runtime::WIT_VERSION,
        wasmtime: cns_runtime::WASMTIME_VERSION,
        recipe_data: cns_recipe::resolve::DATA_VERSION,
        builtin_plugins: BuiltinPlugins {
            count: cns_plugin_artifacts::BUILTIN.len(),
            source: cns_plugin_artifacts::SKIPPED.unwrap_or(cns_plugin_artifacts::ROUTE),
        },
        plugin_instances: if runtime.pooled() {
            PluginInstances {
                allocator: "pooling",
                slots: Some(cns_runtime::POOL_SLOTS),
            }
        } else {
            PluginInstances {
                allocator: "mapped",
                slots: None,
            }
        },
    };
    if args.format == OutputFormat::Json {
        print_json(&v)?;
        return Ok(Outcome::Success);
    }
    println!("cnsctl {}", v.cnsctl);
    println!("wit cns:plugin@{}", v.wit);
    println!("wasmtime {}", v.wasmtime);
    println!("recipe data {}", v.recipe_data);
    println!(
        "built-in plugins: {} ({})",
        v.builtin_plugins.count, v.builtin_plugins.source
    );
    match v.plugin_instances.slots {
        Some(slots) => println!("plugin instances: pooling allocator, {slots} slots"),
        None => {
            println!("plugin instances: mapped per call (the instance pool could not be reserved)")
        }
    }
    Ok(Outcome::Success)
}
