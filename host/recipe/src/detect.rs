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
    let upper = model.to_ascii_uppercase();
    c.accelerator = ["GB200", "H100", "A100"]
        .iter()
        .find(|m| upper.contains(*m))
        .map_or("any".into(), |m| m.to_ascii_lowercase());
    if c.accelerator == "any" && !model.is_empty() {
        unmatched.push(Unmatched {
            field: "accelerator",
            measured: model,
            known: ACCELERATORS,
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
        });
    }
    Detection {
        criteria: c,
        unmatched,
    }
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
}

impl std::fmt::Display for Unmatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
}
