//! The K8s measurement on a cluster of mixed node pools: every node summarised by pool
//! (`K8s.topology`), a read the API refuses dropping only its own subtype, and
//! `recipe --snapshot … --node-pool NAME` choosing the recipe for one pool — against the
//! loopback test API (`cns_test_support::kube::FakeKube`).

use crate::cluster::{cns, fake_cluster, reading, stderr, yaml};
use crate::util::{fails, ok, tempdir};
use cns_test_support::run;
use serde_json::{Value, json};

/// A node as a managed service reports it: its pool's labels, GPU Feature Discovery's
/// product label, the device plugin's `nvidia.com/gpu` in capacity and allocatable.
fn node(name: &str, labels: Value, gpus: Option<u32>, arch: &str, os: &str, taint: bool) -> Value {
    let mut status = json!({"nodeInfo": {"kubeletVersion": "v1.34.1-eks-113cf36",
        "containerRuntimeVersion": "containerd://2.1.4", "kernelVersion": "6.8.0-1043-aws",
        "osImage": os, "operatingSystem": "linux", "architecture": arch,
        "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeProxyVersion": ""}});
    if let Some(g) = gpus {
        status["capacity"] = json!({"cpu": "192", "nvidia.com/gpu": g.to_string()});
        status["allocatable"] = json!({"cpu": "191", "nvidia.com/gpu": g.to_string()});
    }
    let mut spec = json!({"providerID": format!("aws:///us-east-1e/i-{name}")});
    if taint {
        spec["taints"] =
            json!([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]);
    }
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
        "spec": spec, "status": status})
}

#[test]
fn mixed_pools_are_summarised_and_one_refused_read_drops_only_its_subtype() {
    let t = tempdir();
    let k = fake_cluster();
    let h100 = |n: &str| {
        json!({"eks.amazonaws.com/nodegroup": "gpu-h100", "node.kubernetes.io/instance-type": "p5.48xlarge",
            "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.present": "true",
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n})
    };
    for (name, v) in [
        (
            "ip-10-0-1-1",
            node(
                "ip-10-0-1-1",
                h100("ip-10-0-1-1"),
                Some(8),
                "amd64",
                "Ubuntu 24.04.3 LTS",
                true,
            ),
        ),
        (
            "ip-10-0-1-2",
            node(
                "ip-10-0-1-2",
                h100("ip-10-0-1-2"),
                Some(8),
                "amd64",
                "Ubuntu 24.04.3 LTS",
                true,
            ),
        ),
        (
            "ip-10-0-2-1",
            node(
                "ip-10-0-2-1",
                json!({"karpenter.sh/nodepool": "gb200", "node.kubernetes.io/instance-type": "p6e-gb200.36xlarge",
                    "nvidia.com/gpu.product": "NVIDIA-GB200", "kubernetes.io/arch": "arm64"}),
                Some(4),
                "arm64",
                "Amazon Linux 2023.9.20250929",
                false,
            ),
        ),
        (
            "ip-10-0-0-1",
            node(
                "ip-10-0-0-1",
                json!({"eks.amazonaws.com/nodegroup": "system", "node.kubernetes.io/instance-type": "m7i.2xlarge"}),
                None,
                "amd64",
                "Amazon Linux 2023.9.20250929",
                false,
            ),
        ),
    ] {
        k.insert(&format!("/api/v1/nodes/{name}"), v);
    }
    // The agent's ServiceAccount of an older cnsctl could not list pods: that read fails.
    k.forbid("LIST", "pods");
    let snap = t.path().join("snap.yaml");
    let o = run(cns(t.path())
        .arg("--kubeconfig")
        .arg(k.kubeconfig())
        .env("NODE_NAME", "ip-10-0-1-1")
        .args(["snapshot", "-o"])
        .arg(&snap));
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("warning: K8s.image collector: Pods:") && err.contains("forbidden"),
        "{err}"
    );
    assert!(err.contains("1 collector(s) failed: K8s.image"), "{err}");
    let s = yaml(&std::fs::read_to_string(&snap).unwrap());
    assert!(
        s["metadata"]["collectorErrors"]["K8s.image"]
            .as_str()
            .unwrap()
            .contains("forbidden"),
        "{}",
        s["metadata"]
    );
    assert!(s["metadata"]["collectorErrors"].get("K8s").is_none());
    // The other reads stand: server, the node, the topology, the ClusterPolicy.
    assert!(reading(&s, "K8s", "image").is_none());
    assert!(reading(&s, "K8s", "server").is_some());
    assert_eq!(reading(&s, "K8s", "node").unwrap()["provider"], "eks");
    assert_eq!(
        reading(&s, "K8s", "policy").unwrap()["driver.version"],
        "580.95.05"
    );
    let topo = reading(&s, "K8s", "topology").expect("K8s.topology");
    // fake_cluster's own gpu-node-1 has neither a pool nor an instance-type label.
    assert_eq!(topo["nodes"], 5);
    assert_eq!(topo["gpu-nodes"], 3);
    assert_eq!(topo["gpu-allocatable"], 20);
    for (k, v) in [
        ("gpu-h100.nodes", json!(2)),
        ("gpu-h100.pool-label", json!("eks.amazonaws.com/nodegroup")),
        ("gpu-h100.gpu-product", json!("NVIDIA-H100-80GB-HBM3")),
        ("gpu-h100.gpu-count", json!("8")),
        ("gpu-h100.gpu-allocatable", json!(16)),
        ("gpu-h100.instance-type", json!("p5.48xlarge")),
        (
            "gpu-h100.taints",
            json!("nvidia.com/gpu=present:NoSchedule"),
        ),
        ("gpu-h100.os-image", json!("Ubuntu 24.04.3 LTS")),
        ("gb200.pool-label", json!("karpenter.sh/nodepool")),
        ("gb200.arch", json!("arm64")),
        ("gb200.gpu-allocatable", json!(4)),
        ("system.nodes", json!(1)),
        ("unpooled.nodes", json!(1)),
    ] {
        assert_eq!(topo[k], v, "{k}: {topo}");
    }
    assert!(topo.get("system.gpu-product").is_none(), "{topo}");
    // What it wrote passes the snapshot schema.
    ok(&run(cns(t.path())
        .args(["validate", "--schema"])
        .arg(&snap)));

    // A recipe per pool: GB200 on Amazon Linux from the GB200 pool, though the snapshot
    // ran on an H100 node (whose driver is then not pinned); H100 on Ubuntu from its own.
    let recipe = |pool: &str| {
        run(cns(t.path())
            .args(["recipe", "--intent", "training", "--snapshot"])
            .arg(&snap)
            .args(["--node-pool", pool]))
    };
    let o = recipe("gb200");
    let r = yaml(&ok(&o));
    let c = &r["criteria"];
    assert_eq!(
        (&c["service"], &c["accelerator"], &c["os"]),
        (&json!("eks"), &json!("gb200"), &json!("amazonlinux")),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("detected from node pool gb200 of"),
        "{}",
        stderr(&o)
    );
    let o = recipe("gpu-h100");
    let r = yaml(&ok(&o));
    assert_eq!(r["criteria"]["accelerator"], "h100");
    assert_eq!(r["criteria"]["os"], "ubuntu");
    // An unknown pool names the pools there are; --node-pool without --snapshot is refused.
    let o = recipe("gpu-a100");
    fails(&o, 2, "--node-pool `gpu-a100`");
    assert!(
        stderr(&o).contains("its pools: gb200, gpu-h100, system, unpooled"),
        "{}",
        stderr(&o)
    );
    let o = run(cns(t.path()).args(["recipe", "--node-pool", "gb200"]));
    fails(&o, 2, "--snapshot");
}
