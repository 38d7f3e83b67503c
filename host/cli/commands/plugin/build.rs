//! `cnsctl plugin build`: a plugin crate → the WebAssembly component cnsctl loads (cargo
//! build for wasm32 on the toolchain route `cns-toolchain` picks, then componentize).

use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};

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

/// `cargo metadata` facts about the plugin crate.
struct CrateInfo {
    package: String,
    lib: String,
    target_dir: PathBuf,
}

fn crate_info(cargo: &Path, manifest: &Path) -> Result<CrateInfo> {
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .with_context(|| format!("cannot run `{}`", cargo.display()))?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed for `{}`:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let pkg = meta["packages"]
        .as_array()
        .and_then(|p| p.first())
        .with_context(|| format!("no package in `{}`", manifest.display()))?;
    let lib = pkg["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .with_context(|| {
            format!(
                "`{}` has no cdylib target: add crate-type = [\"cdylib\", \"rlib\"] under [lib]",
                manifest.display()
            )
        })?;
    Ok(CrateInfo {
        package: pkg["name"].as_str().unwrap_or_default().to_string(),
        lib: lib.replace('-', "_"),
        target_dir: PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")),
    })
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
    let info = crate_info(&cargo, &manifest)?;
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
