//! cnsctl deployer plugin `flux`: glue only; the logic is in [`generate`].

pub mod generate;

use cns_plugin_sdk::{BundleFile, Deployer, DeployerInput, PluginError, PluginInfo, PluginKind};

/// The Flux deployer.
pub struct Flux;

impl Deployer for Flux {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "flux".into(),
            kind: PluginKind::Deployer,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Flux: HelmRepository + HelmRelease (values inline, dependsOn from the recipe) per component and a kustomization".into(),
            serves: vec!["flux".into()],
        }
    }

    fn generate(input: DeployerInput) -> Result<Vec<BundleFile>, PluginError> {
        generate::generate(&input)
    }
}

cns_plugin_sdk::export_deployer!(Flux);
