//! `cnsctl upgrade-check`: the predecessor's demo recipe (its pins and its chart sources)
//! against today's recipe for the same criteria, a verdict per component with its reason;
//! a bundle directory as FROM; the same recipe on both sides is safe; what a cluster runs
//! (Helm release Secrets, Argo CD Applications, Flux HelmReleases, on the test API server);
//! `bundle --upgrade-from` (UPGRADING.md, blocked moves) and `bundle-info.yaml`.

use crate::util::{cnsctl, conforms, ok, tempdir};
use cns_test_support::kube::FakeKube;
use cns_test_support::{describe, run};
use serde_json::{Value, json};

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

/// An upgrade-check report's components by name.
fn by_component(report: &Value) -> std::collections::BTreeMap<&str, &Value> {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["component"].as_str().unwrap(), c))
        .collect()
}

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
    let by = by_component(&r);
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
    // Same chart (the OCI source named it); its record says the notes are silent: unknown,
    // not safe, with what was read.
    assert_eq!(verdict("nvsentinel"), "unknown");
    assert!(
        by["nvsentinel"]["reason"]
            .as_str()
            .unwrap()
            .contains("release notes give install commands but no upgrade facts"),
        "{:#}",
        by["nvsentinel"]
    );
    assert!(
        !by["nvsentinel"]["references"]
            .as_array()
            .unwrap()
            .is_empty()
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

    // A cluster does not say its criteria: --to is needed, and said.
    let o = cns(&["upgrade-check", "--from", "cluster"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pass --to"),
        "{}",
        describe(&o)
    );
}

/// A Helm release as the API server returns its Secret's data: base64 of what Helm stores,
/// itself base64 of gzipped JSON.
fn helm_secret(name: &str, ns: &str, rev: u64, status: &str, chart: &str, version: &str) -> Value {
    use base64::Engine;
    use std::io::Write;
    let release = json!({"name": name, "namespace": ns, "version": rev, "info": {"status": status},
        "chart": {"metadata": {"name": chart, "version": version}}, "config": {}, "manifest": ""});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let stored = b64.encode(gz.finish().unwrap());
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": ns,
            "labels": {"owner": "helm", "name": name, "status": status, "version": rev.to_string()}},
        "data": {"release": b64.encode(stored)}})
}

#[test]
fn what_a_cluster_runs_is_read_from_helm_argo_cd_and_flux() {
    let tmp = tempdir();
    let k = FakeKube::start();
    let kubeconfig = k.kubeconfig();
    let secrets = |ns: &str, name: &str| format!("/api/v1/namespaces/{ns}/secrets/{name}");
    // cert-manager by the script deployer: revision 2 is the deployed one.
    for (rev, status, version) in [(1, "superseded", "v1.16.0"), (2, "deployed", "v1.17.2")] {
        k.insert(
            &secrets(
                "cert-manager",
                &format!("sh.helm.release.v1.cert-manager.v{rev}"),
            ),
            helm_secret(
                "cert-manager",
                "cert-manager",
                rev,
                status,
                "cert-manager",
                version,
            ),
        );
    }
    // Another team's release: not a component, not judged.
    k.insert(
        &secrets("monitoring", "sh.helm.release.v1.prometheus.v1"),
        helm_secret(
            "prometheus",
            "monitoring",
            1,
            "deployed",
            "kube-prometheus-stack",
            "70.0.0",
        ),
    );
    // gpu-operator by Flux: its HelmRelease (labelled by the bundle) and the Helm record the
    // helm-controller keeps; the chart's source is the HelmRepository it names.
    k.insert(
        &secrets("gpu-operator", "sh.helm.release.v1.gpu-operator.v1"),
        helm_secret(
            "gpu-operator",
            "gpu-operator",
            1,
            "deployed",
            "gpu-operator",
            "v25.10.1",
        ),
    );
    k.insert(
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases/gpu-operator",
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "gpu-operator", "namespace": "flux-system",
                "labels": {"cns.nvidia.com/component": "gpu-operator", "cns.nvidia.com/version": "v25.10.1"}},
            "spec": {"releaseName": "gpu-operator", "targetNamespace": "gpu-operator",
                "chart": {"spec": {"chart": "gpu-operator", "version": "v25.10.1",
                    "sourceRef": {"kind": "HelmRepository", "name": "helm-ngc-nvidia-com-nvidia", "namespace": "flux-system"}}}}}),
    );
    k.insert(
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/helmrepositories/helm-ngc-nvidia-com-nvidia",
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "helm-ngc-nvidia-com-nvidia", "namespace": "flux-system"},
            "spec": {"url": "https://helm.ngc.nvidia.com/nvidia"}}),
    );
    // nvsentinel by Argo CD (no Helm record: Argo CD renders charts itself), in another
    // namespace than today's recipe installs it.
    k.insert(
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/nvsentinel",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "nvsentinel", "namespace": "argocd",
                "labels": {"cns.nvidia.com/component": "nvsentinel", "cns.nvidia.com/version": "v1.14.0"}},
            "spec": {"destination": {"namespace": "nvsentinel-system"},
                "sources": [{"repoURL": "ghcr.io/nvidia", "chart": "nvsentinel", "targetRevision": "v1.14.0",
                    "helm": {"releaseName": "nvsentinel"}}]}}),
    );
    let cns = |args: &[&str]| {
        run(cnsctl(tmp.path())
            .current_dir(tmp.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args))
    };
    let o = cns(&[RECIPE_FOR_PREDECESSOR, &["-o", "new.yaml"]].concat());
    assert!(o.status.success(), "{}", describe(&o));
    let o = cns(&[
        "upgrade-check",
        "--from",
        "cluster",
        "--to",
        "new.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    conforms("upgrade-check", &r);
    let by = by_component(&r);
    assert!(!by.contains_key("prometheus"), "{r:#}");
    assert_eq!(
        by["cert-manager"]["from"], "v1.17.2",
        "the deployed revision"
    );
    assert_eq!(by["cert-manager"]["verdict"], "manual");
    assert_eq!(by["gpu-operator"]["from"], "v25.10.1");
    assert_eq!(
        by["gpu-operator"]["verdict"], "manual",
        "{:#}",
        by["gpu-operator"]
    );
    assert_eq!(by["nvsentinel"]["verdict"], "identity-changed");
    assert!(
        by["nvsentinel"]["reason"]
            .as_str()
            .unwrap()
            .contains("namespace `nvsentinel-system` -> `nvsentinel`"),
        "{:#}",
        by["nvsentinel"]
    );
    // skyhook is in the recipe but not on the cluster: installed fresh.
    assert_eq!(by["skyhook"]["verdict"], "safe");
    assert!(by["skyhook"].get("from").is_none());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("found 3 of the recipe data's components installed (cert-manager v1.17.2, gpu-operator v25.10.1, nvsentinel v1.14.0)"),
        "{err}"
    );
    // Only reads: list Secrets by Helm's label, the labelled GitOps objects, one HelmRepository.
    for r in k.requests() {
        assert!(r.starts_with("GET "), "{r}");
    }
    assert!(
        k.requests()
            .iter()
            .any(|r| r.contains("/secrets?") && r.contains("owner%3Dhelm")),
        "{:?}",
        k.requests()
    );

    // --inherit-from cluster keeps nvsentinel where it runs; a bundle made --upgrade-from the
    // cluster then says what to do, in deployment order.
    let o = cns(&[
        RECIPE_FOR_PREDECESSOR,
        &["--inherit-from", "cluster", "-o", "kept.yaml"],
    ]
    .concat());
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("kept nvsentinel namespace `nvsentinel-system`"),
        "{}",
        describe(&o)
    );
    let o = cns(&[
        "bundle",
        "-r",
        "kept.yaml",
        "-d",
        "flux",
        "--upgrade-from",
        "cluster",
        "-o",
        "b",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let md = std::fs::read_to_string(tmp.path().join("b/UPGRADING.md")).unwrap();
    assert!(md.contains("for the `flux` deployer"), "{md}");
    let (cm, gpu) = (
        md.find("cert-manager (manual)").expect(&md),
        md.find("gpu-operator (manual)").expect(&md),
    );
    assert!(cm < gpu, "deployment order: {md}");
    assert!(
        md.contains("Commit this bundle; the HelmRelease upgrade runs the chart's hooks."),
        "{md}"
    );
    assert!(!md.contains("nvsentinel (identity-changed)"), "{md}");
}

#[test]
fn a_bundle_knows_its_origin_and_a_blocked_move_is_refused() {
    let tmp = tempdir();
    std::fs::write(tmp.path().join("old.yaml"), PREDECESSOR).unwrap();
    let cns = |args: &[&str]| run(cnsctl(tmp.path()).current_dir(tmp.path()).args(args));
    let o = cns(&[RECIPE_FOR_PREDECESSOR, &["-o", "new.yaml"]].concat());
    assert!(o.status.success(), "{}", describe(&o));
    let o = cns(&[
        "bundle",
        "-r",
        "new.yaml",
        "-d",
        "argocd",
        "--upgrade-from",
        "old.yaml",
        "-o",
        "b",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: --upgrade-from: skyhook is identity-changed"),
        "{err}"
    );
    let info: Value = serde_norway::from_str(
        &std::fs::read_to_string(tmp.path().join("b/bundle-info.yaml")).unwrap(),
    )
    .unwrap();
    conforms("bundle-info", &serde_json::to_value(&info).unwrap());
    assert_eq!(info["deployer"], "argocd");
    let checksums = std::fs::read_to_string(tmp.path().join("b/checksums.txt")).unwrap();
    assert!(checksums.contains("  bundle-info.yaml\n") && checksums.contains("  UPGRADING.md\n"));
    let md = std::fs::read_to_string(tmp.path().join("b/UPGRADING.md")).unwrap();
    assert!(md.contains("Sync the gpu-operator Application"), "{md}");
    assert!(md.contains("Nobody has said this move is safe"), "{md}");
    // FROM the bundle: its bundle-info.yaml, its deployer's steps.
    let o = cns(&[
        "upgrade-check",
        "--from",
        "b",
        "--to",
        "old.yaml",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["deployer"], "argocd", "{}", describe(&o));

    // A record that blocks the move refuses the bundle, unless allowed.
    let data = tmp.path().join("data");
    copy_dir(&crate::util::repo_file("recipes"), &data);
    let records = data.join("components/gpu-operator/upgrades.yaml");
    let text = std::fs::read_to_string(&records).unwrap();
    std::fs::write(
        &records,
        text.replacen("verdict: manual", "verdict: blocked", 1),
    )
    .unwrap();
    let d = data.to_str().unwrap();
    let o = cns(&[
        "bundle",
        "--recipes-dir",
        d,
        "-r",
        "new.yaml",
        "--upgrade-from",
        "old.yaml",
        "-o",
        "c",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--upgrade-from `old.yaml`: the move is blocked for gpu-operator"),
        "{err}"
    );
    assert!(!tmp.path().join("c").exists(), "nothing half-written");
    let o = cns(&[
        "bundle",
        "--recipes-dir",
        d,
        "-r",
        "new.yaml",
        "--upgrade-from",
        "old.yaml",
        "--allow-blocked",
        "-o",
        "c",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    let md = std::fs::read_to_string(tmp.path().join("c/UPGRADING.md")).unwrap();
    assert!(md.contains("gpu-operator (blocked)"), "{md}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
