//! Test helpers for cnsctl: locating real external tools (which must exist under `CI=true`),
//! running commands and reading outputs. A dev-dependency only.

pub mod dbus;
pub mod kube;
pub mod modcycles;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Find `tool` on PATH (or in `extra_dirs`). Under `CI=true` a missing tool panics, so a
/// test can never skip silently in CI; elsewhere it returns `None` and the test reports
/// that it skipped.
pub fn require_tool(tool: &str, extra_dirs: &[&Path]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = extra_dirs
        .iter()
        .map(|d| d.to_path_buf())
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(tool))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "required tool `{tool}` is not installed (CI=true: tests must not skip); .ci/run installs it"
            );
        }
        eprintln!("SKIPPED: `{tool}` not found (install it or run .ci/run)");
    }
    found
}

/// The workspace root (where `Cargo.toml` and `.ci/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `../shared/reference` beside the checkout, where upstream charts and schemas live.
pub fn shared_reference() -> PathBuf {
    workspace_root().join("../shared/reference")
}

/// Run a command and return its output; panics if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Output text of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// All files under `dir`, as sorted relative `/` paths.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
