//! cnsctl deployer plugin `script`: glue only; the logic is in [`generate`].

pub mod generate;

cns_plugin_sdk::deployer_plugin! {
    /// The script deployer.
    Script,
    name: "script",
    description: "shell scripts: helm upgrade --install per component, deploy.sh/undeploy.sh in order",
    serves: ["script"],
    generate: generate::generate,
}
