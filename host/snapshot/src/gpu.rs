//! The GPU collector: NVIDIA devices from PCI sysfs (`hardware`, no driver needed), the loaded
//! kernel driver from `/proc/driver/nvidia/version` (`driver`), and `nvidia-smi -q -x` when it
//! is installed (`smi`: model, CUDA version, MIG mode, memory). A node without a GPU gives a
//! valid measurement that says so (`hardware.present: false`).

use crate::{Paths, Subtypes, read, subtype};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// NVIDIA's PCI vendor id.
pub const NVIDIA_VENDOR: &str = "0x10de";

/// Data-centre GPU models by PCI device id (from the PCI ID repository's list for vendor
/// 10de). An id not listed is reported as `unknown (0x…)`.
pub const MODELS: &[(&str, &str)] = &[
    ("0x1db1", "V100 SXM2 16GB"),
    ("0x1db5", "V100 SXM2 32GB"),
    ("0x1db6", "V100 PCIe 32GB"),
    ("0x1eb8", "T4"),
    ("0x20b0", "A100 SXM4 40GB"),
    ("0x20b2", "A100 SXM4 80GB"),
    ("0x20b5", "A100 PCIe 80GB"),
    ("0x20f1", "A100 PCIe 40GB"),
    ("0x2236", "A10"),
    ("0x2321", "H100 NVL"),
    ("0x2322", "H800 PCIe"),
    ("0x2324", "H800"),
    ("0x2330", "H100 SXM5 80GB"),
    ("0x2331", "H100 PCIe"),
    ("0x2335", "H200 SXM 141GB"),
    ("0x233b", "H200 NVL"),
    ("0x2342", "GH200"),
    ("0x26b5", "L40"),
    ("0x26b9", "L40S"),
    ("0x27b8", "L4"),
    ("0x2901", "B200"),
    ("0x2941", "GB200"),
];

/// One NVIDIA PCI function: display or 3D controller (class 0x03xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciGpu {
    /// Bus address, e.g. `0000:00:06.0`.
    pub address: String,
    /// Device id, e.g. `0x2330`.
    pub device: String,
    /// NUMA node (`-1` when the platform reports none).
    pub numa_node: i64,
}

/// The model name for a PCI device id.
pub fn model_of(device: &str) -> String {
    let device = device.to_ascii_lowercase();
    MODELS
        .iter()
        .find(|(id, _)| *id == device)
        .map_or_else(|| format!("unknown ({device})"), |(_, m)| (*m).to_string())
}

/// NVIDIA GPUs under a PCI sysfs devices directory (`/sys/bus/pci/devices`), sorted by
/// address. NVSwitches (class 0x0680) and audio functions are not GPUs.
pub fn scan_pci(devices: &Path) -> Vec<PciGpu> {
    let Ok(entries) = std::fs::read_dir(devices) else {
        return vec![];
    };
    let attr = |dir: &PathBuf, name: &str| read(&dir.join(name)).map(|s| s.trim().to_string());
    let mut gpus: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|dir| attr(dir, "vendor").as_deref() == Some(NVIDIA_VENDOR))
        .filter(|dir| attr(dir, "class").is_some_and(|c| c.starts_with("0x03")))
        .map(|dir| PciGpu {
            address: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            device: attr(&dir, "device")
                .unwrap_or_default()
                .to_ascii_lowercase(),
            numa_node: attr(&dir, "numa_node")
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1),
        })
        .collect();
    gpus.sort_by(|a, b| a.address.cmp(&b.address));
    gpus
}

/// Amazon's PCI vendor ID; its Elastic Fabric Adapter devices are 0xefa0 to 0xefa3 (EFA
/// generations 1 to 4, as the Linux kernel's efa driver lists them in efa_main.c).
pub const AMAZON_VENDOR: &str = "0x1d0f";

/// The `fabric` subtype: the inter-node fabric devices NCCL uses next to the GPUs, from the
/// same PCI scan (`efa-count`: Elastic Fabric Adapter interfaces).
pub fn fabric(devices: &Path) -> BTreeMap<String, Value> {
    let attr =
        |dir: &Path, name: &str| read(&dir.join(name)).map(|s| s.trim().to_ascii_lowercase());
    let efa = std::fs::read_dir(devices)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|dir| attr(dir, "vendor").as_deref() == Some(AMAZON_VENDOR))
        .filter(|dir| {
            attr(dir, "device")
                .is_some_and(|d| ["0xefa0", "0xefa1", "0xefa2", "0xefa3"].contains(&d.as_str()))
        })
        .count();
    BTreeMap::from([
        ("efa-count".to_string(), json!(efa)),
        ("detection-source".to_string(), json!("pci-sysfs")),
    ])
}

/// The `hardware` subtype from the PCI scan.
pub fn hardware(gpus: &[PciGpu]) -> BTreeMap<String, Value> {
    let mut d = BTreeMap::new();
    d.insert("present".into(), json!(!gpus.is_empty()));
    d.insert("count".into(), json!(gpus.len()));
    d.insert("detection-source".into(), json!("pci-sysfs"));
    if let Some(first) = gpus.first() {
        let models: BTreeSet<_> = gpus.iter().map(|g| model_of(&g.device)).collect();
        let devices: BTreeSet<_> = gpus.iter().map(|g| g.device.clone()).collect();
        let numa: BTreeSet<_> = gpus.iter().map(|g| g.numa_node).collect();
        d.insert("model".into(), json!(model_of(&first.device)));
        if models.len() > 1 {
            d.insert("models".into(), json!(join(&models)));
        }
        d.insert("device-id".into(), json!(join(&devices)));
        d.insert(
            "numa-nodes".into(),
            json!(join(&numa.iter().map(i64::to_string).collect())),
        );
    }
    d
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

/// `/proc/driver/nvidia/version` → the `driver` subtype (version, open or proprietary module).
pub fn parse_driver_version(text: &str) -> BTreeMap<String, Value> {
    let mut d = BTreeMap::new();
    let first = text.lines().next().unwrap_or_default();
    let version = first.split_whitespace().find(|w| {
        w.split('.').count() >= 2
            && w.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    d.insert("loaded".into(), json!(true));
    if let Some(v) = version {
        d.insert("version".into(), json!(v));
    }
    d.insert(
        "kernel-module".into(),
        json!(if first.contains("Open Kernel Module") {
            "open"
        } else {
            "proprietary"
        }),
    );
    d
}

/// `nvidia-smi -q -x` → the `smi` subtype (the predecessor's keys: `gpu.model`, `gpu-count`,
/// `driver`, `cuda-version`, …). The first line may be the path of nvidia-smi, as some
/// wrappers print it; parsing starts at `<?xml`.
pub fn parse_smi_xml(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let start = text.find("<?xml").unwrap_or(0);
    // roxmltree refuses DTDs by default; nvidia-smi names one without content.
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text[start..], opts)
        .map_err(|e| format!("nvidia-smi -q -x gave unparsable XML: {e}"))?;
    let root = doc.root_element();
    let child = |n: roxmltree::Node<'_, '_>, path: &str| -> Option<String> {
        let mut cur = n;
        for part in path.split('/') {
            cur = cur.children().find(|c| c.has_tag_name(part))?;
        }
        cur.text()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t != "N/A")
    };
    let mut d = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            d.insert(k.to_string(), json!(v));
        }
    };
    put("driver", child(root, "driver_version"));
    put("cuda-version", child(root, "cuda_version"));
    put("gpu-count", child(root, "attached_gpus"));
    let gpus: Vec<_> = root.children().filter(|c| c.has_tag_name("gpu")).collect();
    if let Some(g) = gpus.first() {
        put("gpu.model", child(*g, "product_name"));
        put("gpu.architecture", child(*g, "product_architecture"));
        put("gpu.memory", child(*g, "fb_memory_usage/total"));
        put("gpu.vbios", child(*g, "vbios_version"));
        put("mig.mode", child(*g, "mig_mode/current_mig"));
        put("persistence-mode", child(*g, "persistence_mode"));
        put("gpu.device-id", child(*g, "pci/pci_device_id"));
    }
    if d.is_empty() {
        return Err("nvidia-smi -q -x gave no GPU data".into());
    }
    Ok(d)
}

/// Where nvidia-smi is looked for besides PATH: the GPU Operator's driver container and the
/// NVIDIA container toolkit put it in these.
const SMI_DIRS: &[&str] = &[
    "/usr/local/nvidia/bin",
    "/usr/bin",
    "/run/nvidia/driver/usr/bin",
];

fn find_smi() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SMI_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join("nvidia-smi"))
        .find(|p| p.is_file())
}

/// Collect the GPU measurement.
pub fn collect(paths: &Paths) -> Result<Subtypes, String> {
    let devices = paths.sys.join("bus/pci/devices");
    let gpus = scan_pci(&devices);
    let mut out = vec![subtype("hardware", hardware(&gpus))];
    let driver = match read(&paths.proc.join("driver/nvidia/version")) {
        Some(t) => parse_driver_version(&t),
        None => BTreeMap::from([("loaded".to_string(), json!(false))]),
    };
    out.push(subtype("driver", driver));
    if let Some(smi) = find_smi().filter(|_| !gpus.is_empty()) {
        let output = Command::new(&smi)
            .args(["-q", "-x"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", smi.display()))?;
        if !output.status.success() {
            return Err(format!(
                "`{} -q -x` failed ({}): {}",
                smi.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout).trim()
            ));
        }
        out.push(subtype(
            "smi",
            parse_smi_xml(&String::from_utf8_lossy(&output.stdout))?,
        ));
    }
    if devices.is_dir() {
        out.push(subtype("fabric", fabric(&devices)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::tests::reference;

    #[test]
    fn efa_interfaces_are_counted_from_pci() {
        let t = tempfile::tempdir().unwrap();
        for (addr, vendor, device) in [
            ("0000:10:00.0", "0x1d0f", "0xefa1"),
            ("0000:11:00.0", "0x1d0f", "0xEFA2"),
            ("0000:12:00.0", "0x1d0f", "0x8061"), // an ENA network interface, not EFA
            ("0000:13:00.0", "0x10de", "0x2330"),
        ] {
            let d = t.path().join(addr);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("device"), format!("{device}\n")).unwrap();
        }
        assert_eq!(fabric(t.path())["efa-count"], json!(2));
        assert_eq!(fabric(&t.path().join("none"))["efa-count"], json!(0));
    }

    #[test]
    fn smi_xml_of_the_h100_node() {
        let d = parse_smi_xml(&reference("nvidia-smi-q.xml")).unwrap();
        assert_eq!(d["gpu.model"], "NVIDIA H100 80GB HBM3");
        assert_eq!(d["driver"], "580.159.04");
        assert_eq!(d["cuda-version"], "13.0");
        assert_eq!(d["gpu-count"], "1");
        assert_eq!(d["mig.mode"], "Disabled");
        assert_eq!(d["gpu.memory"], "81559 MiB");
        assert_eq!(d["gpu.architecture"], "Hopper");
        assert!(parse_smi_xml("<nvidia_smi_log></nvidia_smi_log>").is_err());
        assert!(parse_smi_xml("not xml").is_err());
    }

    #[test]
    fn driver_version_of_the_h100_node() {
        let d = parse_driver_version(&reference("driver-version.txt"));
        assert_eq!(d["version"], "580.159.04");
        assert_eq!(d["kernel-module"], "open");
        assert_eq!(d["loaded"], true);
    }

    /// A fixture of the real H200 node captured by `scripts/gpu-node-check.sh`.
    fn h200(name: &str) -> String {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/node-h200/"
        );
        std::fs::read_to_string(format!("{p}{name}")).unwrap_or_else(|e| panic!("{p}{name}: {e}"))
    }

    /// Builds a sysfs tree under `root` from `pci-nvidia.txt` lines
    /// (`ADDR vendor=… device=… class=… subsys=… numa=…`) and returns its devices folder.
    fn pci_tree(root: &Path, lines: &[String]) -> PathBuf {
        let devices = root.join("sys/bus/pci/devices");
        for l in lines {
            let mut words = l.split_whitespace();
            let dir = devices.join(words.next().unwrap());
            std::fs::create_dir_all(&dir).unwrap();
            for w in words {
                let (k, v) = w.split_once('=').unwrap();
                let file = if k == "numa" { "numa_node" } else { k };
                std::fs::write(dir.join(file), format!("{v}\n")).unwrap();
            }
        }
        devices
    }

    /// The reference node's PCI functions, plus an NVSwitch and a NIC.
    #[test]
    fn pci_scan_of_the_h100_node() {
        let d = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = reference("pci-nvidia.txt")
            .lines()
            .map(String::from)
            .collect();
        lines.push("0000:07:00.0 vendor=0x10de device=0x22a3 class=0x068000 numa=0".into());
        lines.push("0000:08:00.0 vendor=0x15b3 device=0x1021 class=0x020000 numa=0".into());
        let gpus = scan_pci(&pci_tree(d.path(), &lines));
        assert_eq!(
            gpus,
            [PciGpu {
                address: "0000:00:06.0".into(),
                device: "0x2330".into(),
                numa_node: -1
            }]
        );
        let h = hardware(&gpus);
        assert_eq!(h["present"], true);
        assert_eq!(h["count"], 1);
        assert_eq!(h["model"], "H100 SXM5 80GB");
        assert_eq!(h["numa-nodes"], "-1");
        // The whole collector on that tree: no driver file, nvidia-smi only if installed.
        let got = collect(&Paths::under(d.path())).unwrap();
        assert_eq!(got[0].subtype, "hardware");
        assert_eq!(got[1].data["loaded"], false);
        let fabric = got.iter().find(|s| s.subtype == "fabric").unwrap();
        assert_eq!(fabric.data["efa-count"], 0);
    }

    /// What the real H200 node's driver and nvidia-smi said, read as the collector reads it
    /// there; `snapshot.yaml` beside the fixtures is what the collector wrote on that node.
    #[test]
    fn the_h200_node() {
        let smi = parse_smi_xml(&h200("nvidia-smi-q.xml")).unwrap();
        assert_eq!(smi["gpu.model"], "NVIDIA H200");
        assert_eq!(smi["gpu.architecture"], "Hopper");
        assert_eq!(smi["gpu.memory"], "143771 MiB");
        assert_eq!(smi["gpu.device-id"], "233510DE");
        assert_eq!(smi["cuda-version"], "13.0");
        assert_eq!(smi["driver"], "580.159.04");
        assert_eq!(smi["mig.mode"], "Disabled");
        let d = tempfile::tempdir().unwrap();
        let lines: Vec<String> = h200("pci-nvidia.txt").lines().map(String::from).collect();
        pci_tree(d.path(), &lines);
        std::fs::create_dir_all(d.path().join("proc/driver/nvidia")).unwrap();
        std::fs::write(
            d.path().join("proc/driver/nvidia/version"),
            h200("driver-version.txt"),
        )
        .unwrap();
        let got = collect(&Paths::under(d.path())).unwrap();
        assert_eq!(got[0].data["model"], "H200 SXM 141GB");
        assert_eq!(got[0].data["device-id"], "0x2335");
        assert_eq!(got[1].data["version"], "580.159.04");
        assert_eq!(got[1].data["kernel-module"], "open");
        // The snapshot taken on the node holds the same readings.
        let snap = h200("snapshot.yaml");
        for line in [
            "model: H200 SXM 141GB",
            "kernel-module: open",
            "gpu.model: NVIDIA H200",
            "gpu.memory: 143771 MiB",
        ] {
            assert!(snap.contains(line), "snapshot.yaml lacks `{line}`");
        }
    }

    #[test]
    fn no_gpu_is_a_valid_measurement() {
        let d = tempfile::tempdir().unwrap();
        let got = collect(&Paths::under(d.path())).unwrap();
        assert_eq!(got[0].data["present"], false);
        assert_eq!(got[0].data["count"], 0);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn unknown_device_ids_are_named_as_such() {
        assert_eq!(model_of("0x2330"), "H100 SXM5 80GB");
        assert_eq!(model_of("0xFFFF"), "unknown (0xffff)");
    }
}
