//! The generated host bindings of the two `cns:plugin` worlds (the only `bindgen!` calls):
//! the current WIT version, and the older minors still accepted (`v0_2`, `v0_1`). Their
//! records are the current version's (0.3 kept every 0.1/0.2 record as it was), checked
//! structurally by wasmtime when a plugin loads; each has its own `host` interface.

#![allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]

/// Bindings of the `bundler-plugin` world; also owns the shared `types` and `host` interfaces.
pub mod bundler {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "cns:plugin/bundler-plugin",
        additional_derives: [PartialEq],
    });
}

/// Bindings of the `deployer-plugin` world, reusing the bundler world's shared interfaces.
pub mod deployer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "cns:plugin/deployer-plugin",
        additional_derives: [PartialEq],
        with: {
            "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
            "cns:plugin/host": crate::bindings::bundler::cns::plugin::host,
        },
    });
}

/// `cns:plugin@0.2.x` (frozen in `wit-compat/0.2.0`): its records are among the current
/// version's, so its `types` map onto the current Rust types; its worlds' functions and its
/// `host` interface are its own.
pub mod v0_2 {
    /// The 0.2 `bundler-plugin` world (owns the 0.2 `host` interface).
    pub mod bundler {
        wasmtime::component::bindgen!({
            path: "../../wit-compat/0.2.0",
            world: "cns:plugin/bundler-plugin",
            with: {
                "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
            },
        });
    }

    /// The 0.2 `deployer-plugin` world.
    pub mod deployer {
        wasmtime::component::bindgen!({
            path: "../../wit-compat/0.2.0",
            world: "cns:plugin/deployer-plugin",
            with: {
                "cns:plugin/types": crate::bindings::bundler::cns::plugin::types,
                "cns:plugin/host": crate::bindings::v0_2::bundler::cns::plugin::host,
            },
        });
    }
}

/// `cns:plugin@0.1.x` (frozen in `wit-compat/0.1.0`): the 0.2 worlds with a `host` interface
/// that has no `enabled`; its `types` map onto the current Rust types.
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
