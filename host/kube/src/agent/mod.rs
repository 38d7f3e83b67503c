//! The snapshot agent: a Job that runs `cnsctl snapshot --output cm://…` on a GPU node, with
//! the RBAC it needs (the predecessor's `snapshot --deploy-agent`). This module holds the
//! options and their checks; [`objects`] builds every object (also what `--dry-run`
//! prints), least privilege, labelled with the run that made them;
//! [`run_agent`](crate::Cluster::run_agent) (in `run`) applies them without taking any
//! object cnsctl did not create, waits for the Job, reports its failure reason and log
//! tail, and [`cleanup_agent`](crate::Cluster::cleanup_agent) removes only what this run made.

mod objects;
mod run;

pub use objects::{ARCH_LABEL, Objects, POD_SECURITY_LEVEL, cluster_name, objects};
pub use run::{Left, Why};

use crate::cm::CmUri;
use crate::{Error, Result};
use k8s_openapi::api::core::v1::Toleration;
use kube::api::ObjectMeta;
use std::collections::BTreeMap;
use std::time::Duration;

/// Node selector used when none is given: GPU Feature Discovery's label for GPU nodes.
pub const DEFAULT_NODE_SELECTOR: (&str, &str) = ("nvidia.com/gpu.present", "true");

/// The agent's flags as given (`snapshot --deploy-agent`), before they are checked.
#[derive(Debug, Clone, Default)]
pub struct AgentFlags {
    /// `--namespace`.
    pub namespace: String,
    /// `--image`.
    pub image: Option<String>,
    /// `--output` when it is a ConfigMap.
    pub output: Option<CmUri>,
    /// `--node-selector`, each `key=value`.
    pub node_selector: Vec<String>,
    /// `--toleration`, each `key=value:Effect` or a shorter form.
    pub toleration: Vec<String>,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--runtime-class`.
    pub runtime_class: Option<String>,
    /// `--image-pull-policy`.
    pub image_pull_policy: String,
    /// `--image-arch`: the architectures the image has (empty: amd64).
    pub image_arch: Vec<String>,
    /// `--dry-run`: the objects are printed, not created (no run label, so the output is the
    /// same from run to run).
    pub dry_run: bool,
}

impl AgentOptions {
    /// Check the flags and build the options: the ConfigMap defaults to
    /// `cm://NAMESPACE/cns-snapshot`, the node selector to [`DEFAULT_NODE_SELECTOR`] (with
    /// `warn` told why), every toleration from its flag form.
    pub fn from_flags(f: AgentFlags, warn: impl Fn(&str)) -> Result<Self> {
        let bad = |flag: &'static str, value: &str, reason: &str| Error::InvalidOption {
            flag,
            value: value.escape_debug().to_string(),
            reason: reason.to_string(),
        };
        let Some(image) = f.image else {
            return Err(Error::MissingOption {
                flag: "--image",
                reason: "--deploy-agent runs the cnsctl agent image IMAGE (see the README)",
            });
        };
        let ns = f.namespace;
        if !cns_recipe::fields::is_dns_label(&ns) {
            return Err(bad("--namespace", &ns, "not a valid namespace name"));
        }
        let output = match f.output {
            Some(u) if u.namespace != ns => {
                return Err(bad(
                    "--output",
                    &u.to_string(),
                    &format!(
                        "the agent can only write ConfigMaps in its own namespace (--namespace {ns})"
                    ),
                ));
            }
            Some(u) => u,
            None => CmUri::parse(&format!("cm://{ns}/cns-snapshot"))?,
        };
        let node_selector =
            cns_recipe::scheduling::parse_selectors("--node-selector", &f.node_selector)?;
        if node_selector.is_empty() {
            warn(&format!(
                "no --node-selector: the agent runs on a node labelled {}={} (set by GPU Feature Discovery)",
                DEFAULT_NODE_SELECTOR.0, DEFAULT_NODE_SELECTOR.1
            ));
        }
        let tolerations = cns_recipe::scheduling::parse_tolerations("--toleration", &f.toleration)?
            .into_iter()
            .map(|t| Toleration {
                key: t.key,
                operator: Some(t.operator),
                value: t.value,
                effect: t.effect,
                ..Default::default()
            })
            .collect();
        let opts = AgentOptions {
            namespace: ns,
            name: "cns".into(),
            image,
            node_selector,
            tolerations,
            output,
            timeout: f.timeout,
            runtime_class: f.runtime_class,
            image_pull_policy: f.image_pull_policy,
            image_arch: if f.image_arch.is_empty() {
                vec!["amd64".into()]
            } else {
                let mut a = f.image_arch;
                a.sort();
                a.dedup();
                a
            },
            run_id: (!f.dry_run).then(new_run_id),
        };
        opts.validate()?;
        Ok(opts)
    }
}

/// Where the agent container sees the node's files.
pub const HOST_ROOT: &str = "/host";

/// What to deploy.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Namespace of the Job, its RBAC and the ConfigMap.
    pub namespace: String,
    /// Name of the Job, ServiceAccount, Role and RoleBinding (`cns`).
    pub name: String,
    /// The agent image (cnsctl at `/usr/local/bin/cnsctl`).
    pub image: String,
    /// Node selector (empty: [`DEFAULT_NODE_SELECTOR`]).
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations (empty: tolerate every taint).
    pub tolerations: Vec<Toleration>,
    /// Where the agent writes the snapshot.
    pub output: CmUri,
    /// How long to wait for the Job (also its active deadline).
    pub timeout: Duration,
    /// RuntimeClass for the pod (e.g. `nvidia` where the toolkit is not the default runtime).
    pub runtime_class: Option<String>,
    /// Image pull policy.
    pub image_pull_policy: String,
    /// The CPU architectures the image has: the Job's node affinity (`kubernetes.io/arch`).
    pub image_arch: Vec<String>,
    /// This run's id ([`new_run_id`]), in the [`RUN_LABEL`] of every object it creates so
    /// that cleanup removes only those; `None` for `--dry-run` output, which stays the same
    /// from run to run.
    pub run_id: Option<String>,
}

/// Label naming the run of `snapshot --deploy-agent` that created an object.
pub const RUN_LABEL: &str = "cns.nvidia.com/agent-run";

/// The labels every agent object carries; an object without them was not made by cnsctl's
/// agent, and is never replaced or deleted.
pub const OWNER_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/managed-by", "cnsctl"),
    ("app.kubernetes.io/component", "snapshot-agent"),
];

/// A new run id: 16 hex digits, from the process id, the time and the standard library's
/// per-process random hash keys.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// Whether an object's metadata says cnsctl's agent made it ([`OWNER_LABELS`]).
pub fn made_by_agent(meta: &ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    OWNER_LABELS
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(*k)).is_some_and(|x| x == v))
}

/// Whether an object was made by the run `run_id` ([`RUN_LABEL`]).
pub fn made_by_run(meta: &ObjectMeta, run_id: &str) -> bool {
    made_by_agent(meta)
        && meta
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_LABEL))
            .is_some_and(|r| r == run_id)
}

/// Longest wait for the agent (`--timeout`): a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Whether `s` is a container image reference as runtimes read it:
/// `[HOST[:PORT]/]PATH[:TAG][@ALGORITHM:HEX]` with the distribution spec's grammar (path
/// components of lowercase letters and digits joined by `.`, `_`, `__` or dashes; a tag of
/// word characters, `.` and `-`, at most 128; no spaces, quotes or control characters).
pub fn is_image_reference(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else {
            return false;
        };
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return false;
        }
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let host = (parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost"))
        .then(|| parts.remove(0));
    if let Some(h) = host {
        let (domain, port) = match h.rsplit_once(':') {
            Some((d, p)) => (d, Some(p)),
            None => (h, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !domain.split('.').all(label_ok)
            || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
    }
    parts.iter().all(|c| {
        let mut prev_sep = true;
        let mut run = 0;
        for b in c.bytes() {
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                prev_sep = false;
                run = 0;
            } else if b"._-".contains(&b) {
                if prev_sep && b != b'-' && b != b'_' {
                    return false;
                }
                run += 1;
                // `.` once, `_` once or twice (`__`), dashes any number.
                if (b == b'.' && run > 1) || (b == b'_' && run > 2) {
                    return false;
                }
                prev_sep = true;
            } else {
                return false;
            }
        }
        !c.is_empty() && !prev_sep && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
    })
}

impl AgentOptions {
    /// Check what the flags gave before anything reaches the cluster: the image reference,
    /// the RuntimeClass name (a DNS-1123 label), the timeout (1 s to [`MAX_TIMEOUT`]), the pull
    /// policy.
    pub fn validate(&self) -> Result<()> {
        let bad = |flag: &'static str, value: String, reason: &str| Error::InvalidOption {
            flag,
            value,
            reason: reason.to_string(),
        };
        if !is_image_reference(&self.image) {
            return Err(bad(
                "--image",
                self.image.escape_debug().to_string(),
                "expected an image reference such as registry.example.com/cnsctl-agent:0.1.0",
            ));
        }
        if let Some(rc) = &self.runtime_class
            && !cns_recipe::fields::is_dns_label(rc)
        {
            return Err(bad(
                "--runtime-class",
                rc.escape_debug().to_string(),
                "expected a RuntimeClass name: lowercase letters, digits and `-`, at most 63",
            ));
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > MAX_TIMEOUT {
            return Err(bad(
                "--timeout",
                format!("{}s", self.timeout.as_secs()),
                "expected 1s to 24h",
            ));
        }
        if let Some(a) = self
            .image_arch
            .iter()
            .find(|a| !["amd64", "arm64"].contains(&a.as_str()))
        {
            return Err(bad(
                "--image-arch",
                a.escape_debug().to_string(),
                "expected amd64 or arm64",
            ));
        }
        if !["Always", "IfNotPresent", "Never"].contains(&self.image_pull_policy.as_str()) {
            return Err(bad(
                "--image-pull-policy",
                self.image_pull_policy.escape_debug().to_string(),
                "expected Always, IfNotPresent or Never",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AgentOptions {
        AgentOptions {
            namespace: "gpu-operator".into(),
            name: "cns".into(),
            image: "registry.example.com/cnsctl-agent:0.1.0".into(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            output: CmUri::parse("cm://gpu-operator/cns-snapshot").unwrap(),
            timeout: Duration::from_secs(300),
            runtime_class: Some("nvidia".into()),
            image_pull_policy: "IfNotPresent".into(),
            image_arch: vec!["amd64".into()],
            run_id: Some("0123456789abcdef".into()),
        }
    }

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for ok in [
            "cnsctl",
            "library/cnsctl:1",
            "127.0.0.1:5000/dev/cnsctl-agent:0.1.0",
            "localhost/a__b/c.d-e:v1.2_3",
            "registry.example.com/cnsctl-agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "r.example/a/b:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_image_reference(ok), "{ok}");
        }
        for bad in [
            "",
            "Registry/UPPER",
            "r.example/a b",
            "r.example/a\nb",
            "r.example/a:",
            "r.example/a:-tag",
            "r.example/a..b",
            "r.example/a___b",
            "r.example//a",
            "r.example/a/",
            "-r.example/a",
            "r.example:port/a",
            "r.example/a@sha256:xyz",
            "r.example/a\"; rm -rf /",
        ] {
            assert!(!is_image_reference(bad), "{bad:?}");
        }
    }

    #[test]
    fn options_are_checked_before_the_cluster_sees_them() {
        assert!(opts().validate().is_ok());
        for (change, flag) in [
            (
                Box::new(|o: &mut AgentOptions| o.image = "evil image".into())
                    as Box<dyn Fn(&mut AgentOptions)>,
                "--image",
            ),
            (
                Box::new(|o: &mut AgentOptions| o.runtime_class = Some("Nvidia_RT".into())),
                "--runtime-class",
            ),
            (
                Box::new(|o: &mut AgentOptions| o.timeout = Duration::from_secs(u64::MAX)),
                "--timeout",
            ),
            (
                Box::new(|o: &mut AgentOptions| o.timeout = Duration::from_millis(10)),
                "--timeout",
            ),
            (
                Box::new(|o: &mut AgentOptions| o.image_pull_policy = "Sometimes".into()),
                "--image-pull-policy",
            ),
        ] {
            let mut o = opts();
            change(&mut o);
            let e = o.validate().unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid {flag} ")), "{e}");
        }
        // The longest accepted wait gives a positive deadline.
        let mut o = opts();
        o.timeout = MAX_TIMEOUT;
        let deadline = objects(&o)
            .job
            .spec
            .unwrap()
            .active_deadline_seconds
            .unwrap();
        assert_eq!(deadline, 86_400);
    }

    /// Least privilege: the ConfigMap rules name the snapshot's own ConfigMap where the API
    /// allows it (not for create), and nothing the agent never calls is granted.
    #[test]
    fn rbac_grants_only_what_the_agent_calls() {
        let objs = objects(&opts());
        let rules = |r: &Option<Vec<k8s_openapi::api::rbac::v1::PolicyRule>>| {
            r.iter()
                .flatten()
                .map(|p| {
                    (
                        p.resources.clone().unwrap_or_default().join(","),
                        p.resource_names.clone().unwrap_or_default().join(","),
                        p.verbs.join(","),
                    )
                })
                .collect::<Vec<_>>()
        };
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            rules(&objs.role.rules),
            [
                s("configmaps", "", "create"),
                s("configmaps", "cns-snapshot", "get,update"),
            ]
        );
        assert_eq!(
            rules(&objs.cluster_role.rules),
            [
                s("nodes", "", "get,list"),
                s("pods", "", "list"),
                s("clusterpolicies", "", "list"),
            ]
        );
    }

    #[test]
    fn objects_carry_the_run_and_dry_runs_do_not() {
        let objs = objects(&opts());
        for v in objs.to_values() {
            assert_eq!(
                v["metadata"]["labels"][RUN_LABEL], "0123456789abcdef",
                "{v}"
            );
            let meta: ObjectMeta = serde_json::from_value(v["metadata"].clone()).unwrap();
            assert!(made_by_run(&meta, "0123456789abcdef"));
            assert!(!made_by_run(&meta, "fedcba9876543210"));
        }
        let mut dry = opts();
        dry.run_id = None;
        for v in objects(&dry).to_values() {
            assert!(v["metadata"]["labels"].get(RUN_LABEL).is_none(), "{v}");
        }
        assert_ne!(new_run_id(), new_run_id());
        assert!(!made_by_agent(&ObjectMeta::default()));
    }
}
