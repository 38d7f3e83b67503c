//! cnsctl generic bundler `helm`: serves any component without a bundler of its own.
//! Glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The generic Helm bundler.
    Helm,
    name: "helm",
    description: "any registry chart: values with scheduling at the registry's paths, manifests, README",
    serves: ["*"],
    render: render::render,
}
