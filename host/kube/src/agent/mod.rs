//! The snapshot agent: a Job that runs `cnsctl snapshot --output cm://…` on a GPU node, with
//! the RBAC it needs (the predecessor's `snapshot --deploy-agent`). This module holds the
//! options (`flags` checks the flags into them); [`objects`] builds every object (also what `--dry-run`
//! prints), least privilege, labelled with the run that made them;
//! [`run_agent`](crate::Cluster::run_agent) (in `run`) applies them without taking any
//! object cnsctl did not create, waits for the Job, reports its failure reason and log
//! tail, and [`cleanup_agent`](crate::Cluster::cleanup_agent) removes only what this run made.

mod flags;
mod objects;
mod run;

pub use flags::{
    AgentFlags, DEFAULT_LIMITS, DEFAULT_REQUESTS, MAX_TIMEOUT, UNPRIVILEGED_LOSES,
    is_image_reference, is_quantity,
};
pub use objects::{
    ARCH_LABEL, GPU_RESOURCE, Objects, POD_SECURITY_LEVEL, Rbac, cluster_name, objects, rbac,
};
pub use run::{Left, Why};

use crate::cm::CmUri;
use k8s_openapi::api::core::v1::Toleration;
use kube::api::ObjectMeta;
use std::collections::BTreeMap;
use std::time::Duration;

/// Node selector used when none is given: GPU Feature Discovery's label for GPU nodes.
pub const DEFAULT_NODE_SELECTOR: (&str, &str) = ("nvidia.com/gpu.present", "true");

/// Where the agent container sees the node's files.
pub const HOST_ROOT: &str = "/host";

/// What to deploy.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Namespace of the Job, its RBAC and the ConfigMap.
    pub namespace: String,
    /// Name of the Job, ServiceAccount, Role and RoleBinding: `cns-` and the run id's first
    /// 8 digits (`cns` for `--dry-run`).
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
    /// An existing ServiceAccount to run as; no RBAC is created (`--service-account-name`).
    pub service_account: Option<String>,
    /// Image pull Secrets of the pod.
    pub image_pull_secrets: Vec<String>,
    /// The container's resource requests.
    pub requests: BTreeMap<String, String>,
    /// The container's resource limits.
    pub limits: BTreeMap<String, String>,
    /// Ask for one `nvidia.com/gpu` ([`GPU_RESOURCE`]).
    pub require_gpu: bool,
    /// Privileged with host PID/IPC (default); otherwise no privilege, capabilities dropped
    /// ([`UNPRIVILEGED_LOSES`] says what that costs).
    pub privileged: bool,
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
            service_account: None,
            image_pull_secrets: Vec::new(),
            requests: DEFAULT_REQUESTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            limits: DEFAULT_LIMITS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            require_gpu: false,
            privileged: true,
            run_id: Some("0123456789abcdef".into()),
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
        let objs = objects(&opts()).rbac.unwrap();
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
