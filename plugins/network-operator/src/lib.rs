//! cnsctl bundler plugin `network-operator`: glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The Network Operator bundler.
pub struct NetworkOperator;

impl Bundler for NetworkOperator {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "network-operator".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "NVIDIA Network Operator values (namespace-consistent, one NFD per cluster) and README".into(),
            serves: vec!["network-operator".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(NetworkOperator);
