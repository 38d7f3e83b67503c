//! The OS collector: `/etc/os-release` (`release`), the kernel command line (`grub`), loaded
//! kernel modules (`kmod`) and the `/proc/sys` keys GPU recipes care about (`sysctl`).

use crate::{Paths, Subtypes, read, subtype};
use serde_json::Value;
use std::collections::BTreeMap;

/// The `/proc/sys` keys read for the `sysctl` subtype: the kernel release (recipes constrain
/// it), the machine architecture (`x86_64`, or `aarch64` on Grace nodes) and the settings GPU and RDMA workloads are tuned by (NUMA balancing, huge pages,
/// memory maps, socket buffers, inotify limits, forwarding for CNI).
pub const SYSCTL_KEYS: &[&str] = &[
    "kernel/osrelease",
    "kernel/arch",
    "kernel/numa_balancing",
    "kernel/pid_max",
    "vm/nr_hugepages",
    "vm/swappiness",
    "vm/max_map_count",
    "vm/overcommit_memory",
    "net/core/rmem_max",
    "net/core/wmem_max",
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "fs/inotify/max_user_instances",
    "fs/inotify/max_user_watches",
    "fs/file-max",
];

/// Collect the OS measurement. A missing os-release is an error (every supported node OS
/// has one); the other sources are read when present.
pub fn collect(paths: &Paths) -> Result<Subtypes, String> {
    let release = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|rel| {
            // `/etc/os-release` under the (possibly mounted) etc; the fallback under its parent.
            let p = match rel.strip_prefix("etc/") {
                Some(f) => paths.etc.join(f),
                None => paths.etc.join("..").join(rel),
            };
            read(&p)
        })
        .ok_or_else(|| format!("cannot read {}/os-release", paths.etc.display()))?;
    let mut out = vec![subtype("release", parse_os_release(&release))];
    if let Some(cmdline) = read(&paths.proc.join("cmdline")) {
        out.push(subtype("grub", parse_cmdline(&cmdline)));
    }
    if let Some(modules) = read(&paths.proc.join("modules")) {
        out.push(subtype("kmod", parse_modules(&modules)));
    }
    out.push(subtype("sysctl", read_sysctl(paths)));
    Ok(out)
}

/// `/etc/os-release` as key → value, quotes and escapes removed, comments skipped.
pub fn parse_os_release(text: &str) -> BTreeMap<String, Value> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = if v.len() >= 2
                && (v.starts_with('"') && v.ends_with('"')
                    || v.starts_with('\'') && v.ends_with('\''))
            {
                v[1..v.len() - 1]
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else {
                v.to_string()
            };
            (k.trim().to_string(), Value::String(unquoted))
        })
        .collect()
}

/// The kernel command line as key → value (`""` for a bare flag such as `quiet`). Words
/// after `--` are arguments of init, not kernel parameters.
pub fn parse_cmdline(text: &str) -> BTreeMap<String, Value> {
    text.split_whitespace()
        .take_while(|w| *w != "--")
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (
                k.to_string(),
                Value::String(v.trim_matches('"').to_string()),
            ),
            None => (w.to_string(), Value::String(String::new())),
        })
        .collect()
}

/// `/proc/modules` as module → `true` (loaded).
pub fn parse_modules(text: &str) -> BTreeMap<String, Value> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|m| (m.to_string(), Value::Bool(true)))
        .collect()
}

fn read_sysctl(paths: &Paths) -> BTreeMap<String, Value> {
    SYSCTL_KEYS
        .iter()
        .filter_map(|k| {
            let v = read(&paths.proc.join("sys").join(k))?;
            Some((
                format!("/proc/sys/{k}"),
                Value::String(v.trim().replace('\t', " ")),
            ))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn reference(name: &str) -> String {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/node-h100/"
        );
        std::fs::read_to_string(format!("{p}{name}")).unwrap_or_else(|e| panic!("{p}{name}: {e}"))
    }

    #[test]
    fn os_release_of_the_h100_node() {
        let r = parse_os_release(&reference("os-release.txt"));
        assert_eq!(r["ID"], "ubuntu");
        assert_eq!(r["VERSION_ID"], "24.04");
        assert_eq!(r["PRETTY_NAME"], "Ubuntu 24.04.3 LTS");
        assert_eq!(r["VERSION_CODENAME"], "noble");
    }

    #[test]
    fn cmdline_flags_and_values() {
        let c =
            parse_cmdline("BOOT_IMAGE=/vmlinuz ro quiet iommu=pt hugepagesz=1G -- --init-arg\n");
        assert!(!c.contains_key("--init-arg"));
        assert_eq!(c["iommu"], "pt");
        assert_eq!(c["quiet"], "");
        assert_eq!(c["hugepagesz"], "1G");
    }

    #[test]
    fn modules_of_the_h100_node() {
        let m = parse_modules(&reference("modules.txt"));
        assert_eq!(m.get("nvidia"), Some(&Value::Bool(true)));
        assert_eq!(m.get("nvidia_uvm"), Some(&Value::Bool(true)));
    }

    #[test]
    fn reads_a_fake_tree() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::create_dir_all(d.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(
            d.path().join("etc/os-release"),
            "ID=amzn\nVERSION_ID=\"2023\"\n",
        )
        .unwrap();
        std::fs::write(d.path().join("proc/sys/kernel/osrelease"), "6.1.0\n").unwrap();
        std::fs::write(d.path().join("proc/modules"), "nvidia 1 0 - Live 0x0\n").unwrap();
        let got = collect(&Paths::under(d.path())).unwrap();
        let names: Vec<_> = got.iter().map(|s| s.subtype.as_str()).collect();
        assert_eq!(names, ["release", "kmod", "sysctl"]);
        assert_eq!(got[0].data["VERSION_ID"], "2023");
        assert_eq!(got[2].data["/proc/sys/kernel/osrelease"], "6.1.0");
        std::fs::remove_file(d.path().join("etc/os-release")).unwrap();
        assert!(
            collect(&Paths::under(d.path()))
                .unwrap_err()
                .contains("os-release")
        );
    }
}
