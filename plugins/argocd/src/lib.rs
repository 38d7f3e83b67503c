//! cnsctl deployer plugin `argocd`: glue only; the logic is in [`generate`].

pub mod generate;

cns_plugin_sdk::deployer_plugin! {
    /// The Argo CD deployer.
    ArgoCd,
    name: "argocd",
    description: "Argo CD: one Application per component (sync waves in deployment order) and an app-of-apps",
    serves: ["argocd"],
    generate: generate::generate,
}
