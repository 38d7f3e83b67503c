//! cnsctl deployer plugin `flux`: glue only; the logic is in [`generate`].

pub mod generate;

cns_plugin_sdk::deployer_plugin! {
    /// The Flux deployer.
    Flux,
    name: "flux",
    description: "Flux: HelmRepository + HelmRelease (values inline, dependsOn from the recipe) per component and a kustomization",
    serves: ["flux"],
    generate: generate::generate,
}
