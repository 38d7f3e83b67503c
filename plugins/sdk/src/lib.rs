//! Guest-side SDK for cnsctl plugins: WIT bindings, export macros and helpers.
//!
//! A bundler implements [`Bundler`] and calls [`export_bundler!`]; a deployer implements
//! [`Deployer`] and calls [`export_deployer!`]. The same crate builds as a WebAssembly
//! component (`wasm32-unknown-unknown`, exports the world) and natively (an `rlib` whose
//! logic can be unit-tested with plain `cargo test`; the export glue is compiled only for
//! wasm). Plugins do no I/O: everything arrives in the input and leaves as files.
//!
//! ```
//! use cns_plugin_sdk::{Bundler, ComponentInput, PluginError, PluginInfo, PluginKind, Rendered};
//!
//! struct Echo;
//! impl Bundler for Echo {
//!     fn info() -> PluginInfo {
//!         PluginInfo {
//!             name: "echo".into(),
//!             kind: PluginKind::Bundler,
//!             version: "0.1.0".into(),
//!             description: "writes the values back".into(),
//!             serves: vec!["echo".into()],
//!         }
//!     }
//!     fn render(input: ComponentInput) -> Result<Rendered, PluginError> {
//!         // The host writes values.yaml from the returned values.
//!         let values = cns_plugin_sdk::values::parse(&input.values_json)?;
//!         Ok(Rendered { files: vec![], values })
//!     }
//! }
//! cns_plugin_sdk::export_bundler!(Echo);
//! ```

pub mod component;
pub mod deploy;
mod io;
pub mod quote;
pub mod scheduling;
pub mod testing;
pub mod values;

/// Bindings of the `bundler-plugin` world (also holds the shared `types` and `host` interfaces).
#[allow(
    missing_docs,
    unreachable_pub,
    unsafe_code,
    clippy::all,
    reason = "generated code"
)]
pub mod bundler_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "cns:plugin/bundler-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_bundler_world",
        default_bindings_module: "cns_plugin_sdk::bundler_world",
        additional_derives: [PartialEq],
    });
}

/// Bindings of the `deployer-plugin` world (types shared with [`bundler_world`]).
#[allow(
    missing_docs,
    unreachable_pub,
    unsafe_code,
    clippy::all,
    reason = "generated code"
)]
pub mod deployer_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "cns:plugin/deployer-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_deployer_world",
        default_bindings_module: "cns_plugin_sdk::deployer_world",
        additional_derives: [PartialEq],
        with: {
            "cns:plugin/types@0.3.0": crate::bundler_world::cns::plugin::types,
            "cns:plugin/host@0.3.0": crate::bundler_world::cns::plugin::host,
        },
    });
}

pub use bundler_world::cns::plugin::types::{
    BundleFile, ChartSource, ComponentInput, Criteria, InputFile, Label, Level, OptionPair,
    PluginError, PluginInfo, PluginKind, Scheduling, Toleration,
};
pub use io::{Component, Deployment, Rendered};

/// The WIT records as generated (what crosses the boundary); plugins use [`Rendered`],
/// [`Deployment`] and [`Component`], which hold values as [`values::Value`] trees.
pub mod wit {
    pub use crate::bundler_world::cns::plugin::types::*;
}

/// Version of the WIT package this SDK was built against.
pub const WIT_VERSION: &str = "0.3.0";

/// A bundler plugin: renders one recipe component into files and its final values.
pub trait Bundler {
    /// Describe the plugin.
    fn info() -> PluginInfo;
    /// Render one component: files (paths relative to the component's folder) and the final
    /// values, which the host writes as `values.yaml`.
    fn render(input: ComponentInput) -> Result<Rendered, PluginError>;
}

/// A deployer plugin: turns rendered components into deployment files.
pub trait Deployer {
    /// Describe the plugin.
    fn info() -> PluginInfo;
    /// Generate deployment files; paths are relative to the bundle root.
    fn generate(input: Deployment) -> Result<Vec<BundleFile>, PluginError>;
}

/// Send a log line to the host. Natively (unit tests) the line is dropped.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bundler_world::cns::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}

/// Whether the host would show a message at `level` (the user's verbosity), so costly debug
/// output can be skipped. Natively (unit tests) every level is enabled.
pub fn log_enabled(level: Level) -> bool {
    #[cfg(target_arch = "wasm32")]
    return bundler_world::cns::plugin::host::enabled(level);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = level;
        true
    }
}

/// Install a panic hook that forwards the panic message to the host log, so a plugin bug
/// shows up as a readable message next to the host's "plugin trapped" error.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            log(Level::Error, &format!("plugin panicked: {info}"))
        }));
    });
}

/// A regular (0644) file.
pub fn file(path: impl Into<String>, content: impl Into<Vec<u8>>) -> BundleFile {
    BundleFile {
        path: path.into(),
        content: content.into(),
        executable: false,
    }
}

/// An executable (0755) file, e.g. a script.
pub fn executable(path: impl Into<String>, content: impl Into<Vec<u8>>) -> BundleFile {
    BundleFile {
        path: path.into(),
        content: content.into(),
        executable: true,
    }
}

impl From<cns_values::Error> for PluginError {
    fn from(e: cns_values::Error) -> Self {
        PluginError::InvalidInput(e.to_string())
    }
}

/// Export a [`Bundler`] implementation as the component's `bundler` interface.
///
/// Compiled only for `wasm32`; natively it expands to nothing, so several plugins can be
/// linked into one test or benchmark binary.
#[macro_export]
macro_rules! export_bundler {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __CnsBundlerExport;
            impl $crate::bundler_world::exports::cns::plugin::bundler::Guest for __CnsBundlerExport {
                fn info() -> $crate::PluginInfo {
                    <$t as $crate::Bundler>::info()
                }
                fn render(
                    input: $crate::ComponentInput,
                ) -> ::core::result::Result<$crate::wit::Rendered, $crate::PluginError> {
                    $crate::install_panic_hook();
                    <$t as $crate::Bundler>::render(input).map($crate::Rendered::into_wit)
                }
            }
            $crate::bundler_world::__export_bundler_world!(__CnsBundlerExport with_types_in $crate::bundler_world);
        };
    };
}

/// Export a [`Deployer`] implementation as the component's `deployer` interface.
///
/// Compiled only for `wasm32`, like [`export_bundler!`].
#[macro_export]
macro_rules! export_deployer {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __CnsDeployerExport;
            impl $crate::deployer_world::exports::cns::plugin::deployer::Guest for __CnsDeployerExport {
                fn info() -> $crate::PluginInfo {
                    <$t as $crate::Deployer>::info()
                }
                fn generate(
                    input: $crate::wit::Deployment,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::BundleFile>, $crate::PluginError> {
                    $crate::install_panic_hook();
                    <$t as $crate::Deployer>::generate($crate::Deployment::from_wit(input)?)
                }
            }
            $crate::deployer_world::__export_deployer_world!(__CnsDeployerExport with_types_in $crate::deployer_world);
        };
    };
}

/// A whole bundler plugin's glue in one declaration: the plugin type, its `info` and its
/// export. `render` is a function `fn(&ComponentInput) -> Result<Rendered, PluginError>`
/// (keep it in a pure module with native unit tests). The version is the crate's.
///
/// ```
/// mod render {
///     use cns_plugin_sdk::{ComponentInput, PluginError, Rendered};
///     pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
///         let values = cns_plugin_sdk::values::parse(&input.values_json)?;
///         Ok(Rendered { files: vec![], values })
///     }
/// }
/// cns_plugin_sdk::bundler_plugin! {
///     /// The my-chart bundler.
///     MyChart,
///     name: "my-chart",
///     description: "values for my-chart",
///     serves: ["my-chart"],
///     render: render::render,
/// }
/// # use cns_plugin_sdk::Bundler;
/// assert_eq!(MyChart::info().serves, ["my-chart"]);
/// ```
#[macro_export]
macro_rules! bundler_plugin {
    ($(#[$doc:meta])* $ty:ident, name: $name:expr, description: $desc:expr,
     serves: [$($serves:expr),* $(,)?], render: $render:path $(,)?) => {
        $(#[$doc])*
        pub struct $ty;
        impl $crate::Bundler for $ty {
            fn info() -> $crate::PluginInfo {
                $crate::PluginInfo {
                    name: ::std::string::String::from($name),
                    kind: $crate::PluginKind::Bundler,
                    version: ::std::string::String::from(env!("CARGO_PKG_VERSION")),
                    description: ::std::string::String::from($desc),
                    serves: ::std::vec![$(::std::string::String::from($serves)),*],
                }
            }
            fn render(
                input: $crate::ComponentInput,
            ) -> ::core::result::Result<$crate::Rendered, $crate::PluginError> {
                $render(&input)
            }
        }
        $crate::export_bundler!($ty);
    };
}

/// A whole deployer plugin's glue in one declaration, like [`bundler_plugin!`]; `generate`
/// is a function `fn(&Deployment) -> Result<Vec<BundleFile>, PluginError>` and `serves`
/// lists the `--deployer` names it answers to.
#[macro_export]
macro_rules! deployer_plugin {
    ($(#[$doc:meta])* $ty:ident, name: $name:expr, description: $desc:expr,
     serves: [$($serves:expr),* $(,)?], generate: $generate:path $(,)?) => {
        $(#[$doc])*
        pub struct $ty;
        impl $crate::Deployer for $ty {
            fn info() -> $crate::PluginInfo {
                $crate::PluginInfo {
                    name: ::std::string::String::from($name),
                    kind: $crate::PluginKind::Deployer,
                    version: ::std::string::String::from(env!("CARGO_PKG_VERSION")),
                    description: ::std::string::String::from($desc),
                    serves: ::std::vec![$(::std::string::String::from($serves)),*],
                }
            }
            fn generate(
                input: $crate::Deployment,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::BundleFile>, $crate::PluginError> {
                $generate(&input)
            }
        }
        $crate::export_deployer!($ty);
    };
}
