//! `cnsctl plugin new` (a plugin crate from a template, outside this repository) and
//! `cnsctl plugin build` (that crate → a WebAssembly component cnsctl loads).

use super::Outcome;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// Which world the new plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Renders one recipe component (values, manifests, README).
    Bundler,
    /// Turns the rendered components into deployment files (`--deployer NAME`).
    Deployer,
}

/// Arguments of `plugin new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// Plugin name: the component it renders (bundler) or the --deployer name (deployer);
    /// lowercase letters, digits and `-`.
    #[arg(value_name = "NAME")]
    name: String,

    /// What the plugin is.
    #[arg(long, value_enum)]
    kind: Kind,

    /// Directory to create (must not exist or be empty). Default: ./NAME.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,

    /// The cns-plugin-sdk crate to depend on: plugins/sdk of a cnsctl checkout of this
    /// version (or the checkout itself). Default: the checkout this cnsctl was built from.
    #[arg(long, value_name = "PATH", conflicts_with = "sdk_git")]
    sdk: Option<PathBuf>,

    /// Depend on the SDK from a Git repository of cnsctl instead of a path.
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,

    /// Tag, branch or commit of --sdk-git. Default: v<this cnsctl's version>.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    sdk_rev: Option<String>,
}

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

/// The Cargo.lock cnsctl's own plugins are tested with: a new crate starts from the same
/// dependency versions (cargo drops what it does not use).
const LOCK: &str = include_str!("../../../Cargo.lock");

fn template(kind: Kind) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        (
            "Cargo.toml",
            include_str!("../templates/common/Cargo.toml.tmpl"),
        ),
        (
            "README.md",
            include_str!("../templates/common/README.md.tmpl"),
        ),
        (
            ".gitignore",
            include_str!("../templates/common/gitignore.tmpl"),
        ),
        ("Cargo.lock", LOCK),
    ];
    files.extend(match kind {
        Kind::Bundler => [
            (
                "src/lib.rs",
                include_str!("../templates/bundler/lib.rs.tmpl"),
            ),
            (
                "src/render.rs",
                include_str!("../templates/bundler/render.rs.tmpl"),
            ),
        ],
        Kind::Deployer => [
            (
                "src/lib.rs",
                include_str!("../templates/deployer/lib.rs.tmpl"),
            ),
            (
                "src/generate.rs",
                include_str!("../templates/deployer/generate.rs.tmpl"),
            ),
        ],
    });
    files
}

/// The SDK dependency line for Cargo.toml.
fn sdk_dependency(args: &NewArgs) -> Result<String> {
    if let Some(url) = &args.sdk_git {
        let rev = args
            .sdk_rev
            .clone()
            .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
        return Ok(format!(
            "cns-plugin-sdk = {{ git = {}, rev = {} }}",
            toml_str(url),
            toml_str(&rev)
        ));
    }
    let (path, flag) = match &args.sdk {
        Some(p) => (p.clone(), "--sdk"),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk"),
            "the checkout cnsctl was built from",
        ),
    };
    let sdk = [path.clone(), path.join("plugins/sdk")]
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p.join("Cargo.toml"))
                .is_ok_and(|t| t.contains("name = \"cns-plugin-sdk\""))
        })
        .with_context(|| {
            format!(
                "no cns-plugin-sdk crate at `{}` ({flag}); pass --sdk PATH (plugins/sdk of a cnsctl checkout of version {}) or --sdk-git URL",
                path.display(),
                env!("CARGO_PKG_VERSION")
            )
        })?;
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("cannot resolve `{}`", sdk.display()))?;
    let sdk = sdk
        .to_str()
        .with_context(|| format!("the SDK path `{}` is not UTF-8", sdk.display()))?;
    Ok(format!("cns-plugin-sdk = {{ path = {} }}", toml_str(sdk)))
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

pub(crate) fn new(args: NewArgs) -> Result<Outcome> {
    if !cns_runtime::is_plugin_name(&args.name) {
        bail!(
            "invalid plugin name `{}`: use lowercase letters, digits and `-` (at most 63), not starting with `-`",
            args.name
        );
    }
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("`{}` exists and is not a directory", dir.display()))?
            .next()
            .is_some()
    {
        bail!("`{}` exists and is not empty (--path)", dir.display());
    }
    let (kind, usage) = match args.kind {
        Kind::Bundler => (
            "bundler",
            "--recipe RECIPE.yaml   # a recipe with a component named ".to_string() + &args.name,
        ),
        Kind::Deployer => ("deployer", format!("--deployer {}", args.name)),
    };
    let sdk = sdk_dependency(&args)?;
    // Write into a sibling temp directory and rename: nothing half-written on failure.
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create `{}`", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".cnsctl-new-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write in `{}`", parent.display()))?;
    for (rel, text) in template(args.kind) {
        let text = text
            .replace("__NAME__", &args.name)
            .replace("__KIND__", kind)
            .replace("__SDK_DEP__", &sdk)
            .replace("__USE__", &usage);
        let path = tmp.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if dir.exists() {
        std::fs::remove_dir(&dir).with_context(|| format!("cannot replace `{}`", dir.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    crate::ui::status(&format!(
        "created {kind} plugin `{}` in {}\n  next: cd {} && cargo test && cnsctl plugin build",
        args.name,
        dir.display(),
        dir.display()
    ));
    Ok(Outcome::Success)
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

pub(crate) fn build(args: BuildArgs) -> Result<Outcome> {
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
        "building {} for {} ({})",
        info.package,
        cns_toolchain::TARGET,
        route.name()
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
    super::plugin::componentize_file(&core, &output)?;
    Ok(Outcome::Success)
}
