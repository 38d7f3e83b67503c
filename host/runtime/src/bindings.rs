//! The generated host bindings of the two `cns:plugin` worlds (the only `bindgen!` calls):
//! the current WIT version, and the previous minor still accepted (`v0_1`).

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

/// `cns:plugin@0.1.x` (frozen in `wit-compat/0.1.0`): same records as the current version,
/// so its `types` map onto the current Rust types; only its `host` interface differs.
pub mod v0_1 {
    /// The 0.1 `bundler-plugin` world (owns the 0.1 `host` interface).
    pub mod bundler {
        wasmtime::component::bindgen!({
            path: "../../wit-compat/0.1.0",
            world: "cns:plugin/bundler-plugin",
            with: {
                "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
            },
        });
    }

    /// The 0.1 `deployer-plugin` world.
    pub mod deployer {
        wasmtime::component::bindgen!({
            path: "../../wit-compat/0.1.0",
            world: "cns:plugin/deployer-plugin",
            with: {
                "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
                "cns:plugin/host": crate::bindings::v0_1::bundler::cns::plugin::host,
            },
        });
    }
}

pub use bundler::cns::plugin::types;
