//! cnsctl deployer plugin `argocd`: glue only; the logic is in [`generate`].

pub mod generate;

use cns_plugin_sdk::{BundleFile, Deployer, DeployerInput, PluginError, PluginInfo, PluginKind};

/// The Argo CD deployer.
pub struct ArgoCd;

impl Deployer for ArgoCd {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "argocd".into(),
            kind: PluginKind::Deployer,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Argo CD: one Application per component (sync waves in deployment order) and an app-of-apps".into(),
            serves: vec!["argocd".into()],
        }
    }

    fn generate(input: DeployerInput) -> Result<Vec<BundleFile>, PluginError> {
        generate::generate(&input)
    }
}

cns_plugin_sdk::export_deployer!(ArgoCd);
