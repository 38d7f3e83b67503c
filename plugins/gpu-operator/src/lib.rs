//! cnsctl bundler plugin for the NVIDIA GPU Operator: glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The GPU Operator bundler.
    GpuOperator,
    name: "gpu-operator",
    description: "NVIDIA GPU Operator: values with scheduling, kernel-module-params ConfigMap for GB200, README",
    serves: ["gpu-operator"],
    render: render::render,
}
