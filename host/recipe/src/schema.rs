//! JSON Schema validation of cnsctl documents (recipes, overlays, the registry, snapshots,
//! transition records) against the schemas shipped in `schemas/`, with file, line and field
//! path in each error.

use serde_json::Value;

/// A schema by the document `kind` it validates.
pub const SCHEMAS: &[(&str, &str, &str)] = &[
    (
        "recipeResult",
        "recipe-result.schema.json",
        include_str!("../../../schemas/recipe-result.schema.json"),
    ),
    (
        "recipeMetadata",
        "overlay.schema.json",
        include_str!("../../../schemas/overlay.schema.json"),
    ),
    (
        "ComponentRegistry",
        "registry.schema.json",
        include_str!("../../../schemas/registry.schema.json"),
    ),
    (
        "Snapshot",
        "snapshot.schema.json",
        include_str!("../../../schemas/snapshot.schema.json"),
    ),
    (
        "UpgradeRecords",
        "upgrades.schema.json",
        include_str!("../../../schemas/upgrades.schema.json"),
    ),
];

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based line in the file (of the field, or its nearest parent found).
    pub line: usize,
    /// Field path, e.g. `componentRefs[0].versoin` (`<root>` for the document).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a document could not be checked at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    /// Not parseable YAML.
    #[error("`{path}` is not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// No schema for the document's kind.
    #[error("`{path}` has kind `{kind}`; schemas exist for: {known}")]
    UnknownKind {
        /// The file.
        path: String,
        /// Its kind.
        kind: String,
        /// Kinds with schemas.
        known: String,
    },
}

/// Validate a YAML document; returns the schema file used and the violations (empty = valid).
pub fn validate(path: &str, text: &str) -> Result<(&'static str, Vec<Violation>), SchemaError> {
    let yaml_error = |message: String| SchemaError::Yaml {
        path: path.into(),
        message,
    };
    cns_files::nesting::check(text).map_err(|e| yaml_error(e.to_string()))?;
    let doc: Value = serde_norway::from_str(text).map_err(|e| yaml_error(e.to_string()))?;
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some((_, file, schema)) = SCHEMAS.iter().find(|(k, _, _)| *k == kind) else {
        return Err(SchemaError::UnknownKind {
            path: path.into(),
            kind,
            known: SCHEMAS.iter().map(|s| s.0).collect::<Vec<_>>().join(", "),
        });
    };
    let schema: Value = serde_json::from_str(schema).expect("shipped schemas are valid JSON");
    let validator =
        jsonschema::validator_for(&schema).expect("shipped schemas are valid JSON Schema");
    let mut out: Vec<Violation> = Vec::new();
    for e in validator.iter_errors(&doc) {
        let pointer = e.instance_path().to_string();
        let segs: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        // A key the schema does not allow is reported at that key, one violation each,
        // not at the start of the mapping that holds it.
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            e.kind()
        {
            for key in unexpected {
                let mut at = segs.clone();
                at.push(key.clone());
                out.push(Violation {
                    line: locate(text, &at),
                    field: field_path(&at),
                    message: format!("`{key}` is not allowed here ({e})"),
                });
            }
            continue;
        }
        out.push(Violation {
            line: locate(text, &segs),
            field: field_path(&segs),
            message: e.to_string(),
        });
    }
    out.sort_by(|a, b| (a.line, &a.field, &a.message).cmp(&(b.line, &b.field, &b.message)));
    Ok((file, out))
}

/// `a.b[0].c` for the pointer segments `a`, `b`, `0`, `c`.
pub(crate) fn field_path(segs: &[String]) -> String {
    if segs.is_empty() {
        return "<root>".into();
    }
    let mut s = String::new();
    for seg in segs {
        if seg.parse::<usize>().is_ok() {
            s.push_str(&format!("[{seg}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(seg);
        }
    }
    s
}

/// A content line: indent of its content (a `- ` item marker counts as indentation),
/// whether it starts a list item, and the content.
fn content(line: &str) -> Option<(usize, Option<usize>, &str)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') || t == "---" {
        return None;
    }
    let ind = line.len() - t.len();
    match t.strip_prefix("- ") {
        Some(rest) => {
            let r = rest.trim_start();
            Some((ind + (t.len() - r.len()), Some(ind), r))
        }
        None => Some((ind, None, t)),
    }
}

/// Best-effort line of a JSON pointer in block-style YAML: follows keys and list indices
/// by indentation; falls back to the deepest part it could find (1 = top of file).
pub(crate) fn locate(text: &str, segs: &[String]) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize; // first line to scan for the next segment
    let mut parent: isize = -1; // indent of the node that owns the next segment
    let mut found = 0usize;
    for seg in segs {
        let mut hit = None;
        if let Ok(idx) = seg.parse::<usize>() {
            let mut count = 0;
            let mut item_indent = None;
            for (i, l) in lines.iter().enumerate().skip(start) {
                let Some((ci, item, _)) = content(l) else {
                    continue;
                };
                match item {
                    Some(ii) if (ii as isize) >= parent => {
                        let want = *item_indent.get_or_insert(ii);
                        if ii < want {
                            break;
                        }
                        if ii == want {
                            if count == idx {
                                hit = Some((i, i, ii as isize));
                                break;
                            }
                            count += 1;
                        }
                    }
                    _ if (ci as isize) <= parent => break,
                    _ => {}
                }
            }
        } else {
            let mut child = None;
            for (i, l) in lines.iter().enumerate().skip(start) {
                let Some((ci, item, c)) = content(l) else {
                    continue;
                };
                if (ci as isize) <= parent
                    || (i > start && item.is_some_and(|ii| ii as isize <= parent))
                {
                    break;
                }
                let want = *child.get_or_insert(ci);
                if ci < want {
                    break;
                }
                let key_match = [
                    format!("{seg}:"),
                    format!("'{seg}':"),
                    format!("\"{seg}\":"),
                ]
                .iter()
                .any(|k| c == k || c.starts_with(&format!("{k} ")));
                if ci == want && key_match {
                    hit = Some((i, i + 1, ci as isize));
                    break;
                }
            }
        }
        match hit {
            Some((i, next_start, indent)) => {
                found = i;
                start = next_start;
                parent = indent;
            }
            None => break,
        }
    }
    found + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: a\n  version: v1\n- name: b\n  versoin: v2\n";

    #[test]
    fn locates_fields() {
        let segs = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(locate(GOOD, &segs(&["componentRefs", "1", "versoin"])), 7);
        assert_eq!(locate(GOOD, &segs(&["componentRefs", "0", "version"])), 5);
        assert_eq!(locate(GOOD, &segs(&["componentRefs", "1"])), 6);
        assert_eq!(locate(GOOD, &segs(&["apiVersion"])), 2);
        assert_eq!(locate(GOOD, &segs(&["nope", "x"])), 1);
    }

    #[test]
    fn reports_line_and_field() {
        let (schema, v) = validate("r.yaml", GOOD).unwrap();
        assert_eq!(schema, "recipe-result.schema.json");
        assert_eq!(v.len(), 1, "{v:?}");
        // The misspelt key's own line and path (issue 34, item 10), not its mapping's.
        assert_eq!(
            (v[0].line, v[0].field.as_str()),
            (7, "componentRefs[1].versoin")
        );
        assert!(
            v[0].message.contains("`versoin` is not allowed here"),
            "{}",
            v[0].message
        );
        let bad_type = GOOD.replace("version: v1", "version: [1]");
        let (_, v) = validate("r.yaml", &bad_type).unwrap();
        assert_eq!(
            (v[0].line, v[0].field.as_str()),
            (5, "componentRefs[0].version"),
            "{v:?}"
        );
    }

    #[test]
    fn unknown_kind_and_bad_yaml() {
        assert!(matches!(
            validate("x", "kind: Foo\n"),
            Err(SchemaError::UnknownKind { .. })
        ));
        assert!(matches!(
            validate("x", "a: [\n"),
            Err(SchemaError::Yaml { .. })
        ));
    }
}
