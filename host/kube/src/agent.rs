//! The snapshot agent: a Job that runs `cnsctl snapshot --output cm://…` on a GPU node, with
//! the RBAC it needs (the predecessor's `snapshot --deploy-agent`). [`objects`] builds every
//! object (also what `--dry-run` prints); [`Cluster::run_agent`] applies them, waits for the
//! Job, reports its failure reason and log tail, and cleans up when asked.

use crate::cm::CmUri;
use crate::{Cluster, Error, Result, go_duration};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, HostPathVolumeSource, ObjectFieldSelector, Pod, PodSpec,
    PodTemplateSpec, ResourceRequirements, SecurityContext, ServiceAccount, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Resource;
use kube::api::{
    Api, DeleteParams, ListParams, LogParams, ObjectMeta, PostParams, PropagationPolicy,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// Node selector used when none is given: GPU Feature Discovery's label for GPU nodes.
pub const DEFAULT_NODE_SELECTOR: (&str, &str) = ("nvidia.com/gpu.present", "true");

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

fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "cnsctl".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            component.to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cnsctl".to_string(),
        ),
    ])
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels("snapshot-agent")),
        ..Default::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

/// The cluster-scoped RBAC objects' name for a namespace (one per namespace, so agents in two
/// namespaces do not share or delete each other's bindings).
pub fn cluster_name(o: &AgentOptions) -> String {
    format!("{}-snapshot-agent-{}", o.name, o.namespace)
}

/// The agent's objects, in the order they are created.
pub struct Objects {
    /// ServiceAccount the Job runs as.
    pub service_account: ServiceAccount,
    /// ConfigMaps (the snapshot) and pods (its own) in the namespace.
    pub role: Role,
    /// Binds the Role.
    pub role_binding: RoleBinding,
    /// Nodes, pods and ClusterPolicies, read-only.
    pub cluster_role: ClusterRole,
    /// Binds the ClusterRole.
    pub cluster_role_binding: ClusterRoleBinding,
    /// The Job.
    pub job: Job,
}

impl Objects {
    /// Every object as JSON (`--dry-run`).
    pub fn to_values(&self) -> Vec<Value> {
        fn v<T: Serialize + Resource<DynamicType = ()>>(o: &T) -> Value {
            let mut j = serde_json::to_value(o).expect("k8s object serializes");
            // k8s-openapi's Serialize writes apiVersion and kind; keep the order stable.
            if let Value::Object(m) = &mut j {
                m.insert("apiVersion".into(), T::api_version(&()).into());
                m.insert("kind".into(), T::kind(&()).into());
            }
            j
        }
        vec![
            v(&self.service_account),
            v(&self.role),
            v(&self.role_binding),
            v(&self.cluster_role),
            v(&self.cluster_role_binding),
            v(&self.job),
        ]
    }
}

/// Build the agent's objects.
pub fn objects(o: &AgentOptions) -> Objects {
    let ns = o.namespace.as_str();
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: o.name.clone(),
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    let cluster = cluster_name(o);
    let node_selector = if o.node_selector.is_empty() {
        BTreeMap::from([(
            DEFAULT_NODE_SELECTOR.0.to_string(),
            DEFAULT_NODE_SELECTOR.1.to_string(),
        )])
    } else {
        o.node_selector.clone()
    };
    let tolerations = if o.tolerations.is_empty() {
        vec![Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        }]
    } else {
        o.tolerations.clone()
    };
    let host_path = |name: &str, path: &str, kind: &str| Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: Some(kind.into()),
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: format!("{HOST_ROOT}{path}"),
        read_only: Some(true),
        ..Default::default()
    };
    let env = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    };
    let q = |s: &str| Quantity(s.into());
    let secs = o.timeout.as_secs().max(60) as i64;
    let container = Container {
        name: "cns".into(),
        image: Some(o.image.clone()),
        image_pull_policy: Some(o.image_pull_policy.clone()),
        command: Some(vec!["/usr/local/bin/cnsctl".into()]),
        args: Some(vec![
            "snapshot".into(),
            "--output".into(),
            o.output.to_string(),
            "--host-root".into(),
            HOST_ROOT.into(),
        ]),
        env: Some(vec![
            EnvVar {
                name: "NODE_NAME".into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "spec.nodeName".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            // The NVIDIA container toolkit mounts nvidia-smi and the driver's libraries.
            env("NVIDIA_VISIBLE_DEVICES", "all"),
            env("NVIDIA_DRIVER_CAPABILITIES", "utility"),
        ]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), q("100m")),
                ("memory".to_string(), q("128Mi")),
            ])),
            limits: Some(BTreeMap::from([
                ("cpu".to_string(), q("1")),
                ("memory".to_string(), q("512Mi")),
            ])),
            ..Default::default()
        }),
        // Host PID/network/IPC and host paths: readings of the node, not of the container.
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            mount("os-release", "/etc/os-release"),
            mount("run-systemd", "/run/systemd"),
        ]),
        ..Default::default()
    };
    let mut job_labels = labels("snapshot-agent");
    job_labels.insert("app.kubernetes.io/instance".into(), o.name.clone());
    Objects {
        service_account: ServiceAccount {
            metadata: meta(&o.name, Some(ns)),
            ..Default::default()
        },
        role: Role {
            metadata: meta(&o.name, Some(ns)),
            rules: Some(vec![
                rule(
                    &[""],
                    &["configmaps"],
                    &["get", "list", "create", "update", "patch"],
                ),
                rule(&[""], &["pods"], &["get", "list"]),
            ]),
        },
        role_binding: RoleBinding {
            metadata: meta(&o.name, Some(ns)),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: o.name.clone(),
            },
            subjects: Some(vec![subject.clone()]),
        },
        cluster_role: ClusterRole {
            metadata: meta(&cluster, None),
            rules: Some(vec![
                rule(&[""], &["nodes", "pods"], &["get", "list"]),
                rule(&["nvidia.com"], &["clusterpolicies"], &["get", "list"]),
            ]),
            ..Default::default()
        },
        cluster_role_binding: ClusterRoleBinding {
            metadata: meta(&cluster, None),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: cluster.clone(),
            },
            subjects: Some(vec![subject]),
        },
        job: Job {
            metadata: ObjectMeta {
                labels: Some(job_labels.clone()),
                ..meta(&o.name, Some(ns))
            },
            spec: Some(JobSpec {
                backoff_limit: Some(0),
                ttl_seconds_after_finished: Some(3600),
                active_deadline_seconds: Some(secs),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(job_labels),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        service_account_name: Some(o.name.clone()),
                        restart_policy: Some("Never".into()),
                        host_pid: Some(true),
                        host_network: Some(true),
                        host_ipc: Some(true),
                        dns_policy: Some("ClusterFirstWithHostNet".into()),
                        node_selector: Some(node_selector),
                        tolerations: Some(tolerations),
                        runtime_class_name: o.runtime_class.clone(),
                        containers: vec![container],
                        volumes: Some(vec![
                            host_path("os-release", "/etc/os-release", "File"),
                            host_path("run-systemd", "/run/systemd", "DirectoryOrCreate"),
                        ]),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

impl Cluster {
    /// Create `obj`, or replace it when it exists (409).
    fn apply<K>(&self, api: &Api<K>, obj: &K) -> Result<()>
    where
        K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        let what = format!("{} {}", K::kind(&()), name);
        match self.block(api.create(&PostParams::default(), obj)) {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let old = self
                    .block(api.get(&name))
                    .map_err(|e| Error::kube(&what, e))?;
                let mut new = obj.clone();
                new.meta_mut().resource_version = old.meta().resource_version.clone();
                self.block(api.replace(&name, &PostParams::default(), &new))
                    .map(|_| ())
                    .map_err(|e| Error::kube(&what, e))
            }
            Err(e) => Err(Error::kube(what, e)),
        }
    }

    /// Delete `name` if it exists; `wait` polls until it is gone (Jobs from a previous run).
    fn delete_if_exists<K>(&self, api: &Api<K>, name: &str, wait: Option<Duration>) -> Result<()>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        let what = format!("{} {name}", K::kind(&()));
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match self.block(api.delete(name, &dp)) {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(Error::kube(what, e)),
        }
        if let Some(limit) = wait {
            let start = Instant::now();
            while start.elapsed() < limit {
                match self.block(api.get_opt(name)) {
                    Ok(None) => return Ok(()),
                    Ok(Some(_)) => std::thread::sleep(Duration::from_millis(250)),
                    Err(e) => return Err(Error::kube(what, e)),
                }
            }
            return Err(Error::Transport {
                what,
                message: format!("still there {} after deleting it", go_duration(limit)),
            });
        }
        Ok(())
    }

    /// Deploy the agent and wait for its Job; `progress` gets the predecessor's lines.
    pub fn run_agent(&self, o: &AgentOptions, progress: &dyn Fn(&str)) -> Result<()> {
        o.validate()?;
        let objs = objects(o);
        let ns = o.namespace.as_str();
        let c = self.client();
        progress(&format!("deploying agent: namespace={ns}"));
        self.apply(&Api::namespaced(c.clone(), ns), &objs.service_account)?;
        self.apply(&Api::namespaced(c.clone(), ns), &objs.role)?;
        self.apply(&Api::namespaced(c.clone(), ns), &objs.role_binding)?;
        self.apply(&Api::all(c.clone()), &objs.cluster_role)?;
        self.apply(&Api::all(c.clone()), &objs.cluster_role_binding)?;
        let jobs: Api<Job> = Api::namespaced(c.clone(), ns);
        // A Job's pod template is immutable: a previous run's Job is replaced, not updated.
        self.delete_if_exists(&jobs, &o.name, Some(Duration::from_secs(60)))?;
        self.block(jobs.create(&PostParams::default(), &objs.job))
            .map_err(|e| Error::kube(format!("Job {ns}/{}", o.name), e))?;
        progress("agent deployed successfully");
        progress(&format!(
            "waiting for Job completion: job={} timeout={}",
            o.name,
            go_duration(o.timeout)
        ));
        self.wait_job(o)?;
        progress("job completed successfully");
        Ok(())
    }

    fn wait_job(&self, o: &AgentOptions) -> Result<()> {
        let ns = o.namespace.as_str();
        let job_id = format!("{ns}/{}", o.name);
        let jobs: Api<Job> = Api::namespaced(self.client(), ns);
        let start = Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            let job = self
                .block(jobs.get(&o.name))
                .map_err(|e| Error::kube(format!("Job {job_id}"), e))?;
            let status = job.status.unwrap_or_default();
            if status.succeeded.unwrap_or(0) > 0 {
                return Ok(());
            }
            let failed_condition = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Failed" && c.status == "True");
            if status.failed.unwrap_or(0) > 0 || failed_condition.is_some() {
                let job_reason = failed_condition.map(|c| {
                    format!(
                        "{}{}",
                        c.reason.clone().unwrap_or_else(|| "Failed".into()),
                        c.message
                            .as_ref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    )
                });
                let (pod_reason, logs) = self.pod_report(o);
                let reason = match (job_reason, pod_reason) {
                    (Some(j), Some(p)) => format!("{j}; pod: {p}"),
                    (Some(j), None) => j,
                    (None, Some(p)) => p,
                    (None, None) => "the Job reports a failed pod".into(),
                };
                return Err(Error::JobFailed {
                    job: job_id,
                    reason,
                    logs,
                });
            }
            if start.elapsed() >= o.timeout {
                let (pod_reason, _) = self.pod_report(o);
                return Err(Error::Timeout {
                    job: job_id,
                    timeout: go_duration(o.timeout),
                    state: pod_reason.map(|p| format!(": pod {p}")).unwrap_or_default(),
                });
            }
            std::thread::sleep(delay.min(o.timeout.saturating_sub(start.elapsed())));
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The agent pod's state (terminated or waiting reason) and its log tail, control
    /// characters escaped (the cluster's text is shown on a terminal).
    fn pod_report(&self, o: &AgentOptions) -> (Option<String>, String) {
        let (reason, logs) = self.pod_report_raw(o);
        (
            reason.map(|r| cns_files::terminal_safe(&r, false).into_owned()),
            cns_files::terminal_safe(&logs, true).into_owned(),
        )
    }

    fn pod_report_raw(&self, o: &AgentOptions) -> (Option<String>, String) {
        let pods: Api<Pod> = Api::namespaced(self.client(), &o.namespace);
        let lp = ListParams::default().labels(&format!("job-name={}", o.name));
        let Ok(list) = self.block(pods.list(&lp)) else {
            return (None, String::new());
        };
        let Some(pod) = list.items.last() else {
            return (
                Some("no pod was created (check the node selector and quota)".into()),
                String::new(),
            );
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let mut reason = None;
        for cs in status.container_statuses.iter().flatten() {
            let st = cs.state.clone().unwrap_or_default();
            if let Some(t) = st.terminated {
                reason = Some(format!(
                    "{name}: container {} terminated: {} (exit code {}){}",
                    cs.name,
                    t.reason.unwrap_or_else(|| "Error".into()),
                    t.exit_code,
                    t.message
                        .map(|m| format!(": {}", m.trim()))
                        .unwrap_or_default()
                ));
            } else if let Some(w) = st.waiting {
                reason = Some(format!(
                    "{name}: container {} waiting: {}{}",
                    cs.name,
                    w.reason.unwrap_or_default(),
                    w.message.map(|m| format!(": {m}")).unwrap_or_default()
                ));
            }
        }
        if reason.is_none() {
            reason = Some(format!(
                "{name}: phase {}{}",
                status.phase.unwrap_or_else(|| "Unknown".into()),
                status.message.map(|m| format!(": {m}")).unwrap_or_default()
            ));
        }
        let lp = LogParams {
            tail_lines: Some(20),
            ..Default::default()
        };
        let logs = match self.block(pods.logs(&name, &lp)) {
            Ok(l) if !l.trim().is_empty() => format!(
                "\nlast lines of the pod's log:\n{}",
                l.trim_end()
                    .lines()
                    .map(|l| format!("  {}", cns_files::terminal_safe(l, false)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            _ => String::new(),
        };
        (reason, logs)
    }

    /// Remove the Job and the RBAC objects; the ConfigMap stays.
    pub fn cleanup_agent(&self, o: &AgentOptions) -> Result<()> {
        let c = self.client();
        let ns = o.namespace.as_str();
        let cluster = cluster_name(o);
        self.delete_if_exists(&Api::<Job>::namespaced(c.clone(), ns), &o.name, None)?;
        self.delete_if_exists(
            &Api::<RoleBinding>::namespaced(c.clone(), ns),
            &o.name,
            None,
        )?;
        self.delete_if_exists(&Api::<Role>::namespaced(c.clone(), ns), &o.name, None)?;
        self.delete_if_exists(
            &Api::<ServiceAccount>::namespaced(c.clone(), ns),
            &o.name,
            None,
        )?;
        self.delete_if_exists(&Api::<ClusterRoleBinding>::all(c.clone()), &cluster, None)?;
        self.delete_if_exists(&Api::<ClusterRole>::all(c), &cluster, None)?;
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
}
