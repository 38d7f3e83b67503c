//! cnsctl bundler plugin for cert-manager: glue only; the logic is in [`render`].

pub mod render;

use cns_plugin_sdk::{BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind};

/// The cert-manager bundler.
pub struct CertManager;

impl Bundler for CertManager {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "cert-manager".into(),
            kind: PluginKind::Bundler,
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "cert-manager: values with scheduling at the chart's paths, manifests, README"
                    .into(),
            serves: vec!["cert-manager".into()],
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        render::render(&input)
    }
}

cns_plugin_sdk::export_bundler!(CertManager);
