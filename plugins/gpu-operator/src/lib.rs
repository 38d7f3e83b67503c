//! cnsctl bundler plugin for the NVIDIA GPU Operator: glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The GPU Operator bundler.
pub struct GpuOperator;

impl Bundler for GpuOperator {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "gpu-operator".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "NVIDIA GPU Operator: values with scheduling, kernel-module-params ConfigMap for GB200, README".into(),
            serves: vec!["gpu-operator".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(GpuOperator);
