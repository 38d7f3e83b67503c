//! Kubernetes scheduling as flags give it: node selectors (`key=value`) and tolerations
//! (`key=value:Effect` and its shorter forms), checked against Kubernetes' label rules. The
//! bundle's placement flags and the snapshot agent's both read them here.

use std::collections::BTreeMap;

/// A flag value that is not a selector or toleration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {flag} value `{value}`: {reason}")]
pub struct FlagError {
    /// The flag, e.g. `--node-selector`.
    pub flag: &'static str,
    /// The value given.
    pub value: String,
    /// What is expected.
    pub reason: String,
}

/// A toleration: `operator` is `Equal` (with a value) or `Exists`; no key tolerates every
/// taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// The taint key; `None` with `Exists` matches every key.
    pub key: Option<String>,
    /// `Equal` or `Exists`.
    pub operator: String,
    /// The taint value (with `Equal`).
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; `None`: every effect.
    pub effect: Option<String>,
}

/// Whether `k` is a Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 alphanumerics, `-`, `_` or `.`, alphanumeric at both ends.
pub fn is_label_key(k: &str) -> bool {
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

/// Whether `v` is a Kubernetes label value: empty, or at most 63 alphanumerics, `-`, `_` or
/// `.`, alphanumeric at both ends.
pub fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Parse `key=value` node selectors (repeatable) into a sorted map.
pub fn parse_selectors(
    flag: &'static str,
    raw: &[String],
) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for r in raw {
        let bad = |reason: &str| FlagError {
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
pub fn parse_tolerations(flag: &'static str, raw: &[String]) -> Result<Vec<Toleration>, FlagError> {
    const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
    let mut out: Vec<Toleration> = Vec::new();
    for r in raw {
        let bad = |reason: String| FlagError {
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
