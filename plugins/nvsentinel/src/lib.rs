//! cnsctl bundler plugin `nvsentinel`: glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The NVSentinel bundler.
    NvSentinel,
    name: "nvsentinel",
    description: "NVSentinel values (system/GPU placement under global.*, DCGM source checked) and README",
    serves: ["nvsentinel"],
    render: render::render,
}
