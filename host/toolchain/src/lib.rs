//! Finds how to build `wasm32-unknown-unknown` plugin crates on this machine, for the
//! built-in plugins (`host/plugin-artifacts/build.rs`) and for `cnsctl plugin build`:
//! (a) the active rustc has the target's std (e.g. `rustup target add`): a plain build;
//! (b) Debian's `rustc-web` + `rust-web-src` (+ `lld`): `-Zbuild-std` with `RUSTC_BOOTSTRAP=1`;
//! (c) neither: an error naming both remedies.

mod package;

pub use package::{PackageError, PluginPackage};

use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugin target.
pub const TARGET: &str = "wasm32-unknown-unknown";

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";

/// What to do when no route exists.
pub const NO_ROUTE_HELP: &str = "the active rustc has no wasm32-unknown-unknown std\n\
     = help: with rustup: `rustup target add wasm32-unknown-unknown`\n\
     = help: on Debian: `apt-get install rustc-web cargo-web rust-web-src lld-22` (used with -Zbuild-std)";

/// How to build for [`TARGET`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The active toolchain has the target's std: run `cargo` as is.
    Native {
        /// The cargo to run.
        cargo: PathBuf,
    },
    /// Debian's rustc-web with the std sources: `-Zbuild-std`.
    Debian {
        /// The cargo to run (`CNS_PLUGIN_CARGO`, default `/usr/bin/cargo`).
        cargo: PathBuf,
        /// The rustc it uses (`CNS_PLUGIN_RUSTC`, default `/usr/bin/rustc`).
        rustc: PathBuf,
    },
}

impl Route {
    /// Pick a route: `rustc`/`cargo` are the active tools (`$RUSTC`/`$CARGO` or the ones on
    /// `PATH`). `None` when neither route exists (see [`NO_ROUTE_HELP`]).
    pub fn pick(rustc: &str, cargo: &str) -> Option<Route> {
        let libdir = Command::new(rustc)
            .args(["--print", "target-libdir", "--target", TARGET])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let has_std = |dir: &Path| {
            std::fs::read_dir(dir).is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
            })
        };
        if libdir.as_deref().is_some_and(has_std) {
            return Some(Route::Native {
                cargo: cargo.into(),
            });
        }
        let env_or =
            |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
        let rustc = env_or("CNS_PLUGIN_RUSTC", DEBIAN_RUSTC);
        if rustc.exists() && Path::new(DEBIAN_STD_SRC).exists() {
            return Some(Route::Debian {
                cargo: env_or("CNS_PLUGIN_CARGO", DEBIAN_CARGO),
                rustc,
            });
        }
        None
    }

    /// Pick a route from the environment (`$RUSTC`, `$CARGO`, else `rustc`/`cargo`).
    pub fn from_env() -> Option<Route> {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        Route::pick(&rustc, &cargo)
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Native { .. } => "rustup target wasm32-unknown-unknown",
            Route::Debian { .. } => "Debian rustc-web with -Zbuild-std",
        }
    }

    /// `cargo build --target wasm32-unknown-unknown` (plus `-Zbuild-std` on the Debian
    /// route), with the environment the route needs and without the caller's RUSTFLAGS or
    /// wrappers; add the profile, packages and directory.
    pub fn cargo_build(&self) -> Command {
        let mut cmd = match self {
            Route::Native { cargo } => Command::new(cargo),
            Route::Debian { cargo, rustc } => {
                let mut c = Command::new(cargo);
                let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
                c.env("PATH", path)
                    .env("RUSTC", rustc)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTUP_HOME");
                c
            }
        };
        cmd.arg("build")
            .arg("--target")
            .arg(TARGET)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_BUILD_TARGET");
        if matches!(self, Route::Debian { .. }) {
            cmd.arg("-Zbuild-std=std,panic_abort");
        }
        cmd
    }
}

/// A core module that is not a cnsctl plugin module.
#[derive(Debug)]
pub struct NotAPluginModule(pub String);

impl std::fmt::Display for NotAPluginModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotAPluginModule {}

/// Wrap a plugin crate's core module (`cargo build --target wasm32-unknown-unknown`) into
/// the WebAssembly component cnsctl loads, with `wit-component` (the WIT world is embedded
/// in the module by the SDK's bindings). The component is validated.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, NotAPluginModule> {
    let mut enc = wit_component::ComponentEncoder::default();
    enc.validate(true)
        .module(core)
        .and_then(|e| e.encode())
        .map_err(|e| NotAPluginModule(format!("{e:#}")))
}
