//! The test API server's admission of built-in objects: each checked against its kind's
//! schema from the strict JSON Schemas `kubernetes-validate` generates from the Kubernetes
//! 1.34 OpenAPI document, answered as the real server answers (422 Invalid; an unknown field
//! 400 under `fieldValidation=Strict`, dropped with a warning otherwise).

use super::{status, status_of};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The strict JSON Schemas of `kubernetes-validate` for Kubernetes 1.34 (the server's
/// version): `$defs` of every built-in kind, keyed `io.k8s.api.GROUP.VERSION.KIND`.
fn k8s_definitions() -> Option<&'static Value> {
    static DEFS: std::sync::OnceLock<Option<Value>> = std::sync::OnceLock::new();
    DEFS.get_or_init(|| {
        let tool = crate::require_tool(
            "kubernetes-validate",
            &[&crate::workspace_root().join("target/tools/bin")],
        )?;
        let text = std::fs::read_to_string(&tool).ok()?;
        let python = text.lines().next()?.strip_prefix("#!")?.trim().to_string();
        let out = std::process::Command::new(python)
            .args(["-c", "import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))"])
            .output()
            .ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            .join("kubernetes-json-schema/v1.34.0-local-strict/_definitions.json");
        let defs: Value = serde_json::from_str(
            &std::fs::read_to_string(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
        )
        .expect("kubernetes-validate's definitions are JSON");
        Some(defs)
    })
    .as_ref()
}

/// A field the schema does not know: the JSON pointer of the object holding it, its name,
/// and its path as the server says it (`spec.template.spec.containers[0].imagePolicy`).
struct Unknown {
    parent: String,
    name: String,
    said: String,
}

/// `/spec/template/spec/containers/0` as the server says it: `spec.template.spec.containers[0]`.
fn dotted(pointer: &str) -> String {
    let mut at = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.parse::<usize>().is_ok() {
            at.push_str(&format!("[{seg}]"));
        } else {
            if !at.is_empty() {
                at.push('.');
            }
            at.push_str(seg);
        }
    }
    at
}

/// What the schema of `obj`'s kind says of it: `(unknown fields, other violations)`; `None`
/// when the kind is not built in (a custom resource) or the schemas are not installed.
fn schema_check(obj: &Value) -> Option<(Vec<Unknown>, Vec<String>)> {
    type Validators = Mutex<BTreeMap<String, Arc<jsonschema::Validator>>>;
    static VALIDATORS: std::sync::OnceLock<Validators> = std::sync::OnceLock::new();
    let (api_version, kind) = (obj["apiVersion"].as_str()?, obj["kind"].as_str()?);
    let (group, version) = api_version
        .rsplit_once('/')
        .unwrap_or(("core", api_version));
    let group = group.split('.').next().unwrap_or(group);
    let name = format!("io.k8s.api.{group}.{version}.{kind}");
    let defs = k8s_definitions()?;
    defs["$defs"].get(&name)?;
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Default::default).lock().unwrap();
        cache
            .entry(name.clone())
            .or_insert_with(|| {
                let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$defs": defs["$defs"], "$ref": format!("#/$defs/{name}")});
                Arc::new(
                    jsonschema::validator_for(&schema)
                        .expect("kubernetes-validate's schema compiles"),
                )
            })
            .clone()
    };
    let (mut unknown, mut other) = (Vec::new(), Vec::new());
    for e in validator.iter_errors(obj) {
        let parent = e.instance_path().to_string();
        let at = dotted(&parent);
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            e.kind()
        {
            for u in unexpected {
                unknown.push(Unknown {
                    parent: parent.clone(),
                    name: u.clone(),
                    said: if at.is_empty() {
                        u.clone()
                    } else {
                        format!("{at}.{u}")
                    },
                });
            }
        } else {
            other.push(format!(
                "{}: {e}",
                if at.is_empty() { "<root>" } else { &at }
            ));
        }
    }
    Some((unknown, other))
}

/// The schema's answer to a create or replace: `Err` is the refusal; `Ok` the warnings (and
/// `obj` without the unknown fields, as the server drops them under `fieldValidation=Warn`).
pub(super) fn admit(obj: &mut Value, strict: bool) -> Result<Vec<String>, (u16, Value)> {
    let Some((unknown, other)) = schema_check(obj) else {
        return Ok(Vec::new());
    };
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if !other.is_empty() {
        return Err(status_of(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {}", other.join("; ")),
            &name,
            &kind,
        ));
    }
    let said: Vec<String> = unknown
        .iter()
        .map(|u| format!("unknown field \"{}\"", u.said))
        .collect();
    if strict && !said.is_empty() {
        return Err(status(
            400,
            "BadRequest",
            format!("strict decoding error: {}", said.join(", ")),
        ));
    }
    for u in &unknown {
        if let Some(Value::Object(m)) = obj.pointer_mut(&u.parent) {
            m.remove(&u.name);
        }
    }
    Ok(said)
}
