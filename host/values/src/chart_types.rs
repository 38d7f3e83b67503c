//! The types of a chart's default values, as recorded for one chart version, and a
//! component's final values checked against them: a map replaced by a scalar, a list by a
//! map, a string where the chart has a bool. Free-form defaults (`{}`, `[]`, `null`) take
//! anything, and keys the chart does not default are left to the chart's schema.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The type of one default value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A map with these keys (each with its own type); other keys are not checked here.
    Map(BTreeMap<String, Kind>),
    /// A list (its items are not checked).
    List,
    /// A string: a string or a number is taken (Helm's `--set` types `580` as a number).
    String,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// Free-form: the default is `{}`, `[]` or `null`.
    Any,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Map(_) => "map",
            Kind::List => "list",
            Kind::String => "string",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::Any => "any",
        }
    }

    /// The record as a document: maps as maps, every other type by its name.
    pub fn to_value(&self) -> Value {
        match self {
            Kind::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
            other => Value::String(other.name().into()),
        }
    }

    /// Read a record written by [`Kind::to_value`].
    pub fn from_value(v: &Value) -> Result<Kind, String> {
        Ok(match v {
            Value::Object(m) => Kind::Map(
                m.iter()
                    .map(|(k, v)| {
                        Kind::from_value(v)
                            .map(|kind| (k.clone(), kind))
                            .map_err(|e| format!("{k}.{e}"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::String(s) => match s.as_str() {
                "list" => Kind::List,
                "string" => Kind::String,
                "bool" => Kind::Bool,
                "number" => Kind::Number,
                "any" => Kind::Any,
                other => return Err(format!(": unknown type `{other}`")),
            },
            other => return Err(format!(": expected a map or a type name, not {other}")),
        })
    }
}

/// The types of `defaults`, a chart's values.
pub fn record(defaults: &Value) -> Kind {
    match defaults {
        Value::Object(m) if !m.is_empty() => {
            Kind::Map(m.iter().map(|(k, v)| (k.clone(), record(v))).collect())
        }
        Value::Array(a) if !a.is_empty() => Kind::List,
        Value::String(_) => Kind::String,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        _ => Kind::Any,
    }
}

/// A chart's defaults with its subcharts': each subchart's values under its name, the
/// parent's section for it merged over them (as Helm coalesces them).
pub fn with_subcharts(parent: &Value, subcharts: &[(String, Value)]) -> Value {
    let mut out = parent.clone();
    if let Value::Object(map) = &mut out {
        for (name, sub) in subcharts {
            let mut merged = sub.clone();
            if let Some(section) = map.get(name) {
                crate::deep_merge(&mut merged, section);
            }
            map.insert(name.clone(), merged);
        }
    }
    out
}

/// A value whose type is not the chart's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Dotted path (list items by index are not checked).
    pub path: String,
    /// The chart's type there.
    pub expected: &'static str,
    /// What was given, shortened.
    pub given: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the chart has a {} there, given {}",
            self.path, self.expected, self.given
        )
    }
}

/// `value` as a short phrase: its type and, for a scalar, itself.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "a map".into(),
        Value::Array(_) => "a list".into(),
        Value::String(s) => {
            let s: String = s.chars().take(60).collect();
            format!("the string {s:?}")
        }
        Value::Bool(b) => format!("the bool {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Null => "null".into(),
    }
}

/// Every place `values` contradicts `kind`, in path order.
pub fn check(values: &Value, kind: &Kind) -> Vec<Mismatch> {
    let mut out = Vec::new();
    walk(values, kind, &mut Vec::new(), &mut out);
    out
}

fn walk<'a>(values: &'a Value, kind: &Kind, path: &mut Vec<&'a str>, out: &mut Vec<Mismatch>) {
    let ok = match (kind, values) {
        // `null` removes a key (Helm's rule), whatever its type.
        (_, Value::Null) | (Kind::Any, _) => true,
        (Kind::Map(children), Value::Object(m)) => {
            for (k, v) in m {
                if let Some(child) = children.get(k) {
                    path.push(k);
                    walk(v, child, path, out);
                    path.pop();
                }
            }
            true
        }
        (Kind::List, Value::Array(_)) | (Kind::Bool, Value::Bool(_)) => true,
        (Kind::Number, Value::Number(_)) => true,
        (Kind::String, Value::String(_) | Value::Number(_)) => true,
        _ => false,
    };
    if !ok {
        out.push(Mismatch {
            path: path.join("."),
            expected: kind.name(),
            given: describe(values),
        });
    }
}

/// What cnsctl checks of a chart's `values.schema.json`: the JSON type of each value, the
/// properties of each map and whether it allows others. A chart's schema is reduced to this
/// form when it is recorded ([`reduce`]), which refuses any keyword it would not check, so a
/// recorded schema means exactly what the chart's does for values Helm validates (`required`
/// aside: the chart's defaults hold those keys). Checking it costs microseconds; compiling
/// the full schema with a JSON Schema library took milliseconds per process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// The JSON Schema types allowed (`integer` included); `None`: any.
    pub types: Option<Vec<String>>,
    /// The shapes of named properties.
    pub properties: BTreeMap<String, Shape>,
    /// Whether a map may have properties not named.
    pub closed: bool,
}

/// JSON Schema keywords that only annotate: nothing to check.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "$defs",
    "definitions",
];

/// Reduce a chart's `values.schema.json` to a [`Shape`]: local `$ref`s resolved, `type`,
/// `properties` and `additionalProperties: false` kept, `items` of arrays not checked (as
/// Helm charts' schemas leave them loose), annotations dropped. Any other keyword is an
/// error naming it: the reduction never silently weakens the chart's schema.
pub fn reduce(schema: &Value) -> Result<Shape, String> {
    reduce_at(schema, schema, "#", 0)
}

fn reduce_at(root: &Value, node: &Value, at: &str, depth: usize) -> Result<Shape, String> {
    if depth > 64 {
        return Err(format!("{at}: $ref nesting deeper than 64"));
    }
    let Value::Object(m) = node else {
        return match node {
            Value::Bool(true) => Ok(Shape::default()),
            _ => Err(format!("{at}: expected a schema object, not {node}")),
        };
    };
    let mut shape = match m.get("$ref") {
        Some(Value::String(r)) => {
            let target = r
                .strip_prefix('#')
                .and_then(|p| root.pointer(p))
                .ok_or_else(|| format!("{at}: $ref `{r}` is not a local reference"))?;
            reduce_at(root, target, r, depth + 1)?
        }
        Some(other) => return Err(format!("{at}: $ref is not a string: {other}")),
        None => Shape::default(),
    };
    for (k, v) in m {
        match k.as_str() {
            "$ref" | "items" => {}
            k if ANNOTATIONS.contains(&k) => {}
            "type" => {
                let types: Vec<String> = match v {
                    Value::String(t) => vec![t.clone()],
                    Value::Array(a) => a
                        .iter()
                        .map(|t| {
                            t.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| format!("{at}: type {v}"))
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(format!("{at}: type {v}")),
                };
                if shape.types.is_some() {
                    return Err(format!("{at}: `type` beside a $ref that has one"));
                }
                shape.types = Some(types);
            }
            "properties" => {
                let Value::Object(props) = v else {
                    return Err(format!("{at}: properties is not a map"));
                };
                for (name, sub) in props {
                    let s = reduce_at(root, sub, &format!("{at}/properties/{name}"), depth + 1)?;
                    shape.properties.insert(name.clone(), s);
                }
            }
            "additionalProperties" => match v {
                Value::Bool(false) => shape.closed = true,
                Value::Bool(true) => {}
                Value::Object(o) if o.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) => {}
                _ => {
                    return Err(format!(
                        "{at}: additionalProperties {v} is not checked by cnsctl"
                    ));
                }
            },
            other => return Err(format!("{at}: keyword `{other}` is not checked by cnsctl")),
        }
    }
    Ok(shape)
}

impl Shape {
    /// The shape as a document (what the record file holds).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(t) = &self.types {
            m.insert("type".into(), Value::from(t.clone()));
        }
        if !self.properties.is_empty() {
            m.insert(
                "properties".into(),
                Value::Object(
                    self.properties
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_value()))
                        .collect(),
                ),
            );
        }
        if self.closed {
            m.insert("additionalProperties".into(), Value::Bool(false));
        }
        Value::Object(m)
    }

    /// Read a record written by [`Shape::to_value`] (itself a JSON Schema, reduced).
    pub fn from_value(v: &Value) -> Result<Shape, String> {
        reduce(v)
    }
}

fn json_type_fits(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "null" => v.is_null(),
        _ => false,
    }
}

/// Every place `values` contradicts `shape`, as `path: values.schema.json: …`. Keys whose
/// value is `null` are left out, as Helm removes them before it validates.
pub fn check_shape(values: &Value, shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    shape_walk(values, shape, &mut Vec::new(), &mut out);
    out
}

fn shape_walk<'a>(
    values: &'a Value,
    shape: &Shape,
    path: &mut Vec<&'a str>,
    out: &mut Vec<String>,
) {
    let at = |path: &[&str]| {
        if path.is_empty() {
            "<root>".to_string()
        } else {
            path.join(".")
        }
    };
    if let Some(types) = &shape.types
        && !types.iter().any(|t| json_type_fits(t, values))
    {
        out.push(format!(
            "{}: values.schema.json: {} is not of type {}",
            at(path),
            describe(values),
            types.join(" or ")
        ));
        return;
    }
    let Value::Object(m) = values else { return };
    for (k, v) in m {
        if v.is_null() {
            continue;
        }
        path.push(k);
        match shape.properties.get(k) {
            Some(sub) => shape_walk(v, sub, path, out),
            None if shape.closed => {
                let keys = || shape.properties.keys().map(String::as_str);
                let hint = if shape.properties.len() <= 8 {
                    format!("allowed: {}", keys().collect::<Vec<_>>().join(", "))
                } else {
                    let closest = keys()
                        .map(|c| (strsim::levenshtein(k, c), c))
                        .filter(|(d, c)| *d <= 2 || c.eq_ignore_ascii_case(k))
                        .min();
                    match closest {
                        Some((_, c)) => format!("did you mean `{c}`?"),
                        None => format!("{} keys allowed", shape.properties.len()),
                    }
                };
                out.push(format!(
                    "{}: values.schema.json: `{k}` is not a key the chart allows here ({hint})",
                    at(path)
                ));
            }
            None => {}
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Value {
        json!({
            "driver": {"enabled": true, "version": "580.95.05", "env": [], "args": [{"a": 1}]},
            "nodeSelector": {}, "replicas": 1, "extra": null,
        })
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let k = record(&defaults());
        assert_eq!(Kind::from_value(&k.to_value()).unwrap(), k);
        assert_eq!(
            k.to_value(),
            json!({"driver": {"enabled": "bool", "version": "string", "env": "any", "args": "list"},
                   "nodeSelector": "any", "replicas": "number", "extra": "any"})
        );
        assert!(
            Kind::from_value(&json!({"a": {"b": "float"}}))
                .unwrap_err()
                .contains("a.b")
        );
    }

    #[test]
    fn contradictions_are_named_and_free_form_takes_anything() {
        let k = record(&defaults());
        assert!(check(&defaults(), &k).is_empty(), "a chart's defaults fit");
        let given = json!({
            "driver": 5,
            "nodeSelector": "x", "replicas": 2, "extra": [1], "unknown": {"x": 1},
        });
        let m = check(&given, &k);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].path, "driver");
        assert_eq!(m[0].expected, "map");
        assert_eq!(m[0].given, "the number 5");
        let given = json!({"driver": {"enabled": "yes", "version": 570, "args": {"a": 1}, "env": "x"},
                           "replicas": "2", "nodeSelector": null});
        let m: Vec<String> = check(&given, &k).iter().map(ToString::to_string).collect();
        assert_eq!(
            m,
            [
                "driver.args: the chart has a list there, given a map",
                "driver.enabled: the chart has a bool there, given the string \"yes\"",
                "replicas: the chart has a number there, given the string \"2\"",
            ]
        );
    }

    #[test]
    fn subcharts_sit_under_their_name_with_the_parents_section_over_them() {
        let parent = json!({"nfd": {"worker": {"tolerations": [{"k": 1}]}}, "a": 1});
        let sub = json!({"worker": {"tolerations": [], "nodeSelector": {}}, "enabled": true});
        let merged = with_subcharts(&parent, &[("nfd".into(), sub)]);
        assert_eq!(
            merged,
            json!({"a": 1, "nfd": {"enabled": true, "worker": {"tolerations": [{"k": 1}], "nodeSelector": {}}}})
        );
    }

    #[test]
    fn a_schema_reduces_to_what_is_checked_and_refuses_what_is_not() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$ref": "#/$defs/root",
            "$defs": {
                "root": {"type": "object", "additionalProperties": false, "description": "d",
                         "properties": {"a": {"$ref": "#/$defs/a"}, "m": {"type": "object"}}},
                "a": {"type": ["integer", "null"], "default": 1}
            }
        });
        let shape = reduce(&schema).unwrap();
        assert!(shape.closed);
        assert_eq!(Shape::from_value(&shape.to_value()).unwrap(), shape);
        assert!(
            check_shape(&json!({"a": 2, "m": {"free": true}, "gone": null}), &shape).is_empty()
        );
        assert_eq!(
            check_shape(&json!({"a": 1.5, "b": 1}), &shape),
            [
                "a: values.schema.json: the number 1.5 is not of type integer or null",
                "b: values.schema.json: `b` is not a key the chart allows here (allowed: a, m)",
            ]
        );
        for unsupported in [
            json!({"enum": [1]}),
            json!({"pattern": "x"}),
            json!({"$ref": "http://x"}),
            json!({"additionalProperties": {"type": "string"}}),
        ] {
            assert!(reduce(&unsupported).is_err(), "{unsupported}");
        }
    }
}
