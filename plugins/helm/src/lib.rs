//! cnsctl generic bundler `helm`: serves any component without a bundler of its own.
//! Glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The generic Helm bundler.
pub struct Helm;

impl Bundler for Helm {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "helm".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "any registry chart: values with scheduling at the registry's paths, manifests, README".into(),
            serves: vec!["*".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(Helm);
