//! Shared helpers for the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// A `cnsctl` command with an isolated compile cache in `cache`.
pub(crate) fn cnsctl(cache: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnsctl"));
    c.env("CNS_CACHE_DIR", cache).env_remove("XDG_CACHE_HOME");
    c
}

/// A fresh temporary directory.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Path of a file in the repository.
pub(crate) fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}
