//! Deterministic Helm values trees: deep merge, dotted paths, typed `--set` values and YAML output.
//!
//! A values tree is a [`serde_json::Value`] whose maps are sorted (`BTreeMap`), so every
//! operation and every serialisation is independent of insertion order. This crate knows
//! nothing about recipes or plugins; the host and the plugin SDK both use it.
//!
//! ```
//! use cns_values::{deep_merge, set_path, parse_scalar, to_yaml};
//! let mut base = serde_json::json!({"a": {"b": 1, "c": [1, 2]}});
//! deep_merge(&mut base, &serde_json::json!({"a": {"c": [3]}, "d": true}));
//! set_path(&mut base, "a.e.f", parse_scalar("42")).unwrap();
//! assert_eq!(to_yaml(&base).unwrap(), "a:\n  b: 1\n  c:\n  - 3\n  e:\n    f: 42\nd: true\n");
//! ```

use serde_json::{Map, Value};
use std::borrow::Cow;

pub mod chart_types;
mod emit;
pub mod strvals;
pub mod tree;

/// Errors from values operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A path segment is empty or has characters outside `[A-Za-z0-9._-]`.
    #[error(
        "invalid values path `{path}`: segment `{segment}` must match [A-Za-z0-9][A-Za-z0-9_-]*"
    )]
    InvalidPath {
        /// The whole path.
        path: String,
        /// The offending segment.
        segment: String,
    },
    /// A path has more segments than [`MAX_PATH_DEPTH`].
    #[error("values path `{path}…` has more than {max} segments")]
    TooDeep {
        /// The start of the path.
        path: String,
        /// The limit.
        max: usize,
    },
    /// A path goes through a value that is not a map.
    #[error("values path `{path}` goes through `{at}`, which is a {kind}, not a map")]
    NotAMap {
        /// The whole path.
        path: String,
        /// The prefix that is not a map.
        at: String,
        /// Kind of the value found there.
        kind: &'static str,
    },
    /// The document is not valid JSON/YAML or not a map.
    #[error("values are not a map: {0}")]
    NotAnObject(String),
    /// Serialising to YAML failed.
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// Deep-merge `over` into `base`: maps merge key by key, anything else (lists, scalars) replaces.
pub fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The most segments a dotted values path may have (deeper trees exhaust the stack of
/// every recursive consumer, YAML writers included).
pub const MAX_PATH_DEPTH: usize = 64;

/// Split and check a dotted path such as `webhook.nodeSelector`.
pub fn split_path(path: &str) -> Result<Vec<&str>, Error> {
    if path.split('.').nth(MAX_PATH_DEPTH).is_some() {
        return Err(Error::TooDeep {
            path: path.chars().take(60).collect(),
            max: MAX_PATH_DEPTH,
        });
    }
    path.split('.')
        .map(|seg| {
            let ok = seg
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if ok {
                Ok(seg)
            } else {
                Err(Error::InvalidPath {
                    path: path.to_string(),
                    segment: seg.to_string(),
                })
            }
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Set `value` at the dotted `path`, creating intermediate maps (a `null` counts as absent).
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), Error> {
    let segs = split_path(path)?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else {
            return Err(Error::NotAMap {
                path: path.to_string(),
                at: segs[..i].join("."),
                kind: kind(cur),
            });
        };
        if i + 1 == segs.len() {
            map.insert((*seg).to_string(), value);
            return Ok(());
        }
        cur = map.entry((*seg).to_string()).or_insert(Value::Null);
    }
    unreachable!("split_path returns at least one segment")
}

/// The value at the dotted `path`, if every step exists.
pub fn get_path<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |cur, seg| cur.get(seg))
}

/// Remove the value at the dotted `path`; returns it if it existed.
pub fn remove_path(root: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (p, l),
        None => return root.as_object_mut()?.remove(path),
    };
    let mut cur = root;
    for seg in parent.split('.') {
        cur = cur.get_mut(seg)?;
    }
    cur.as_object_mut()?.remove(last)
}

/// Type a `--set` value the way the predecessor did: `true`/`false` → bool, then integer,
/// then float, else string.
pub fn parse_scalar(raw: &str) -> Value {
    match raw {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = raw.parse::<f64>()
        && f.is_finite()
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || ".-+eE".contains(c))
    {
        return Value::from(f);
    }
    Value::String(raw.to_string())
}

/// Parse a JSON object (the form values take across the plugin boundary).
pub fn from_json(text: &str) -> Result<Value, Error> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::NotAnObject(e.to_string()))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(Error::NotAnObject(format!("found a {}", kind(&v))))
    }
}

/// Parse a YAML document into a values tree; an empty document is an empty map.
pub fn from_yaml(text: &str) -> Result<Value, Error> {
    let v: Value = serde_norway::from_str(text).map_err(|e| Error::NotAnObject(e.to_string()))?;
    match v {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(v),
        other => Err(Error::NotAnObject(format!("found a {}", kind(&other)))),
    }
}

/// Serialise a values tree as YAML with sorted keys. An empty map becomes `{}`.
///
/// The output is serde_norway's, byte for byte; a native writer produces it for the trees
/// it covers (all but floats and strings that need double quotes; a bundle in process went
/// from 1.11 to 0.65 ms with it), and serde_norway writes the rest.
pub fn to_yaml(value: &Value) -> Result<String, Error> {
    match emit::emit(value) {
        Some(text) => Ok(text),
        None => serde_norway::to_string(value).map_err(|e| Error::Yaml(e.to_string())),
    }
}

/// Whether YAML or a shell would end a line at `c`: control characters (line feed and
/// carriage return among them) and the Unicode line and paragraph separators.
fn breaks_lines(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `s` for a one-line comment (`# …` in a script or YAML file): control characters and
/// line separators become visible escapes (`\n`, `\r`, `\u{2028}`), so the comment cannot
/// end early. Unchanged when there are none.
pub fn comment_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(breaks_lines) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if breaks_lines(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text of a component's `values.yaml`: a one-line header naming the chart, then the
/// values with sorted keys. The host writes it from the values a bundler returns (WIT 0.3);
/// bundlers built for 0.1 and 0.2 wrote the same text themselves.
pub fn values_file(
    component: &str,
    chart: &str,
    version: &str,
    values: &Value,
) -> Result<String, Error> {
    Ok(format!(
        "# {}\n{}",
        comment_text(&format!(
            "{component} Helm values for chart {chart} {version}, generated by cnsctl."
        )),
        to_yaml(values)?
    ))
}

/// Serialise any serialisable value (a struct: fields in declaration order) as YAML,
/// byte for byte as `serde_norway::to_string` does, through the same native writer as
/// [`to_yaml`] where it covers the document.
pub fn to_yaml_ordered<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let tree = serde_norway::to_value(value).map_err(|e| Error::Yaml(e.to_string()))?;
    match emit::emit(&tree) {
        Some(text) => Ok(text),
        None => serde_norway::to_string(value).map_err(|e| Error::Yaml(e.to_string())),
    }
}

/// A Kubernetes toleration as charts take it in values (`key`, `operator`, `value`,
/// `effect`; absent parts left out). One shape for the SDK's scheduling and the host's
/// `--cluster-values`, so both write the same tree.
pub fn toleration(
    key: Option<&str>,
    operator: &str,
    value: Option<&str>,
    effect: Option<&str>,
) -> Value {
    let mut m = Map::new();
    if let Some(k) = key {
        m.insert("key".into(), Value::String(k.to_string()));
    }
    m.insert("operator".into(), Value::String(operator.to_string()));
    if let Some(v) = value {
        m.insert("value".into(), Value::String(v.to_string()));
    }
    if let Some(e) = effect {
        m.insert("effect".into(), Value::String(e.to_string()));
    }
    Value::Object(m)
}

/// Serialise a values tree as compact JSON with sorted keys.
pub fn to_json(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_table() {
        let cases = [
            (
                "maps merge",
                json!({"a": {"b": 1}}),
                json!({"a": {"c": 2}}),
                json!({"a": {"b": 1, "c": 2}}),
            ),
            (
                "lists replace",
                json!({"a": [1, 2]}),
                json!({"a": [3]}),
                json!({"a": [3]}),
            ),
            (
                "scalar over map",
                json!({"a": {"b": 1}}),
                json!({"a": 5}),
                json!({"a": 5}),
            ),
            (
                "map over scalar",
                json!({"a": 5}),
                json!({"a": {"b": 1}}),
                json!({"a": {"b": 1}}),
            ),
            (
                "null replaces",
                json!({"a": 1}),
                json!({"a": null}),
                json!({"a": null}),
            ),
        ];
        for (name, mut base, over, want) in cases {
            deep_merge(&mut base, &over);
            assert_eq!(base, want, "case {name}");
        }
    }

    #[test]
    fn set_path_creates_and_refuses() {
        let mut v = json!({"a": {"b": 1}, "s": "x"});
        set_path(&mut v, "a.c.d", json!(true)).unwrap();
        assert_eq!(v["a"]["c"]["d"], json!(true));
        let err = set_path(&mut v, "s.x", json!(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values path `s.x` goes through `s`, which is a string, not a map"
        );
        for bad in ["", "a..b", ".a", "a.{{x}}", "a.b[0]", "-a"] {
            assert!(
                matches!(
                    set_path(&mut v, bad, json!(1)),
                    Err(Error::InvalidPath { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn scalar_typing() {
        let cases = [
            ("true", json!(true)),
            ("false", json!(false)),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("1.5", json!(1.5)),
            ("v1.2.3", json!("v1.2.3")),
            ("570.133.20", json!("570.133.20")),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("True", json!("True")),
            ("", json!("")),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_scalar(raw), want, "{raw}");
        }
    }

    #[test]
    fn get_and_remove() {
        let mut v = json!({"a": {"b": {"c": 1}}, "top": 2});
        assert_eq!(get_path(&v, "a.b.c"), Some(&json!(1)));
        assert_eq!(get_path(&v, "a.x.c"), None);
        assert_eq!(remove_path(&mut v, "a.b.c"), Some(json!(1)));
        assert_eq!(remove_path(&mut v, "top"), Some(json!(2)));
        assert_eq!(v, json!({"a": {"b": {}}}));
    }

    #[test]
    fn yaml_is_sorted_and_quotes_ambiguous_strings() {
        let v = json!({"z": 1, "a": {"y": "true", "x": "1.0", "w": "yes", "v": "plain"}});
        let y = to_yaml(&v).unwrap();
        assert!(y.starts_with("a:\n"), "{y}");
        assert!(y.contains("y: 'true'"), "{y}");
        assert!(y.contains("x: '1.0'"), "{y}");
        let back = from_yaml(&y).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn yaml_errors() {
        assert!(from_yaml("- a\n- b\n").is_err());
        assert!(from_yaml("a: [\n").is_err());
        assert_eq!(from_yaml("").unwrap(), json!({}));
        assert!(from_json("[1]").is_err());
    }
}
