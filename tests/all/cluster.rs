//! Stage 1 and drift: `cnsctl snapshot` on this machine against ground truth read here,
//! `diff`, `cm://` storage, the K8s collector and the snapshot agent Job — the Kubernetes
//! paths against `cns_test_support::kube::FakeKube`, a loopback server shaped like the real
//! API (no API server can be installed on the test machines), every object cnsctl creates
//! checked by `kubernetes-validate --strict`.

use crate::util::{cnsctl, fails, ok, repo_file, tempdir};
use cns_test_support::kube::{FakeKube, JobRun};
use cns_test_support::{describe, require_tool, run};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// cnsctl with no cluster configured unless the test gives one (HOME without ~/.kube).
pub(crate) fn cns(t: &Path) -> Command {
    let mut c = cnsctl(&t.join("cache"));
    c.env("HOME", t)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("NODE_NAME");
    c
}

pub(crate) fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("YAML")
}

pub(crate) fn reading<'a>(s: &'a Value, kind: &str, subtype: &str) -> Option<&'a Value> {
    s["measurements"]
        .as_array()?
        .iter()
        .find(|m| m["type"] == kind)?["subtypes"]
        .as_array()?
        .iter()
        .find(|st| st["subtype"] == subtype)
        .map(|st| &st["data"])
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn local_snapshot_matches_what_this_machine_says() {
    let t = tempdir();
    let out = t.path().join("snap.yaml");
    ok(&run(cns(t.path()).args(["snapshot", "-o"]).arg(&out)));
    let s = yaml(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(s["kind"], "Snapshot");
    assert!(s["metadata"].get("collectorErrors").is_none(), "{s}");
    // No cluster configured: no K8s measurement, and no error for it.
    assert!(reading(&s, "K8s", "server").is_none());

    let release = reading(&s, "OS", "release").expect("OS.release");
    for line in std::fs::read_to_string("/etc/os-release").unwrap().lines() {
        if let Some(v) = line.strip_prefix("ID=") {
            assert_eq!(release["ID"], v.trim_matches('"'));
        }
        if let Some(v) = line.strip_prefix("VERSION_ID=") {
            assert_eq!(release["VERSION_ID"], v.trim_matches('"'));
        }
    }
    let uname = run(Command::new("uname").arg("-r"));
    let sysctl = reading(&s, "OS", "sysctl").expect("OS.sysctl");
    assert_eq!(
        sysctl["/proc/sys/kernel/osrelease"],
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    for (k, v) in sysctl.as_object().unwrap() {
        assert_eq!(
            std::fs::read_to_string(k).unwrap().trim(),
            v.as_str().unwrap(),
            "{k}"
        );
    }
    match std::fs::read_to_string("/proc/modules") {
        Ok(m) => {
            let kmod = reading(&s, "OS", "kmod").expect("OS.kmod");
            let names: Vec<&str> = m.lines().filter_map(|l| l.split(' ').next()).collect();
            assert_eq!(kmod.as_object().unwrap().len(), names.len());
            for n in names {
                assert_eq!(kmod[n], true, "{n}");
            }
        }
        Err(_) => assert!(reading(&s, "OS", "kmod").is_none()),
    }
    let gpus = std::fs::read_dir("/sys/bus/pci/devices")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let r = |f: &str| std::fs::read_to_string(e.path().join(f)).unwrap_or_default();
                    r("vendor").trim() == "0x10de" && r("class").starts_with("0x03")
                })
                .count()
        })
        .unwrap_or(0);
    let hw = reading(&s, "GPU", "hardware").expect("GPU.hardware");
    assert_eq!(hw["count"], gpus);
    assert_eq!(hw["present"], gpus > 0);
    // SystemD: empty without systemd, never an error.
    assert!(
        s["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "SystemD")
    );
    // What it wrote passes cnsctl's schema, and JSON output is the same document.
    let o = run(cns(t.path()).args(["validate", "--schema"]).arg(&out));
    assert!(ok(&o).contains("ok (snapshot.schema.json)"));
    let j = ok(&run(cns(t.path()).args(["snapshot", "--format", "json"])));
    let j: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(j["measurements"], s["measurements"]);
}

#[test]
fn snapshot_feeds_recipe_and_validate() {
    let t = tempdir();
    let snap = t.path().join("snap.yaml");
    ok(&run(cns(t.path()).args(["snapshot", "-o"]).arg(&snap)));
    let recipe = t.path().join("recipe.yaml");
    let o = run(cns(t.path())
        .args([
            "recipe",
            "--service",
            "eks",
            "--accelerator",
            "h100",
            "--os",
            "ubuntu",
            "--intent",
            "training",
            "--snapshot",
        ])
        .arg(&snap)
        .arg("-o")
        .arg(&recipe));
    ok(&o);
    assert!(stderr(&o).contains(&format!("detected from {}", snap.display())));
    let o = run(cns(t.path())
        .args(["validate", "--recipe"])
        .arg(&recipe)
        .arg("--snapshot")
        .arg(&snap));
    // This machine is not an EKS Ubuntu node: constraints may fail (1), but never error (2).
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", describe(&o));
    let result = yaml(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(result["kind"], "ValidationResult");
    let checks = result["results"].as_array().unwrap();
    let osrelease = checks
        .iter()
        .find(|c| c["name"] == "OS.sysctl./proc/sys/kernel/osrelease");
    if let Some(c) = osrelease {
        assert_ne!(
            c["status"], "skipped",
            "the kernel release was measured: {c}"
        );
    }
}

const BASE: &str = "kind: Snapshot
apiVersion: cns.nvidia.com/v1alpha1
metadata: {timestamp: '2026-11-01T00:00:00Z'}
measurements:
- type: K8s
  subtypes:
  - subtype: server
    data: {version: v1.33.5}
  - subtype: image
    data: {nvcr.io/nvidia/gpu-operator: v25.3.0}
- type: OS
  subtypes:
  - subtype: kmod
    data: {nvidia: true, nouveau: true}
  - subtype: sysctl
    data: {/proc/sys/kernel/osrelease: 6.8.0-1043-aws}
";

/// Readings are someone else's text: a value with a line break, a carriage return or an
/// escape sequence reaches the terminal escaped, so it can neither forge a row of `diff`'s
/// table nor drive the terminal; `validate`'s lines likewise.
#[test]
fn hostile_readings_are_escaped_on_the_terminal() {
    let t = tempdir();
    let (a, b) = (t.path().join("a.yaml"), t.path().join("b.yaml"));
    std::fs::write(&a, BASE).unwrap();
    let forged = "v1.34.1\\nK8s.fake  modified  safe  safe\\u001b[2J\\r";
    std::fs::write(&b, BASE.replace("v1.33.5", &format!("\"{forged}\""))).unwrap();
    let o = run(cns(t.path()).arg("diff").arg(&a).arg(&b));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        !o.stdout.contains(&0x1b) && !o.stdout.contains(&b'\r'),
        "{}",
        describe(&o)
    );
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        table.lines().count(),
        3,
        "header, one row, summary:\n{table}"
    );
    assert!(
        table.contains("v1.34.1\\nK8s.fake  modified  safe  safe\\u{1b}[2J\\r"),
        "{table}"
    );
    let recipe = t.path().join("r.yaml");
    std::fs::write(
        &recipe,
        "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncriteria: {service: any, accelerator: any, os: any, intent: any}\nconstraints:\n- name: K8s.server.version\n  value: \">= 1.30\"\ncomponentRefs: []\n",
    )
    .unwrap();
    let o = run(cns(t.path())
        .args(["validate", "--recipe"])
        .arg(&recipe)
        .arg("--snapshot")
        .arg(&b));
    assert!(
        !o.stderr.contains(&0x1b) && !o.stderr.contains(&b'\r'),
        "{}",
        describe(&o)
    );
    assert!(stderr(&o).contains("\\u{1b}[2J"), "{}", stderr(&o));
    assert!(
        !stderr(&o).lines().any(|l| l.starts_with("K8s.fake")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diff_reports_every_change_sorted_with_distinct_exit_codes() {
    let t = tempdir();
    let (a, b) = (t.path().join("a.yaml"), t.path().join("b.yaml"));
    std::fs::write(&a, BASE).unwrap();
    let target = BASE
        .replace("v1.33.5", "v1.34.1")
        .replace("v25.3.0", "v25.10.1")
        .replace("nouveau: true", "nvidia_peermem: true")
        .replace("2026-11-01", "2026-11-27");
    std::fs::write(&b, target).unwrap();
    let o = run(cns(t.path()).arg("diff").arg(&a).arg(&b));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["PATH", "CHANGE", "SEVERITY", "BASELINE", "TARGET"],
            vec![
                "K8s.image.nvcr.io/nvidia/gpu-operator",
                "modified",
                "info",
                "v25.3.0",
                "v25.10.1"
            ],
            vec![
                "K8s.server.version",
                "modified",
                "critical",
                "v1.33.5",
                "v1.34.1"
            ],
            vec!["OS.kmod.nouveau", "removed", "warning", "true", "-"],
            vec!["OS.kmod.nvidia_peermem", "added", "warning", "-", "true"],
            vec![
                "1",
                "added,",
                "1",
                "removed,",
                "2",
                "modified:",
                "1",
                "critical,",
                "2",
                "warning,",
                "1",
                "info"
            ],
        ],
        "{table}"
    );
    // Columns are aligned: every row's second column starts at the same offset.
    let col = |l: &str| {
        l.find("  ")
            .map(|i| i + l[i..].len() - l[i..].trim_start().len())
    };
    let offsets: Vec<_> = table.lines().take(5).map(col).collect();
    assert!(offsets.windows(2).all(|w| w[0] == w[1]), "{table}");
    assert!(table.contains("K8s.server.version"));
    assert!(
        table.ends_with("1 added, 1 removed, 2 modified: 1 critical, 2 warning, 1 info\n"),
        "{table}"
    );
    let o = run(cns(t.path())
        .args(["diff", "--format", "json", "--ignore", "K8s.image.*"])
        .arg(&a)
        .arg(&b));
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["kind"], "SnapshotDiff");
    assert_eq!(
        j["summary"],
        json!({"added": 1, "removed": 1, "modified": 1, "ignored": 1, "volatile": 0,
            "critical": 1, "warning": 2, "info": 0})
    );
    assert_eq!(
        j["changes"][0],
        json!({"kind": "modified", "path": "K8s.server.version", "severity": "critical",
            "baseline": "v1.33.5", "target": "v1.34.1"})
    );
    let o = run(cns(t.path())
        .args(["diff", "--format", "yaml"])
        .arg(&a)
        .arg(&a));
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert_eq!(
        yaml(&String::from_utf8_lossy(&o.stdout))["changes"],
        json!([])
    );
    fails(
        &run(cns(t.path())
            .arg("diff")
            .arg(&a)
            .arg(t.path().join("nope.yaml"))),
        2,
        "nope.yaml",
    );
    fails(
        &run(cns(t.path())
            .args(["diff", "--ignore", "a["])
            .arg(&a)
            .arg(&b)),
        2,
        "`a[`",
    );
}

pub(crate) fn fake_cluster() -> FakeKube {
    let k = FakeKube::start();
    k.insert(
        "/api/v1/nodes/gpu-node-1",
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "gpu-node-1", "labels": {"nodeGroup": "customer-gpu", "nvidia.com/gpu.present": "true"}},
            "spec": {"providerID": "aws:///us-east-1e/i-0abc", "taints": [{"key": "dedicated", "value": "user-workload", "effect": "NoSchedule"}]},
            "status": {"nodeInfo": {"kubeletVersion": "v1.34.1-eks-113cf36", "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.8.0-1043-aws", "osImage": "Ubuntu 24.04.3 LTS", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeProxyVersion": ""}}}),
    );
    k.insert(
        "/api/v1/namespaces/gpu-operator/pods/gpu-operator-1",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gpu-operator-1", "namespace": "gpu-operator"},
            "spec": {"nodeName": "gpu-node-1", "containers": [{"name": "op", "image": "nvcr.io/nvidia/gpu-operator:v25.10.1"}]}}),
    );
    k.insert(
        "/api/v1/namespaces/kube-system/pods/elsewhere",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elsewhere", "namespace": "kube-system"},
            "spec": {"nodeName": "cpu-node", "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}),
    );
    k.insert(
        "/apis/nvidia.com/v1/clusterpolicies/cluster-policy",
        json!({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"},
            "spec": {"driver": {"enabled": true, "version": "580.95.05"}, "mig": {"strategy": "single"}}}),
    );
    k
}

/// Every stored object of these kinds passes kubernetes-validate --strict.
pub(crate) fn validate_objects(t: &Path, objects: &[Value]) {
    let Some(kv) = require_tool("kubernetes-validate", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let dir = t.join("objects");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut o = o.clone();
            // Server-set fields are not part of what a client sends.
            if let Some(m) = o["metadata"].as_object_mut() {
                for k in ["resourceVersion", "uid", "creationTimestamp"] {
                    m.remove(k);
                }
            }
            if let Some(m) = o.as_object_mut() {
                m.remove("status");
            }
            // As JSON (valid YAML): the API takes JSON, and a plain YAML dump would let the
            // validator read an RFC 3339 string as a timestamp.
            let p = dir.join(format!("{i}.yaml"));
            std::fs::write(&p, serde_json::to_string_pretty(&o).unwrap()).unwrap();
            p
        })
        .collect();
    let o = run(Command::new(kv)
        .args(["--strict", "--quiet", "-k", "1.32.0"])
        .args(&files));
    assert!(o.status.success(), "kubernetes-validate: {}", describe(&o));
}

#[test]
fn cm_uris_work_everywhere_and_errors_name_the_uri_and_reason() {
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let with = |args: &[&str]| {
        let mut c = cns(t.path());
        c.arg("--kubeconfig")
            .arg(&kc)
            .env("NODE_NAME", "gpu-node-1")
            .args(args);
        run(&mut c)
    };
    let o = with(&["snapshot", "--output", "cm://gpu-operator/cns-snapshot"]);
    ok(&o);
    let cm = k
        .get("/api/v1/namespaces/gpu-operator/configmaps/cns-snapshot")
        .expect("ConfigMap written");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/component"],
        "snapshot"
    );
    assert_eq!(cm["data"]["format"], "yaml");
    let s = yaml(cm["data"]["snapshot.yaml"].as_str().unwrap());
    // The K8s collector, through kube against the fake API.
    assert_eq!(
        reading(&s, "K8s", "server").unwrap()["version"],
        "v1.34.1-eks-3025e55"
    );
    let node = reading(&s, "K8s", "node").unwrap();
    assert_eq!(node["provider"], "eks");
    assert_eq!(node["label.nodeGroup"], "customer-gpu");
    assert_eq!(node["taint.dedicated"], "user-workload:NoSchedule");
    assert_eq!(node["kubelet-version"], "v1.34.1-eks-113cf36");
    let images = reading(&s, "K8s", "image").unwrap();
    assert_eq!(
        images,
        &json!({"nvcr.io/nvidia/gpu-operator": "v25.10.1"}),
        "only this node's pods"
    );
    assert_eq!(
        reading(&s, "K8s", "policy").unwrap()["driver.version"],
        "580.95.05"
    );
    assert!(
        k.requests()
            .iter()
            .any(|r| r.contains("fieldSelector=spec.nodeName%3Dgpu-node-1")
                || r.contains("fieldSelector=spec.nodeName=gpu-node-1")),
        "{:?}",
        k.requests()
    );

    // recipe --snapshot cm:// and --output cm://; validate and bundle read cm://.
    let o = with(&[
        "recipe",
        "--snapshot",
        "cm://gpu-operator/cns-snapshot",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--output",
        "cm://gpu-operator/cns-recipe",
    ]);
    ok(&o);
    assert!(
        stderr(&o).contains("detected from cm://gpu-operator/cns-snapshot: service=eks"),
        "{}",
        stderr(&o)
    );
    let r = k
        .get("/api/v1/namespaces/gpu-operator/configmaps/cns-recipe")
        .unwrap();
    assert_eq!(
        r["metadata"]["labels"]["app.kubernetes.io/component"],
        "recipe"
    );
    assert!(
        r["data"]["recipe.yaml"]
            .as_str()
            .unwrap()
            .contains("kind: recipeResult")
    );
    let o = with(&[
        "validate",
        "--recipe",
        "cm://gpu-operator/cns-recipe",
        "--snapshot",
        "cm://gpu-operator/cns-snapshot",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("recipe: cm://gpu-operator/cns-recipe"));
    let bundle = t.path().join("bundle");
    ok(&with(&[
        "bundle",
        "--recipe",
        "cm://gpu-operator/cns-recipe",
        "--output",
        bundle.to_str().unwrap(),
    ]));
    assert!(bundle.join("checksums.txt").is_file());
    // Writing again replaces the ConfigMap (409 → replace).
    ok(&with(&[
        "snapshot",
        "--output",
        "cm://gpu-operator/cns-snapshot",
    ]));
    let file = t.path().join("file.yaml");
    std::fs::write(&file, cm["data"]["snapshot.yaml"].as_str().unwrap()).unwrap();
    let o = with(&[
        "diff",
        "--ignore",
        "OS.sysctl.*",
        "--ignore",
        "OS.kmod.*",
        file.to_str().unwrap(),
        "cm://gpu-operator/cns-snapshot",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));

    // Errors: not found, forbidden, no cluster, bad URI — each names the URI and the reason.
    fails(
        &with(&["diff", "cm://gpu-operator/nope", file.to_str().unwrap()]),
        2,
        "cm://gpu-operator/nope: NotFound (404)",
    );
    k.forbid("POST", "configmaps");
    k.forbid("GET", "configmaps");
    fails(
        &with(&["snapshot", "-o", "cm://kube-system/x"]),
        2,
        "cm://kube-system/x: Forbidden (403)",
    );
    fails(
        &with(&["bundle", "-r", "cm://gpu-operator/cns-recipe"]),
        2,
        "Forbidden",
    );
    fails(
        &run(cns(t.path()).args(["recipe", "--snapshot", "cm://gpu-operator/cns-snapshot"])),
        2,
        "no Kubernetes cluster configured",
    );
    fails(
        &run(cns(t.path()).args(["validate", "-r", "cm://Bad/x", "-s", "s.yaml"])),
        2,
        "invalid ConfigMap URI `cm://Bad/x`",
    );
    validate_objects(t.path(), &[cm, r]);
}

/// The fake's Job hook: run the Job's own command line with this test's cnsctl, as the pod
/// would on the node (this machine), against the same fake API.
pub(crate) fn run_agent_locally(t: &Path, kubeconfig: &Path, job: &Value) -> JobRun {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["/usr/local/bin/cnsctl"]));
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("/host", "/"))
        .collect();
    let o = run(cns(t)
        .args(&args)
        .env("KUBECONFIG", kubeconfig)
        .env("NODE_NAME", "gpu-node-1"));
    JobRun {
        succeeded: o.status.success(),
        log: stderr(&o),
    }
}

/// Whether this machine has an NVIDIA display/3D controller on its PCI bus.
pub(crate) fn this_machine_has_a_gpu() -> bool {
    std::fs::read_dir("/sys/bus/pci/devices").is_ok_and(|d| {
        d.flatten().any(|e| {
            let r = |f: &str| std::fs::read_to_string(e.path().join(f)).unwrap_or_default();
            r("vendor").trim() == "0x10de" && r("class").starts_with("0x03")
        })
    })
}

/// A cluster before the GPU Operator: the GPU node and a system pod, no `gpu-operator`
/// namespace and no ClusterPolicy.
fn before_the_operator() -> FakeKube {
    let full = fake_cluster();
    let k = FakeKube::start();
    for path in [
        "/api/v1/nodes/gpu-node-1",
        "/api/v1/namespaces/kube-system/pods/elsewhere",
    ] {
        k.insert(path, full.get(path).unwrap());
    }
    k
}

/// The predecessor's demo, stages 1-3 verbatim, on a cluster where `gpu-operator` does not
/// exist yet (stage 1 runs before the GPU Operator is installed).
#[test]
fn the_demo_stage_1_command_runs_the_agent_and_stages_2_and_3_read_its_configmap() {
    let t = tempdir();
    let k = before_the_operator();
    assert!(k.get("/api/v1/namespaces/gpu-operator").is_none());
    let kc = k.kubeconfig();
    let (tt, kk) = (t.path().to_path_buf(), kc.clone());
    k.on_job(move |job| run_agent_locally(&tt, &kk, job));
    let demo = |args: &[&str]| {
        let mut c = cns(t.path());
        c.env("KUBECONFIG", &kc).current_dir(t.path()).args(args);
        run(&mut c)
    };
    // Verbatim from the predecessor's demo.
    let o = demo(&[
        "snapshot",
        "--deploy-agent",
        "--namespace",
        "gpu-operator",
        "--image",
        "ghcr.io/nvidia/cns:v0.8.0",
        "--node-selector",
        "nodeGroup=customer-gpu",
        "--cleanup",
    ]);
    ok(&o);
    let err = stderr(&o);
    // The Job is named for its run: `cns-` and 8 hex digits.
    let job = err
        .split("job=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_string();
    assert!(
        job.len() == 12
            && job.starts_with("cns-")
            && job[4..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{err}"
    );
    let no_gpu = "warning: the agent ran on gpu-node-1, which shows no NVIDIA GPU";
    // The Job ran this machine's snapshot: said when this machine has no GPU.
    assert_eq!(err.contains(no_gpu), !this_machine_has_a_gpu(), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| {
            !l.starts_with("agent resources")
                && !l.starts_with(no_gpu)
                && !l.starts_with("created namespace")
        })
        .collect();
    assert_eq!(
        lines,
        [
            "deploying agent: namespace=gpu-operator",
            "agent deployed successfully",
            &format!("waiting for Job completion: job={job} timeout=5m0s"),
            "job completed successfully",
            "snapshot saved to ConfigMap: uri=cm://gpu-operator/cns-snapshot",
        ],
        "{err}"
    );
    // --cleanup: Job, its pod and the RBAC are gone; the ConfigMap stays.
    let left = k.paths();
    assert!(left.contains(&"/api/v1/namespaces/gpu-operator/configmaps/cns-snapshot".to_string()));
    for gone in [
        "jobs/cns",
        "pods/cns-",
        "serviceaccounts/cns",
        "roles/cns",
        "rolebindings/cns",
        "clusterroles/cns-",
        "clusterrolebindings/cns-",
    ] {
        assert!(
            !left.iter().any(|p| p.contains(gone)),
            "{gone} left: {left:?}"
        );
    }
    let created: Vec<String> = k
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect();
    assert_eq!(
        created.len(),
        1 + 6 + 1,
        "the namespace, 6 agent objects and the ConfigMap: {created:?}"
    );
    // The namespace was made by this run and holds the snapshot: kept, and said.
    assert!(
        err.contains("created namespace gpu-operator (Pod Security: privileged;"),
        "{err}"
    );
    assert!(
        err.contains("agent resources removed except Namespace gpu-operator (made by this run; it holds the snapshot cm://gpu-operator/cns-snapshot)"),
        "{err}"
    );

    // Stage 2 and 3, verbatim on the ConfigMap.
    let o = demo(&[
        "recipe",
        "--snapshot",
        "cm://gpu-operator/cns-snapshot",
        "--intent",
        "training",
        "--output",
        "recipe.yaml",
    ]);
    ok(&o);
    assert!(stderr(&o).contains("service=eks"), "{}", stderr(&o));
    let o = demo(&[
        "validate",
        "--recipe",
        "recipe.yaml",
        "--snapshot",
        "cm://gpu-operator/cns-snapshot",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", describe(&o));

    // The job's node selector is the one given; tolerations default to everything.
    let dry = demo(&[
        "snapshot",
        "--deploy-agent",
        "--namespace",
        "gpu-operator",
        "--image",
        "img:1",
        "--dry-run",
    ]);
    let text = ok(&dry);
    assert!(stderr(&dry).contains("warning: no --node-selector"));
    let docs: Vec<Value> = text
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(yaml)
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
            "Job"
        ]
    );
    assert_eq!(
        docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    let pod = &docs[6]["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"],
        json!({"nvidia.com/gpu.present": "true"})
    );
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(docs[6]["spec"]["backoffLimit"], 0);
    // An amd64 image runs on amd64 nodes only (not on a GB200's Grace CPUs).
    let arch = |pod: &Value| {
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0]
            .clone()
    };
    assert_eq!(
        arch(pod),
        json!({"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]})
    );
    validate_objects(t.path(), &docs);
    let multi = demo(&[
        "snapshot",
        "--deploy-agent",
        "--namespace",
        "gpu-operator",
        "--image",
        "img:1",
        "--image-arch",
        "arm64,amd64",
        "--dry-run",
    ]);
    let job = ok(&multi)
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(yaml)
        .find(|d| d["kind"] == "Job")
        .unwrap();
    assert_eq!(
        arch(&job["spec"]["template"]["spec"])["values"],
        json!(["amd64", "arm64"])
    );

    // Flags that would reach the Job are checked first: exit 2 naming the flag, no objects.
    for (flag, value) in [
        ("--image", "img:1 --privileged"),
        ("--runtime-class", "Nvidia_RT"),
        ("--timeout", "18446744073709551615"),
    ] {
        let mut args = vec!["snapshot", "--deploy-agent", "--namespace", "gpu-operator"];
        if flag != "--image" {
            args.extend(["--image", "img:1"]);
        }
        args.extend([flag, value, "--dry-run"]);
        let o = demo(&args);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", describe(&o));
        assert!(
            stderr(&o).contains(&format!("invalid {flag} ")),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{flag}: nothing printed");
    }
}

#[test]
fn a_failed_or_stuck_agent_is_reported_with_reason_and_log() {
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    k.on_job(|_| JobRun {
        succeeded: false,
        log: "collecting\nerror: cannot write cm://gpu-operator/cns-snapshot: Forbidden (403)\n"
            .into(),
    });
    let agent = |extra: &[&str]| {
        let mut c = cns(t.path());
        c.args(["--kubeconfig"])
            .arg(&kc)
            .args([
                "snapshot",
                "--deploy-agent",
                "--image",
                "img:1",
                "--node-selector",
                "nodeGroup=customer-gpu",
                "--toleration",
                "dedicated=user-workload:NoSchedule",
            ])
            .args(extra);
        run(&mut c)
    };
    let o = agent(&[]);
    fails(&o, 2, "snapshot agent Job gpu-operator/cns-");
    let err = stderr(&o);
    assert!(err.contains(" failed: BackoffLimitExceeded"), "{err}");
    assert!(err.contains("terminated: Error (exit code 2)"), "{err}");
    assert!(
        err.contains("  error: cannot write cm://gpu-operator/cns-snapshot: Forbidden (403)"),
        "{err}"
    );
    // Without --cleanup the Job stays for inspection (its TTL removes it after an hour).
    let jobs: Vec<String> = k
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/apis/batch/v1/namespaces/gpu-operator/jobs/cns-"))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = k.get(&jobs[0]).unwrap();
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    assert_eq!(
        job["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "dedicated", "operator": "Equal", "value": "user-workload", "effect": "NoSchedule"}])
    );
    // A Job that never finishes: the wait gives up at --timeout and says so.
    k.on_job(|_| {
        std::thread::sleep(std::time::Duration::from_secs(30));
        JobRun {
            succeeded: true,
            log: String::new(),
        }
    });
    let o = agent(&["--timeout", "2s"]);
    fails(
        &o,
        2,
        "timed out after 2s waiting for snapshot agent Job gpu-operator/cns-",
    );
    fails(
        &agent(&["--output", "cm://other/x"]),
        2,
        "only write ConfigMaps in its own namespace",
    );
    fails(&agent(&["--timeout", "forever"]), 2, "`forever`");
    let mut c = cns(t.path());
    fails(&run(c.args(["snapshot", "--deploy-agent"])), 2, "--image");
}

/// The agent image builds, runs `cnsctl version` and pushes; then the agent Job's own
/// command line runs inside the image's filesystem (buildah, chroot isolation) with the
/// node's paths mounted where the Job mounts them, the system bus among them: the snapshot
/// it writes to the (test) API server has systemd's readings, with no systemctl in the image.
#[test]
fn agent_image_builds_runs_cnsctl_and_pushes_to_the_loopback_registry() {
    let Some(_) = require_tool("buildah", &[Path::new("/usr/bin")]) else {
        return;
    };
    let Some(reg) = cns_test_support::registry::TestRegistry::start() else {
        return;
    };
    let t = tempdir();
    let root = t.path().join("node");
    let Some(_bus) = systemd_node(&root) else {
        return;
    };
    let tag = "localhost/cnsctl-agent:test";
    let reference = format!("{}/cnsctl-agent:test", reg.addr);
    let o = run(Command::new(repo_file("scripts/agent-image.sh"))
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_cnsctl"),
            "--tag",
            tag,
            "--plain-http",
            "--push",
        ])
        .arg(&reference));
    let out = ok(&o);
    // `cnsctl version` ran inside the image.
    assert!(
        out.contains(&format!("cnsctl {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains(&format!("pushed {reference}")), "{out}");
    // The registry has it: an image manifest with a config and one layer.
    let o = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    let manifest: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(
        manifest["layers"].as_array().map(Vec::len),
        Some(1),
        "{manifest}"
    );

    // The Job's command line, as --dry-run prints it.
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let dry = run(cns(t.path()).env("KUBECONFIG", &kc).args([
        "snapshot",
        "--deploy-agent",
        "--namespace",
        "gpu-operator",
        "--image",
        tag,
        "--node-selector",
        "nodeGroup=customer-gpu",
        "--dry-run",
    ]));
    let docs: Vec<Value> = ok(&dry)
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(yaml)
        .collect();
    let pod = &docs.iter().find(|d| d["kind"] == "Job").unwrap()["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let mounts: Vec<String> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect();
    assert!(mounts.contains(&"/host/run/dbus".to_string()), "{mounts:?}");
    let b = |args: &[&str]| {
        run(Command::new("buildah")
            .args(["--storage-driver", "vfs"])
            .args(args))
    };
    let ctr = ok(&b(&["from", "--quiet", "--pull=never", tag]))
        .trim()
        .to_string();
    let mut args: Vec<String> = vec!["run".into(), "--isolation".into(), "chroot".into()];
    // Each of the Job's host paths, from the test's node root, read-only as in the Job.
    for m in &mounts {
        let host = root.join(m.trim_start_matches("/host/"));
        args.extend(["-v".into(), format!("{}:{m}:ro", host.display())]);
    }
    // The Job reaches the API with its ServiceAccount (in-cluster config, the cluster's CA);
    // here a kubeconfig reaches the test API, and a kubeconfig without a CA makes the client
    // load the system's roots, which the scratch image does not have: the host's are lent.
    args.extend([
        "-v".into(),
        "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro".into(),
        "-v".into(),
        format!("{}:/kubeconfig:ro", kc.display()),
        "--env".into(),
        "KUBECONFIG=/kubeconfig".into(),
        "--env".into(),
        "NODE_NAME=gpu-node-1".into(),
        ctr.clone(),
        "--".into(),
    ]);
    args.extend(
        c["command"]
            .as_array()
            .unwrap()
            .iter()
            .chain(c["args"].as_array().unwrap())
            .map(|a| a.as_str().unwrap().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = b(&args);
    let _ = b(&["rm", &ctr]);
    let _ = b(&["rmi", "-f", tag]);
    ok(&o);
    let cm = k
        .get("/api/v1/namespaces/gpu-operator/configmaps/cns-snapshot")
        .expect("the agent wrote its ConfigMap");
    let snap = yaml(cm["data"]["snapshot.yaml"].as_str().unwrap());
    let containerd =
        reading(&snap, "SystemD", "containerd.service").unwrap_or_else(|| panic!("{snap:#?}"));
    assert_eq!(containerd["Delegate"], "yes");
    assert_eq!(containerd["LimitNOFILE"], "infinity");
    assert!(reading(&snap, "SystemD", "kubelet.service").is_some());
}

#[test]
fn a_snapshot_taken_on_a_real_h100_node_gives_h100_ubuntu() {
    // tests/fixtures/snapshot-h100-node.yaml: `cnsctl snapshot` (release build) on a machine
    // with one H100 80GB HBM3, driver 580.159.04, Ubuntu 24.04 (see the issue 17 note).
    let t = tempdir();
    let fixture = repo_file("tests/fixtures/snapshot-h100-node.yaml");
    let s = yaml(&std::fs::read_to_string(&fixture).unwrap());
    let hw = reading(&s, "GPU", "hardware").unwrap();
    assert_eq!(
        (hw["model"].as_str(), hw["count"].as_u64()),
        (Some("H100 SXM5 80GB"), Some(1))
    );
    assert_eq!(
        reading(&s, "GPU", "driver").unwrap()["version"],
        "580.159.04"
    );
    assert_eq!(
        reading(&s, "GPU", "smi").unwrap()["gpu.model"],
        "NVIDIA H100 80GB HBM3"
    );
    let o = run(cns(t.path())
        .args([
            "recipe",
            "--service",
            "eks",
            "--intent",
            "training",
            "--snapshot",
        ])
        .arg(&fixture));
    ok(&o);
    assert!(
        stderr(&o).contains("accelerator=h100 os=ubuntu"),
        "{}",
        stderr(&o)
    );
    // The same without nvidia-smi's section: the PCI model alone is enough.
    let mut s2 = s.clone();
    for m in s2["measurements"].as_array_mut().unwrap() {
        if let Some(st) = m["subtypes"].as_array_mut() {
            st.retain(|x| x["subtype"] != "smi");
        }
    }
    let f2 = t.path().join("no-smi.yaml");
    std::fs::write(&f2, serde_norway::to_string(&s2).unwrap()).unwrap();
    let o = run(cns(t.path())
        .args([
            "recipe",
            "--service",
            "eks",
            "--intent",
            "training",
            "--snapshot",
        ])
        .arg(&f2));
    ok(&o);
    assert!(stderr(&o).contains("accelerator=h100"), "{}", stderr(&o));
}

#[test]
fn a_snapshot_taken_on_a_real_h200_node_says_its_gpu_has_no_recipe() {
    // tests/fixtures/node-h200/snapshot.yaml: `cnsctl snapshot` (release build) on a machine
    // with one H200, driver 580.159.04, Ubuntu 24.04 (scripts/gpu-node-check.sh).
    let t = tempdir();
    let fixture = repo_file("tests/fixtures/node-h200/snapshot.yaml");
    let recipe = t.path().join("recipe.yaml");
    // Detection alone: the GPU names no accelerator of the recipe data, and that is said.
    let o = run(cns(t.path())
        .args(["recipe", "--intent", "training", "--snapshot"])
        .arg(&fixture)
        .arg("-o")
        .arg(&recipe));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("service=any accelerator=any os=ubuntu")
            && err.contains("the snapshot measured accelerator `NVIDIA H200`")
            && err.contains("pass --accelerator to choose one"),
        "{err}"
    );
    assert!(
        !recipe.exists(),
        "a failed recipe left {}",
        recipe.display()
    );
    // Choosing the accelerator silences that warning; the driver measured there is pinned.
    let o = run(cns(t.path())
        .args([
            "recipe",
            "--service",
            "eks",
            "--accelerator",
            "h100",
            "--intent",
            "training",
            "--snapshot",
        ])
        .arg(&fixture)
        .arg("-o")
        .arg(&recipe));
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains("the snapshot measured"), "{err}");
    assert!(
        err.contains("pinned gpu-operator driver.version=580.159.04"),
        "{err}"
    );
    // The node's OS passes the recipe's OS constraints, and no cluster was there to measure
    // K8s; but the recipe was chosen for an H100 and the node is an H200: validate says so,
    // and skipping the missing reading does not make it pass (issue 34, item 1).
    let o = run(cns(t.path())
        .args(["validate", "--allow-skipped", "--recipe"])
        .arg(&recipe)
        .arg("--snapshot")
        .arg(&fixture));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = stderr(&o);
    assert!(
        err.contains("3 of 4 constraints passed, 0 failed, 1 skipped; 1 criteria contradict"),
        "{err}"
    );
    assert!(
        err.contains("FAIL criterion accelerator: recipe `h100`, snapshot `NVIDIA H200`"),
        "{err}"
    );
    assert!(
        err.contains("PASS criterion os: recipe `ubuntu`, snapshot `ubuntu`"),
        "{err}"
    );
}

#[test]
fn a_failing_collector_is_reported_and_the_others_still_report() {
    let t = tempdir();
    // A kubeconfig whose server refuses connections: the K8s collector fails, alone.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = t.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"),
    )
    .unwrap();
    let out = t.path().join("snap.yaml");
    let o = run(cns(t.path())
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["snapshot", "-o"])
        .arg(&out));
    ok(&o);
    assert!(
        stderr(&o).contains("warning: K8s collector: the Kubernetes API: every read failed (")
            && stderr(&o).contains("server: GET /version:"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("1 collector(s) failed: K8s"),
        "{}",
        stderr(&o)
    );
    let s = yaml(&std::fs::read_to_string(&out).unwrap());
    assert!(
        s["metadata"]["collectorErrors"]["K8s"]
            .as_str()
            .unwrap()
            .contains("GET /version")
    );
    assert!(reading(&s, "OS", "release").is_some());
    assert!(reading(&s, "GPU", "hardware").is_some());
    // --no-kubernetes skips it.
    let o = run(cns(t.path())
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["snapshot", "--no-kubernetes"]));
    assert!(!stderr(&o).contains("K8s"), "{}", stderr(&o));
}

/// Replace the object at `path` on the fake API with `obj`, as another client would (a raw
/// HTTP/1.1 PUT).
fn put_object(base: &str, path: &str, obj: &Value) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let body = obj.to_string();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The server keeps the connection open: read the status line only.
    let mut answer = [0u8; 12];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(
        &answer,
        b"HTTP/1.1 200",
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// The agent never replaces or deletes what it did not make (issue 33, item 7): two runs
/// name their objects each after itself, so neither takes or removes the other's; a
/// ConfigMap at its output that another tool wrote is left as it is; `--cleanup` removes
/// only this run's objects and names what it left.
#[test]
fn the_agent_takes_no_object_it_did_not_make() {
    let agent = [
        "snapshot",
        "--deploy-agent",
        "--namespace",
        "gpu-operator",
        "--image",
        "img:1",
        "--cleanup",
    ];
    // Two runs never collide: each names its objects after itself, and one run's cleanup
    // leaves the other's objects alone.
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let (tt, kk) = (t.path().to_path_buf(), kc.clone());
    k.on_job(move |job| run_agent_locally(&tt, &kk, job));
    let first = run(cns(t.path())
        .env("KUBECONFIG", &kc)
        .args(&agent[..agent.len() - 1]));
    ok(&first);
    let kept = k.paths();
    let mine = |paths: &[String], kind: &str| -> Vec<String> {
        paths
            .iter()
            .filter(|p| p.contains(&format!("/{kind}/cns-")))
            .cloned()
            .collect()
    };
    const KINDS: [&str; 5] = [
        "jobs",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "clusterroles",
    ];
    for kind in KINDS {
        assert_eq!(mine(&kept, kind).len(), 1, "{kind}: {kept:?}");
    }
    ok(&run(cns(t.path()).env("KUBECONFIG", &kc).args(agent)));
    let after = k.paths();
    for kind in KINDS {
        assert_eq!(mine(&after, kind), mine(&kept, kind), "{kind}: {after:?}");
    }
    assert!(
        !k.requests()
            .iter()
            .any(|r| r.starts_with("PUT") && !r.contains("configmaps")),
        "a run replaced another's object: {:?}",
        k.requests()
    );

    // Another tool's ConfigMap at the output: the agent's write is refused, the data kept.
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let (tt, kk) = (t.path().to_path_buf(), kc.clone());
    k.on_job(move |job| run_agent_locally(&tt, &kk, job));
    let cm_path = "/api/v1/namespaces/gpu-operator/configmaps/cns-snapshot";
    let foreign_cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cns-snapshot", "namespace": "gpu-operator"},
        "data": {"owner": "someone else"}});
    k.insert(cm_path, foreign_cm.clone());
    let o = run(cns(t.path()).env("KUBECONFIG", &kc).args(agent));
    fails(
        &o,
        2,
        "cm://gpu-operator/cns-snapshot exists and was not made by cnsctl",
    );
    assert_eq!(k.get(cm_path).unwrap(), foreign_cm);

    // During the run, another run takes the Role over: cleanup leaves it and says so.
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let (tt, kk, base) = (t.path().to_path_buf(), kc.clone(), k.url.clone());
    let role_of = |job: &Value| {
        let name = job["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap()
            .to_string();
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/gpu-operator/roles/{name}"),
            name,
        )
    };
    k.on_job(move |job| {
        let (role_path, name) = role_of(job);
        let mut other = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": "gpu-operator", "labels": {
                "app.kubernetes.io/managed-by": "cnsctl",
                "app.kubernetes.io/component": "snapshot-agent",
                "cns.nvidia.com/agent-run": "another-run"}},
            "rules": []});
        other["metadata"]["resourceVersion"] = json!("1");
        put_object(&base, &role_path, &other);
        run_agent_locally(&tt, &kk, job)
    });
    let o = run(cns(t.path()).env("KUBECONFIG", &kc).args(agent));
    ok(&o);
    assert!(
        stderr(&o).contains("agent resources removed except Role gpu-operator/cns-"),
        "{}",
        stderr(&o)
    );
    let left = k.paths();
    assert_eq!(mine(&left, "roles").len(), 1, "{left:?}");
    for gone in ["jobs", "serviceaccounts", "rolebindings", "clusterroles"] {
        assert!(mine(&left, gone).is_empty(), "{gone} left: {left:?}");
    }
}

/// One HTTP/1.1 request to the test API server: the status code, the `Warning` headers and
/// the body as JSON.
fn api(base: &str, method: &str, path: &str, obj: Option<&Value>) -> (u16, Vec<String>, Value) {
    use std::io::{BufRead, BufReader, Read, Write};
    let addr = base.trim_start_matches("http://");
    let body = obj.map(Value::to_string).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let code: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (mut len, mut warnings) = (0, Vec::new());
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap(),
            "warning" => warnings.push(v.trim().to_string()),
            _ => {}
        }
    }
    let mut out = vec![0; len];
    r.read_exact(&mut out).unwrap();
    (code, warnings, serde_json::from_slice(&out).unwrap())
}

/// The test API server answers as the Kubernetes API reference says the real one does where
/// cnsctl depends on it (see `cns_test_support::kube`): a missing namespace, unknown fields
/// with and without `fieldValidation=Strict`, invalid objects, a second create, deleting a
/// namespace.
#[test]
fn the_test_api_answers_as_the_real_one_where_it_matters() {
    require_tool("kubernetes-validate", &[&repo_file("target/tools/bin")]);
    let k = FakeKube::start();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
    // A namespace that does not exist.
    let (code, _, st) = api(
        &k.url,
        "POST",
        "/api/v1/namespaces/nope/configmaps",
        Some(&cm),
    );
    assert_eq!(code, 404);
    assert_eq!(
        (
            st["kind"].as_str(),
            st["reason"].as_str(),
            st["message"].as_str()
        ),
        (
            Some("Status"),
            Some("NotFound"),
            Some("namespaces \"nope\" not found")
        )
    );
    assert_eq!(st["details"], json!({"name": "nope", "kind": "namespaces"}));
    // Unknown fields: refused under Strict, naming the path; dropped with a warning otherwise.
    let mut odd = cm.clone();
    odd["spec"] = json!({"x": 1});
    let (code, _, st) = api(
        &k.url,
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        Some(&odd),
    );
    assert_eq!(
        (code, st["reason"].as_str()),
        (400, Some("BadRequest")),
        "{st}"
    );
    assert_eq!(
        st["message"],
        "strict decoding error: unknown field \"spec\""
    );
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "i", "imagePolicy": "Always"}]}}}});
    let (code, _, st) = api(
        &k.url,
        "POST",
        "/apis/batch/v1/namespaces/default/jobs?fieldValidation=Strict",
        Some(&job),
    );
    assert_eq!(code, 400, "{st}");
    assert_eq!(
        st["message"],
        "strict decoding error: unknown field \"spec.template.spec.containers[0].imagePolicy\""
    );
    let (code, warnings, stored) = api(
        &k.url,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&odd),
    );
    assert_eq!(code, 201, "{stored}");
    assert_eq!(warnings, ["299 - \"unknown field \\\"spec\\\"\""]);
    assert!(stored.get("spec").is_none(), "{stored}");
    // A second create of the name.
    let (code, _, st) = api(
        &k.url,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&cm),
    );
    assert_eq!((code, st["reason"].as_str()), (409, Some("AlreadyExists")));
    assert_eq!(st["details"], json!({"name": "a", "kind": "configmaps"}));
    // An object its schema refuses: an RBAC rule without verbs.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
    let (code, _, st) = api(
        &k.url,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        Some(&role),
    );
    assert_eq!(
        (code, st["reason"].as_str()),
        (422, Some("Invalid")),
        "{st}"
    );
    assert!(st["message"].as_str().unwrap().contains("rules[0]"), "{st}");
    // Deleting a namespace deletes what is in it.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}});
    assert_eq!(api(&k.url, "POST", "/api/v1/namespaces", Some(&ns)).0, 201);
    assert_eq!(
        api(
            &k.url,
            "POST",
            "/api/v1/namespaces/tmp/configmaps",
            Some(&cm)
        )
        .0,
        201
    );
    assert_eq!(api(&k.url, "DELETE", "/api/v1/namespaces/tmp", None).0, 200);
    assert!(k.get("/api/v1/namespaces/tmp/configmaps/a").is_none());
}

/// `--deploy-agent` into a namespace that does not exist yet (before the GPU Operator is
/// installed, `gpu-operator` does not): the agent makes it, labelled to admit its privileged
/// pod, and `--cleanup` removes it only when it does not hold the snapshot; an existing
/// namespace is left as it is, and one whose Pod Security labels would refuse the agent is
/// said.
#[test]
fn the_agent_makes_its_namespace_and_cleanup_removes_only_what_it_made() {
    let t = tempdir();
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let (tt, kk) = (t.path().to_path_buf(), kc.clone());
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = fail.clone();
    k.on_job(move |job| {
        if f.load(std::sync::atomic::Ordering::SeqCst) {
            return JobRun {
                succeeded: false,
                log: "boom".into(),
            };
        }
        run_agent_locally(&tt, &kk, job)
    });
    let agent = |ns: &str| {
        run(cns(t.path()).env("KUBECONFIG", &kc).args([
            "snapshot",
            "--deploy-agent",
            "--namespace",
            ns,
            "--image",
            "img:1",
            "--node-selector",
            "nodeGroup=customer-gpu",
            "--cleanup",
        ]))
    };
    let o = agent("cns-system");
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("created namespace cns-system (Pod Security: privileged;"),
        "{err}"
    );
    // The snapshot is in it: it stays, and so does the namespace; cleanup says why.
    let ns = k
        .get("/api/v1/namespaces/cns-system")
        .expect("namespace made");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    assert!(
        k.get("/api/v1/namespaces/cns-system/configmaps/cns-snapshot")
            .is_some()
    );
    assert!(
        err.contains("agent resources removed except Namespace cns-system (made by this run; it holds the snapshot cm://cns-system/cns-snapshot)"),
        "{err}"
    );
    assert!(
        !err.lines()
            .any(|l| l.starts_with("warning:") && !l.contains("shows no NVIDIA GPU")),
        "{err}"
    );
    // Every create asked the server to refuse unknown fields.
    for r in k.requests().iter().filter(|r| r.starts_with("POST")) {
        assert!(r.ends_with("fieldValidation=Strict"), "{r}");
    }

    // A failed run wrote no snapshot: cleanup removes the namespace it made.
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = agent("cns-failed");
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        k.get("/api/v1/namespaces/cns-failed").is_none(),
        "{:?}",
        k.paths()
    );
    fail.store(false, std::sync::atomic::Ordering::SeqCst);

    // An existing namespace that enforces `restricted`: left as it is, and said.
    k.insert(
        "/api/v1/namespaces/locked",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "locked",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
    );
    let o = agent("locked");
    let err = stderr(&o);
    assert!(
        err.contains("warning: namespace locked enforces Pod Security `restricted`, which refuses the agent's pod"),
        "{err}"
    );
    let ns = k.get("/api/v1/namespaces/locked").unwrap();
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"pod-security.kubernetes.io/enforce": "restricted"})
    );
    assert!(!err.contains("created namespace"), "{err}");
}

/// What `systemctl show` prints for the units [`cns_test_support::dbus::UNITS`] describes.
const SYSTEMCTL_SHOW: [(&str, &str); 2] = [
    (
        "containerd.service",
        "ActiveState=active\nSubState=running\nLoadState=loaded\nUnitFileState=enabled\nFragmentPath=/usr/lib/systemd/system/containerd.service\nDelegate=yes\nCPUAccounting=yes\nMemoryAccounting=yes\nTasksAccounting=yes\nIOAccounting=no\nLimitNOFILE=infinity\nLimitMEMLOCK=8388608\nTasksMax=infinity\nRestart=always\n",
    ),
    (
        "kubelet.service",
        "ActiveState=active\nSubState=running\nLoadState=loaded\nUnitFileState=enabled\nFragmentPath=/etc/systemd/system/kubelet.service\nDelegate=no\nCPUAccounting=yes\nMemoryAccounting=yes\nTasksAccounting=yes\nIOAccounting=no\nLimitNOFILE=1048576\nLimitMEMLOCK=8388608\nTasksMax=76800\nRestart=always\n",
    ),
];

/// A host root as the agent sees the node: booted with systemd, the system bus's socket
/// under run/dbus (served by a real dbus-daemon with python3-dbusmock's systemd).
fn systemd_node(root: &Path) -> Option<cns_test_support::dbus::MockSystemd> {
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=ubuntu\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu 24.04.3 LTS\"\n",
    )
    .unwrap();
    cns_test_support::dbus::MockSystemd::start(root)
}

/// SystemD readings come over the system bus, with no `systemctl` to run (the agent image
/// has none): the same keys and values `systemctl show` gives, a unit systemd has not loaded
/// (docker) left out.
#[test]
fn systemd_readings_come_over_the_bus_without_systemctl() {
    let t = tempdir();
    let root = t.path().join("node");
    let Some(_bus) = systemd_node(&root) else {
        return;
    };
    // A PATH with cnsctl's neighbours only: no systemctl.
    let o = run(cns(t.path())
        .env("PATH", t.path())
        .args(["snapshot", "--host-root"])
        .arg(&root)
        .args(["--output", "snap.yaml"])
        .current_dir(t.path()));
    ok(&o);
    let snap = yaml(&std::fs::read_to_string(t.path().join("snap.yaml")).unwrap());
    for (unit, shown) in SYSTEMCTL_SHOW {
        let got = reading(&snap, "SystemD", unit).unwrap_or_else(|| panic!("{unit}: {snap:#?}"));
        let want: serde_json::Map<String, Value> = shown
            .lines()
            .map(|l| l.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        assert_eq!(got, &Value::Object(want), "{unit}");
    }
    assert!(reading(&snap, "SystemD", "docker.service").is_none());
}
