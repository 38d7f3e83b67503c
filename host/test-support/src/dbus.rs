//! A real D-Bus system bus for tests: Debian's `dbus-daemon` listening on a socket under a
//! test's host root (`<root>/run/dbus/system_bus_socket`, where a node has it), serving
//! `org.freedesktop.systemd1` through `python3-dbusmock`'s systemd template, with units
//! shaped as a Kubernetes GPU node's: containerd and the kubelet loaded, with the properties
//! their upstream unit files give them (containerd's `Delegate=yes`, unlimited
//! `LimitNOFILE` and `TasksMax`, `Restart=always`), docker absent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, which has `dbusmock` (a pyenv or venv `python3` on PATH may not).
const PYTHON: &str = "/usr/bin/python3";

/// A running bus and mock systemd; both stop when dropped.
pub struct MockSystemd {
    daemon: Child,
    mock: Child,
    /// The socket.
    pub socket: PathBuf,
}

/// The units and properties the mock serves: `(unit, Unit properties, Service properties)`;
/// numbers are `t` (u64) as systemd sends them, `u64::MAX` meaning unlimited.
pub const UNITS: &str = r#"
units = {
  "containerd.service": (
    {"ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
     "FragmentPath": "/usr/lib/systemd/system/containerd.service"},
    {"Delegate": dbus.Boolean(True), "CPUAccounting": dbus.Boolean(True),
     "MemoryAccounting": dbus.Boolean(True), "TasksAccounting": dbus.Boolean(True),
     "IOAccounting": dbus.Boolean(False), "LimitNOFILE": dbus.UInt64(2**64 - 1),
     "LimitMEMLOCK": dbus.UInt64(8388608), "TasksMax": dbus.UInt64(2**64 - 1),
     "Restart": "always"}),
  "kubelet.service": (
    {"ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
     "FragmentPath": "/etc/systemd/system/kubelet.service"},
    {"Delegate": dbus.Boolean(False), "CPUAccounting": dbus.Boolean(True),
     "MemoryAccounting": dbus.Boolean(True), "TasksAccounting": dbus.Boolean(True),
     "IOAccounting": dbus.Boolean(False), "LimitNOFILE": dbus.UInt64(1048576),
     "LimitMEMLOCK": dbus.UInt64(8388608), "TasksMax": dbus.UInt64(76800),
     "Restart": "always"}),
}
"#;

fn tools_present() -> bool {
    let daemon = crate::require_tool("dbus-daemon", &[Path::new("/usr/bin")]).is_some();
    let mock = Command::new(PYTHON)
        .args(["-c", "import dbusmock"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !mock {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "required tool `python3-dbusmock` is not installed (CI=true: tests must not skip); .ci/run installs it"
            );
        }
        eprintln!("SKIPPED: python3-dbusmock not found (install it or run .ci/run)");
    }
    daemon && mock
}

impl MockSystemd {
    /// Start the bus at `root/run/dbus/system_bus_socket` and the mock with [`UNITS`];
    /// `None` (the test skips) when the tools are missing outside CI.
    pub fn start(root: &Path) -> Option<MockSystemd> {
        if !tools_present() {
            return None;
        }
        let dir = root.join("run/dbus");
        std::fs::create_dir_all(&dir).expect("run/dbus");
        let socket = dir.join("system_bus_socket");
        let address = format!("unix:path={}", socket.display());
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "no bus socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mock = Command::new(PYTHON)
            .args(["-m", "dbusmock", "--template", "systemd"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .spawn()
            .expect("dbusmock starts");
        let me = MockSystemd {
            daemon,
            mock,
            socket,
        };
        // Wait for the name, then add the units (a real systemd has them loaded).
        let script = format!(
            r#"
import dbus, time
b = dbus.SystemBus()
for _ in range(200):
    if b.name_has_owner("org.freedesktop.systemd1"):
        break
    time.sleep(0.05)
{UNITS}
m = b.get_object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
for name, (unit, service) in units.items():
    m.AddMockUnit(name, dbus_interface="org.freedesktop.DBus.Mock")
    path = "/org/freedesktop/systemd1/unit/" + name.replace(".", "_").replace("-", "_")
    o = b.get_object("org.freedesktop.systemd1", path)
    o.UpdateProperties("org.freedesktop.systemd1.Unit", {{"ActiveState": unit.pop("ActiveState")}},
                       dbus_interface="org.freedesktop.DBus.Mock")
    o.AddProperties("org.freedesktop.systemd1.Unit", unit, dbus_interface="org.freedesktop.DBus.Mock")
    o.AddProperties("org.freedesktop.systemd1.Service", service, dbus_interface="org.freedesktop.DBus.Mock")
"#
        );
        let o = Command::new(PYTHON)
            .args(["-c", &script])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .output()
            .expect("python3 runs");
        assert!(
            o.status.success(),
            "setting up the mock systemd: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Some(me)
    }
}

impl Drop for MockSystemd {
    fn drop(&mut self) {
        let _ = self.mock.kill();
        let _ = self.daemon.kill();
        let _ = self.mock.wait();
        let _ = self.daemon.wait();
    }
}
