//! cnsctl bundler plugin `network-operator`: glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The Network Operator bundler.
    NetworkOperator,
    name: "network-operator",
    description: "NVIDIA Network Operator values (namespace-consistent, one NFD per cluster) and README",
    serves: ["network-operator"],
    render: render::render,
}
