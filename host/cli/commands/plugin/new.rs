//! `cnsctl plugin new`: a plugin crate from a template, outside this repository, that
//! builds to a component and passes its own tests.

use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    /// version (or the checkout itself). Default: the SDK this cnsctl was built with, written
    /// into the new crate's vendor/ (so the crate is self-contained).
    #[arg(long, value_name = "PATH", conflicts_with = "sdk_git")]
    sdk: Option<PathBuf>,

    /// Depend on the SDK from a Git repository of cnsctl instead of a path.
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,

    /// Tag, branch or commit of --sdk-git. Default: v<this cnsctl's version>.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    sdk_rev: Option<String>,
}

/// The Cargo.lock cnsctl's own plugins are tested with: a new crate starts from the same
/// dependency versions (cargo drops what it does not use).
const LOCK: &str = include_str!("../../../../Cargo.lock");

fn template(kind: Kind) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        (
            "Cargo.toml",
            include_str!("../../templates/common/Cargo.toml.tmpl"),
        ),
        (
            "README.md",
            include_str!("../../templates/common/README.md.tmpl"),
        ),
        (
            ".gitignore",
            include_str!("../../templates/common/gitignore.tmpl"),
        ),
        ("Cargo.lock", LOCK),
    ];
    files.extend(match kind {
        Kind::Bundler => [
            (
                "src/lib.rs",
                include_str!("../../templates/bundler/lib.rs.tmpl"),
            ),
            (
                "src/render.rs",
                include_str!("../../templates/bundler/render.rs.tmpl"),
            ),
        ],
        Kind::Deployer => [
            (
                "src/lib.rs",
                include_str!("../../templates/deployer/lib.rs.tmpl"),
            ),
            (
                "src/generate.rs",
                include_str!("../../templates/deployer/generate.rs.tmpl"),
            ),
        ],
    });
    files
}

/// The SDK sources this cnsctl was built with, written into a new crate's `vendor/`.
static SDK: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/plugins/sdk");
/// The values crate the SDK depends on.
static VALUES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/host/values");
/// cnsctl's workspace manifest: the dependency versions the vendored crates are pinned to.
const WORKSPACE_MANIFEST: &str = include_str!("../../../../Cargo.toml");

/// A member crate's manifest made standalone: `x.workspace = true` replaced by the
/// workspace's own setting for `x`, workspace lints dropped, `cns-values` found beside it.
fn standalone_manifest(member: &str) -> String {
    let deps: Vec<(&str, &str)> = WORKSPACE_MANIFEST
        .split("[workspace.dependencies]")
        .nth(1)
        .unwrap_or("")
        .split("\n[")
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let mut out = String::new();
    let mut in_lints = false;
    for line in member.lines() {
        if line.starts_with('[') {
            in_lints = line == "[lints]";
        }
        if in_lints {
            continue;
        }
        let replaced = match line.split_once(".workspace = true") {
            Some(("version", _)) => format!("version = {:?}", env!("CARGO_PKG_VERSION")),
            Some(("edition", _)) => "edition = \"2024\"".to_string(),
            Some(("rust-version", _)) => "rust-version = \"1.95\"".to_string(),
            Some(("license", _)) => "license = \"Apache-2.0\"".to_string(),
            Some(("cns-values", _)) => "cns-values = { path = \"../cns-values\" }".to_string(),
            Some((dep, _)) => match deps.iter().find(|(k, _)| *k == dep) {
                Some((k, v)) => format!("{k} = {v}"),
                None => line.to_string(),
            },
            None => line.to_string(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

/// The vendored SDK: `(path in the new crate, content)` for every file of `cns-plugin-sdk`
/// (WIT files included) and `cns-values`.
fn vendored_sdk() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &include_dir::Dir<'static>, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
        for f in dir.files() {
            let rel = f.path().to_string_lossy().replace('\\', "/");
            let content = if rel == "Cargo.toml" {
                standalone_manifest(f.contents_utf8().unwrap_or("")).into_bytes()
            } else {
                f.contents().to_vec()
            };
            out.push((format!("{prefix}/{rel}"), content));
        }
        for d in dir.dirs() {
            walk(d, prefix, out);
        }
    }
    let mut out = Vec::new();
    walk(&SDK, "vendor/cns-plugin-sdk", &mut out);
    walk(&VALUES, "vendor/cns-values", &mut out);
    out.sort();
    out
}

/// The SDK dependency line for Cargo.toml, and whether the SDK is vendored into the crate.
fn sdk_dependency(args: &NewArgs) -> Result<(String, bool)> {
    if let Some(url) = &args.sdk_git {
        let rev = args
            .sdk_rev
            .clone()
            .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
        return Ok((
            format!(
                "cns-plugin-sdk = {{ git = {}, rev = {} }}",
                toml_str(url),
                toml_str(&rev)
            ),
            false,
        ));
    }
    let Some(path) = &args.sdk else {
        return Ok((
            "cns-plugin-sdk = { path = \"vendor/cns-plugin-sdk\" }".to_string(),
            true,
        ));
    };
    let sdk = [path.clone(), path.join("plugins/sdk")]
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p.join("Cargo.toml"))
                .is_ok_and(|t| t.contains("name = \"cns-plugin-sdk\""))
        })
        .with_context(|| {
            format!(
                "no cns-plugin-sdk crate at `{}` (--sdk); pass --sdk PATH (plugins/sdk of a cnsctl checkout of version {}), --sdk-git URL, or neither to vendor the SDK into the crate",
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
    Ok((
        format!("cns-plugin-sdk = {{ path = {} }}", toml_str(sdk)),
        false,
    ))
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

pub(super) fn run(args: NewArgs) -> Result<Outcome> {
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
    let (sdk, vendored) = sdk_dependency(&args)?;
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
    if vendored {
        for (rel, content) in vendored_sdk() {
            let path = tmp.path().join(&rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)?;
            }
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_manifests_are_standalone_and_pinned_like_the_workspace() {
        let files = vendored_sdk();
        let get = |p: &str| {
            let (_, c) = files
                .iter()
                .find(|(n, _)| n == p)
                .unwrap_or_else(|| panic!("{p}"));
            String::from_utf8(c.clone()).unwrap()
        };
        let sdk = get("vendor/cns-plugin-sdk/Cargo.toml");
        assert!(!sdk.contains("workspace"), "{sdk}");
        assert!(
            sdk.contains("cns-values = { path = \"../cns-values\" }"),
            "{sdk}"
        );
        assert!(
            sdk.contains("wit-bindgen = { version = \"0.61.1\""),
            "{sdk}"
        );
        let values = get("vendor/cns-values/Cargo.toml");
        assert!(
            !values.contains("workspace") && values.contains("serde_norway = "),
            "{values}"
        );
        for needed in [
            "vendor/cns-plugin-sdk/src/lib.rs",
            "vendor/cns-plugin-sdk/wit/types.wit",
            "vendor/cns-values/src/lib.rs",
        ] {
            assert!(files.iter().any(|(n, _)| n == needed), "{needed}");
        }
    }
}
