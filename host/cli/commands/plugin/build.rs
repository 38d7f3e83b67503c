//! `cnsctl plugin build`: a plugin crate → the WebAssembly component cnsctl loads (cargo
//! build for wasm32 on the toolchain route `cns-toolchain` picks, then componentize).

use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `plugin build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The plugin crate's directory.
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// Where to write the component. Default: DIR/<package name>.wasm.
    #[arg(short, long, value_name = "PLUGIN.wasm")]
    output: Option<PathBuf>,
}

pub(super) fn run(args: BuildArgs) -> Result<Outcome> {
    let manifest = args.dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "no Cargo.toml in `{}` (plugin build DIR)",
            args.dir.display()
        );
    }
    let route = cns_toolchain::Route::from_env().with_context(|| {
        format!(
            "cannot build for {}: {}",
            cns_toolchain::TARGET,
            cns_toolchain::NO_ROUTE_HELP
        )
    })?;
    let cargo = match &route {
        cns_toolchain::Route::Native { cargo } | cns_toolchain::Route::Debian { cargo, .. } => {
            cargo.clone()
        }
    };
    let info = cns_toolchain::PluginPackage::read(&cargo, &manifest)?;
    crate::ui::status(&format!(
        "building {} for {} ({}) in {} (set CARGO_TARGET_DIR to share one target directory between plugins)",
        info.package,
        cns_toolchain::TARGET,
        route.name(),
        info.target_dir.display()
    ));
    let status = route
        .cargo_build()
        .arg("--release")
        .arg("--manifest-path")
        .arg(&manifest)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!(
            "cargo build for {} failed ({status})",
            cns_toolchain::TARGET
        );
    }
    let core = info
        .target_dir
        .join(cns_toolchain::TARGET)
        .join("release")
        .join(format!("{}.wasm", info.lib));
    let output = args
        .output
        .unwrap_or_else(|| args.dir.join(format!("{}.wasm", info.package)));
    super::componentize::file(&core, &output)?;
    Ok(Outcome::Success)
}
