//! cnsctl bundler plugin `skyhook`: glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The Skyhook bundler.
pub struct Skyhook;

impl Bundler for Skyhook {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "skyhook".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Skyhook operator values plus the node-tuning Skyhook resource named by `customization`".into(),
            serves: vec!["skyhook".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(Skyhook);
