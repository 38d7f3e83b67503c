//! The cluster's node pools (`K8s.topology`): every node summarised by the pool it belongs
//! to — GPU product, count and allocatable, instance type, architecture, OS image, taints —
//! so a recipe can be chosen for one pool of a cluster with mixed pools; and those pools
//! read back from a snapshot.

use crate::document::{Snapshot, Subtype};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Node labels naming a node's pool, first found wins: EKS managed node groups, eksctl,
/// Karpenter, GKE, AKS.
pub const POOL_LABELS: &[&str] = &[
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "karpenter.sh/nodepool",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
];

/// The instance-type label: a node without a pool label is grouped with the nodes of its
/// instance type.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

/// GPU Feature Discovery's product label (e.g. `NVIDIA-H100-80GB-HBM3`).
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";

/// GPU Feature Discovery's per-node GPU count label.
pub const GPU_COUNT_LABEL: &str = "nvidia.com/gpu.count";

/// The extended resource the device plugin advertises.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The pool name of a node that has neither a pool nor an instance-type label.
pub const NO_POOL: &str = "unpooled";

/// What the topology keeps of one node (not its name: names change with every scale-up,
/// pools do not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFacts {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its taints as `key=value:Effect` (`key:Effect` without a value).
    pub taints: Vec<String>,
    /// `nvidia.com/gpu` in its capacity.
    pub gpu_capacity: Option<i64>,
    /// `nvidia.com/gpu` in its allocatable.
    pub gpu_allocatable: Option<i64>,
    /// `status.nodeInfo.architecture`.
    pub arch: Option<String>,
    /// `status.nodeInfo.osImage`.
    pub os_image: Option<String>,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<String>,
    /// The managed service its provider id names (`eks`, `gke`, …, `unknown`).
    pub provider: Option<String>,
}

impl NodeFacts {
    /// The node's pool and the label that named it.
    pub fn pool(&self) -> (String, &'static str) {
        for l in POOL_LABELS {
            if let Some(v) = self.labels.get(*l).filter(|v| !v.is_empty()) {
                return (v.clone(), l);
            }
        }
        match self.labels.get(INSTANCE_TYPE_LABEL) {
            Some(t) if !t.is_empty() => (t.clone(), INSTANCE_TYPE_LABEL),
            _ => (NO_POOL.to_string(), "none"),
        }
    }
}

/// One pool as the snapshot records it; lists hold each distinct value its nodes have,
/// sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    /// How many nodes.
    pub nodes: u64,
    /// The label that names the pool (`none` for [`NO_POOL`]).
    pub pool_label: String,
    /// GPU products (GPU Feature Discovery's label).
    pub gpu_product: Vec<String>,
    /// GPUs per node (capacity, else GFD's count label).
    pub gpu_count: Vec<String>,
    /// GPUs allocatable, all nodes together.
    pub gpu_allocatable: i64,
    /// Instance types.
    pub instance_type: Vec<String>,
    /// CPU architectures.
    pub arch: Vec<String>,
    /// OS images.
    pub os_image: Vec<String>,
    /// Kubelet versions.
    pub kubelet_version: Vec<String>,
    /// Managed services.
    pub provider: Vec<String>,
    /// Taints any node has.
    pub taints: Vec<String>,
}

/// The fields of a pool, as the keys `{pool}.{field}` name them.
const FIELDS: &[&str] = &[
    "nodes",
    "pool-label",
    "gpu-product",
    "gpu-count",
    "gpu-allocatable",
    "instance-type",
    "arch",
    "os-image",
    "kubelet-version",
    "provider",
    "taints",
];

/// The `topology` subtype: per pool `{pool}.{field}`, and the cluster's `nodes`, `gpu-nodes`
/// and `gpu-allocatable`. Lists are comma-joined, sorted, distinct; a field no node has a
/// value for is left out.
pub fn subtype(nodes: &[NodeFacts]) -> Subtype {
    #[derive(Default)]
    struct Acc {
        nodes: u64,
        label: &'static str,
        sets: BTreeMap<&'static str, BTreeSet<String>>,
        allocatable: Option<i64>,
    }
    let mut pools: BTreeMap<String, Acc> = BTreeMap::new();
    let (mut gpu_nodes, mut allocatable) = (0u64, 0i64);
    for n in nodes {
        let (name, label) = n.pool();
        let a = pools.entry(name).or_default();
        a.nodes += 1;
        a.label = label;
        let mut add = |field: &'static str, v: Option<&String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                a.sets.entry(field).or_default().insert(v.clone());
            }
        };
        add("gpu-product", n.labels.get(GPU_PRODUCT_LABEL));
        let count = n
            .gpu_capacity
            .map(|c| c.to_string())
            .or_else(|| n.labels.get(GPU_COUNT_LABEL).cloned());
        add("gpu-count", count.as_ref());
        add("instance-type", n.labels.get(INSTANCE_TYPE_LABEL));
        add(
            "arch",
            n.arch
                .as_ref()
                .or_else(|| n.labels.get("kubernetes.io/arch")),
        );
        add("os-image", n.os_image.as_ref());
        add("kubelet-version", n.kubelet_version.as_ref());
        add("provider", n.provider.as_ref());
        for t in &n.taints {
            add("taints", Some(t));
        }
        if let Some(g) = n.gpu_allocatable {
            *a.allocatable.get_or_insert(0) += g;
            allocatable += g;
        }
        if n.gpu_capacity.unwrap_or(0) > 0 || n.labels.contains_key(GPU_PRODUCT_LABEL) {
            gpu_nodes += 1;
        }
    }
    let mut data = BTreeMap::new();
    data.insert("nodes".to_string(), json!(nodes.len()));
    data.insert("gpu-nodes".to_string(), json!(gpu_nodes));
    data.insert("gpu-allocatable".to_string(), json!(allocatable));
    for (pool, a) in pools {
        data.insert(format!("{pool}.nodes"), json!(a.nodes));
        data.insert(format!("{pool}.pool-label"), json!(a.label));
        if let Some(g) = a.allocatable {
            data.insert(format!("{pool}.gpu-allocatable"), json!(g));
        }
        for (field, set) in a.sets {
            let joined: Vec<String> = set.into_iter().collect();
            data.insert(format!("{pool}.{field}"), json!(joined.join(",")));
        }
    }
    crate::subtype("topology", data)
}

/// The pools a snapshot's `K8s.topology` records, by name (empty when it has none).
pub fn pools(snapshot: &Snapshot) -> BTreeMap<String, Pool> {
    let mut out: BTreeMap<String, Pool> = BTreeMap::new();
    let data = snapshot
        .measurements
        .iter()
        .filter(|m| m.kind == "K8s")
        .flat_map(|m| &m.subtypes)
        .filter(|s| s.subtype == "topology")
        .flat_map(|s| &s.data);
    for (key, value) in data {
        let Some((pool, field)) = key.rsplit_once('.') else {
            continue;
        };
        if !FIELDS.contains(&field) {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let list = || -> Vec<String> {
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let p = out.entry(pool.to_string()).or_default();
        match field {
            "nodes" => p.nodes = text.parse().unwrap_or(0),
            "pool-label" => p.pool_label = text,
            "gpu-product" => p.gpu_product = list(),
            "gpu-count" => p.gpu_count = list(),
            "gpu-allocatable" => p.gpu_allocatable = text.parse().unwrap_or(0),
            "instance-type" => p.instance_type = list(),
            "arch" => p.arch = list(),
            "os-image" => p.os_image = list(),
            "kubelet-version" => p.kubelet_version = list(),
            "provider" => p.provider = list(),
            _ => p.taints = list(),
        }
    }
    out
}

/// The pool of the node the snapshot was taken on (from its `K8s.node` labels), if it has
/// a `K8s.node` reading.
pub fn own_pool(snapshot: &Snapshot) -> Option<String> {
    let node = snapshot
        .measurements
        .iter()
        .filter(|m| m.kind == "K8s")
        .flat_map(|m| &m.subtypes)
        .find(|s| s.subtype == "node")?;
    let labels = node
        .data
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("label.")?.to_string(),
                v.as_str()?.to_string(),
            ))
        })
        .collect();
    Some(
        NodeFacts {
            labels,
            ..Default::default()
        }
        .pool()
        .0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Measurement;

    fn node(labels: &[(&str, &str)], gpus: Option<i64>) -> NodeFacts {
        NodeFacts {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            gpu_capacity: gpus,
            gpu_allocatable: gpus,
            arch: Some("amd64".into()),
            os_image: Some("Ubuntu 24.04.3 LTS".into()),
            kubelet_version: Some("v1.34.1-eks-3025e55".into()),
            provider: Some("eks".into()),
            ..Default::default()
        }
    }

    /// A cluster of a system pool, two H100 nodes in an EKS node group (one tainted) and
    /// a Karpenter GB200 node: one entry per pool, the totals, and the pools read back.
    #[test]
    fn nodes_are_summarised_by_pool_and_read_back() {
        let h100 = [
            ("eks.amazonaws.com/nodegroup", "gpu-h100"),
            (INSTANCE_TYPE_LABEL, "p5.48xlarge"),
            (GPU_PRODUCT_LABEL, "NVIDIA-H100-80GB-HBM3"),
        ];
        let mut tainted = node(&h100, Some(8));
        tainted.taints = vec!["nvidia.com/gpu=present:NoSchedule".into()];
        let mut gb200 = node(
            &[
                ("karpenter.sh/nodepool", "gb200.nvl72"),
                (GPU_PRODUCT_LABEL, "NVIDIA-GB200"),
            ],
            Some(4),
        );
        gb200.arch = Some("arm64".into());
        let nodes = [
            node(&[(INSTANCE_TYPE_LABEL, "m7i.2xlarge")], None),
            node(&h100, Some(8)),
            tainted,
            gb200,
            node(&[], None),
        ];
        let s = subtype(&nodes);
        assert_eq!(s.subtype, "topology");
        let d = &s.data;
        assert_eq!(d["nodes"], 5);
        assert_eq!(d["gpu-nodes"], 3);
        assert_eq!(d["gpu-allocatable"], 20);
        assert_eq!(d["gpu-h100.nodes"], 2);
        assert_eq!(d["gpu-h100.pool-label"], "eks.amazonaws.com/nodegroup");
        assert_eq!(d["gpu-h100.gpu-allocatable"], 16);
        assert_eq!(d["gpu-h100.gpu-count"], "8");
        assert_eq!(d["gpu-h100.taints"], "nvidia.com/gpu=present:NoSchedule");
        assert_eq!(d["m7i.2xlarge.pool-label"], INSTANCE_TYPE_LABEL);
        assert!(!d.contains_key("m7i.2xlarge.gpu-product"));
        assert_eq!(d["unpooled.pool-label"], "none");
        let snap = Snapshot {
            kind: "Snapshot".into(),
            api_version: crate::API_VERSION.into(),
            metadata: BTreeMap::new(),
            measurements: vec![Measurement {
                kind: "K8s".into(),
                subtypes: vec![s],
            }],
        };
        let p = pools(&snap);
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            ["gb200.nvl72", "gpu-h100", "m7i.2xlarge", "unpooled"]
        );
        let g = &p["gb200.nvl72"];
        assert_eq!(
            (g.nodes, g.gpu_product.as_slice(), g.arch.as_slice()),
            (
                1,
                &["NVIDIA-GB200".to_string()][..],
                &["arm64".to_string()][..]
            )
        );
        assert_eq!(p["gpu-h100"].instance_type, ["p5.48xlarge"]);
        let on = |labels: serde_json::Value| Snapshot {
            measurements: vec![Measurement {
                kind: "K8s".into(),
                subtypes: vec![crate::subtype(
                    "node",
                    serde_json::from_value(labels).unwrap(),
                )],
            }],
            ..snap.clone()
        };
        let own = on(json!({"label.eks.amazonaws.com/nodegroup": "gpu-h100", "label.x": "y"}));
        assert_eq!(own_pool(&own).as_deref(), Some("gpu-h100"));
        assert_eq!(own_pool(&on(json!({}))).as_deref(), Some(NO_POOL));
        assert_eq!(own_pool(&snap), None);
        assert_eq!(p["gpu-h100"].gpu_allocatable, 16);
    }
}
