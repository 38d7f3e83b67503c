//! What a cluster snapshot says about recipe criteria: service, accelerator and OS detected
//! from its readings, and the readings that name no value the recipe data knows.

use crate::criteria::{ACCELERATORS, Criteria, OSES};
use cns_snapshot::document::Snapshot;

/// Criteria detected from the snapshot: service from the Kubernetes version or the node's
/// provider id, accelerator from the GPU model, os from `/etc/os-release` `ID`.
/// Undetectable fields are `any`.
pub fn criteria(snapshot: &Snapshot) -> Criteria {
    detect(snapshot).criteria
}

/// [`criteria`], and a note for each criterion the snapshot measured but that names none of
/// the values the recipe data has settings for (an H200 node, a Debian node): such a field
/// is `any` like an unmeasured one, and a caller should say so rather than resolve a recipe
/// for a different machine in silence.
pub fn detect(snapshot: &Snapshot) -> Detection {
    let mut c = Criteria::default();
    let mut unmatched = Vec::new();
    let version = snapshot.lookup("K8s.server.version").unwrap_or_default();
    let provider = snapshot.lookup("K8s.node.provider-id").unwrap_or_default();
    let node_provider = snapshot.lookup("K8s.node.provider").unwrap_or_default();
    c.service = if version.contains("-eks-")
        || provider.starts_with("aws://")
        || node_provider == "eks"
    {
        "eks"
    } else if version.contains("-gke.") || provider.starts_with("gce://") || node_provider == "gke"
    {
        "gke"
    } else if provider.starts_with("azure://") || node_provider == "aks" {
        "aks"
    } else if provider.starts_with("ocid1.") || node_provider == "oke" {
        "oke"
    } else {
        "any"
    }
    .into();
    // nvidia-smi's product name when it ran; else the model `cnsctl snapshot` derives
    // from the PCI device id (no driver needed).
    let model = snapshot
        .lookup("GPU.smi.gpu.model")
        .or_else(|| snapshot.lookup("GPU.smi.gpu.name"))
        .or_else(|| snapshot.lookup("GPU.hardware.model"))
        .unwrap_or_default();
    c.accelerator = accelerator_of(&model).into();
    if c.accelerator == "any" && !model.is_empty() {
        unmatched.push(Unmatched {
            field: "accelerator",
            measured: model,
            known: ACCELERATORS,
            mixed: false,
        });
    }
    let id = snapshot.lookup("OS.release.ID").unwrap_or_default();
    c.os = match id.as_str() {
        "ubuntu" => "ubuntu",
        "cos" => "cos",
        "amzn" => "amazonlinux",
        "azurelinux" => "azurelinux",
        "ol" => "oraclelinux",
        _ => "any",
    }
    .into();
    if c.os == "any" && !id.is_empty() {
        unmatched.push(Unmatched {
            field: "os",
            measured: format!("ID={id}"),
            known: OSES,
            mixed: false,
        });
    }
    Detection {
        criteria: c,
        unmatched,
    }
}

/// The accelerator a GPU's name names (`NVIDIA H100 80GB HBM3`, GPU Feature Discovery's
/// `NVIDIA-GB200`), `any` for none the recipe data knows.
fn accelerator_of(model: &str) -> &'static str {
    let upper = model.to_ascii_uppercase();
    [("GB200", "gb200"), ("H100", "h100"), ("A100", "a100")]
        .iter()
        .find(|(m, _)| upper.contains(m))
        .map_or("any", |(_, a)| a)
}

/// The OS a node's `status.nodeInfo.osImage` names, `any` for none the recipe data knows.
fn os_of_image(image: &str) -> &'static str {
    let lower = image.to_ascii_lowercase();
    [
        ("ubuntu", "ubuntu"),
        ("container-optimized os", "cos"),
        ("amazon linux", "amazonlinux"),
        ("azure linux", "azurelinux"),
        ("cbl-mariner", "azurelinux"),
        ("oracle linux", "oraclelinux"),
    ]
    .iter()
    .find(|(m, _)| lower.starts_with(m))
    .map_or("any", |(_, o)| o)
}

/// [`detect`] for one node pool of the snapshot's `K8s.topology`
/// ([`cns_snapshot::topology`]): the accelerator from the pool's GPU product, the OS from
/// its nodes' OS image, the service as [`detect`] finds it (or from the pool's provider).
/// The snapshot's own GPU and OS readings are not used: they are of the node the snapshot
/// ran on, which may be in another pool. A pool whose nodes disagree leaves that field
/// `any`, said.
pub fn detect_pool(snapshot: &Snapshot, pool: &str) -> Result<Detection, crate::Error> {
    let pools = cns_snapshot::topology::pools(snapshot);
    let Some(p) = pools.get(pool) else {
        return Err(crate::Error::UnknownPool {
            pool: pool.to_string(),
            known: if pools.is_empty() {
                "none: the snapshot has no K8s.topology (it was taken without a cluster, or \
                 by a cnsctl before node pools were recorded)"
                    .into()
            } else {
                pools.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        });
    };
    let mut d = detect(snapshot);
    d.unmatched.clear();
    if d.criteria.service == "any"
        && let [one] = p.provider.as_slice()
        && crate::criteria::SERVICES.contains(&one.as_str())
    {
        d.criteria.service = one.clone();
    }
    let mut one_of = |field: &'static str,
                      values: &[String],
                      map: fn(&str) -> &'static str,
                      known: &'static [&'static str]| {
        let mapped: std::collections::BTreeSet<&str> = values.iter().map(|v| map(v)).collect();
        match mapped.first() {
            None => "any".to_string(),
            Some(v) if mapped.len() == 1 && *v != "any" => v.to_string(),
            // Nothing the recipe data knows, or nodes that disagree: open, and said.
            Some(_) => {
                d.unmatched.push(Unmatched {
                    field,
                    measured: values.join(", "),
                    known,
                    mixed: mapped.len() > 1,
                });
                "any".to_string()
            }
        }
    };
    let accelerator = one_of("accelerator", &p.gpu_product, accelerator_of, ACCELERATORS);
    let os = one_of("os", &p.os_image, os_of_image, OSES);
    d.criteria.accelerator = accelerator;
    d.criteria.os = os;
    Ok(d)
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The detected criteria (`any` where nothing matched).
    pub criteria: Criteria,
    /// The criteria the snapshot measured a value for that the recipe data does not know.
    pub unmatched: Vec<Unmatched>,
}

/// A measured reading that names no known criterion value.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmatched {
    /// The criterion: `accelerator` or `os`.
    pub field: &'static str,
    /// What the snapshot measured, e.g. `NVIDIA H200` or `ID=debian`.
    pub measured: String,
    /// The values the recipe data has settings for.
    pub known: &'static [&'static str],
    /// A node pool whose nodes measured different values (each in `measured`).
    pub mixed: bool,
}

impl std::fmt::Display for Unmatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.mixed {
            return write!(
                f,
                "the pool's nodes have different {} readings ({}), so {}=any; pass --{} to \
                 choose one",
                self.field, self.measured, self.field, self.field
            );
        }
        write!(
            f,
            "the snapshot measured {} `{}`, which is none of the values the recipe data has \
             settings for ({}), so {}=any; pass --{} to choose one",
            self.field,
            self.measured,
            self.known.join(", "),
            self.field,
            self.field
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SNAP: &str = r#"kind: Snapshot
apiVersion: cns.nvidia.com/v1alpha1
metadata: {source-node: n1}
measurements:
  - type: K8s
    subtypes:
      - subtype: server
        data: {version: v1.34.1-eks-3025e55}
      - subtype: node
        data: {provider-id: "aws:///us-east-1e/i-0"}
  - type: OS
    subtypes:
      - subtype: release
        data: {ID: ubuntu, VERSION_ID: "24.04"}
      - subtype: sysctl
        data: {/proc/sys/kernel/osrelease: 6.8.0-1043-aws}
  - type: GPU
    subtypes:
      - subtype: smi
        data: {gpu.model: NVIDIA H100 80GB HBM3, gpu-count: 8}
"#;

    #[test]
    fn detect_from_the_readings() {
        let s = Snapshot::from_yaml("s.yaml", SNAP).unwrap();
        assert_eq!(
            criteria(&s).to_string(),
            "service=eks accelerator=h100 os=ubuntu intent=any"
        );
    }

    #[test]
    fn gpu_name_and_the_successors_format() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: aicr.run/v1alpha2\nmeasurements:\n- type: GPU\n  subtypes:\n  - subtype: smi\n    data: {gpu.name: NVIDIA GB200, driver: 580.95.05}\n",
        )
        .unwrap();
        assert_eq!(criteria(&s).accelerator, "gb200");
        assert_eq!(s.driver_version().unwrap().0, "580.95.05");
    }

    #[test]
    fn accelerator_from_pci_model_without_nvidia_smi() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements:\n- type: GPU\n  subtypes:\n  - subtype: hardware\n    data: {present: true, count: 1, model: H100 SXM5 80GB}\n",
        )
        .unwrap();
        assert_eq!(criteria(&s).accelerator, "h100");
    }

    /// What the snapshot collector measured on a real H200 node (Ubuntu) and on this Debian
    /// build machine: neither GPU nor OS is in the recipe data, and detection says so.
    #[test]
    fn unknown_gpu_and_os_are_named() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements:\n- type: GPU\n  subtypes:\n  - subtype: hardware\n    data: {present: true, count: 1, model: H200 SXM 141GB}\n  - subtype: smi\n    data: {gpu.model: NVIDIA H200}\n- type: OS\n  subtypes:\n  - subtype: release\n    data: {ID: debian}\n",
        )
        .unwrap();
        let d = detect(&s);
        assert_eq!(
            d.criteria.to_string(),
            "service=any accelerator=any os=any intent=any"
        );
        let notes: Vec<String> = d.unmatched.iter().map(ToString::to_string).collect();
        assert_eq!(
            notes,
            [
                "the snapshot measured accelerator `NVIDIA H200`, which is none of the values \
                 the recipe data has settings for (a100, gb200, h100), so accelerator=any; \
                 pass --accelerator to choose one",
                "the snapshot measured os `ID=debian`, which is none of the values the recipe \
                 data has settings for (amazonlinux, azurelinux, cos, oraclelinux, ubuntu), so \
                 os=any; pass --os to choose one"
            ]
        );
        // A snapshot that measured neither has nothing to say.
        let bare = Snapshot::from_yaml(
            "s.yaml",
            "kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements: []\n",
        )
        .unwrap();
        assert!(detect(&bare).unmatched.is_empty());
        assert!(
            detect(&Snapshot::from_yaml("s.yaml", SNAP).unwrap())
                .unmatched
                .is_empty()
        );
    }

    /// A cluster with a GB200 pool and an H100 pool, the snapshot taken on the H100 node:
    /// each pool detects as itself; a pool of mixed GPUs or an unknown pool is said.
    #[test]
    fn a_node_pool_detects_as_itself() {
        let s = Snapshot::from_yaml(
            "s.yaml",
            &format!(
                "{SNAP}  - type: K8s\n    subtypes:\n      - subtype: topology\n        data:\n          gb200.nodes: 2\n          gb200.gpu-product: NVIDIA-GB200\n          gb200.os-image: Ubuntu 24.04.3 LTS\n          gb200.provider: eks\n          mixed.nodes: 2\n          mixed.gpu-product: NVIDIA-A100-SXM4-80GB,NVIDIA-H100-80GB-HBM3\n          mixed.os-image: Amazon Linux 2023.9.20250929\n"
            ),
        )
        .unwrap();
        let d = detect_pool(&s, "gb200").unwrap();
        assert_eq!(
            d.criteria.to_string(),
            "service=eks accelerator=gb200 os=ubuntu intent=any"
        );
        assert!(d.unmatched.is_empty());
        let d = detect_pool(&s, "mixed").unwrap();
        assert_eq!(
            (d.criteria.accelerator.as_str(), d.criteria.os.as_str()),
            ("any", "amazonlinux")
        );
        assert_eq!(
            d.unmatched[0].to_string(),
            "the pool's nodes have different accelerator readings (NVIDIA-A100-SXM4-80GB, \
             NVIDIA-H100-80GB-HBM3), so accelerator=any; pass --accelerator to choose one"
        );
        let e = detect_pool(&s, "gpu").unwrap_err().to_string();
        assert_eq!(
            e,
            "--node-pool `gpu`: the snapshot has no such node pool; its pools: gb200, mixed"
        );
        let bare = Snapshot::from_yaml("s.yaml", SNAP).unwrap();
        assert!(
            detect_pool(&bare, "gb200")
                .unwrap_err()
                .to_string()
                .contains("the snapshot has no K8s.topology")
        );
    }
}
