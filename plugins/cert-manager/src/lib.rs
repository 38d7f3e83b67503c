//! cnsctl bundler plugin for cert-manager: glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The cert-manager bundler.
    CertManager,
    name: "cert-manager",
    description: "cert-manager: values with scheduling at the chart's paths, manifests, README",
    serves: ["cert-manager"],
    render: render::render,
}
