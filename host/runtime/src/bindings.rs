//! The generated host bindings of the two `cns:plugin` worlds (the only `bindgen!` calls).

#![allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]

/// Bindings of the `bundler-plugin` world; also owns the shared `types` and `host` interfaces.
pub mod bundler {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "cns:plugin/bundler-plugin",
        additional_derives: [PartialEq, Eq],
    });
}

/// Bindings of the `deployer-plugin` world, reusing the bundler world's shared interfaces.
pub mod deployer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "cns:plugin/deployer-plugin",
        additional_derives: [PartialEq, Eq],
        with: {
            "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
            "cns:plugin/host": crate::bindings::bundler::cns::plugin::host,
        },
    });
}

pub use bundler::cns::plugin::types;
