//! cnsctl bundler plugin `skyhook`: glue only; the logic is in [`render`].

pub mod render;

cns_plugin_sdk::bundler_plugin! {
    /// The Skyhook bundler.
    Skyhook,
    name: "skyhook",
    description: "Skyhook operator values plus the node-tuning Skyhook resource named by `customization`",
    serves: ["skyhook"],
    render: render::render,
}
