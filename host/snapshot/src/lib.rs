//! Stage 1 of cnsctl: collect a snapshot of the node it runs on (OS, SystemD, GPU; the K8s
//! collector lives in `cns-kube` and plugs in as one more [`Collector`]), and compare two
//! snapshots for drift ([`diff`]).
//!
//! Collectors run in parallel, each with its own timeout; one that fails or times out is
//! recorded in the snapshot's `metadata.collectorErrors` and does not sink the others.
//! Measurements come out in a fixed order (K8s, GPU, OS, SystemD), subtypes in a fixed
//! order per collector, keys sorted — the same machine gives the same document.

pub mod diff;
pub mod document;
pub mod gpu;
pub mod os;
pub mod systemd;
pub mod topology;

use document::{Measurement, Snapshot, Subtype};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `apiVersion` of the snapshots cnsctl writes (the predecessor's).
pub const API_VERSION: &str = "cns.nvidia.com/v1alpha1";

/// Measurement types in the order they appear in a snapshot.
pub const TYPE_ORDER: &[&str] = &["K8s", "GPU", "OS", "SystemD"];

/// Where the node's files are read from. On a node all three are `/…`; the agent Job mounts
/// the node's `/etc/os-release` under a host root, and tests point everything at a fake tree.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The node's `/etc` (os-release).
    pub etc: PathBuf,
    /// `/proc`.
    pub proc: PathBuf,
    /// `/sys`.
    pub sys: PathBuf,
    /// `/run` (systemd's runtime directory, `/run/systemd/system`, marks a systemd boot).
    pub run: PathBuf,
}

impl Paths {
    /// The running machine's own paths; `host_root` (the agent's mount of the node's `/`)
    /// replaces `/etc` and `/run` when given.
    pub fn host(host_root: Option<&Path>) -> Self {
        let root = host_root.unwrap_or(Path::new("/"));
        Paths {
            etc: root.join("etc"),
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            run: root.join("run"),
        }
    }

    /// Everything under one directory (`DIR/etc`, `DIR/proc`, `DIR/sys`, `DIR/run`).
    pub fn under(dir: &Path) -> Self {
        Paths {
            etc: dir.join("etc"),
            proc: dir.join("proc"),
            sys: dir.join("sys"),
            run: dir.join("run"),
        }
    }
}

/// What a collector returns: its subtypes in order.
pub type Subtypes = Vec<Subtype>;

/// What a collector measured: the subtypes it read, and each subtype it could not read with
/// why (a collector of several independent reads, such as K8s's, keeps the rest when one
/// fails; the failures are recorded as `{Type}.{subtype}` in `metadata.collectorErrors`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// The subtypes read, in order.
    pub subtypes: Subtypes,
    /// Subtypes that could not be read, by name, with the reason.
    pub failed: BTreeMap<String, String>,
}

impl From<Subtypes> for Readings {
    fn from(subtypes: Subtypes) -> Self {
        Readings {
            subtypes,
            failed: BTreeMap::new(),
        }
    }
}

/// A collector's failure, as recorded in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// It ran past its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// It failed.
    #[error("{0}")]
    Failed(String),
    /// It panicked (a bug; the others still ran).
    #[error("collector crashed")]
    Crashed,
}

/// One collector: a measurement type and the work that measures it.
pub struct Collector {
    /// Measurement type, one of [`TYPE_ORDER`].
    pub kind: &'static str,
    /// How long it may take.
    pub timeout: Duration,
    /// The work; runs on its own thread.
    pub run: Box<dyn FnOnce() -> Result<Readings, String> + Send>,
}

impl Collector {
    /// A collector of `kind` with a timeout, all or nothing.
    pub fn new(
        kind: &'static str,
        timeout: Duration,
        run: impl FnOnce() -> Result<Subtypes, String> + Send + 'static,
    ) -> Self {
        Collector {
            kind,
            timeout,
            run: Box::new(move || run().map(Readings::from)),
        }
    }

    /// A collector of `kind` whose subtypes can fail one by one ([`Readings::failed`]).
    pub fn partial(
        kind: &'static str,
        timeout: Duration,
        run: impl FnOnce() -> Result<Readings, String> + Send + 'static,
    ) -> Self {
        Collector {
            kind,
            timeout,
            run: Box::new(run),
        }
    }
}

/// The local collectors (GPU, OS, SystemD), 10 s each as the predecessor's.
pub fn local_collectors(paths: &Paths) -> Vec<Collector> {
    let timeout = Duration::from_secs(10);
    let (p1, p2, p3) = (paths.clone(), paths.clone(), paths.clone());
    vec![
        Collector::new("GPU", timeout, move || gpu::collect(&p1)),
        Collector::new("OS", timeout, move || os::collect(&p2)),
        Collector::new("SystemD", timeout, move || systemd::collect(&p3)),
    ]
}

/// The result of running collectors: the snapshot and each failure by type.
#[derive(Debug)]
pub struct Collected {
    /// The snapshot (failed collectors are absent from `measurements` and listed in
    /// `metadata.collectorErrors`).
    pub snapshot: Snapshot,
    /// Failures by measurement type (`{Type}.{subtype}` for one subtype of a partial
    /// collector).
    pub errors: BTreeMap<String, CollectError>,
    /// How long each collector took, by type (for `-v` output).
    pub durations: BTreeMap<String, Duration>,
}

/// Run `collectors` in parallel and assemble a snapshot; `metadata` seeds its metadata
/// (version, source node, timestamp).
pub fn collect(collectors: Vec<Collector>, metadata: BTreeMap<String, Value>) -> Collected {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut pending: BTreeMap<&'static str, Duration> = BTreeMap::new();
    for c in collectors {
        pending.insert(c.kind, c.timeout);
        let tx = tx.clone();
        let (kind, run) = (c.kind, c.run);
        // A collector that overruns is abandoned, not joined: the process exits soon after.
        std::thread::spawn(move || {
            let t = Instant::now();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or(Err(String::new()))
                .map_err(|e| {
                    if e.is_empty() {
                        CollectError::Crashed
                    } else {
                        CollectError::Failed(e)
                    }
                });
            let _ = tx.send((kind, out, t.elapsed()));
        });
    }
    drop(tx);
    let mut results: BTreeMap<&'static str, Result<Readings, CollectError>> = BTreeMap::new();
    let mut durations = BTreeMap::new();
    while !pending.is_empty() {
        // Wait until the earliest remaining deadline.
        let next = pending.values().min().copied().unwrap_or_default();
        let wait = next.saturating_sub(start.elapsed());
        match rx.recv_timeout(wait) {
            Ok((kind, out, took)) => {
                pending.remove(kind);
                durations.insert(kind.to_string(), took);
                results.insert(kind, out);
            }
            Err(_) => {
                let now = start.elapsed();
                let late: Vec<_> = pending
                    .iter()
                    .filter(|(_, t)| **t <= now)
                    .map(|(k, t)| (*k, *t))
                    .collect();
                for (kind, t) in late {
                    pending.remove(kind);
                    results.insert(kind, Err(CollectError::Timeout(t)));
                }
            }
        }
    }
    let mut metadata = metadata;
    let mut measurements = Vec::new();
    let mut errors = BTreeMap::new();
    let rank = |k: &str| {
        TYPE_ORDER
            .iter()
            .position(|t| *t == k)
            .unwrap_or(usize::MAX)
    };
    let mut ordered: Vec<_> = results.into_iter().collect();
    ordered.sort_by_key(|(k, _)| (rank(k), *k));
    for (kind, out) in ordered {
        match out {
            Ok(r) => {
                for (subtype, why) in r.failed {
                    errors.insert(format!("{kind}.{subtype}"), CollectError::Failed(why));
                }
                measurements.push(Measurement {
                    kind: kind.to_string(),
                    subtypes: r.subtypes,
                })
            }
            Err(e) => {
                errors.insert(kind.to_string(), e);
            }
        }
    }
    if !errors.is_empty() {
        metadata.insert(
            "collectorErrors".into(),
            Value::Object(
                errors
                    .iter()
                    .map(|(k, e)| (k.clone(), Value::String(e.to_string())))
                    .collect(),
            ),
        );
    }
    Collected {
        snapshot: Snapshot {
            kind: "Snapshot".into(),
            api_version: API_VERSION.into(),
            metadata,
            measurements,
        },
        errors,
        durations,
    }
}

/// A subtype from `(key, value)` pairs (keys sorted by the map).
pub fn subtype(name: &str, data: BTreeMap<String, Value>) -> Subtype {
    Subtype {
        subtype: name.into(),
        data,
    }
}

/// Read a small text file; `None` if it does not exist or cannot be read.
pub(crate) fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// UTC time as RFC 3339 (`2026-11-27T18:46:50Z`), without a date-time crate.
pub fn rfc3339_utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_with_timeouts_and_failures_in_fixed_order() {
        let ok = |v: &str| {
            let v = v.to_string();
            move || Ok(vec![subtype("s", BTreeMap::from([("k".into(), v.into())]))])
        };
        let start = Instant::now();
        let got = collect(
            vec![
                Collector::new("SystemD", Duration::from_secs(5), ok("sd")),
                Collector::new("OS", Duration::from_millis(200), || {
                    std::thread::sleep(Duration::from_secs(3));
                    Ok(vec![])
                }),
                Collector::new("GPU", Duration::from_secs(5), || Err("no access".into())),
                Collector::new("K8s", Duration::from_secs(5), || panic!("bug")),
            ],
            BTreeMap::new(),
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "waited for the slow one"
        );
        let kinds: Vec<_> = got.snapshot.measurements.iter().map(|m| &m.kind).collect();
        assert_eq!(kinds, ["SystemD"]);
        assert_eq!(
            got.errors["OS"],
            CollectError::Timeout(Duration::from_millis(200))
        );
        assert_eq!(got.errors["GPU"], CollectError::Failed("no access".into()));
        assert_eq!(got.errors["K8s"], CollectError::Crashed);
        let meta = &got.snapshot.metadata["collectorErrors"];
        assert_eq!(meta["OS"], "timed out after 200ms");
    }

    #[test]
    fn a_partial_collector_keeps_what_it_read_and_records_what_it_did_not() {
        let got = collect(
            vec![Collector::partial("K8s", Duration::from_secs(5), || {
                Ok(Readings {
                    subtypes: vec![subtype("server", BTreeMap::new())],
                    failed: BTreeMap::from([("image".into(), "pods is forbidden".into())]),
                })
            })],
            BTreeMap::new(),
        );
        let m = &got.snapshot.measurements[0];
        assert_eq!((m.kind.as_str(), m.subtypes.len()), ("K8s", 1));
        assert_eq!(
            got.errors["K8s.image"],
            CollectError::Failed("pods is forbidden".into())
        );
        assert_eq!(
            got.snapshot.metadata["collectorErrors"]["K8s.image"],
            "pods is forbidden"
        );
    }

    #[test]
    fn order_is_fixed() {
        let empty = || Ok(vec![]);
        let got = collect(
            vec![
                Collector::new("SystemD", Duration::from_secs(5), empty),
                Collector::new("OS", Duration::from_secs(5), empty),
                Collector::new("K8s", Duration::from_secs(5), empty),
                Collector::new("GPU", Duration::from_secs(5), empty),
            ],
            BTreeMap::new(),
        );
        let kinds: Vec<_> = got.snapshot.measurements.iter().map(|m| &m.kind).collect();
        assert_eq!(kinds, ["K8s", "GPU", "OS", "SystemD"]);
    }

    #[test]
    fn rfc3339() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_805_210);
        assert_eq!(rfc3339_utc(t), "2026-11-27T18:46:50Z");
        assert_eq!(rfc3339_utc(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
