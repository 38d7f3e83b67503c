//! Validated bundle options: node placement flags, `--set` overrides, deployer settings.

use crate::{Error, Result};
use cns_runtime::types::{Label, Toleration};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where one class of pods goes: node selector and tolerations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// Node selector labels, sorted by key.
    pub selector: BTreeMap<String, String>,
    /// Tolerations, in flag order.
    pub tolerations: Vec<Toleration>,
}

impl Placement {
    /// Labels in WIT form.
    pub fn labels(&self) -> Vec<Label> {
        self.selector
            .iter()
            .map(|(k, v)| Label {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
}

/// One `--set component:path=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOverride {
    /// Component name or alias as given.
    pub component: String,
    /// Dotted values path.
    pub path: String,
    /// Typed value (bool, int, float or string).
    pub value: Value,
}

/// Everything `cnsctl bundle` needs besides the recipe, already validated.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Deployer plugin name.
    pub deployer: String,
    /// `--system-node-selector` / `--system-node-toleration`.
    pub system: Placement,
    /// `--accelerated-node-selector` / `--accelerated-node-toleration`.
    pub accelerated: Placement,
    /// `--set` overrides, in flag order.
    pub sets: Vec<SetOverride>,
    /// Options passed to the deployer (`repo`, `revision`, …), sorted by key.
    pub deployer_options: BTreeMap<String, String>,
    /// Render components on several threads.
    pub parallel: bool,
    /// `--cluster-values NAME`: clusters that share the bundle. When given, the
    /// cluster-specific values (scheduling from the flags, the registry's `clusterValuePaths`)
    /// leave the shared `values.yaml` and reach the deployer per component as
    /// `cluster-values/<component>` (JSON), with `clusters` naming the clusters.
    pub clusters: Vec<String>,
    /// `--registry-mirror REGISTRY/PREFIX`: every image of every component with image data
    /// is pointed at the mirror (values at the registry's `mirror` paths, operator custom
    /// resources among the manifests).
    pub registry_mirror: Option<String>,
}

fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
    });
    name_ok && prefix_ok
}

fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Parse `key=value` node selectors (repeatable) into a sorted map.
pub fn parse_selectors(flag: &'static str, raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for r in raw {
        let bad = |reason: &str| Error::InvalidFlag {
            flag,
            value: r.clone(),
            reason: reason.to_string(),
        };
        let (k, v) = r.split_once('=').ok_or_else(|| bad("expected key=value"))?;
        if !is_label_key(k) {
            return Err(bad("the key is not a valid Kubernetes label key"));
        }
        if !is_label_value(v) {
            return Err(bad("the value is not a valid Kubernetes label value"));
        }
        if out
            .insert(k.to_string(), v.to_string())
            .is_some_and(|old| old != v)
        {
            return Err(bad("the key is given twice with different values"));
        }
    }
    Ok(out)
}

/// Parse tolerations: `key=value:Effect` (Equal), `key=value` (Equal, any effect),
/// `key:Effect` or `key` (Exists), `*` (tolerate everything).
pub fn parse_tolerations(flag: &'static str, raw: &[String]) -> Result<Vec<Toleration>> {
    const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
    let mut out: Vec<Toleration> = Vec::new();
    for r in raw {
        let bad = |reason: String| Error::InvalidFlag {
            flag,
            value: r.clone(),
            reason,
        };
        if r == "*" {
            out.push(Toleration {
                key: None,
                operator: "Exists".into(),
                value: None,
                effect: None,
            });
            continue;
        }
        let (kv, effect) = match r.rsplit_once(':') {
            Some((kv, e)) => {
                if !EFFECTS.contains(&e) {
                    return Err(bad(format!(
                        "effect `{e}` must be one of {}",
                        EFFECTS.join(", ")
                    )));
                }
                (kv, Some(e.to_string()))
            }
            None => (r.as_str(), None),
        };
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (kv, None),
        };
        if !is_label_key(key) {
            return Err(bad(
                "the key is not a valid taint key (expected key=value:Effect)".into(),
            ));
        }
        if value.is_some_and(|v| !is_label_value(v)) {
            return Err(bad("the value is not a valid taint value".into()));
        }
        let t = Toleration {
            key: Some(key.to_string()),
            operator: if value.is_some() { "Equal" } else { "Exists" }.into(),
            value: value.map(str::to_string),
            effect,
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Check a Kubernetes name given as a flag (a namespace, project, Secret or name prefix): a
/// DNS label, lowercase letters, digits and `-`, at most 63 characters.
pub fn check_name(flag: &'static str, raw: &str) -> Result<()> {
    if cns_recipe::fields::is_dns_label(raw) {
        Ok(())
    } else {
        Err(Error::InvalidFlag {
            flag,
            value: shorten(raw),
            reason: "expected a Kubernetes name: lowercase letters, digits and `-`, at most 63"
                .into(),
        })
    }
}

/// Check a deployer option given as a flag (`--repo`, `--revision`): no control characters,
/// quotes or spaces; only characters URLs, OCI references and Git refs use.
pub fn check_location(flag: &'static str, raw: &str) -> Result<()> {
    let ok = !raw.is_empty()
        && raw.len() <= 2048
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/@%+=".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidFlag {
            flag,
            value: shorten(raw),
            reason:
                "use only letters, digits and `-._~:/@%+=` (a URL, OCI reference or Git revision)"
                    .into(),
        })
    }
}

/// A flag value for an error message: control characters escaped, at most 120 characters.
fn shorten(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .take(120)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if raw.chars().nth(120).is_some() {
        s.push('…');
    }
    s
}

/// `--registry-mirror oci://REGISTRY/PREFIX` (and `mirror --to/--from`) → `REGISTRY/PREFIX`,
/// checked: a host (with an optional port) and a lowercase repository prefix, no tag.
pub fn parse_mirror(flag: &'static str, raw: &str) -> Result<String> {
    check_location(flag, raw)?;
    let refuse = |message: String| Error::Request {
        field: flag.trim_start_matches('-'),
        message,
    };
    let Some(rest) = raw.strip_prefix("oci://") else {
        return Err(refuse(format!(
            "{flag} `{raw}`: expected oci://REGISTRY/PREFIX"
        )));
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let path_ok = path.split('/').all(|seg| {
        seg.is_empty() && path.is_empty()
            || (!seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && seg.starts_with(|c: char| c.is_ascii_alphanumeric()))
    });
    if !host_ok || !path_ok || path.contains(':') || path.contains('@') {
        return Err(refuse(format!(
            "{flag} `{raw}`: expected oci://REGISTRY[:PORT]/PREFIX with a lowercase repository prefix and no tag"
        )));
    }
    Ok(rest.to_string())
}

/// Largest value one `--set` may carry, in bytes.
pub const MAX_SET_VALUE: usize = 1 << 20;

/// Parse `component:dotted.path=value`.
pub fn parse_set(raw: &str) -> Result<SetOverride> {
    let bad = |reason: &str| Error::InvalidFlag {
        flag: "--set",
        value: shorten(raw),
        reason: reason.to_string(),
    };
    let (component, rest) = raw
        .split_once(':')
        .ok_or_else(|| bad("expected component:path=value"))?;
    let (path, value) = rest
        .split_once('=')
        .ok_or_else(|| bad("expected component:path=value"))?;
    if component.is_empty() {
        return Err(bad("the component is empty"));
    }
    cns_values::split_path(path).map_err(|e| bad(&e.to_string()))?;
    if value.len() > MAX_SET_VALUE {
        return Err(bad(&format!(
            "the value is {} bytes, more than the {MAX_SET_VALUE} allowed",
            value.len()
        )));
    }
    Ok(SetOverride {
        component: component.to_string(),
        path: path.to_string(),
        value: cns_values::parse_scalar(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tolerations_grammar() {
        let t = parse_tolerations(
            "--t",
            &s(&[
                "dedicated=user-workload:NoSchedule",
                "gpu:NoExecute",
                "a=b",
                "k",
                "*",
            ]),
        )
        .unwrap();
        let show: Vec<String> = t
            .iter()
            .map(|t| format!("{:?}|{}|{:?}|{:?}", t.key, t.operator, t.value, t.effect))
            .collect();
        assert_eq!(
            show,
            [
                "Some(\"dedicated\")|Equal|Some(\"user-workload\")|Some(\"NoSchedule\")",
                "Some(\"gpu\")|Exists|None|Some(\"NoExecute\")",
                "Some(\"a\")|Equal|Some(\"b\")|None",
                "Some(\"k\")|Exists|None|None",
                "None|Exists|None|None",
            ]
        );
        for bad in ["a=b:Sometimes", "=b:NoSchedule", "a b=c", "a=b c"] {
            let e = parse_tolerations("--t", &s(&[bad]))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("invalid --t value `{bad}`")), "{e}");
        }
    }

    #[test]
    fn selectors_grammar() {
        let m = parse_selectors(
            "--s",
            &s(&[
                "nodeGroup=system-pool",
                "node.kubernetes.io/role=gpu",
                "empty=",
            ]),
        )
        .unwrap();
        assert_eq!(m.len(), 3);
        for bad in ["novalue", "=x", "a=b c", "UPPER/x=y"] {
            assert!(parse_selectors("--s", &s(&[bad])).is_err(), "{bad}");
        }
        assert!(parse_selectors("--s", &s(&["a=1", "a=2"])).is_err());
    }

    #[test]
    fn set_grammar() {
        let o = parse_set("gpuoperator:driver.version=570.133.20").unwrap();
        assert_eq!(
            (o.component.as_str(), o.path.as_str(), &o.value),
            ("gpuoperator", "driver.version", &json!("570.133.20"))
        );
        assert_eq!(parse_set("x:a.b=true").unwrap().value, json!(true));
        assert_eq!(parse_set("x:a=3").unwrap().value, json!(3));
        assert_eq!(parse_set("x:a=b=c").unwrap().value, json!("b=c"));
        // Bounded: path depth and value size (an API caller is not limited by ARG_MAX).
        let deep = format!("x:{}=1", vec!["a"; 65].join("."));
        let e = parse_set(&deep).unwrap_err().to_string();
        assert!(e.contains("more than 64 segments") && e.len() < 400, "{e}");
        let big = format!("x:a={}", "v".repeat(MAX_SET_VALUE + 1));
        let e = parse_set(&big).unwrap_err().to_string();
        assert!(
            e.contains("more than the 1048576 allowed") && e.len() < 400,
            "{e}"
        );
        for bad in ["nocolon", "x:noequals", ":a=1", "x:a..b=1", "x:{{a}}=1"] {
            let e = parse_set(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --set value `{bad}`")),
                "{e}"
            );
        }
    }
}
