//! The agent's objects as the API receives them: ServiceAccount, least-privilege Role and
//! ClusterRole with their bindings ([`rbac`], also what `--write-rbac` writes for an
//! account made outside cnsctl), and the Job, each labelled as cnsctl's and with its run.

use super::{AgentOptions, DEFAULT_NODE_SELECTOR, HOST_ROOT, OWNER_LABELS, RUN_LABEL};
use crate::cm::CmUri;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EnvVar, EnvVarSource, HostPathVolumeSource,
    LocalObjectReference, Namespace, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, ObjectFieldSelector, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecurityContext, ServiceAccount, Toleration, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Resource;
use kube::api::ObjectMeta;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// cnsctl's labels ([`OWNER_LABELS`]) and the run's ([`RUN_LABEL`]) when there is one.
fn labels(run_id: Option<&str>) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = OWNER_LABELS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("app.kubernetes.io/name".into(), "cnsctl".into());
    if let Some(r) = run_id {
        l.insert(RUN_LABEL.into(), r.into());
    }
    l
}

fn meta(run_id: Option<&str>, name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels(run_id)),
        ..Default::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        resource_names: (!names.is_empty()).then(|| v(names)),
        verbs: v(verbs),
        ..Default::default()
    }
}

/// The cluster-scoped RBAC objects' name for an account in a namespace (one per namespace,
/// so agents in two namespaces do not share or delete each other's bindings).
pub fn cluster_name(account: &str, namespace: &str) -> String {
    format!("{account}-snapshot-agent-{namespace}")
}

/// The extended resource `--require-gpu` asks for.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The node label naming its CPU architecture.
pub const ARCH_LABEL: &str = "kubernetes.io/arch";

/// The Pod Security level the agent's pod needs: it is privileged, shares the host's PID
/// namespace and mounts host paths, which `baseline` and `restricted` refuse.
pub const POD_SECURITY_LEVEL: &str = "privileged";

/// The agent's RBAC: its ServiceAccount and what that account may do.
pub struct Rbac {
    /// ServiceAccount the Job runs as.
    pub service_account: ServiceAccount,
    /// The snapshot's ConfigMap: create it, then read and replace only that one.
    pub role: Role,
    /// Binds the Role.
    pub role_binding: RoleBinding,
    /// The nodes, the pods and ClusterPolicies, read-only.
    pub cluster_role: ClusterRole,
    /// Binds the ClusterRole.
    pub cluster_role_binding: ClusterRoleBinding,
}

/// The agent's objects, in the order they are created.
pub struct Objects {
    /// The namespace, created only when it does not exist: labelled to admit the privileged
    /// agent under Pod Security Admission, and with the run so cleanup knows it made it.
    pub namespace: Namespace,
    /// The RBAC; none when the Job runs as an existing account (`--service-account-name`).
    pub rbac: Option<Rbac>,
    /// The Job.
    pub job: Job,
}

/// An object as JSON, `apiVersion` and `kind` set.
fn value<T: Serialize + Resource<DynamicType = ()>>(o: &T) -> Value {
    let mut j = serde_json::to_value(o).expect("k8s object serializes");
    // k8s-openapi's Serialize writes apiVersion and kind; keep the order stable.
    if let Value::Object(m) = &mut j {
        m.insert("apiVersion".into(), T::api_version(&()).into());
        m.insert("kind".into(), T::kind(&()).into());
    }
    j
}

impl Rbac {
    /// Every object as JSON.
    pub fn to_values(&self) -> Vec<Value> {
        vec![
            value(&self.service_account),
            value(&self.role),
            value(&self.role_binding),
            value(&self.cluster_role),
            value(&self.cluster_role_binding),
        ]
    }
}

impl Objects {
    /// Every object as JSON (`--dry-run`).
    pub fn to_values(&self) -> Vec<Value> {
        let mut out = vec![value(&self.namespace)];
        out.extend(self.rbac.iter().flat_map(Rbac::to_values));
        out.push(value(&self.job));
        out
    }
}

/// The RBAC of an agent running as `account` in `namespace` and writing `output`: the
/// account, a Role for the snapshot's ConfigMap, a ClusterRole to read nodes, pods and
/// ClusterPolicies, and their bindings (`--write-rbac` writes them for an account made
/// outside cnsctl, as IRSA or workload identity need; `run_id` labels them with a run).
pub fn rbac(namespace: &str, account: &str, output: &CmUri, run_id: Option<&str>) -> Rbac {
    let ns = namespace;
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: account.to_string(),
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    let cluster = cluster_name(account, ns);
    Rbac {
        service_account: ServiceAccount {
            metadata: meta(run_id, account, Some(ns)),
            ..Default::default()
        },
        role: Role {
            metadata: meta(run_id, account, Some(ns)),
            // Create cannot be limited to a name (the API authorises it before the object
            // exists); reading and replacing are limited to the snapshot's ConfigMap.
            rules: Some(vec![
                rule(&[""], &["configmaps"], &[], &["create"]),
                rule(
                    &[""],
                    &["configmaps"],
                    &[output.name.as_str()],
                    &["get", "update"],
                ),
            ]),
        },
        role_binding: RoleBinding {
            metadata: meta(run_id, account, Some(ns)),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: account.to_string(),
            },
            subjects: Some(vec![subject.clone()]),
        },
        cluster_role: ClusterRole {
            metadata: meta(run_id, &cluster, None),
            // What the K8s collector calls: its own node and the list of nodes (the
            // topology), the pods (images in use), the GPU Operator's ClusterPolicy.
            rules: Some(vec![
                rule(&[""], &["nodes"], &[], &["get", "list"]),
                rule(&[""], &["pods"], &[], &["list"]),
                rule(&["nvidia.com"], &["clusterpolicies"], &[], &["list"]),
            ]),
            ..Default::default()
        },
        cluster_role_binding: ClusterRoleBinding {
            metadata: meta(run_id, &cluster, None),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: cluster.clone(),
            },
            subjects: Some(vec![subject]),
        },
    }
}

/// Build the agent's objects.
pub fn objects(o: &AgentOptions) -> Objects {
    let ns = o.namespace.as_str();
    let run_id = o.run_id.as_deref();
    let mut ns_labels = labels(o.run_id.as_deref());
    for mode in ["enforce", "audit", "warn"] {
        ns_labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            POD_SECURITY_LEVEL.into(),
        );
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            labels: Some(ns_labels),
            ..Default::default()
        },
        ..Default::default()
    };
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
    let quantities = |m: &BTreeMap<String, String>| -> BTreeMap<String, Quantity> {
        m.iter()
            .map(|(k, v)| (k.clone(), Quantity(v.clone())))
            .collect()
    };
    let mut limits = quantities(&o.limits);
    if o.require_gpu {
        // One GPU from the device plugin: the pod goes only to a node with a free GPU,
        // and sees it where the runtime hands devices only to pods that ask.
        limits.insert(GPU_RESOURCE.into(), Quantity("1".into()));
    }
    let security = if o.privileged {
        SecurityContext {
            privileged: Some(true),
            ..Default::default()
        }
    } else {
        SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
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
            requests: Some(quantities(&o.requests)),
            limits: Some(limits),
            ..Default::default()
        }),
        // Host PID/network/IPC and host paths: readings of the node, not of the container
        // (without --privileged: the host's network and paths only).
        security_context: Some(security),
        volume_mounts: Some(vec![
            mount("os-release", "/etc/os-release"),
            mount("run-systemd", "/run/systemd"),
            // The system bus's socket, for systemd's unit properties (the image has no
            // systemctl); connecting to a socket works through a read-only mount.
            mount("run-dbus", "/run/dbus"),
        ]),
        ..Default::default()
    };
    let mut job_labels = labels(o.run_id.as_deref());
    job_labels.insert("app.kubernetes.io/instance".into(), o.name.clone());
    let account = o.service_account.clone().unwrap_or_else(|| o.name.clone());
    Objects {
        namespace,
        rbac: o
            .service_account
            .is_none()
            .then(|| rbac(ns, &o.name, &o.output, run_id)),
        job: Job {
            metadata: ObjectMeta {
                labels: Some(job_labels.clone()),
                ..meta(run_id, &o.name, Some(ns))
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
                        service_account_name: Some(account),
                        image_pull_secrets: (!o.image_pull_secrets.is_empty()).then(|| {
                            o.image_pull_secrets
                                .iter()
                                .map(|n| LocalObjectReference { name: n.clone() })
                                .collect()
                        }),
                        restart_policy: Some("Never".into()),
                        host_pid: Some(o.privileged),
                        host_network: Some(true),
                        host_ipc: Some(o.privileged),
                        dns_policy: Some("ClusterFirstWithHostNet".into()),
                        node_selector: Some(node_selector),
                        tolerations: Some(tolerations),
                        runtime_class_name: o.runtime_class.clone(),
                        // Only nodes whose CPU the image has a binary for (an amd64-only
                        // image cannot start on a GB200's Grace CPUs).
                        affinity: Some(Affinity {
                            node_affinity: Some(NodeAffinity {
                                required_during_scheduling_ignored_during_execution: Some(
                                    NodeSelector {
                                        node_selector_terms: vec![NodeSelectorTerm {
                                            match_expressions: Some(vec![
                                                NodeSelectorRequirement {
                                                    key: ARCH_LABEL.into(),
                                                    operator: "In".into(),
                                                    values: Some(o.image_arch.clone()),
                                                },
                                            ]),
                                            ..Default::default()
                                        }],
                                    },
                                ),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        containers: vec![container],
                        volumes: Some(vec![
                            host_path("os-release", "/etc/os-release", "File"),
                            host_path("run-systemd", "/run/systemd", "DirectoryOrCreate"),
                            host_path("run-dbus", "/run/dbus", "DirectoryOrCreate"),
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
