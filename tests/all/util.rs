//! Shared helpers for the integration tests.

use cns_test_support::{describe, list_files};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `cnsctl` command with an isolated compile cache in `cache` and a config directory
/// (plugin directory, trust policy) at `cache/../config`, so the user's own settings
/// never leak into a test.
pub(crate) fn cnsctl(cache: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnsctl"));
    let config = cache.parent().unwrap_or(cache).join("config");
    c.env("CNS_CACHE_DIR", cache)
        .env_remove("XDG_CACHE_HOME")
        .env("XDG_CONFIG_HOME", config);
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

/// The command succeeded; its trimmed stdout.
pub(crate) fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", describe(o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The command exited with `code` and said `needle` on stderr.
pub(crate) fn fails(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", describe(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "want `{needle}` in\n{}", describe(o));
}

/// Two trees are equal: same files, same bytes, same executable bits.
pub(crate) fn same_tree(a: &Path, b: &Path) {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(list_files(a), list_files(b));
    for f in list_files(a) {
        assert_eq!(
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
        let x = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o111 != 0;
        assert_eq!(x(&a.join(&f)), x(&b.join(&f)), "{f} mode");
    }
}

/// A registry client for the loopback test registries: plain HTTP, no retries, silent.
pub(crate) fn registry_client() -> cns_oci::Registry {
    cns_oci::Registry::new(
        cns_oci::RegistryOptions {
            plain_http: true,
            retries: 0,
            ..Default::default()
        },
        Box::new(|_| {}),
    )
    .unwrap()
}

/// `doc` matches `schemas/output/NAME.schema.json` (the documented shape of a command's
/// `--format json` output); panics listing every violation.
pub(crate) fn conforms(name: &str, doc: &serde_json::Value) {
    let path = repo_file(&format!("schemas/output/{name}.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_valid(&schema, doc, name);
}

/// `doc` is valid against `schema` (named `label` in the failure, with every violation).
pub(crate) fn assert_valid(schema: &serde_json::Value, doc: &serde_json::Value, label: &str) {
    let v = jsonschema::validator_for(schema).expect("a valid JSON Schema");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{label}: {}\n{doc:#}", errors.join("\n"));
}

/// The ```sh block after `marker` in the repository file `doc` (a walkthrough the tests run
/// as it stands).
pub(crate) fn sh_block_after(doc: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(repo_file(doc)).unwrap();
    let after = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("{doc} has a {marker} marker"))
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a ```sh block after the marker")
        .1;
    body.split_once("\n```\n")
        .expect("the block ends")
        .0
        .to_string()
}
