//! cnsctl deployer plugin `script`: glue only; the logic is in [`generate`].

pub mod generate;

use cns_plugin_sdk::{BundleFile, Deployer, DeployerInput, PluginError, PluginInfo, PluginKind};

/// The script deployer.
pub struct Script;

impl Deployer for Script {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "script".into(),
            kind: PluginKind::Deployer,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "shell scripts: helm upgrade --install per component, deploy.sh/undeploy.sh in order".into(),
            serves: vec!["script".into()],
        }
    }

    fn generate(input: DeployerInput) -> Result<Vec<BundleFile>, PluginError> {
        generate::generate(&input)
    }
}

cns_plugin_sdk::export_deployer!(Script);
