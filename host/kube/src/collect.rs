//! The K8s snapshot collector: the API server's version (`server`), this node's provider,
//! labels, taints and versions (`node`), every node summarised by pool (`topology`), the
//! images of the pods running on it (`image`), and the GPU Operator's ClusterPolicy
//! flattened (`policy`), each read on its own; and [`snapshot`], this node's
//! whole snapshot: the local collectors with this one where a cluster is configured.

use crate::{Cluster, Error, Result};
use cns_snapshot::Readings;
use cns_snapshot::document::Subtype;
use cns_snapshot::subtype;
use cns_snapshot::topology::{GPU_RESOURCE, NodeFacts};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What `snapshot` (without the agent) reads.
#[derive(Debug, Clone)]
pub struct Here<'a> {
    /// Where the node's files are.
    pub paths: cns_snapshot::Paths,
    /// The node's name (`--node`, else [`node_name`]).
    pub node: Option<String>,
    /// `--kubeconfig`.
    pub kubeconfig: Option<&'a std::path::Path>,
    /// Also collect the K8s measurement when a cluster is configured.
    pub kubernetes: bool,
    /// The version of cnsctl that takes it (`metadata.version`).
    pub version: &'a str,
}

/// Take this node's snapshot: GPU, OS and SystemD, and K8s when asked for and a cluster is
/// configured; the metadata says which cnsctl took it, when, and on which node.
pub fn snapshot(here: Here<'_>) -> cns_snapshot::Collected {
    let mut collectors = cns_snapshot::local_collectors(&here.paths);
    if here.kubernetes && crate::config_source(here.kubeconfig).is_some() {
        let (kc, node) = (here.kubeconfig.map(PathBuf::from), here.node.clone());
        collectors.push(cns_snapshot::Collector::partial(
            "K8s",
            std::time::Duration::from_secs(60),
            move || {
                let c = Cluster::connect(kc.as_deref()).map_err(|e| e.to_string())?;
                c.collect_k8s(node.as_deref()).map_err(|e| e.to_string())
            },
        ));
    }
    let mut meta = BTreeMap::new();
    meta.insert("version".to_string(), json!(here.version));
    meta.insert(
        "timestamp".to_string(),
        json!(cns_snapshot::rfc3339_utc(std::time::SystemTime::now())),
    );
    if let Some(n) = here.node {
        meta.insert("source-node".to_string(), Value::String(n));
    }
    cns_snapshot::collect(collectors, meta)
}

/// Which node the collector describes: `NODE_NAME` (the agent Job sets it from the downward
/// API), else the host name, which is the node name on every managed service.
pub fn node_name() -> Option<String> {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
}

/// The managed service a node's `spec.providerID` names.
pub fn provider(provider_id: &str) -> &'static str {
    if provider_id.starts_with("aws://") {
        "eks"
    } else if provider_id.starts_with("gce://") {
        "gke"
    } else if provider_id.starts_with("azure://") {
        "aks"
    } else if provider_id.starts_with("ocid1.") || provider_id.starts_with("oci://") {
        "oke"
    } else {
        "unknown"
    }
}

/// An image reference split into repository and tag or digest (`nginx` → `nginx`, `latest`).
pub fn split_image(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Flatten a JSON tree to `a.b.0.c` keys with scalar values.
pub fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&key(&i.to_string()), v, out)),
        v => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

impl Cluster {
    /// Collect the K8s measurement for `node` (none: no `node` subtype, images of all pods).
    /// Each read stands alone: one the API refuses (RBAC, a CRD not served) drops only its
    /// own subtype, recorded in [`Readings::failed`]; only when every read fails is the
    /// whole measurement an error.
    pub fn collect_k8s(&self, node: Option<&str>) -> Result<Readings> {
        let mut r = Readings::default();
        let mut keep = |name: &str, got: Result<Option<Subtype>>| match got {
            Ok(Some(s)) => r.subtypes.push(s),
            Ok(None) => {}
            Err(e) => {
                r.failed.insert(name.to_string(), e.to_string());
            }
        };
        keep("server", self.server_subtype().map(Some));
        let on_node = match node {
            Some(name) => {
                let nodes: Api<Node> = Api::all(self.client());
                match self.block(nodes.get_opt(name)) {
                    Ok(Some(n)) => {
                        keep("node", Ok(Some(subtype("node", node_data(&n)))));
                        Some(name.to_string())
                    }
                    // Not a node of this cluster (a laptop with a kubeconfig): cluster-wide
                    // data only.
                    Ok(None) => None,
                    Err(e) => {
                        keep("node", Err(Error::kube(format!("Node {name}"), e)));
                        None
                    }
                }
            }
            None => None,
        };
        keep("topology", self.topology_subtype().map(Some));
        keep("image", self.image_subtype(on_node.as_deref()).map(Some));
        keep("policy", self.policy_subtype());
        let tried = r.subtypes.len() + r.failed.len();
        if r.subtypes.is_empty() && tried > 0 {
            let why: Vec<String> = r.failed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            return Err(Error::Transport {
                what: "the Kubernetes API".into(),
                message: format!("every read failed ({})", why.join("; ")),
            });
        }
        Ok(r)
    }

    fn server_subtype(&self) -> Result<Subtype> {
        let v = self
            .block(self.client().apiserver_version())
            .map_err(|e| Error::kube("GET /version", e))?;
        Ok(subtype(
            "server",
            BTreeMap::from([
                ("version".to_string(), json!(v.git_version)),
                ("goVersion".to_string(), json!(v.go_version)),
                ("platform".to_string(), json!(v.platform)),
            ]),
        ))
    }

    /// Every node summarised by pool ([`cns_snapshot::topology`]).
    fn topology_subtype(&self) -> Result<Subtype> {
        let nodes: Api<Node> = Api::all(self.client());
        let list = self
            .block(nodes.list(&ListParams::default()))
            .map_err(|e| Error::kube("Nodes", e))?;
        let facts: Vec<NodeFacts> = list.items.iter().map(node_facts).collect();
        Ok(cns_snapshot::topology::subtype(&facts))
    }

    fn image_subtype(&self, on_node: Option<&str>) -> Result<Subtype> {
        let pods: Api<Pod> = Api::all(self.client());
        let mut lp = ListParams::default();
        if let Some(n) = on_node {
            lp = lp.fields(&format!("spec.nodeName={n}"));
        }
        let list = self
            .block(pods.list(&lp))
            .map_err(|e| Error::kube("Pods", e))?;
        let mut images: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &list.items {
            let Some(spec) = &p.spec else { continue };
            let all = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten());
            for c in all {
                if let Some(img) = &c.image {
                    let (repo, tag) = split_image(img);
                    images.entry(repo).or_default().insert(tag);
                }
            }
        }
        Ok(subtype(
            "image",
            images
                .into_iter()
                .map(|(k, v)| (k, json!(v.into_iter().collect::<Vec<_>>().join(","))))
                .collect(),
        ))
    }

    /// The GPU Operator's ClusterPolicy flattened; none when the CRD is not served (the
    /// operator is not installed) or no policy exists.
    fn policy_subtype(&self) -> Result<Option<Subtype>> {
        let gvk = GroupVersionKind::gvk("nvidia.com", "v1", "ClusterPolicy");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "clusterpolicies");
        let policies: Api<DynamicObject> = Api::all_with(self.client(), &ar);
        match self.block(policies.list(&ListParams::default())) {
            Ok(list) => Ok(list.items.first().map(|p| {
                let mut data = BTreeMap::new();
                data.insert("name".to_string(), json!(p.metadata.name));
                flatten("", p.data.get("spec").unwrap_or(&Value::Null), &mut data);
                data.remove("");
                subtype("policy", data)
            })),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(Error::kube("ClusterPolicies", e)),
        }
    }
}

/// A node as the topology keeps it.
fn node_facts(n: &Node) -> NodeFacts {
    let gpus = |q: Option<&BTreeMap<String, Quantity>>| {
        q.and_then(|m| m.get(GPU_RESOURCE))
            .and_then(|q| q.0.parse::<i64>().ok())
    };
    let status = n.status.as_ref();
    let info = status.and_then(|s| s.node_info.as_ref());
    let spec = n.spec.as_ref();
    NodeFacts {
        labels: n.metadata.labels.clone().unwrap_or_default(),
        taints: spec
            .iter()
            .flat_map(|s| s.taints.iter().flatten())
            .map(|t| match &t.value {
                Some(v) if !v.is_empty() => format!("{}={v}:{}", t.key, t.effect),
                _ => format!("{}:{}", t.key, t.effect),
            })
            .collect(),
        gpu_capacity: gpus(status.and_then(|s| s.capacity.as_ref())),
        gpu_allocatable: gpus(status.and_then(|s| s.allocatable.as_ref())),
        arch: info.map(|i| i.architecture.clone()),
        os_image: info.map(|i| i.os_image.clone()),
        kubelet_version: info.map(|i| i.kubelet_version.clone()),
        provider: spec
            .and_then(|s| s.provider_id.as_deref())
            .map(|p| provider(p).to_string()),
    }
}

fn node_data(n: &Node) -> BTreeMap<String, Value> {
    let mut d = BTreeMap::new();
    d.insert("name".to_string(), json!(n.metadata.name));
    let provider_id = n
        .spec
        .as_ref()
        .and_then(|s| s.provider_id.clone())
        .unwrap_or_default();
    d.insert("provider".into(), json!(provider(&provider_id)));
    d.insert("provider-id".into(), json!(provider_id));
    if let Some(info) = n.status.as_ref().and_then(|s| s.node_info.as_ref()) {
        d.insert("kubelet-version".into(), json!(info.kubelet_version));
        d.insert(
            "container-runtime-version".into(),
            json!(info.container_runtime_version),
        );
        d.insert("kernel-version".into(), json!(info.kernel_version));
        d.insert("os-image".into(), json!(info.os_image));
        d.insert("operating-system".into(), json!(info.operating_system));
        d.insert("architecture".into(), json!(info.architecture));
    }
    for (k, v) in n.metadata.labels.iter().flatten() {
        d.insert(format!("label.{k}"), json!(v));
    }
    for t in n.spec.iter().flat_map(|s| s.taints.iter().flatten()) {
        d.insert(
            format!("taint.{}", t.key),
            json!(format!(
                "{}:{}",
                t.value.clone().unwrap_or_default(),
                t.effect
            )),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_providers() {
        assert_eq!(
            split_image("nvcr.io/nvidia/gpu-operator:v25.10.1"),
            ("nvcr.io/nvidia/gpu-operator".into(), "v25.10.1".into())
        );
        assert_eq!(
            split_image("localhost:5000/x"),
            ("localhost:5000/x".into(), "latest".into())
        );
        assert_eq!(split_image("x@sha256:ab"), ("x".into(), "sha256:ab".into()));
        assert_eq!(provider("aws:///us-east-1a/i-1"), "eks");
        assert_eq!(provider("kind://docker/x"), "unknown");
    }

    #[test]
    fn flattens() {
        let mut out = BTreeMap::new();
        flatten(
            "",
            &json!({"driver": {"enabled": false, "args": ["a"]}}),
            &mut out,
        );
        assert_eq!(out["driver.enabled"], false);
        assert_eq!(out["driver.args.0"], "a");
    }
}
