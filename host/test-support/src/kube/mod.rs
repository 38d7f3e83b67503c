//! A Kubernetes API server stand-in for tests: an HTTP/1.1 server on 127.0.0.1 that keeps
//! objects in memory and answers the endpoints cnsctl uses (`/version`, core and group
//! resources: get, list with label and field selectors, create, replace, delete, pod logs)
//! with bodies and `Status` errors shaped as the real API's. No real API server can be
//! installed on the test machines; this is what the Kubernetes paths are tested against, so
//! where it matters it behaves as the Kubernetes API reference ("API Concepts": field
//! validation, "Status" kind, namespaces) says the real one does:
//!
//! - a namespaced object can only be created in a namespace that exists: otherwise 404
//!   NotFound, `namespaces "NAME" not found`, `details: {name, kind: namespaces}`. A new
//!   server has `default`, `kube-system`, `kube-public` and `kube-node-lease`; an object a
//!   test [`FakeKube::insert`]s brings its namespace with it;
//! - a create or replace of a built-in kind is checked against that kind's OpenAPI schema
//!   (the strict JSON Schemas `kubernetes-validate` ships, for the server's version):
//!   missing required fields and wrong types are 422 Invalid; a field the schema does not
//!   know is 400 BadRequest `strict decoding error: unknown field "spec.foo"` under
//!   `?fieldValidation=Strict`, and dropped with a `Warning` header otherwise (the server's
//!   default, `Warn`); custom resources are stored as sent;
//! - a second create of a name is 409 AlreadyExists; a denied verb 403 Forbidden;
//! - deleting a namespace deletes what is in it.
//!
//! A created Job is "run" by a test-provided hook on its own thread: it gets the Job and
//! returns whether the pod succeeded and its log; the server then records a pod and the
//! Job's status as the Job controller would.

mod route;
mod schema;

use route::{Route, query_map, selected};
use schema::admit;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a Job's pod did.
pub struct JobRun {
    /// Exit code 0.
    pub succeeded: bool,
    /// The pod's log.
    pub log: String,
}

/// Runs a created Job (its JSON); called on a separate thread.
pub type JobHook = Arc<dyn Fn(&Value) -> JobRun + Send + Sync>;

#[derive(Default)]
struct State {
    /// Object path (`/api/v1/namespaces/ns/configmaps/name`) → object.
    objects: BTreeMap<String, Value>,
    /// Pod logs by pod object path.
    logs: BTreeMap<String, String>,
    /// `(VERB, resource)` pairs answered with 403.
    forbidden: BTreeSet<(String, String)>,
    /// Resources the server serves (others: 404 as for a missing CRD).
    resources: BTreeSet<String>,
    /// Every request as `VERB path?query`.
    requests: Vec<String>,
    version: u64,
}

/// A running fake API server; stops accepting when dropped.
pub struct FakeKube {
    state: Arc<Mutex<State>>,
    hook: Arc<Mutex<Option<JobHook>>>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

const RESOURCES: &[&str] = &[
    "configmaps",
    "pods",
    "nodes",
    "namespaces",
    "serviceaccounts",
    "jobs",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
];

fn kind_of(resource: &str) -> &'static str {
    match resource {
        "configmaps" => "ConfigMap",
        "pods" => "Pod",
        "nodes" => "Node",
        "namespaces" => "Namespace",
        "serviceaccounts" => "ServiceAccount",
        "jobs" => "Job",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "clusterroles" => "ClusterRole",
        "clusterrolebindings" => "ClusterRoleBinding",
        "clusterpolicies" => "ClusterPolicy",
        "secrets" => "Secret",
        "applications" => "Application",
        "helmreleases" => "HelmRelease",
        "helmrepositories" => "HelmRepository",
        _ => "Unknown",
    }
}

pub(super) fn status(code: u16, reason: &str, message: String) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// A `Status` about one object, with the `details` the real server adds.
pub(super) fn status_of(
    code: u16,
    reason: &str,
    message: String,
    name: &str,
    kind: &str,
) -> (u16, Value) {
    let (code, mut v) = status(code, reason, message);
    v["details"] = json!({"name": name, "kind": kind});
    (code, v)
}

/// The namespaces a new cluster has.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// A Namespace object as the server keeps it.
fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": format!("uid-ns-{name}"), "resourceVersion": "1",
            "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

impl FakeKube {
    /// Start the server.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            resources: RESOURCES.iter().map(|s| s.to_string()).collect(),
            objects: SYSTEM_NAMESPACES
                .iter()
                .map(|ns| (format!("/api/v1/namespaces/{ns}"), namespace(ns)))
                .collect(),
            ..Default::default()
        }));
        let hook: Arc<Mutex<Option<JobHook>>> = Arc::new(Mutex::new(None));
        let (st, hk) = (state.clone(), hook.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (st, hk) = (st.clone(), hk.clone());
                std::thread::spawn(move || serve(conn, &st, &hk));
            }
        });
        FakeKube {
            state,
            hook,
            url,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A kubeconfig file that points at this server (context namespace `default`).
    pub fn kubeconfig(&self) -> PathBuf {
        let p = self.dir.path().join("kubeconfig");
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user:\n    token: test-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: default\ncurrent-context: fake\n",
                self.url
            ),
        )
        .expect("write kubeconfig");
        p
    }

    /// Put an object at its API path (e.g. `/api/v1/nodes/gpu-node-1`).
    pub fn insert(&self, path: &str, obj: Value) {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = Route::parse(path) {
            if let Some(ns) = &r.namespace {
                s.objects
                    .entry(format!("/api/v1/namespaces/{ns}"))
                    .or_insert_with(|| namespace(ns));
            }
            s.resources.insert(r.resource);
        }
        s.objects.insert(path.to_string(), obj);
    }

    /// The object at an API path.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    /// Paths of all stored objects.
    pub fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    /// Answer `verb` (GET, LIST, POST, PUT, DELETE) on `resource` with 403 Forbidden.
    pub fn forbid(&self, verb: &str, resource: &str) {
        self.state
            .lock()
            .unwrap()
            .forbidden
            .insert((verb.to_string(), resource.to_string()));
    }

    /// Run created Jobs with `hook`.
    pub fn on_job(&self, hook: impl Fn(&Value) -> JobRun + Send + Sync + 'static) {
        *self.hook.lock().unwrap() = Some(Arc::new(hook));
    }

    /// Every request so far, as `VERB path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The directory of the kubeconfig (for tests that need a scratch place).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn serve(conn: TcpStream, state: &Arc<Mutex<State>>, hook: &Arc<Mutex<Option<JobHook>>>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut warnings = Vec::new();
        let (code, ctype, out) = handle(state, hook, &method, &target, &body, &mut warnings);
        let warned: String = warnings
            .iter()
            .map(|w| {
                format!(
                    "Warning: 299 - {}\r\n",
                    serde_json::to_string(w).unwrap_or_default()
                )
            })
            .collect();
        let head = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\n{warned}Content-Length: {}\r\n\r\n",
            out.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&out).is_err() {
            return;
        }
    }
}

fn handle(
    state: &Arc<Mutex<State>>,
    hook: &Arc<Mutex<Option<JobHook>>>,
    method: &str,
    target: &str,
    body: &[u8],
    warnings: &mut Vec<String>,
) -> (u16, &'static str, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let q = query_map(query);
    // `fieldValidation=Strict`: unknown fields refused, not dropped with a warning.
    let strict = q.get("fieldValidation").map(String::as_str) == Some("Strict");
    let mut s = state.lock().unwrap();
    s.requests.push(format!("{method} {target}"));
    if path == "/version" {
        let v = json!({"major": "1", "minor": "34", "gitVersion": "v1.34.1-eks-3025e55",
            "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64"});
        return (200, "application/json", v.to_string().into_bytes());
    }
    let Some(r) = Route::parse(path) else {
        let (c, v) = status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
        return (c, "application/json", v.to_string().into_bytes());
    };
    let verb = match (method, &r.name) {
        ("GET", None) => "LIST",
        (m, _) => m,
    };
    let json_reply = |(c, v): (u16, Value)| (c, "application/json", v.to_string().into_bytes());
    if !s.resources.contains(&r.resource) {
        return json_reply(status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        ));
    }
    if s.forbidden
        .contains(&(verb.to_string(), r.resource.clone()))
    {
        return json_reply(status(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User \"system:serviceaccount:default:tester\" cannot {} resource \"{}\" in API group \"\" in the namespace \"{}\"",
                r.resource,
                verb.to_lowercase(),
                r.resource,
                r.namespace.clone().unwrap_or_default()
            ),
        ));
    }
    let kind = kind_of(&r.resource);
    match (verb, &r.name, &r.sub) {
        ("GET", Some(name), Some(sub)) if sub == "log" => match s.logs.get(&r.object(name)) {
            Some(l) => {
                let tail: usize = q
                    .get("tailLines")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(usize::MAX);
                let lines: Vec<&str> = l.lines().collect();
                let from = lines.len().saturating_sub(tail);
                (
                    200,
                    "text/plain",
                    (lines[from..].join("\n") + "\n").into_bytes(),
                )
            }
            None => json_reply(status(
                404,
                "NotFound",
                format!("pods \"{name}\" not found"),
            )),
        },
        ("GET", Some(name), None) => match s.objects.get(&r.object(name)) {
            Some(o) => json_reply((200, o.clone())),
            None => json_reply(status(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", r.resource),
            )),
        },
        ("LIST", None, None) => {
            let coll = r.collection();
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|(p, _)| {
                    // Cluster-wide list of a namespaced resource: any namespace.
                    let parent = p.rsplit_once('/').map(|x| x.0).unwrap_or("");
                    parent == coll
                        || (r.namespace.is_none()
                            && parent.starts_with(&format!("{}/namespaces/", r.prefix))
                            && parent.ends_with(&format!("/{}", r.resource)))
                })
                .map(|(_, o)| o.clone())
                .filter(|o| selected(o, &q))
                .collect();
            json_reply((
                200,
                json!({"kind": format!("{kind}List"), "apiVersion": "v1",
                       "metadata": {"resourceVersion": s.version.to_string()}, "items": items}),
            ))
        }
        ("POST", None, None) => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                return json_reply(status(400, "BadRequest", "body is not JSON".into()));
            };
            let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
                return json_reply(status(
                    422,
                    "Invalid",
                    "metadata.name: Required value".into(),
                ));
            };
            let path = r.object(&name);
            if let Some(ns) = &r.namespace
                && !s.objects.contains_key(&format!("/api/v1/namespaces/{ns}"))
            {
                return json_reply(status_of(
                    404,
                    "NotFound",
                    format!("namespaces \"{ns}\" not found"),
                    ns,
                    "namespaces",
                ));
            }
            if s.objects.contains_key(&path) {
                return json_reply(status_of(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", r.resource),
                    &name,
                    &r.resource,
                ));
            }
            match admit(&mut obj, strict) {
                Ok(w) => warnings.extend(w),
                Err(refused) => return json_reply(refused),
            }
            s.version += 1;
            obj["metadata"]["resourceVersion"] = json!(s.version.to_string());
            obj["metadata"]["uid"] = json!(format!("uid-{}", s.version));
            obj["metadata"]["creationTimestamp"] = json!("2026-11-27T00:00:00Z");
            if let Some(ns) = &r.namespace {
                obj["metadata"]["namespace"] = json!(ns);
            }
            s.objects.insert(path.clone(), obj.clone());
            if r.resource == "jobs" {
                let hook = hook.lock().unwrap().clone();
                if let Some(hook) = hook {
                    let (state, job, ns) = (
                        state.clone(),
                        obj.clone(),
                        r.namespace.clone().unwrap_or_default(),
                    );
                    std::thread::spawn(move || run_job(&state, &hook, &job, &ns, &path));
                }
            }
            json_reply((201, obj))
        }
        ("PUT", Some(name), None) => {
            let path = r.object(name);
            if !s.objects.contains_key(&path) {
                return json_reply(status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", r.resource),
                ));
            }
            let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                return json_reply(status(400, "BadRequest", "body is not JSON".into()));
            };
            match admit(&mut obj, strict) {
                Ok(w) => warnings.extend(w),
                Err(refused) => return json_reply(refused),
            }
            s.version += 1;
            obj["metadata"]["resourceVersion"] = json!(s.version.to_string());
            s.objects.insert(path, obj.clone());
            json_reply((200, obj))
        }
        ("DELETE", Some(name), None) => {
            let path = r.object(name);
            match s.objects.remove(&path) {
                Some(o) => {
                    if r.resource == "namespaces" && r.prefix == "/api/v1" {
                        // What is in a namespace goes with it.
                        let inside: Vec<String> = s
                            .objects
                            .keys()
                            .filter(|p| p.contains(&format!("/namespaces/{name}/")))
                            .cloned()
                            .collect();
                        for p in inside {
                            s.objects.remove(&p);
                        }
                    }
                    if r.resource == "jobs" {
                        // Background propagation: the Job's pods go too.
                        let pods = format!(
                            "/api/v1/namespaces/{}/pods/",
                            r.namespace.clone().unwrap_or_default()
                        );
                        let owned: Vec<String> = s
                            .objects
                            .iter()
                            .filter(|(p, o)| {
                                p.starts_with(&pods)
                                    && o["metadata"]["labels"]["job-name"] == json!(name)
                            })
                            .map(|(p, _)| p.clone())
                            .collect();
                        for p in owned {
                            s.objects.remove(&p);
                        }
                    }
                    json_reply((200, o))
                }
                None => json_reply(status(
                    404,
                    "NotFound",
                    format!("{} \"{name}\" not found", r.resource),
                )),
            }
        }
        _ => json_reply(status(
            405,
            "MethodNotAllowed",
            format!("{method} {path} is not supported here"),
        )),
    }
}

fn run_job(state: &Arc<Mutex<State>>, hook: &JobHook, job: &Value, ns: &str, job_path: &str) {
    let run = hook(job);
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or("job")
        .to_string();
    let pod_name = format!("{name}-x7k2p");
    let pod_path = format!("/api/v1/namespaces/{ns}/pods/{pod_name}");
    let terminated = if run.succeeded {
        json!({"exitCode": 0, "reason": "Completed"})
    } else {
        json!({"exitCode": 2, "reason": "Error"})
    };
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": ns,
                     "labels": {"job-name": name, "batch.kubernetes.io/job-name": name}},
        "spec": job["spec"]["template"]["spec"].clone(),
        "status": {"phase": if run.succeeded { "Succeeded" } else { "Failed" },
                   "containerStatuses": [{"name": "cns", "ready": false, "restartCount": 0,
                       "image": "", "imageID": "", "state": {"terminated": terminated}}]}
    });
    let mut s = state.lock().unwrap();
    s.objects.insert(pod_path.clone(), pod);
    s.logs.insert(pod_path, run.log);
    if let Some(j) = s.objects.get_mut(job_path) {
        j["status"] = if run.succeeded {
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
        } else {
            json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                   "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
        };
    }
}
