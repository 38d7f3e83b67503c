//! Running the agent on a cluster: its objects applied (an object of the same name that
//! cnsctl's agent did not make is an error, never replaced), the Job awaited and its failure
//! explained, and cleanup of exactly the objects this run made.

use super::objects::POD_SECURITY_LEVEL;
use super::{AgentOptions, cluster_name, made_by_agent, made_by_run, objects};
use crate::{Cluster, Error, Result, go_duration};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Resource;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Preconditions, PropagationPolicy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::{Duration, Instant};

impl Cluster {
    /// Create `obj`, or replace it when it exists (409) and cnsctl's agent made it; an object
    /// of that name made by anyone else is an error, left as it is.
    fn apply<K>(&self, api: &Api<K>, obj: &K) -> Result<()>
    where
        K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        let what = describe::<K>(obj.meta().namespace.as_deref(), &name);
        match self.create_strict(obj) {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let old = self
                    .block(api.get(&name))
                    .map_err(|e| Error::kube(&what, e))?;
                if !made_by_agent(old.meta()) {
                    return Err(Error::NotOurs { what });
                }
                let mut new = obj.clone();
                new.meta_mut().resource_version = old.meta().resource_version.clone();
                self.replace_strict(&new)
                    .map(|_| ())
                    .map_err(|e| Error::kube(&what, e))
            }
            Err(e) => Err(Error::kube(what, e)),
        }
    }

    /// Delete `name` if it exists and `mine` says it may be deleted (else `Ok(false)`, left
    /// as it is); `wait` polls until it is gone (Jobs from a previous run). The delete is
    /// conditional on the object's uid, so an object replaced meanwhile is not deleted.
    fn delete_if<K>(
        &self,
        api: &Api<K>,
        name: &str,
        mine: &dyn Fn(&K) -> bool,
        wait: Option<Duration>,
    ) -> Result<bool>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        let what = format!("{} {name}", K::kind(&()));
        let Some(found) = self
            .block(api.get_opt(name))
            .map_err(|e| Error::kube(&what, e))?
        else {
            return Ok(true);
        };
        if !mine(&found) {
            return Ok(false);
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: found.meta().uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        match self.block(api.delete(name, &dp)) {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(true),
            Err(e) => return Err(Error::kube(what, e)),
        }
        if let Some(limit) = wait {
            let start = Instant::now();
            while start.elapsed() < limit {
                match self.block(api.get_opt(name)) {
                    Ok(None) => return Ok(true),
                    Ok(Some(_)) => std::thread::sleep(Duration::from_millis(250)),
                    Err(e) => return Err(Error::kube(what, e)),
                }
            }
            return Err(Error::Transport {
                what,
                message: format!("still there {} after deleting it", go_duration(limit)),
            });
        }
        Ok(true)
    }

    /// Deploy the agent and wait for its Job; `progress` gets the predecessor's lines.
    /// Returns the snapshot the agent wrote, read back (`None` when it could not be read or
    /// parsed: the caller that needs it reads it itself, for the error).
    pub fn run_agent(
        &self,
        o: &AgentOptions,
        progress: &dyn Fn(&str),
    ) -> Result<Option<cns_snapshot::document::Snapshot>> {
        o.validate()?;
        let objs = objects(o);
        let ns = o.namespace.as_str();
        let c = self.client();
        // An existing account is used as it is: it must be there (nothing is created
        // before that is known).
        if let Some(sa) = &o.service_account {
            let api: Api<ServiceAccount> = Api::namespaced(c.clone(), ns);
            let what = format!("ServiceAccount {ns}/{sa}");
            if self
                .block(api.get_opt(sa))
                .map_err(|e| Error::kube(&what, e))?
                .is_none()
            {
                return Err(Error::InvalidOption {
                    flag: "--service-account-name",
                    value: sa.clone(),
                    reason: format!(
                        "there is no {what}: create it with the RBAC `snapshot --deploy-agent --write-rbac DIR --service-account-name {sa} --namespace {ns}` writes"
                    ),
                });
            }
        }
        self.ensure_namespace(o, &objs.namespace, progress)?;
        progress(&format!("deploying agent: namespace={ns}"));
        if let Some(r) = &objs.rbac {
            self.apply(&Api::namespaced(c.clone(), ns), &r.service_account)?;
            self.apply(&Api::namespaced(c.clone(), ns), &r.role)?;
            self.apply(&Api::namespaced(c.clone(), ns), &r.role_binding)?;
            self.apply(&Api::all(c.clone()), &r.cluster_role)?;
            self.apply(&Api::all(c.clone()), &r.cluster_role_binding)?;
        }
        let jobs: Api<Job> = Api::namespaced(c.clone(), ns);
        // A Job's pod template is immutable: a previous run's Job is replaced, not updated;
        // someone else's Job of that name is left alone.
        let ours = |j: &Job| made_by_agent(j.meta());
        if !self.delete_if(&jobs, &o.name, &ours, Some(Duration::from_secs(60)))? {
            return Err(Error::NotOurs {
                what: describe::<Job>(Some(ns), &o.name),
            });
        }
        self.create_strict(&objs.job)
            .map_err(|e| Error::kube(format!("Job {ns}/{}", o.name), e))?;
        progress("agent deployed successfully");
        progress(&format!(
            "waiting for Job completion: job={} timeout={}",
            o.name,
            go_duration(o.timeout)
        ));
        self.wait_job(o)?;
        progress("job completed successfully");
        let snapshot = self.written_snapshot(o);
        if let Some(s) = &snapshot {
            say_if_no_gpu(s, progress);
        }
        Ok(snapshot)
    }

    /// The snapshot the agent wrote to its ConfigMap, if it can be read and parsed.
    fn written_snapshot(&self, o: &AgentOptions) -> Option<cns_snapshot::document::Snapshot> {
        let text = self
            .read_document(&o.output, crate::cm::Document::Snapshot)
            .ok()?;
        cns_snapshot::document::Snapshot::from_yaml(&o.output.to_string(), &text).ok()
    }

    /// Create the agent's namespace when it does not exist (labelled to admit the
    /// privileged agent); an existing one is left as it is, and said when its Pod Security
    /// labels would refuse the agent.
    fn ensure_namespace(
        &self,
        o: &AgentOptions,
        namespace: &Namespace,
        progress: &dyn Fn(&str),
    ) -> Result<()> {
        let ns = o.namespace.as_str();
        let what = format!("Namespace {ns}");
        let api: Api<Namespace> = Api::all(self.client());
        let existing = match self.block(api.get_opt(ns)) {
            Ok(found) => found,
            // Not allowed to read namespaces: the agent's own objects say the rest.
            Err(kube::Error::Api(s)) if s.code == 403 => {
                progress(&format!(
                    "warning: cannot read {what} ({}): assuming it exists",
                    s.message
                ));
                return Ok(());
            }
            Err(e) => return Err(Error::kube(what, e)),
        };
        let existing = match existing {
            Some(n) => n,
            None => match self.create_strict(namespace) {
                Ok(_) => {
                    progress(&format!(
                        "created namespace {ns} (Pod Security: {POD_SECURITY_LEVEL}; --cleanup removes it unless it holds the snapshot)"
                    ));
                    return Ok(());
                }
                // Made meanwhile by someone else: theirs, judged as any existing one.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    self.block(api.get(ns)).map_err(|e| Error::kube(&what, e))?
                }
                Err(e) => return Err(Error::kube(what, e)),
            },
        };
        let enforce = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-security.kubernetes.io/enforce"))
            .map(String::as_str);
        if let Some(level) = enforce.filter(|l| *l != POD_SECURITY_LEVEL) {
            progress(&format!(
                "warning: namespace {ns} enforces Pod Security `{level}`, which refuses the agent's pod (privileged, host PID, host paths) unless the cluster exempts it; it is left as it is: label it pod-security.kubernetes.io/enforce={POD_SECURITY_LEVEL} or pass another --namespace"
            ));
        }
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
            // Not scheduled: the scheduler's reason, and what the Job asks of a node.
            let unscheduled = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False");
            reason = Some(match unscheduled {
                Some(c) => format!(
                    "{name}: not scheduled: {}{} (the agent runs on {} nodes only, --image-arch, matching its node selector)",
                    c.reason.clone().unwrap_or_else(|| "Unschedulable".into()),
                    c.message
                        .as_ref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default(),
                    o.image_arch.join("/")
                ),
                None => format!(
                    "{name}: phase {}{}",
                    status.phase.unwrap_or_else(|| "Unknown".into()),
                    status.message.map(|m| format!(": {m}")).unwrap_or_default()
                ),
            });
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

    /// Remove the Job and the RBAC objects this run made (its [`super::RUN_LABEL`]), and the
    /// namespace if this run made it and it does not hold the snapshot; the ConfigMap stays.
    /// Returns what was left, each with why.
    pub fn cleanup_agent(&self, o: &AgentOptions) -> Result<Vec<Left>> {
        let c = self.client();
        let ns = o.namespace.as_str();
        let cluster = cluster_name(&o.name, ns);
        let run = o.run_id.clone().unwrap_or_default();
        let mut kept = Vec::new();
        macro_rules! remove {
            ($kind:ty, $api:expr, $name:expr, $ns:expr) => {{
                let api: Api<$kind> = $api;
                let mine = |x: &$kind| made_by_run(x.meta(), &run);
                if !self.delete_if(&api, $name, &mine, None)? {
                    kept.push(Left {
                        what: describe::<$kind>($ns, $name),
                        why: Why::HeldElsewhere,
                    });
                }
            }};
        }
        remove!(Job, Api::namespaced(c.clone(), ns), &o.name, Some(ns));
        // An existing account (--service-account-name) and its RBAC are not this run's.
        if o.service_account.is_none() {
            remove!(
                RoleBinding,
                Api::namespaced(c.clone(), ns),
                &o.name,
                Some(ns)
            );
            remove!(Role, Api::namespaced(c.clone(), ns), &o.name, Some(ns));
            remove!(
                ServiceAccount,
                Api::namespaced(c.clone(), ns),
                &o.name,
                Some(ns)
            );
            remove!(ClusterRoleBinding, Api::all(c.clone()), &cluster, None);
            remove!(ClusterRole, Api::all(c.clone()), &cluster, None);
        }
        // The namespace, if this run made it: not while it holds the snapshot.
        let namespaces: Api<Namespace> = Api::all(c.clone());
        let made = self
            .block(namespaces.get_opt(ns))
            .map_err(|e| Error::kube(format!("Namespace {ns}"), e))?
            .is_some_and(|n| made_by_run(n.meta(), &run));
        if made {
            let cms: Api<ConfigMap> = Api::namespaced(c, ns);
            let snapshot = self
                .block(cms.get_opt(&o.output.name))
                .map_err(|e| Error::kube(o.output.to_string(), e))?;
            let what = format!("Namespace {ns}");
            if snapshot.is_some() {
                kept.push(Left {
                    what,
                    why: Why::HoldsSnapshot(o.output.to_string()),
                });
            } else {
                let mine = |n: &Namespace| made_by_run(n.meta(), &run);
                if !self.delete_if(&namespaces, ns, &mine, None)? {
                    kept.push(Left {
                        what,
                        why: Why::HeldElsewhere,
                    });
                }
            }
        }
        Ok(kept)
    }
}

/// An object [`Cluster::cleanup_agent`] left, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    /// `Kind namespace/name` or `Kind name`.
    pub what: String,
    /// Why it was left.
    pub why: Why,
}

/// Why cleanup left an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Another run or owner holds it now: not this run's to delete (worth a warning).
    HeldElsewhere,
    /// This run made the namespace, and it holds the snapshot (the ConfigMap at this URI).
    HoldsSnapshot(String),
}

impl std::fmt::Display for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Why::HeldElsewhere => write!(f, "{} (another run or owner holds it now)", self.what),
            Why::HoldsSnapshot(uri) => write!(
                f,
                "{} (made by this run; it holds the snapshot {uri})",
                self.what
            ),
        }
    }
}

/// `Kind namespace/name` or `Kind name`, for messages.
fn describe<K: Resource<DynamicType = ()>>(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{} {ns}/{name}", K::kind(&())),
        None => format!("{} {name}", K::kind(&())),
    }
}

/// Say when the snapshot the agent wrote shows no NVIDIA GPU on its node (a node selector
/// that matched a CPU node).
fn say_if_no_gpu(snap: &cns_snapshot::document::Snapshot, progress: &dyn Fn(&str)) {
    if snap.lookup("GPU.hardware.present").as_deref() == Some("false") {
        let node = snap
            .metadata
            .get("source-node")
            .and_then(|v| v.as_str())
            .unwrap_or("its node");
        progress(&format!(
            "warning: the agent ran on {}, which shows no NVIDIA GPU (GPU.hardware.present: false): the snapshot describes a node without GPUs; check --node-selector",
            cns_files::terminal_safe(node, false)
        ));
    }
}
