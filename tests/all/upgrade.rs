//! `cnsctl upgrade-check`: the predecessor's demo recipe (its pins and its chart sources)
//! against today's recipe for the same criteria, a verdict per component with its reason;
//! a bundle directory as FROM; the same recipe on both sides is safe; `--from cluster` is
//! refused with what to pass instead.

use crate::util::{cnsctl, conforms, ok, tempdir};
use cns_test_support::{describe, run};
use serde_json::Value;

/// The predecessor's `recipeResult` for EKS/H100/Ubuntu/training with the pins of its base
/// overlay (research/cns.md §2.4): no namespaces or charts, OCI sources naming the chart.
const PREDECESSOR: &str = "kind: recipeResult
apiVersion: cns.nvidia.com/v1alpha1
metadata:
  timestamp: '2025-12-01T10:00:00Z'
  version: v0.21.3
  appliedOverlays:
  - base
criteria:
  service: eks
  accelerator: h100
  os: ubuntu
  intent: training
componentRefs:
- name: cert-manager
  type: Helm
  source: https://charts.jetstack.io
  version: v1.17.2
- name: gpu-operator
  type: Helm
  source: https://helm.ngc.nvidia.com/nvidia
  version: v25.10.1
  dependencyRefs:
  - cert-manager
- name: nvsentinel
  type: Helm
  source: oci://ghcr.io/nvidia/nvsentinel
  version: v0.6.0
  dependencyRefs:
  - cert-manager
- name: skyhook
  type: Helm
  source: oci://ghcr.io/nvidia/skyhook
  version: v0.4.0
deploymentOrder:
- cert-manager
- gpu-operator
- nvsentinel
- skyhook
";

/// `cnsctl recipe` for the criteria of [`PREDECESSOR`].
const RECIPE_FOR_PREDECESSOR: &[&str] = &[
    "recipe",
    "--service",
    "eks",
    "--accelerator",
    "h100",
    "--os",
    "ubuntu",
    "--intent",
    "training",
];

#[test]
fn the_predecessors_demo_recipe_gets_a_verdict_per_component() {
    let tmp = tempdir();
    std::fs::write(tmp.path().join("old.yaml"), PREDECESSOR).unwrap();
    let cns = |args: &[&str]| run(cnsctl(tmp.path()).current_dir(tmp.path()).args(args));
    let o = cns(&["upgrade-check", "--from", "old.yaml", "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "not every move is safe: {}",
        describe(&o)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    conforms("upgrade-check", &r);
    let by: std::collections::BTreeMap<&str, &Value> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["component"].as_str().unwrap(), c))
        .collect();
    let verdict = |name: &str| by[name]["verdict"].as_str().unwrap();
    // A record covers each of these moves, with steps and the notes they come from.
    for name in ["cert-manager", "gpu-operator"] {
        assert_eq!(verdict(name), "manual", "{name}: {:#}", by[name]);
        assert!(!by[name]["steps"].as_array().unwrap().is_empty());
        assert!(
            by[name]["references"][0]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
    }
    assert_eq!(by["cert-manager"]["from"], "v1.17.2");
    assert_eq!(by["cert-manager"]["to"], "v1.21.1");
    // Same chart (the OCI source named it), no record for the move: unknown, not safe.
    assert_eq!(verdict("nvsentinel"), "unknown");
    assert!(
        by["nvsentinel"]["reason"]
            .as_str()
            .unwrap()
            .contains("no transition record")
    );
    // The chart moved (oci://ghcr.io/nvidia/skyhook -> NGC's skyhook-operator).
    assert_eq!(verdict("skyhook"), "identity-changed");
    assert!(
        by["skyhook"]["reason"].as_str().unwrap().contains("chart"),
        "{:#}",
        by["skyhook"]
    );
    // New since: installed fresh.
    assert_eq!(verdict("aws-efa-k8s-device-plugin"), "safe");

    // The table names each verdict and lists the steps for the deployer asked for.
    let o = cns(&[
        "upgrade-check",
        "--from",
        "old.yaml",
        "--deployer",
        "argocd",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("identity-changed") && text.contains("cert-manager (argocd deployer):"),
        "{text}"
    );
    assert!(text.contains("targetRevision"), "{text}");

    // A bundle directory as FROM, and the same recipe on both sides: every component safe.
    let o = cns(&[RECIPE_FOR_PREDECESSOR, &["-o", "new.yaml"]].concat());
    assert!(o.status.success(), "{}", describe(&o));
    let o = cns(&["bundle", "-r", "new.yaml", "-o", "bundle"]);
    assert!(o.status.success(), "{}", describe(&o));
    let text = ok(&cns(&[
        "upgrade-check",
        "--from",
        "bundle",
        "--to",
        "new.yaml",
    ]));
    assert!(!text.contains("manual") && text.contains("safe"), "{text}");

    // Regenerated with --inherit-from, the recipe keeps skyhook where the predecessor put it:
    // no longer an identity change, only a version move no record covers.
    let o = cns(&[
        RECIPE_FOR_PREDECESSOR,
        &["--inherit-from", "old.yaml", "-o", "kept.yaml"],
    ]
    .concat());
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kept skyhook source `oci://ghcr.io/nvidia`"),
        "{err}"
    );
    assert!(err.contains("kept skyhook chart `skyhook`"), "{err}");
    let o = cns(&[
        "upgrade-check",
        "--from",
        "old.yaml",
        "--to",
        "kept.yaml",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sky = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "skyhook")
        .unwrap();
    assert_eq!(sky["verdict"], "unknown", "{sky:#}");

    // What cannot be read yet is said, with what to pass instead.
    let o = cns(&["upgrade-check", "--from", "cluster"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass the recipe or the bundle directory"));
}
