//! The SystemD collector: properties of the container runtime and kubelet units, read from
//! systemd over the host's D-Bus system bus (`<run>/dbus/system_bus_socket`, which the agent
//! mounts read-only: its image has no `systemctl`), or with `systemctl show` where the bus
//! cannot be reached and `systemctl` exists. Both give the same keys and values (the bus's
//! booleans as `yes`/`no`, `infinity` for an unlimited number, as `systemctl show` prints
//! them). A machine not booted with systemd (containers, CI runners) gives an empty
//! measurement, not an error.

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

/// Where the system bus's socket is under `paths`.
pub fn bus_socket(paths: &Paths) -> std::path::PathBuf {
    paths.run.join("dbus/system_bus_socket")
}

/// Collect one subtype per loaded unit; empty without systemd. The bus first, `systemctl`
/// where the bus fails; both failing is an error naming both.
pub fn collect(paths: &Paths) -> Result<Subtypes, String> {
    if !booted(paths) {
        return Ok(vec![]);
    }
    let socket = bus_socket(paths);
    let bus = if socket.exists() {
        match over_bus(&socket) {
            Ok(units) => return Ok(units),
            Err(e) => format!("the system bus at {}: {e}", socket.display()),
        }
    } else {
        format!("no system bus at {}", socket.display())
    };
    with_systemctl().map_err(|e| format!("{bus}; {e}"))
}

const SYSTEMD: &str = "org.freedesktop.systemd1";

/// The units' properties from systemd over the bus at `socket`.
pub fn over_bus(socket: &std::path::Path) -> Result<Subtypes, String> {
    use std::collections::HashMap;
    use zbus::{OwnedObjectPath, OwnedVariant};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    rt.block_on(async {
        let address = format!("unix:path={}", socket.display());
        let conn = zbus::connection::Builder::address(address.as_str())
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let manager = |method: &'static str, unit: &'static str| {
            let conn = conn.clone();
            async move {
                let m = conn
                    .call_method(
                        Some(SYSTEMD),
                        "/org/freedesktop/systemd1",
                        Some("org.freedesktop.systemd1.Manager"),
                        method,
                        &(unit,),
                    )
                    .await?;
                m.body().deserialize::<OwnedObjectPath>()
            }
        };
        let all = |path: OwnedObjectPath, interface: &'static str| {
            let conn = conn.clone();
            async move {
                let m = conn
                    .call_method(
                        Some(SYSTEMD),
                        path.as_str(),
                        Some("org.freedesktop.DBus.Properties"),
                        "GetAll",
                        &(interface,),
                    )
                    .await?;
                m.body().deserialize::<HashMap<String, OwnedVariant>>()
            }
        };
        let mut out = Vec::new();
        for unit in UNITS {
            // A unit systemd has not loaded is not an error (docker.service on a containerd
            // node): GetUnit refuses it, LoadUnit loads it to say `not-found`.
            let path = match manager("GetUnit", unit).await {
                Ok(p) => p,
                Err(_) => match manager("LoadUnit", unit).await {
                    Ok(p) => p,
                    Err(_) => continue,
                },
            };
            let mut props = BTreeMap::new();
            for interface in [
                "org.freedesktop.systemd1.Unit",
                "org.freedesktop.systemd1.Service",
            ] {
                let got = match all(path.clone(), interface).await {
                    Ok(got) => got,
                    // Only the Unit interface is required.
                    Err(_) if interface.ends_with("Service") => continue,
                    Err(e) => return Err(format!("{unit}: {e}")),
                };
                for (k, v) in got {
                    if PROPERTIES.contains(&k.as_str())
                        && let Some(text) = show(&v)
                    {
                        props.insert(k, Value::String(text));
                    }
                }
            }
            if props.get("LoadState").and_then(Value::as_str) == Some("loaded") {
                out.push(subtype(unit, props));
            }
        }
        Ok(out)
    })
}

/// A property as `systemctl show` prints it; `None` for shapes it does not print as one value.
fn show(v: &zbus::Variant<'_>) -> Option<String> {
    use zbus::Variant as V;
    Some(match v {
        V::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        V::U64(u64::MAX) => "infinity".into(),
        V::U64(n) => n.to_string(),
        V::U32(n) => n.to_string(),
        V::I64(n) => n.to_string(),
        V::I32(n) => n.to_string(),
        V::U16(n) => n.to_string(),
        V::I16(n) => n.to_string(),
        V::U8(n) => n.to_string(),
        V::Str(s) => s.to_string(),
        V::ObjectPath(p) => p.to_string(),
        V::Variant(inner) => return show(inner),
        _ => return None,
    })
}

/// The units' properties from `systemctl show`.
fn with_systemctl() -> Result<Subtypes, String> {
    let mut out = Vec::new();
    for unit in UNITS {
        let output = Command::new("systemctl")
            .args(["show", unit, "--no-pager"])
            .arg(format!("--property={}", PROPERTIES.join(",")))
            .output()
            .map_err(|e| format!("`systemctl` cannot be run: {e}"))?;
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
    fn bus_values_read_as_systemctl_prints_them() {
        use zbus::Variant as V;
        assert_eq!(show(&V::Bool(true)).as_deref(), Some("yes"));
        assert_eq!(show(&V::Bool(false)).as_deref(), Some("no"));
        assert_eq!(show(&V::U64(u64::MAX)).as_deref(), Some("infinity"));
        assert_eq!(show(&V::U64(8388608)).as_deref(), Some("8388608"));
        assert_eq!(show(&V::from("always")).as_deref(), Some("always"));
        assert_eq!(show(&V::from(vec!["a"])), None);
    }

    #[test]
    fn no_bus_and_no_systemctl_says_both() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
        // A socket path nobody listens on.
        std::fs::create_dir_all(d.path().join("run/dbus")).unwrap();
        std::fs::write(d.path().join("run/dbus/system_bus_socket"), "").unwrap();
        let paths = Paths::under(d.path());
        if let Err(e) = collect(&paths) {
            assert!(e.starts_with("the system bus at "), "{e}");
        }
    }

    #[test]
    fn parses_show_output() {
        let p = parse_show("ActiveState=active\nDelegate=yes\nLimitNOFILE=1048576\n");
        assert_eq!(p["Delegate"], "yes");
        assert_eq!(p.len(), 3);
    }
}
