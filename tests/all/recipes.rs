//! Recipe data sweeps: every supported combination resolves, and the shipped example
//! recipe is exactly what `cnsctl recipe` produces for its criteria.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_recipe::{Criteria, Store, resolve};
use cns_test_support::{describe, require_tool, run};
use std::process::Command;

#[test]
fn every_supported_combination_resolves() {
    let store = Store::embedded();
    let combos = resolve::supported(&store).unwrap();
    assert_eq!(
        combos.len(),
        48,
        "4 services x 3 accelerators x 2 intents x 2 node OSes per service"
    );
    for c in combos {
        let r = resolve(&store, &c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert!(
            r.deployment_order.contains(&"gpu-operator".to_string()),
            "{c}"
        );
        // cert-manager comes before everything that needs it; only components that depend
        // on nothing (the EFA device plugin) may come earlier.
        let cm = r.deployment_order.iter().position(|n| n == "cert-manager");
        for earlier in &r.deployment_order[..cm.expect("cert-manager")] {
            assert!(
                r.component(earlier).unwrap().dependency_refs.is_empty(),
                "{c}: {:?}",
                r.deployment_order
            );
        }
        // The network operator serves Mellanox RDMA; EKS GPU instances use EFA instead.
        assert_eq!(
            r.component("network-operator").is_some(),
            c.intent == "training" && c.service != "eks",
            "{c}"
        );
        // AKS (InfiniBand, driver container) and OKE (RoCE, host OFED) training get the
        // NicClusterPolicy the chart does not deploy; GKE's RDMA is GKE's own.
        let ncp = |service: &str| {
            r.component("network-operator").is_some_and(|n| {
                n.manifest_files
                    .iter()
                    .any(|m| m.ends_with(&format!("nic-cluster-policy-{service}.yaml")))
            })
        };
        for service in ["aks", "oke"] {
            assert_eq!(
                ncp(service),
                c.service == service && c.intent == "training",
                "{c}"
            );
        }
        let values = store
            .component_values(r.component("gpu-operator").unwrap())
            .unwrap();
        assert_eq!(
            values["driver"]["rdma"]["useHostMofed"] == serde_json::json!(true),
            c.service == "oke" && c.intent == "training",
            "{c}: driver.rdma.useHostMofed"
        );
    }
}

#[test]
fn shipped_example_recipe_is_in_sync() {
    let store = Store::embedded();
    let c = Criteria::new(Some("eks"), Some("h100"), Some("ubuntu"), Some("training")).unwrap();
    let want = resolve(&store, &c).unwrap().to_yaml();
    let have = std::fs::read_to_string(repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"))
        .unwrap();
    assert_eq!(
        have, want,
        "recipes/examples/eks-h100-ubuntu-training.yaml is stale: regenerate it with\n  cargo run -- recipe --service eks --accelerator h100 --os ubuntu --intent training --output recipes/examples/eks-h100-ubuntu-training.yaml"
    );
}

#[test]
fn predecessor_recipe_command_runs_verbatim() {
    let tmp = tempdir();
    let o = run(cnsctl(tmp.path()).current_dir(tmp.path()).args([
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--output",
        "recipe.yaml",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let r = cns_recipe::RecipeResult::from_yaml(
        "recipe.yaml",
        &std::fs::read_to_string(tmp.path().join("recipe.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(r.kind, "recipeResult");
    assert_eq!(r.api_version, "cns.nvidia.com/v1alpha1");
    assert_eq!(
        r.metadata.applied_overlays,
        [
            "base",
            "h100",
            "ubuntu",
            "eks",
            "eks-training",
            "eks-training-h100"
        ]
    );
    let o = run(cnsctl(tmp.path()).args(["recipe", "--service", "ekss"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("unknown service `ekss`; valid values: aks, eks, gke, oke, any"),
        "{}",
        describe(&o)
    );
}

#[test]
fn predecessor_validate_command_runs_verbatim_and_passes() {
    let tmp = tempdir();
    std::fs::copy(
        repo_file("tests/fixtures/snapshot-eks-h100.yaml"),
        tmp.path().join("snapshot.yaml"),
    )
    .unwrap();
    let o = run(cnsctl(tmp.path()).current_dir(tmp.path()).args([
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--output",
        "recipe.yaml",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let o = run(cnsctl(tmp.path()).current_dir(tmp.path()).args([
        "validate",
        "--recipe",
        "recipe.yaml",
        "--snapshot",
        "snapshot.yaml",
        "--output",
        "validation-results.yaml",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("4 of 4 constraints passed, 0 failed, 0 skipped"),
        "{}",
        describe(&o)
    );
    let r: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(tmp.path().join("validation-results.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["kind"], "ValidationResult");
    assert_eq!(r["summary"]["status"], "pass");
    assert_eq!(r["results"].as_array().unwrap().len(), 4);
    assert_eq!(r["results"][0]["actual"], "v1.34.1-eks-3025e55");

    // The same validation as a CTRF report: valid against the CTRF project's own schema, a
    // test per criterion and constraint, counted in the summary; a recipe for another
    // service fails its criterion there too (exit 1).
    let ctrf = |recipe: &str| {
        let o = run(cnsctl(tmp.path()).current_dir(tmp.path()).args([
            "validate",
            "--recipe",
            recipe,
            "--snapshot",
            "snapshot.yaml",
            "--format",
            "ctrf",
            "--output",
            "report.json",
        ]));
        let text = std::fs::read_to_string(tmp.path().join("report.json")).unwrap();
        let Some(check) = require_tool("check-jsonschema", &[&repo_file("target/tools/bin")])
        else {
            return (o, serde_json::Value::Null);
        };
        let schema = repo_file("target/tools/ctrf/ctrf-schema-0.0.json");
        assert!(schema.is_file(), "scripts/setup.sh fetches the CTRF schema");
        let v = run(Command::new(check)
            .arg("--schemafile")
            .arg(&schema)
            .arg(tmp.path().join("report.json")));
        assert!(v.status.success(), "{}\n{text}", describe(&v));
        (o, serde_json::from_str(&text).unwrap())
    };
    let (o, report) = ctrf("recipe.yaml");
    assert!(o.status.success(), "{}", describe(&o));
    if report.is_null() {
        return;
    }
    let summary = &report["results"]["summary"];
    assert_eq!(report["reportFormat"], "CTRF");
    assert_eq!(summary["tests"], 8, "4 criteria, 4 constraints: {report}");
    assert_eq!(summary["failed"], 0, "{report}");
    assert_eq!(report["results"]["tool"]["name"], "cnsctl");
    let test = &report["results"]["tests"][4];
    assert_eq!(test["name"], "K8s.server.version");
    assert_eq!(test["status"], "passed");
    assert_eq!(test["extra"]["actual"], "v1.34.1-eks-3025e55");
    let recipe = std::fs::read_to_string(tmp.path().join("recipe.yaml")).unwrap();
    std::fs::write(
        tmp.path().join("aks.yaml"),
        recipe.replace("service: eks", "service: aks"),
    )
    .unwrap();
    let (o, report) = ctrf("aks.yaml");
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let service = report["results"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "criteria.service")
        .unwrap();
    assert_eq!(service["status"], "failed", "{report}");
    assert!(report["results"]["summary"]["failed"].as_u64() >= Some(1));

    // Signed evidence: a Sigstore bundle whose statement names the recipe by digest and
    // carries the snapshot's digest and the checks; the Sigstore project's verifier
    // accepts it with the key. A key that cannot be read stops the run before anything is
    // written.
    let cns = |args: &[&str]| {
        run(cnsctl(tmp.path())
            .current_dir(tmp.path())
            .env("CNS_SIGN_PASSWORD", "pw")
            .args(args))
    };
    assert!(cns(&["generate-key-pair"]).status.success());
    let validate = |key: &str, out: &str| {
        cns(&[
            "validate",
            "--recipe",
            "recipe.yaml",
            "--snapshot",
            "snapshot.yaml",
            "--emit-attestation",
            "evidence.json",
            "--sign-key",
            key,
            "--output",
            out,
        ])
    };
    let o = validate("missing.key", "refused.yaml");
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sign-key `missing.key`"));
    assert!(
        !tmp.path().join("evidence.json").exists() && !tmp.path().join("refused.yaml").exists()
    );
    let o = validate("cosign.key", "again.yaml");
    assert!(o.status.success(), "{}", describe(&o));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("evidence.json")).unwrap()).unwrap();
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    use sha2::Digest;
    let sha = |f: &str| {
        hex::encode(sha2::Sha256::digest(
            std::fs::read(tmp.path().join(f)).unwrap(),
        ))
    };
    assert_eq!(st["subject"][0]["digest"]["sha256"], sha("recipe.yaml"));
    assert_eq!(
        st["predicate"]["snapshot"]["digest"]["sha256"],
        sha("snapshot.yaml")
    );
    assert_eq!(st["predicate"]["summary"]["status"], "pass");
    assert_eq!(st["predicate"]["results"].as_array().unwrap().len(), 4);
    if let Some(js) = require_tool("sigstore-verify", &[&repo_file("target/tools/bin")]) {
        let o = run(Command::new(js)
            .current_dir(tmp.path())
            .args(["evidence.json", "cosign.pub"]));
        assert!(o.status.success(), "{}", describe(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            format!("verified {}", cns_recipe::validation::EVIDENCE_PREDICATE)
        );
    }
}

/// The snapshot's PCI scan counts EFA interfaces (`GPU.fabric.efa-count`); an EKS training
/// recipe, which installs the EFA device plugin, on a node without one gets a hint (the
/// verdict stays what the constraints say), and a node with EFA under a recipe without the
/// plugin gets the other hint.
#[test]
fn validate_hints_at_a_missing_training_fabric() {
    let tmp = tempdir();
    let snap = std::fs::read_to_string(repo_file("tests/fixtures/snapshot-eks-h100.yaml"))
        .unwrap()
        .replacen(
            "  - type: GPU\n    subtypes:\n",
            "  - type: GPU\n    subtypes:\n      - subtype: fabric\n        data:\n          efa-count: EFA\n          detection-source: pci-sysfs\n",
            1,
        );
    assert!(snap.contains("efa-count"));
    let cns = |args: &[&str]| run(cnsctl(tmp.path()).current_dir(tmp.path()).args(args));
    for intent in ["training", "inference"] {
        let o = cns(&[
            "recipe",
            "--service",
            "eks",
            "--accelerator",
            "h100",
            "--os",
            "ubuntu",
            "--intent",
            intent,
            "--output",
            &format!("{intent}.yaml"),
        ]);
        assert!(o.status.success(), "{}", describe(&o));
    }
    let validate = |recipe: &str, efa: u32| {
        std::fs::write(
            tmp.path().join("s.yaml"),
            snap.replace("EFA", &efa.to_string()),
        )
        .unwrap();
        let o = cns(&[
            "validate",
            "--recipe",
            recipe,
            "--snapshot",
            "s.yaml",
            "--format",
            "json",
        ]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        crate::util::conforms("validation-result", &r);
        (o, r)
    };
    let (o, r) = validate("training.yaml", 0);
    assert!(
        o.status.success(),
        "the hint does not change the verdict: {}",
        describe(&o)
    );
    let hint = r["hints"][0].as_str().unwrap();
    assert!(
        hint.contains("no EFA interface") && hint.contains("p5"),
        "{hint}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("HINT the recipe installs the EFA device plugin")
    );
    let (_, r) = validate("training.yaml", 32);
    assert!(r.get("hints").is_none(), "{r:#}");
    let (o, r) = validate("inference.yaml", 32);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        r["hints"][0]
            .as_str()
            .unwrap()
            .contains("32 EFA interface(s)"),
        "{r:#}"
    );
}

#[test]
fn validate_fails_with_exit_1_and_a_hint() {
    let tmp = tempdir();
    let snap = std::fs::read_to_string(repo_file("tests/fixtures/snapshot-eks-h100.yaml"))
        .unwrap()
        .replace("6.8.0-1043-aws", "6.5.0-1020-aws");
    std::fs::write(tmp.path().join("snap.yaml"), snap).unwrap();
    let o = run(cnsctl(tmp.path())
        .arg("validate")
        .arg("--recipe")
        .arg(repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"))
        .arg("--snapshot")
        .arg(tmp.path().join("snap.yaml")));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "FAIL OS.sysctl./proc/sys/kernel/osrelease (expected >= 6.8, actual 6.5.0-1020-aws)"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: Use a node image with a 6.8 or newer kernel."),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("status: fail"));
    // Bad input is exit 2.
    let o = run(cnsctl(tmp.path()).args([
        "validate",
        "--recipe",
        "/nope.yaml",
        "--snapshot",
        "/nope2.yaml",
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
}

/// Issue 34, items 1 and 2: `validate` compares the recipe's criteria with what the snapshot
/// shows (a recipe for another service or accelerator fails, naming both values), and a
/// constraint it could not evaluate is not a pass: status `incomplete`, exit 1, the skipped
/// constraints named, unless `--allow-skipped`. The result is JSON with `--format json`.
#[test]
fn validate_compares_criteria_and_skipped_is_not_passed() {
    let tmp = tempdir();
    let t = tmp.path();
    let cns = |args: &[&str]| run(cnsctl(t).current_dir(t).args(args));
    std::fs::copy(
        repo_file("tests/fixtures/snapshot-eks-h100.yaml"),
        t.join("eks.yaml"),
    )
    .unwrap();
    // An AKS A100 recipe against an EKS H100 snapshot: every constraint may pass, the
    // criteria do not.
    let o = cns(&[
        "recipe",
        "--service",
        "aks",
        "--accelerator",
        "a100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "-o",
        "aks.yaml",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = cns(&[
        "validate", "-r", "aks.yaml", "-s", "eks.yaml", "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("FAIL criterion service: recipe `aks`, snapshot `eks`"),
        "{err}"
    );
    assert!(
        err.contains("FAIL criterion accelerator: recipe `a100`, snapshot `h100`"),
        "{err}"
    );
    assert!(err.contains("---- criterion intent"), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    crate::util::conforms("validation-result", &r);
    assert_eq!(r["summary"]["status"], "fail");
    assert_eq!(r["summary"]["criteriaMismatched"], 2);
    assert_eq!(r["criteriaChecks"][0]["name"], "service");
    assert_eq!(r["criteriaChecks"][0]["snapshot"], "eks");

    // A snapshot without the readings a constraint needs: incomplete, exit 1, named.
    let bare = "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements: []\n";
    std::fs::write(t.join("bare.yaml"), bare).unwrap();
    let o = cns(&[
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "-o",
        "eks-recipe.yaml",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = cns(&["validate", "-r", "eks-recipe.yaml", "-s", "bare.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("0 of 4 constraints passed, 0 failed, 4 skipped"),
        "{err}"
    );
    assert!(
        err.contains("status: incomplete: not evaluated `K8s.server.version` (no such reading in the snapshot)"),
        "{err}"
    );
    assert!(err.contains("pass --allow-skipped"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("status: incomplete"));
    let o = cns(&[
        "validate",
        "-r",
        "eks-recipe.yaml",
        "-s",
        "bare.yaml",
        "--allow-skipped",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("incomplete, accepted by --allow-skipped"),
        "{}",
        describe(&o)
    );
    // --allow-skipped never hides a failure.
    let o = cns(&[
        "validate",
        "-r",
        "aks.yaml",
        "-s",
        "eks.yaml",
        "--allow-skipped",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
}

/// Issue 34, item 5: open criteria are loud (what each would decide for this recipe) and
/// refused with --criteria-strict or CNSCTL_CRITERIA_STRICT=1.
#[test]
fn open_criteria_are_loud_and_refused_when_strict() {
    let tmp = tempdir();
    let t = tmp.path();
    let cns = |args: &[&str]| run(cnsctl(t).current_dir(t).args(args));
    let o = cns(&[
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--intent",
        "training",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: os is open (any); --os amazonlinux gives component skyhook dropped, gpu-operator driver.enabled false instead of true"),
        "{err}"
    );
    assert!(err.contains("Pass --os to choose"), "{err}");
    let o = cns(&[
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--intent",
        "training",
        "--criteria-strict",
        "-o",
        "r.yaml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--criteria-strict: the recipe for service=eks accelerator=h100 os=any intent=training leaves os open; pass --os"),
        "{}",
        describe(&o)
    );
    assert!(!t.join("r.yaml").exists());
    let o = run(cnsctl(t)
        .current_dir(t)
        .env("CNSCTL_CRITERIA_STRICT", "1")
        .args(["recipe", "--service", "eks"]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    // Every criterion given: quiet, and strict accepts it.
    let o = cns(&[
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--criteria-strict",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("is open"),
        "{}",
        describe(&o)
    );
}

#[test]
fn recipe_from_snapshot_detects_criteria_and_flags_override() {
    let tmp = tempdir();
    let snap = repo_file("tests/fixtures/snapshot-eks-h100.yaml");
    let o = run(cnsctl(tmp.path())
        .args(["recipe", "--intent", "training", "--snapshot"])
        .arg(&snap));
    assert!(o.status.success(), "{}", describe(&o));
    let r = cns_recipe::RecipeResult::from_yaml("-", &String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(
        r.criteria.to_string(),
        "service=eks accelerator=h100 os=ubuntu intent=training"
    );
    let o = run(cnsctl(tmp.path())
        .args([
            "recipe",
            "--intent",
            "inference",
            "--service",
            "gke",
            "--format",
            "json",
            "--snapshot",
        ])
        .arg(&snap));
    assert!(o.status.success(), "{}", describe(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["criteria"]["service"], "gke");
    assert_eq!(j["criteria"]["accelerator"], "h100");
}

#[test]
fn every_shipped_document_matches_its_schema() {
    let tmp = tempdir();
    let mut files: Vec<std::path::PathBuf> = vec![
        repo_file("recipes/registry.yaml"),
        repo_file("tests/fixtures/snapshot-eks-h100.yaml"),
    ];
    for dir in ["recipes/overlays", "recipes/examples"] {
        for e in std::fs::read_dir(repo_file(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    // The transition records.
    for e in std::fs::read_dir(repo_file("recipes/components")).unwrap() {
        let f = e.unwrap().path().join("upgrades.yaml");
        if f.exists() {
            files.push(f);
        }
    }
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("cert-manager/upgrades.yaml"))
    );
    let o = run(cnsctl(tmp.path()).arg("validate").args(
        files
            .iter()
            .flat_map(|f| [std::ffi::OsStr::new("--schema"), f.as_os_str()]),
    ));
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains(": ok ("))
            .count(),
        files.len()
    );
}

#[test]
fn schema_errors_name_file_line_and_field() {
    let tmp = tempdir();
    let f = tmp.path().join("bad.yaml");
    std::fs::write(
        &f,
        "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncriteria:\n  service: eks\n  acelerator: h100\ncomponentRefs:\n- name: gpu-operator\n  version: 3\n",
    )
    .unwrap();
    let o = run(cnsctl(tmp.path()).arg("validate").arg("--schema").arg(&f));
    // A file that does not match its schema is a failed check (1); errors are 2.
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let o2 = run(cnsctl(tmp.path())
        .arg("validate")
        .arg("--schema")
        .arg(tmp.path().join("missing.yaml")));
    assert_eq!(o2.status.code(), Some(2), "{}", describe(&o2));
    let out = String::from_utf8_lossy(&o.stdout);
    let name = f.display().to_string();
    // The misspelt key's own line (issue 34, item 10), not the line of `criteria:`.
    assert!(
        out.contains(&format!(
            "{name}:5: criteria.acelerator: `acelerator` is not allowed here"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{name}:8: componentRefs[0].version: 3 is not of type \"string\""
        )),
        "{out}"
    );
}

/// Broken recipe data in a `--recipes-dir`: each problem gives a clear error naming it.
#[test]
fn bad_recipe_data_corpus() {
    let base = "kind: recipeMetadata\napiVersion: cns.nvidia.com/v1alpha1\nmetadata:\n  name: base\nspec:\n  componentRefs:\n  - name: cert-manager\n";
    let leaf = |name: &str, base: &str, extra: &str| {
        format!(
            "kind: recipeMetadata\napiVersion: cns.nvidia.com/v1alpha1\nmetadata:\n  name: {name}\nspec:\n  base: {base}\n  criteria:\n    service: eks\n{extra}"
        )
    };
    type Case = (&'static str, Vec<(&'static str, String)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "unknown base",
            vec![("overlays/eks.yaml", leaf("eks", "nope", ""))],
            "overlay `eks` names unknown base `nope`",
        ),
        (
            "inheritance cycle",
            vec![
                ("overlays/eks.yaml", leaf("eks", "eks2", "")),
                ("overlays/eks2.yaml", leaf("eks2", "eks", "")),
            ],
            "overlay inheritance cycle: ",
        ),
        (
            "dependency cycle",
            vec![(
                "overlays/eks.yaml",
                leaf(
                    "eks",
                    "base",
                    "  componentRefs:\n  - name: cert-manager\n    dependencyRefs: [gpu-operator]\n  - name: gpu-operator\n    dependencyRefs: [cert-manager]\n",
                ),
            )],
            "dependency cycle among components: cert-manager, gpu-operator",
        ),
        (
            "unknown dependency",
            vec![(
                "overlays/eks.yaml",
                leaf(
                    "eks",
                    "base",
                    "  componentRefs:\n  - name: cert-manager\n    dependencyRefs: [ghost]\n",
                ),
            )],
            "component `cert-manager` depends on `ghost`, which is not in the recipe",
        ),
        (
            "unknown field",
            vec![(
                "overlays/eks.yaml",
                leaf("eks", "base", "  constraint: []\n"),
            )],
            "unknown field `constraint`",
        ),
        (
            "wrong type",
            vec![(
                "overlays/eks.yaml",
                leaf("eks", "base", "  constraints: 7\n"),
            )],
            "overlays/eks.yaml` is not a valid recipeMetadata overlay",
        ),
        (
            "malformed yaml",
            vec![("overlays/eks.yaml", "kind: [\n".to_string())],
            "overlays/eks.yaml` is not a valid recipeMetadata overlay",
        ),
        (
            "unknown criteria",
            vec![(
                "overlays/eks.yaml",
                leaf("eks", "base", "").replace("service: eks", "service: eksx"),
            )],
            "invalid service `eksx` in `overlays/eks.yaml`",
        ),
        (
            "missing values file",
            vec![(
                "overlays/eks.yaml",
                leaf(
                    "eks",
                    "base",
                    "  componentRefs:\n  - name: cert-manager\n    valuesFile: components/none.yaml\n",
                ),
            )],
            "refers to `components/none.yaml`, which does not exist",
        ),
    ];
    for (name, files, want) in cases {
        let tmp = tempdir();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("overlays")).unwrap();
        std::fs::copy(
            repo_file("recipes/registry.yaml"),
            data.join("registry.yaml"),
        )
        .unwrap();
        std::fs::write(data.join("overlays/base.yaml"), base).unwrap();
        for (p, c) in files {
            std::fs::write(data.join(p), c).unwrap();
        }
        let o = run(cnsctl(tmp.path()).arg("--recipes-dir").arg(&data).args([
            "recipe",
            "--service",
            "eks",
        ]));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{name}: want `{want}` in\n{err}");
    }
}

#[test]
fn query_matching_only_base_is_an_error() {
    let tmp = tempdir();
    let o = run(cnsctl(tmp.path()).args(["recipe", "--os", "cos"]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no recipe matches service=any accelerator=any os=cos intent=any"),
        "{}",
        describe(&o)
    );
}

/// Issue 16 (5, 6): the predecessor's recipe metadata loads and is carried; `-b/--bundlers`
/// limits the bundle; recipe graph mistakes are exit-2 errors naming file, line and field,
/// before any plugin runs.
#[test]
fn predecessor_files_bundlers_flag_and_recipe_graph_checks() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let example =
        std::fs::read_to_string(repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"))
            .unwrap();
    // The predecessor writes metadata.{generatedAt,timestamp,version,appliedOverlays}.
    let pred = example.replacen(
        "metadata:\n",
        "metadata:\n  generatedAt: '2026-01-15T10:30:00Z'\n  timestamp: '2026-01-15T10:30:00Z'\n  excludedOverlays: []\n",
        1,
    );
    assert_ne!(pred, example, "the example has a metadata block");
    let r = tmp.path().join("pred.yaml");
    std::fs::write(&r, &pred).unwrap();
    let o = run(cnsctl(&cache).arg("validate").arg("--schema").arg(&r));
    assert!(o.status.success(), "{}", describe(&o));
    let out = tmp.path().join("b");
    let o = run(cnsctl(&cache)
        .arg("bundle")
        .arg("-r")
        .arg(&r)
        .arg("-o")
        .arg(&out)
        .args(["-b", "gpu-operator,cert-manager"]));
    assert!(o.status.success(), "{}", describe(&o));
    let carried = std::fs::read_to_string(out.join("recipe.yaml")).unwrap();
    assert!(
        carried.contains("generatedAt: '2026-01-15T10:30:00Z'")
            || carried.contains("generatedAt: 2026-01-15T10:30:00Z"),
        "{carried}"
    );
    let dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let recipe = cns_recipe::RecipeResult::from_yaml("pred.yaml", &pred).unwrap();
    let mut want = vec!["cert-manager".to_string(), "gpu-operator".to_string()];
    for d in &recipe.component("gpu-operator").unwrap().dependency_refs {
        want.push(d.clone());
    }
    want.sort();
    want.dedup();
    let mut dirs = dirs;
    dirs.sort();
    assert_eq!(dirs, want, "{}", describe(&o));
    let o = run(cnsctl(&cache)
        .arg("bundle")
        .arg("-r")
        .arg(&r)
        .arg("-o")
        .arg(tmp.path().join("c"))
        .args(["-b", "gpu-operator,nope"]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("-b/--bundlers `nope`: not a component of this recipe")
    );

    let cases = [
        (
            example.replacen("version: v1.21.1", "version: 1.50", 1),
            "componentRefs[1].version: `1.5`",
            "quote it",
        ),
        (
            example.replacen(
                "- name: skyhook\n",
                "- name: skyhook\n  dependencyRefs: [ghost]\n",
                1,
            ),
            "dependencyRefs[0]: `ghost`",
            "not in the recipe",
        ),
        (
            example.replacen("- skyhook\n", "- ghost\n", 1),
            "deploymentOrder[4]: `ghost`",
            "not a component",
        ),
        (
            example.replacen("\n- cert-manager\n", "\n", 1),
            "deploymentOrder: `cert-manager`",
            "leaves out",
        ),
    ];
    for (i, (text, field, reason)) in cases.iter().enumerate() {
        assert_ne!(text, &example, "case {i} changed nothing");
        let f = tmp.path().join(format!("bad{i}.yaml"));
        std::fs::write(&f, text).unwrap();
        let o = run(cnsctl(&cache)
            .arg("bundle")
            .arg("-r")
            .arg(&f)
            .arg("-o")
            .arg(tmp.path().join(format!("o{i}"))));
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        let name = f.display().to_string();
        assert!(
            err.contains(&format!("{name}:")) && err.contains(field) && err.contains(reason),
            "case {i}: {err}"
        );
        assert!(!tmp.path().join(format!("o{i}")).exists());
    }
}

/// Issue 16 (1): right or loud. A criterion no overlay of its own covers is an exit-2 error
/// naming it and the closest supported combinations; a partial query the data is specialised
/// for resolves, listing what it left open.
#[test]
fn criteria_without_their_own_settings_are_loud_and_partial_queries_are_right() {
    let tmp = tempdir();
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &["--service", "gke", "--os", "amazonlinux"],
            "os=amazonlinux selects nothing of its own",
            "service=eks accelerator=a100 os=amazonlinux intent=inference",
        ),
        (
            &["--service", "eks", "--os", "cos", "--accelerator", "h100"],
            "os=cos selects nothing of its own",
            "service=gke accelerator=h100 os=cos",
        ),
        (
            &[
                "--service",
                "oke",
                "--os",
                "azurelinux",
                "--intent",
                "training",
            ],
            "os=azurelinux",
            "service=aks",
        ),
    ];
    for (args, what, hint) in cases {
        let o = run(cnsctl(tmp.path()).arg("recipe").args(args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(what) && err.contains(hint), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed a recipe");
    }
    // Partial queries get every level that holds for what they name, the rest listed open.
    for (args, applied, open) in [
        (
            &["--service", "eks", "--accelerator", "h100"][..],
            &["base", "eks", "h100"][..],
            &["os", "intent"][..],
        ),
        (
            &[
                "--service",
                "eks",
                "--accelerator",
                "h100",
                "--intent",
                "training",
            ][..],
            &["base", "h100", "eks", "eks-training", "eks-training-h100"][..],
            &["os"][..],
        ),
        (
            &["--accelerator", "gb200"][..],
            &["base", "gb200-any"][..],
            &["service", "os", "intent"][..],
        ),
    ] {
        let o = run(cnsctl(tmp.path()).arg("recipe").args(args));
        assert!(o.status.success(), "{args:?}: {}", describe(&o));
        let r =
            cns_recipe::RecipeResult::from_yaml("r", &String::from_utf8_lossy(&o.stdout)).unwrap();
        assert_eq!(r.metadata.applied_overlays, applied, "{args:?}");
        assert_eq!(r.metadata.open_criteria, open, "{args:?}");
    }
}

/// Issue 16 (2): every service's GPU node OS is a supported leaf, with the driver settings its
/// images need, and `recipe --list` shows them.
#[test]
fn every_service_gpu_node_os_is_listed_with_its_driver_settings() {
    let tmp = tempdir();
    let list = run(cnsctl(tmp.path()).args(["recipe", "--list"]));
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    for (svc, os) in [
        ("gke", "cos"),
        ("gke", "ubuntu"),
        ("eks", "amazonlinux"),
        ("eks", "ubuntu"),
        ("aks", "ubuntu"),
        ("aks", "azurelinux"),
        ("oke", "oraclelinux"),
        ("oke", "ubuntu"),
    ] {
        assert!(
            text.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 4 && w[0] == svc && w[2] == os
            }),
            "{svc}/{os} missing from --list:\n{text}"
        );
    }
    let store = Store::embedded();
    let values = |svc: &str, os: &str| {
        let r = resolve(
            &store,
            &Criteria::new(Some(svc), Some("h100"), Some(os), Some("training")).unwrap(),
        )
        .unwrap();
        let c = r.component("gpu-operator").unwrap().clone();
        (store.component_values(&c).unwrap(), r)
    };
    for (svc, os, driver, toolkit) in [
        ("gke", "cos", false, true),
        ("eks", "amazonlinux", false, false),
        ("aks", "azurelinux", false, false),
        ("oke", "oraclelinux", false, false),
        ("eks", "ubuntu", true, true),
    ] {
        let (v, r) = values(svc, os);
        let get = |p: &str| cns_values::get_path(&v, p).and_then(serde_json::Value::as_bool);
        assert_eq!(
            get("driver.enabled").unwrap_or(true),
            driver,
            "{svc}/{os} driver"
        );
        assert_eq!(
            get("toolkit.enabled").unwrap_or(true),
            toolkit,
            "{svc}/{os} toolkit"
        );
        let skyhook = r.component("skyhook").map(|c| c.enabled()).unwrap_or(false);
        assert_eq!(
            skyhook,
            os == "ubuntu",
            "{svc}/{os}: skyhook's tuning package is Ubuntu's"
        );
        let id = r
            .constraints
            .iter()
            .find(|c| c.name == "OS.release.ID")
            .unwrap();
        let want = match os {
            "amazonlinux" => "amzn",
            "oraclelinux" => "ol",
            other => other,
        };
        assert_eq!(
            id.value, want,
            "{svc}/{os}: the /etc/os-release ID it is checked against"
        );
    }
}

/// Issue 16 (7): every GPU Operator values key the predecessor's successor sets for the same
/// chart and criteria is set by cnsctl's data, equal to the chart's default, or left out with
/// a reason: one row each in tests/fixtures/gpu-operator-reference-keys.yaml.
#[test]
fn gpu_operator_values_decided_key_by_key_against_the_validated_ones() {
    let store = Store::embedded();
    let r = resolve(
        &store,
        &Criteria::new(Some("eks"), Some("h100"), Some("ubuntu"), Some("training")).unwrap(),
    )
    .unwrap();
    let ours = store
        .component_values(r.component("gpu-operator").unwrap())
        .unwrap();
    let chart: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(
            cns_test_support::shared_reference().join("charts/gpu-operator/values.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let table: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_file("tests/fixtures/gpu-operator-reference-keys.yaml"))
            .unwrap(),
    )
    .unwrap();
    let rows = table["keys"].as_array().unwrap();
    assert!(rows.len() >= 25, "{} rows", rows.len());
    let norm = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.trim_matches('"').to_string(),
        other => other.to_string(),
    };
    for row in rows {
        let key = row["key"].as_str().unwrap();
        let want = &row["value"];
        let got = |tree: &serde_json::Value| cns_values::get_path(tree, key).cloned();
        match row["decision"].as_str().unwrap() {
            "set" => assert_eq!(
                got(&ours).as_ref().map(norm),
                Some(norm(want)),
                "{key}: the recipe data should set it"
            ),
            "default" => {
                assert_eq!(
                    got(&chart).as_ref().map(norm),
                    Some(norm(want)),
                    "{key}: the chart default should equal it"
                );
                assert!(got(&ours).is_none(), "{key}: left to the chart, not set");
            }
            "left" => {
                let reason = row["reason"].as_str().unwrap_or_default();
                assert!(reason.len() > 10, "{key}: say why it is left out");
                assert_ne!(
                    got(&ours).as_ref(),
                    Some(want),
                    "{key}: marked left but set"
                );
            }
            other => panic!("{key}: unknown decision {other}"),
        }
    }
}
