//! The plugin crate `cnsctl plugin new` writes: the template files of a bundler or deployer
//! plugin, the SDK dependency (vendored into the crate, a path, or Git), and the atomic
//! creation of its directory. The crate builds to a component and passes its own tests.

use std::path::{Path, PathBuf};

/// Which world the new plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Renders one recipe component (values, manifests, README).
    Bundler,
    /// Turns the rendered components into deployment files (`--deployer NAME`).
    Deployer,
}

/// Where the new crate's `cns-plugin-sdk` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sdk {
    /// The SDK this cnsctl was built with, written into the crate's `vendor/`.
    Vendored,
    /// `plugins/sdk` of a cnsctl checkout (or the checkout itself).
    Path(PathBuf),
    /// A Git repository of cnsctl at a revision.
    Git {
        /// The repository.
        url: String,
        /// Tag, branch or commit.
        rev: String,
    },
}

/// Why a plugin crate cannot be created; nothing is left behind.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target exists and is not a directory.
    #[error("`{path}` exists and is not a directory")]
    NotADirectory {
        /// The target.
        path: String,
        /// Why it could not be read as one.
        #[source]
        source: std::io::Error,
    },
    /// The target directory holds something.
    #[error("`{path}` exists and is not empty (--path)")]
    NotEmpty {
        /// The target.
        path: String,
    },
    /// `--sdk` names no SDK crate.
    #[error(
        "no cns-plugin-sdk crate at `{path}` (--sdk); pass --sdk PATH (plugins/sdk of a cnsctl checkout of version {version}), --sdk-git URL, or neither to vendor the SDK into the crate"
    )]
    NoSdk {
        /// What was given.
        path: String,
        /// This cnsctl's version.
        version: &'static str,
    },
    /// The SDK path cannot be written into Cargo.toml.
    #[error("the SDK path `{path}` is not UTF-8")]
    SdkPathNotUtf8 {
        /// The path.
        path: String,
    },
    /// A file operation failed.
    #[error("cannot {what} `{path}`")]
    Io {
        /// `create`, `write`, `write in`, `replace`, `resolve`.
        what: &'static str,
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.display().to_string();
    move |source| Error::Io { what, path, source }
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

/// The SDK sources this cnsctl was built with, written into a new crate's `vendor/`.
static SDK: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../plugins/sdk");
/// The values crate the SDK depends on.
static VALUES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../values");
/// cnsctl's workspace manifest: the dependency versions the vendored crates are pinned to.
const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");

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
fn sdk_dependency(sdk: &Sdk) -> Result<(String, bool), Error> {
    let path = match sdk {
        Sdk::Git { url, rev } => {
            return Ok((
                format!(
                    "cns-plugin-sdk = {{ git = {}, rev = {} }}",
                    toml_str(url),
                    toml_str(rev)
                ),
                false,
            ));
        }
        Sdk::Vendored => {
            return Ok((
                "cns-plugin-sdk = { path = \"vendor/cns-plugin-sdk\" }".to_string(),
                true,
            ));
        }
        Sdk::Path(p) => p,
    };
    let sdk = [path.clone(), path.join("plugins/sdk")]
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p.join("Cargo.toml"))
                .is_ok_and(|t| t.contains("name = \"cns-plugin-sdk\""))
        })
        .ok_or_else(|| Error::NoSdk {
            path: path.display().to_string(),
            version: env!("CARGO_PKG_VERSION"),
        })?;
    let sdk = sdk.canonicalize().map_err(io("resolve", &sdk))?;
    let sdk = sdk.to_str().ok_or_else(|| Error::SdkPathNotUtf8 {
        path: sdk.display().to_string(),
    })?;
    Ok((
        format!("cns-plugin-sdk = {{ path = {} }}", toml_str(sdk)),
        false,
    ))
}

/// A TOML basic string (JSON's string escapes are valid TOML).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Every file of a new plugin crate `name` of `kind` with its SDK from `sdk`:
/// `(relative path, content)`.
pub fn files(name: &str, kind: Kind, sdk: &Sdk) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let (kind_word, usage) = match kind {
        Kind::Bundler => (
            "bundler",
            "--recipe RECIPE.yaml   # a recipe with a component named ".to_string() + name,
        ),
        Kind::Deployer => ("deployer", format!("--deployer {name}")),
    };
    let (sdk, vendored) = sdk_dependency(sdk)?;
    let mut out: Vec<(String, Vec<u8>)> = template(kind)
        .into_iter()
        .map(|(rel, text)| {
            let text = text
                .replace("__NAME__", name)
                .replace("__KIND__", kind_word)
                .replace("__SDK_DEP__", &sdk)
                .replace("__USE__", &usage);
            (rel.to_string(), text.into_bytes())
        })
        .collect();
    if vendored {
        out.extend(vendored_sdk());
    }
    Ok(out)
}

/// Refuse `dir` unless it does not exist or is an empty directory.
pub fn check_target(dir: &Path) -> Result<(), Error> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|source| Error::NotADirectory {
                path: dir.display().to_string(),
                source,
            })?
            .next()
            .is_some()
    {
        return Err(Error::NotEmpty {
            path: dir.display().to_string(),
        });
    }
    Ok(())
}

/// Create the plugin crate at `dir` (which must not exist or be empty) holding `files`:
/// written into a sibling temporary directory and renamed, so nothing is half-written.
pub fn create(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), Error> {
    check_target(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".cnsctl-new-")
        .tempdir_in(&parent)
        .map_err(io("write in", &parent))?;
    for (rel, content) in files {
        let path = tmp.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(io("create", p))?;
        }
        std::fs::write(&path, content).map_err(io("write", &path))?;
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io("replace", dir))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        io("create", dir)(e)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(toml_str(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_str("x\ny"), "\"x\\ny\"");
    }

    #[test]
    fn files_fill_the_template_and_create_writes_them_or_nothing() {
        let files = files("my-chart", Kind::Bundler, &Sdk::Vendored).unwrap();
        let get = |p: &str| {
            String::from_utf8(files.iter().find(|(n, _)| n == p).unwrap().1.clone()).unwrap()
        };
        assert!(get("Cargo.toml").contains("name = \"my-chart\""));
        assert!(
            get("Cargo.toml").contains("cns-plugin-sdk = { path = \"vendor/cns-plugin-sdk\" }")
        );
        assert!(
            !get("src/lib.rs").contains("__"),
            "every placeholder filled"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("my-chart");
        create(&dir, &files).unwrap();
        assert!(dir.join("src/render.rs").is_file());
        let e = create(&dir, &files).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`{}` exists and is not empty (--path)", dir.display())
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging directory left");
        let e = files_for_git();
        assert!(
            e.contains("git = \"https://example.com/cnsctl.git\", rev = \"v1\""),
            "{e}"
        );
    }

    fn files_for_git() -> String {
        let sdk = Sdk::Git {
            url: "https://example.com/cnsctl.git".into(),
            rev: "v1".into(),
        };
        let f = files("d", Kind::Deployer, &sdk).unwrap();
        assert!(!f.iter().any(|(n, _)| n.starts_with("vendor/")));
        String::from_utf8(f.iter().find(|(n, _)| n == "Cargo.toml").unwrap().1.clone()).unwrap()
    }

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
