//! WIT versioning: plugins built against the older minors (real builds of cnsctl's own
//! plugins: `cns:plugin@0.1.0` in `tests/fixtures/wit-0.1.0/`, `0.2.0` in
//! `tests/fixtures/wit-0.2.0/`) load on this host and give the same bundle as today's
//! built-ins; a future major or minor is refused with a message naming both versions.

use crate::util::{cnsctl, fails, ok, repo_file, same_tree, tempdir};
use cns_runtime::{Limits, Origin, Runtime, WIT_VERSION};
use cns_test_support::run;
use std::sync::Arc;

fn runtime() -> Arc<Runtime> {
    Arc::new(Runtime::new(Limits::default(), None, Arc::new(|_: &str, _, _: &str| {})).unwrap())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_file(&format!("tests/fixtures/wit-0.1.0/{name}.wasm"))).unwrap()
}

fn fixture_path(version: &str, name: &str) -> String {
    repo_file(&format!("tests/fixtures/wit-{version}/{name}.wasm"))
        .display()
        .to_string()
}

/// The same component claiming another WIT version: every `@0.1.0` in its import/export
/// names and embedded type information replaced by `@<version>` (same length, so the
/// binary stays well-formed).
fn claiming(bytes: &[u8], version: &str) -> Vec<u8> {
    let (from, to) = (b"@0.1.0".as_slice(), format!("@{version}").into_bytes());
    assert_eq!(to.len(), from.len());
    let mut out = bytes.to_vec();
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(&to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(
        n >= 3,
        "expected the version in import and export names, found {n}"
    );
    out
}

#[test]
fn plugins_built_for_the_previous_minor_load_and_bundle_identically() {
    assert_eq!(
        WIT_VERSION, "0.3.0",
        "the fixtures are older minors of this host"
    );
    let rt = runtime();
    for (name, kind) in [("script", "deployer"), ("cert-manager", "bundler")] {
        let p = rt
            .load(name, Origin::Memory(name.into()), &fixture(name))
            .unwrap();
        assert_eq!((p.name.as_str(), p.kind.as_str()), (name, kind));
        assert_eq!(p.wit_version, "0.1.0");
        assert!(
            p.imports.contains(&"cns:plugin/host@0.1.0".to_string()),
            "{:?}",
            p.imports
        );
    }

    let tmp = tempdir();
    let t = tmp.path();
    let cns = |args: &[&str]| run(cnsctl(&t.join("cache")).current_dir(t).args(args));
    let old = |f: &str| {
        repo_file(&format!("tests/fixtures/wit-0.1.0/{f}.wasm"))
            .display()
            .to_string()
    };
    let (script, certm) = (old("script"), old("cert-manager"));
    ok(&cns(&["bundle", "--output", "new"]));
    // The 0.1.0 bundler gives the same bundle as today's.
    ok(&cns(&[
        "bundle",
        "--output",
        "old-bundler",
        "--plugin",
        &certm,
    ]));
    same_tree(&t.join("new"), &t.join("old-bundler"));
    let o = cns(&[
        "bundle", "--output", "old", "--plugin", &script, "--plugin", &certm,
    ]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.matches("replaces the built-in one").count() == 2,
        "{err}"
    );
    // The 0.1.0 script deployer predates today's script layout (issue 22 changed how the
    // chart repository is passed), so its scripts differ; every other file is identical.
    let files = cns_test_support::list_files(&t.join("new"));
    assert_eq!(files, cns_test_support::list_files(&t.join("old")));
    for f in files
        .iter()
        .filter(|f| !f.ends_with(".sh") && *f != "checksums.txt")
    {
        assert_eq!(
            std::fs::read(t.join("new").join(f)).unwrap(),
            std::fs::read(t.join("old").join(f)).unwrap(),
            "{f}"
        );
    }

    // `plugin inspect` reports the version it was built for.
    let o = cns(&["plugin", "inspect", &script, "--json"]);
    let info: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(info["wit"], "0.1.0");
}

#[test]
fn future_majors_and_minors_are_refused_naming_both_versions() {
    let rt = runtime();
    let tmp = tempdir();
    let t = tmp.path();
    for (version, name) in [
        ("1.0.0", "future-major"),
        ("0.4.0", "future-minor"),
        ("0.0.9", "old-minor"),
    ] {
        let bytes = claiming(&fixture("script"), version);
        let err = rt
            .load(name, Origin::Memory(name.into()), &bytes)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "plugin `{name}` was built for WIT cns:plugin@{version}, but this host implements \
                 cns:plugin@0.3.0 and loads plugins built for 0.3.x or 0.2.x or 0.1.x"
            )
        );
        let path = t.join(format!("{name}.wasm"));
        std::fs::write(&path, &bytes).unwrap();
        let p = path.display().to_string();
        let o = run(cnsctl(&t.join("cache"))
            .current_dir(t)
            .args(["bundle", "--output", "b", "--plugin", &p]));
        fails(&o, 2, &format!("was built for WIT cns:plugin@{version}"));
        assert!(!t.join("b").exists());
    }
    // A newer patch of the previous minor is still that minor.
    let bytes = claiming(&fixture("script"), "0.1.9");
    let p = rt
        .load("patch", Origin::Memory("patch".into()), &bytes)
        .unwrap();
    assert_eq!(p.wit_version, "0.1.9");
}

/// Plugins built for WIT 0.2.0 (cnsctl's own `cert-manager`, `script` and `argocd` at
/// 160eed3, the last commit before 0.3) load, a bundler's values are read back from the
/// `values.yaml` it writes, a deployer gets values as JSON and settings as option pairs, and
/// every bundle comes out byte-identical to today's built-ins: one cluster with Pod Security
/// levels (script, argocd) and two clusters sharing a bundle (cluster values). One thing
/// today's argocd writes that 160eed3's did not: the origin labels on each Application
/// (`deploy::origin_labels`, for `upgrade-check --from cluster`); they are taken out of
/// today's files before comparing, and `checksums.txt` (whose digests they change) is
/// compared by the paths it lists.
#[test]
fn plugins_built_for_0_2_load_and_bundle_byte_identically() {
    let rt = runtime();
    for (name, kind) in [
        ("script", "deployer"),
        ("argocd", "deployer"),
        ("cert-manager", "bundler"),
    ] {
        let bytes = std::fs::read(fixture_path("0.2.0", name)).unwrap();
        let p = rt.load(name, Origin::Memory(name.into()), &bytes).unwrap();
        assert_eq!((p.name.as_str(), p.kind.as_str()), (name, kind));
        assert_eq!(p.wit_version, "0.2.0");
        assert!(
            p.imports.contains(&"cns:plugin/host@0.2.0".to_string()),
            "{:?}",
            p.imports
        );
    }
    let tmp = tempdir();
    let t = tmp.path();
    let cns = |args: &[&str]| run(cnsctl(&t.join("cache")).current_dir(t).args(args));
    let certm = fixture_path("0.2.0", "cert-manager");
    for (deployer, extra) in [
        ("script", vec![]),
        ("argocd", vec!["--repo", "oci://r.example/b/gpu:v1"]),
        (
            "argocd",
            vec![
                "--repo",
                "https://git.example.com/gpu.git",
                "--cluster-values",
                "east",
                "--cluster-values",
                "west",
                "--accelerated-node-selector",
                "pool=gpu",
            ],
        ),
    ] {
        let mut args = vec!["bundle", "--deployer", deployer];
        args.extend(&extra);
        let new = format!("new-{deployer}-{}", extra.len());
        let old = format!("old-{deployer}-{}", extra.len());
        let mut a = args.clone();
        a.extend(["--output", &new]);
        ok(&cns(&a));
        let plugin = fixture_path("0.2.0", deployer);
        let mut a = args.clone();
        a.extend(["--output", &old, "--plugin", &certm, "--plugin", &plugin]);
        let o = cns(&a);
        ok(&o);
        assert_eq!(
            String::from_utf8_lossy(&o.stderr)
                .matches("replaces the built-in one")
                .count(),
            2
        );
        if deployer == "argocd" {
            same_but_origin_labels(&t.join(&new), &t.join(&old));
        } else {
            same_tree(&t.join(&new), &t.join(&old));
        }
    }
}

/// `new` is `old` with origin labels on its Applications: equal once they are removed.
fn same_but_origin_labels(new: &std::path::Path, old: &std::path::Path) {
    let files = |d: &std::path::Path| {
        let mut v: Vec<String> = walk(d)
            .into_iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(new), files(old));
    let mut labelled = 0;
    for f in files(new) {
        let (a, b) = (
            std::fs::read_to_string(new.join(&f)).unwrap(),
            std::fs::read_to_string(old.join(&f)).unwrap(),
        );
        if f == "checksums.txt" {
            let paths = |t: &str| t.lines().map(|l| l[66..].to_string()).collect::<Vec<_>>();
            assert_eq!(paths(&a), paths(&b));
            continue;
        }
        let lines: Vec<&str> = a.lines().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let origin = lines[i] == "  labels:"
                && lines.get(i + 1) == Some(&"    app.kubernetes.io/managed-by: cnsctl")
                && lines
                    .get(i + 2)
                    .is_some_and(|l| l.starts_with("    cns.nvidia.com/component: "))
                && lines
                    .get(i + 3)
                    .is_some_and(|l| l.starts_with("    cns.nvidia.com/version: "));
            if origin {
                labelled += 1;
                i += 4;
                continue;
            }
            out.push(lines[i]);
            i += 1;
        }
        let stripped = out.join("\n") + if a.ends_with('\n') { "\n" } else { "" };
        assert_eq!(stripped, b, "{f}");
    }
    assert!(labelled > 0, "today's Applications carry origin labels");
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
