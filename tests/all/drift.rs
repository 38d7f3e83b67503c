//! `diff` for people and machines, on the snapshot a real H100 node gave: a table cut to the
//! terminal's width (`--wide` whole), each change with its severity, volatile readings left
//! out unless asked for, and `--format json-patch` checked by an independent RFC 6902
//! implementation (Debian's `jsonpatch`, python3-jsonpatch) that applies it to the baseline.

use crate::cluster::{cns, stderr, yaml};
use crate::util::{repo_file, tempdir};
use cns_test_support::{describe, require_tool, run};
use serde_json::Value;
use std::path::Path;

/// The real node's snapshot with a K8s node reading (as the agent adds it on a cluster).
fn baseline() -> String {
    let real =
        std::fs::read_to_string(repo_file("tests/fixtures/snapshot-h100-node.yaml")).unwrap();
    format!(
        "{real}- type: K8s\n  subtypes:\n  - subtype: node\n    data:\n      name: gpu-node-1\n      kubelet-version: v1.34.1\n      label.nvidia.com/gfd.timestamp: '1764270000'\n      label.nodeGroup: gpu\n"
    )
}

/// The same node a month later: a new driver and kernel, a GRUB argument grown long, a
/// module loaded, the API server's version read, and (volatile) another node name and GFD
/// timestamp.
fn target() -> String {
    let long = format!("0x{}", "eebe0000,".repeat(24));
    baseline()
        .replace("580.159.04", "590.48.01")
        .replace("6.18.44-fc-v657-gpu", "6.18.50-fc-v700-gpu")
        .replace("0xeebe0000,0x3000,0xeebf0000", &long)
        .replace(
            "      nvidia_uvm: true\n",
            "      nvidia_uvm: true\n      nvidia_peermem: true\n",
        )
        .replace("name: gpu-node-1", "name: gpu-node-7")
        .replace("'1764270000'", "'1766900000'")
        .replace(
            "  - subtype: node\n",
            "  - subtype: server\n    data: {version: v1.34.2}\n  - subtype: node\n",
        )
}

fn diff(t: &Path, args: &[&str], columns: Option<&str>) -> std::process::Output {
    let mut c = cns(t);
    c.env_remove("COLUMNS");
    if let Some(w) = columns {
        c.env("COLUMNS", w);
    }
    run(c
        .arg("diff")
        .args(args)
        .arg(t.join("a.yaml"))
        .arg(t.join("b.yaml")))
}

#[test]
fn diff_fits_the_terminal_says_severity_and_leaves_out_volatile_readings() {
    let t = tempdir();
    std::fs::write(t.path().join("a.yaml"), baseline()).unwrap();
    std::fs::write(t.path().join("b.yaml"), target()).unwrap();
    let o = diff(t.path(), &[], Some("100"));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows: Vec<&str> = table.lines().collect();
    for r in &rows[..rows.len() - 1] {
        assert!(r.chars().count() <= 100, "{r:?}\n{table}");
    }
    let row = |path: &str| {
        rows.iter()
            .find(|r| r.starts_with(path))
            .unwrap_or_else(|| panic!("{path}:\n{table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("GPU.smi.driver")[2], "critical");
    assert_eq!(row("OS.sysctl./proc/sys/kernel/osrelease")[2], "critical");
    assert_eq!(row("K8s.server.version")[1..3], ["added", "critical"]);
    assert_eq!(row("OS.kmod.nvidia_peermem")[2], "warning");
    // The long GRUB value is cut with the marker; the node name and timestamp are volatile.
    let grub = row("OS.grub.fc_dmapin");
    assert!(grub.last().unwrap().ends_with('…'), "{table}");
    assert!(
        !table.contains("gpu-node-7") && !table.contains("gfd.timestamp"),
        "{table}"
    );
    assert!(rows.last().unwrap().ends_with("(2 volatile)"), "{table}");
    // --wide shows every value whole; --include-volatile shows the volatile readings.
    let o = diff(t.path(), &["--wide", "--include-volatile"], Some("80"));
    let wide = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        wide.contains(&format!("0x{}", "eebe0000,".repeat(24))),
        "{wide}"
    );
    assert!(wide.contains("gpu-node-7") && !wide.contains('…'), "{wide}");
    assert!(wide.lines().any(|l| l.chars().count() > 100));
    // A narrow terminal cuts the paths too, never a row past it.
    let o = diff(t.path(), &[], Some("80"));
    let narrow = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = narrow.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.chars().count() <= 80),
        "{narrow}"
    );
    assert!(narrow.contains("OS.sysctl./proc/sys/ker…"), "{narrow}");
    // Piped without COLUMNS: not cut.
    let o = diff(t.path(), &[], None);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains('…'),
        "{}",
        stderr(&o)
    );
}

#[test]
fn json_patch_output_takes_the_baseline_to_the_target() {
    let Some(jsonpatch) = require_tool("jsonpatch", &[Path::new("/usr/bin")]) else {
        return;
    };
    let t = tempdir();
    std::fs::write(t.path().join("a.yaml"), baseline()).unwrap();
    std::fs::write(t.path().join("b.yaml"), target()).unwrap();
    // The baseline document as JSON, for the independent implementation to patch.
    let a_json = t.path().join("a.json");
    std::fs::write(&a_json, serde_json::to_string(&yaml(&baseline())).unwrap()).unwrap();
    let apply = |extra: &[&str]| -> std::path::PathBuf {
        let o = diff(
            t.path(),
            &[&["--format", "json-patch"][..], extra].concat(),
            None,
        );
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        let ops: Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert!(ops.as_array().is_some_and(|a| !a.is_empty()));
        let patch = t.path().join("patch.json");
        std::fs::write(&patch, &o.stdout).unwrap();
        let applied = run(std::process::Command::new(&jsonpatch)
            .arg(&a_json)
            .arg(&patch));
        assert!(applied.status.success(), "{}", describe(&applied));
        let out = t.path().join(format!("patched{}.json", extra.len()));
        std::fs::write(&out, &applied.stdout).unwrap();
        out
    };
    let compare = |patched: &Path, extra: &[&str]| {
        run(cns(t.path())
            .args(["diff", "--wide"])
            .args(extra)
            .arg(patched)
            .arg(t.path().join("b.yaml")))
    };
    // Every change, volatile ones too: the patched baseline has the target's readings.
    let all = apply(&["--include-volatile"]);
    let o = compare(&all, &["--include-volatile"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    // By default the volatile readings are not in the patch, and only they still differ.
    let some = apply(&[]);
    assert_eq!(compare(&some, &[]).status.code(), Some(0));
    let o = compare(&some, &["--include-volatile"]);
    assert_eq!(o.status.code(), Some(1));
    let left = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        left.contains("K8s.node.name") && left.contains("gfd.timestamp"),
        "{left}"
    );
    assert!(
        left.ends_with("0 added, 0 removed, 2 modified: 0 critical, 0 warning, 2 info\n"),
        "{left}"
    );
}
