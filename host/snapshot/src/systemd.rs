//! The SystemD collector: properties of the container runtime and kubelet units, read with
//! `systemctl show`. A machine not booted with systemd (containers, CI runners) gives an
//! empty measurement, not an error.

use crate::{Paths, Subtypes, subtype};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// Units whose properties are collected, when loaded.
pub const UNITS: &[&str] = &["containerd.service", "docker.service", "kubelet.service"];

/// Properties read per unit: state, where it comes from, and the cgroup settings a kubelet
/// and its runtime need (no timestamps or PIDs: they change on every restart).
pub const PROPERTIES: &[&str] = &[
    "ActiveState",
    "SubState",
    "LoadState",
    "UnitFileState",
    "FragmentPath",
    "Delegate",
    "CPUAccounting",
    "MemoryAccounting",
    "TasksAccounting",
    "IOAccounting",
    "LimitNOFILE",
    "LimitMEMLOCK",
    "TasksMax",
    "Restart",
];

/// Whether the machine was booted with systemd (`sd_booted()`: `/run/systemd/system` exists).
pub fn booted(paths: &Paths) -> bool {
    paths.run.join("systemd/system").is_dir()
}

/// Collect one subtype per loaded unit; empty without systemd.
pub fn collect(paths: &Paths) -> Result<Subtypes, String> {
    if !booted(paths) {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for unit in UNITS {
        let output = Command::new("systemctl")
            .args(["show", unit, "--no-pager"])
            .arg(format!("--property={}", PROPERTIES.join(",")))
            .output()
            .map_err(|e| format!("systemd is running but `systemctl` cannot be run: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`systemctl show {unit}` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let props = parse_show(&String::from_utf8_lossy(&output.stdout));
        if props.get("LoadState").and_then(Value::as_str) == Some("loaded") {
            out.push(subtype(unit, props));
        }
    }
    Ok(out)
}

/// `systemctl show` output (`Key=Value` lines) as a map.
pub fn parse_show(text: &str) -> BTreeMap<String, Value> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_systemd_is_empty_not_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(collect(&Paths::under(d.path())).unwrap(), vec![]);
    }

    #[test]
    fn parses_show_output() {
        let p = parse_show("ActiveState=active\nDelegate=yes\nLimitNOFILE=1048576\n");
        assert_eq!(p["Delegate"], "yes");
        assert_eq!(p.len(), 3);
    }
}
