//! Golden bundles: each `bundles-golden/<scenario>/case.yaml` is regenerated and compared
//! with `bundles-golden/<scenario>/bundle/`: file list first, then modes, then bytes (with a
//! line diff). `UPDATE_GOLDEN=1 cargo test --test integration golden` rewrites the goldens.
//! Every golden bundle also passes `sha256sum -c checksums.txt`.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_test_support::{describe, list_files, require_tool, run};
use serde::Deserialize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A scenario's inputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the scenario exercises (listed in bundles-golden/README.md).
    #[allow(dead_code, reason = "documentation for readers of case.yaml")]
    description: String,
    /// Recipe criteria, resolved from the embedded data.
    criteria: Criteria,
    /// `cnsctl bundle` arguments after `--recipe` and `--output`.
    args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Criteria {
    service: String,
    accelerator: String,
    os: String,
    intent: String,
}

fn generate(case: &Case, work: &Path, out: &Path) {
    let store = cns_recipe::Store::embedded();
    let c = &case.criteria;
    let crit = cns_recipe::Criteria::new(
        Some(&c.service),
        Some(&c.accelerator),
        Some(&c.os),
        Some(&c.intent),
    )
    .unwrap();
    let recipe = cns_recipe::resolve(&store, &crit).unwrap();
    let rpath = work.join("recipe.yaml");
    std::fs::write(&rpath, recipe.to_yaml()).unwrap();
    let o = run(cnsctl(&work.join("cache"))
        .arg("bundle")
        .arg("--recipe")
        .arg(&rpath)
        .arg("--output")
        .arg(out)
        .arg("--force")
        .args(&case.args));
    assert!(o.status.success(), "{}", describe(&o));
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o111
}

/// Differences between two trees, readable; empty when identical.
fn compare(want: &Path, have: &Path) -> String {
    let (wf, hf) = (list_files(want), list_files(have));
    if wf != hf {
        let missing: Vec<_> = wf.iter().filter(|f| !hf.contains(f)).collect();
        let extra: Vec<_> = hf.iter().filter(|f| !wf.contains(f)).collect();
        return format!("file lists differ\n  missing: {missing:?}\n  unexpected: {extra:?}\n");
    }
    let mut report = String::new();
    for f in &wf {
        let (w, h) = (want.join(f), have.join(f));
        if (mode(&w) != 0) != (mode(&h) != 0) {
            report.push_str(&format!("{f}: executable bit differs\n"));
        }
        let (wb, hb) = (std::fs::read(&w).unwrap(), std::fs::read(&h).unwrap());
        if wb != hb {
            let (wt, ht) = (String::from_utf8_lossy(&wb), String::from_utf8_lossy(&hb));
            let diff = similar::TextDiff::from_lines(wt.as_ref(), ht.as_ref());
            report.push_str(&format!(
                "{f}: content differs\n{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header("golden", "generated")
            ));
        }
    }
    report
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    for f in list_files(from) {
        let (src, dst) = (from.join(&f), to.join(&f));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap();
    }
}

#[test]
fn golden_bundles_are_byte_identical() {
    let root = repo_file("bundles-golden");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let tmp = tempdir();
    let sha = require_tool("sha256sum", &[]);
    let mut scenarios: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.yaml").is_file())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 9, "only {} scenarios", scenarios.len());
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut failures = String::new();
    for dir in &scenarios {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "bundles-golden/README.md does not list {name}"
        );
        let case: Case =
            serde_norway::from_str(&std::fs::read_to_string(dir.join("case.yaml")).unwrap())
                .unwrap_or_else(|e| panic!("{name}/case.yaml: {e}"));
        let out = tmp.path().join(&name);
        generate(&case, tmp.path(), &out);
        let golden = dir.join("bundle");
        if update {
            copy_tree(&out, &golden);
        }
        let report = compare(&golden, &out);
        if !report.is_empty() {
            failures.push_str(&format!("== {name}\n{report}\n"));
        }
        if let Some(sha) = &sha {
            let o = run(std::process::Command::new(sha)
                .args(["-c", "--strict", "--quiet", "checksums.txt"])
                .current_dir(&golden));
            assert!(o.status.success(), "{name}: {}", describe(&o));
        }
    }
    assert!(
        failures.is_empty(),
        "golden bundles are stale; read the diff, then regenerate with\n  UPDATE_GOLDEN=1 cargo test --test integration golden\n\n{failures}"
    );
}

#[test]
fn golden_comparison_catches_a_changed_byte_a_missing_file_and_a_mode() {
    let tmp = tempdir();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d.join("x")).unwrap();
        std::fs::write(d.join("x/f.yaml"), "a: 1\nb: 2\n").unwrap();
        std::fs::write(d.join("run.sh"), "#!/bin/sh\n").unwrap();
    }
    assert_eq!(compare(&a, &b), "");
    std::fs::write(b.join("x/f.yaml"), "a: 1\nb: 3\n").unwrap();
    let r = compare(&a, &b);
    assert!(
        r.contains("x/f.yaml: content differs") && r.contains("-b: 2") && r.contains("+b: 3"),
        "{r}"
    );
    std::fs::set_permissions(b.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(compare(&a, &b).contains("run.sh: executable bit differs"));
    std::fs::remove_file(b.join("run.sh")).unwrap();
    assert!(compare(&a, &b).contains("missing: [\"run.sh\"]"));
}

/// Every golden bundle's `sbom.cdx.json` is valid CycloneDX 1.6 to CycloneDX's own library
/// (strict schema), and lists exactly the bundle's charts (from `bundle-info.yaml`) and the
/// images of its `images.lock.yaml`, each image's digest as its SHA-256 hash where the lock
/// has one.
#[test]
fn golden_bundles_carry_a_valid_sbom_of_their_charts_and_images() {
    let mut files = Vec::new();
    let mut digests = 0;
    for entry in std::fs::read_dir(repo_file("bundles-golden")).unwrap() {
        let dir = entry.unwrap().path().join("bundle");
        if !dir.is_dir() {
            continue;
        }
        let sbom_path = dir.join("sbom.cdx.json");
        let sbom: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&sbom_path).unwrap()).unwrap();
        let read = |f: &str| -> serde_json::Value {
            serde_norway::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
        };
        let (lock, info) = (read("images.lock.yaml"), read("bundle-info.yaml"));
        let components = sbom["components"].as_array().unwrap();
        let of_type = |t: &str| -> Vec<&serde_json::Value> {
            components.iter().filter(|c| c["type"] == t).collect()
        };
        let charts: Vec<(String, String)> = of_type("application")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().into(),
                    c["version"].as_str().unwrap().into(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = info["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["chart"]
                        .as_str()
                        .unwrap_or(c["name"].as_str().unwrap())
                        .into(),
                    c["version"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            charts.iter().collect::<std::collections::BTreeSet<_>>(),
            want.iter().collect(),
            "{}",
            dir.display()
        );
        // Charts come in deployment order, the lock by component: compared as sorted lists.
        let mut images: Vec<(String, String, Option<String>)> = of_type("container")
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().into(),
                    i["version"].as_str().unwrap().into(),
                    i["hashes"][0]["content"].as_str().map(str::to_string),
                )
            })
            .collect();
        let mut locked: Vec<(String, String, Option<String>)> = lock["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let digest = l["digest"].as_str();
                (
                    l["repository"].as_str().unwrap().into(),
                    l["tag"].as_str().or(digest).unwrap().into(),
                    digest
                        .and_then(|d| d.strip_prefix("sha256:"))
                        .map(str::to_string),
                )
            })
            .collect();
        images.sort();
        locked.sort();
        digests += locked.iter().filter(|l| l.2.is_some()).count();
        assert_eq!(images, locked, "{}", dir.display());
        files.push(sbom_path);
    }
    assert!(
        files.len() >= 10 && digests > 0,
        "{} bundles, {digests} digests",
        files.len()
    );
    let Some(validate) = require_tool("cyclonedx-validate", &[&repo_file("target/tools/bin")])
    else {
        return;
    };
    let o = run(std::process::Command::new(validate).args(&files));
    assert!(o.status.success(), "{}", describe(&o));
}
