//! What `cargo metadata` says about a plugin crate: its package name, the library target
//! that becomes the component (a `cdylib`), and where cargo puts the build.

use std::path::{Path, PathBuf};

/// A plugin crate as `cnsctl plugin build` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginPackage {
    /// Package name (the default name of the component file).
    pub package: String,
    /// The cdylib target's name as the `.wasm` file is named (`-` as `_`).
    pub lib: String,
    /// Cargo's target directory for the crate.
    pub target_dir: PathBuf,
}

/// Why a plugin crate cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// `cargo` could not be started.
    #[error("cannot run `{cargo}`")]
    Run {
        /// The cargo binary.
        cargo: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `cargo metadata` failed.
    #[error("`cargo metadata` failed for `{manifest}`:\n{stderr}")]
    Metadata {
        /// The manifest.
        manifest: String,
        /// What cargo said.
        stderr: String,
    },
    /// The crate is not a plugin crate.
    #[error("`{manifest}` {reason}")]
    NotAPlugin {
        /// The manifest.
        manifest: String,
        /// What is missing.
        reason: String,
    },
}

impl PluginPackage {
    /// Read the crate of `manifest` with `cargo metadata --no-deps`.
    pub fn read(cargo: &Path, manifest: &Path) -> Result<Self, PackageError> {
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
            .map_err(|source| PackageError::Run {
                cargo: cargo.display().to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(PackageError::Metadata {
                manifest: manifest.display().to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Self::from_metadata(manifest, &out.stdout)
    }

    /// The package of `cargo metadata`'s JSON output.
    pub fn from_metadata(manifest: &Path, json: &[u8]) -> Result<Self, PackageError> {
        let not_a_plugin = |reason: &str| PackageError::NotAPlugin {
            manifest: manifest.display().to_string(),
            reason: reason.to_string(),
        };
        let meta: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| not_a_plugin(&format!("gave unreadable metadata: {e}")))?;
        let pkg = meta["packages"]
            .as_array()
            .and_then(|p| p.first())
            .ok_or_else(|| not_a_plugin("has no package"))?;
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
            .ok_or_else(|| {
                not_a_plugin(
                    "has no cdylib target: add crate-type = [\"cdylib\", \"rlib\"] under [lib]",
                )
            })?;
        Ok(PluginPackage {
            package: pkg["name"].as_str().unwrap_or_default().to_string(),
            lib: lib.replace('-', "_"),
            target_dir: PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_crate_needs_a_cdylib() {
        let m = Path::new("p/Cargo.toml");
        let meta = |types: &str| {
            format!(
                r#"{{"packages":[{{"name":"my-chart","targets":[{{"name":"my-chart","crate_types":{types}}}]}}],"target_directory":"/t"}}"#
            )
        };
        let p = PluginPackage::from_metadata(m, meta(r#"["cdylib","rlib"]"#).as_bytes()).unwrap();
        assert_eq!(
            (p.package.as_str(), p.lib.as_str(), p.target_dir),
            ("my-chart", "my_chart", PathBuf::from("/t"))
        );
        let e = PluginPackage::from_metadata(m, meta(r#"["rlib"]"#).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("has no cdylib target"), "{e}");
    }
}
