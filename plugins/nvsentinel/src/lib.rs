//! cnsctl bundler plugin `nvsentinel`: glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The NVSentinel bundler.
pub struct NvSentinel;

impl Bundler for NvSentinel {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "nvsentinel".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "NVSentinel values (system/GPU placement under global.*, DCGM source checked) and README".into(),
            serves: vec!["nvsentinel".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(NvSentinel);
