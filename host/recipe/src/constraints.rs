//! Constraint evaluation against a snapshot: operators `>=`, `<=`, `>`, `<`, `==`, `!=` or
//! a bare value (equality), with version semantics (`v1.34.1-eks-3025e55` ≥ `1.30`).

use crate::model::Constraint;
use cns_snapshot::document::Snapshot;
use serde::Serialize;
use std::cmp::Ordering;

/// Outcome of one constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The measured value satisfies the constraint.
    Passed,
    /// It does not.
    Failed,
    /// The snapshot has no such measurement.
    Skipped,
}

/// The result of one constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Constraint name.
    pub name: String,
    /// Expected expression, e.g. `>= 1.30`.
    pub expected: String,
    /// Measured value, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Outcome.
    pub status: Status,
    /// What to do about a failure or skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// Split `>= 1.30` into operator and operand; a bare value means `==`.
pub fn parse_expr(expr: &str) -> (&'static str, &str) {
    let e = expr.trim();
    for op in [">=", "<=", "==", "!=", ">", "<"] {
        if let Some(rest) = e.strip_prefix(op) {
            return (op, rest.trim());
        }
    }
    ("==", e)
}

/// The numeric release of a version string: `v1.34.1-eks-3025e55` → `[1, 34, 1]`,
/// `6.8.0-1043-aws` → `[6, 8, 0]`, `24.04` → `[24, 4]`. `None` if it starts with no number.
pub fn version_parts(v: &str) -> Option<Vec<u64>> {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let release = v.split(['-', '+', ' ']).next().unwrap_or("");
    let parts: Vec<u64> = release.split('.').map_while(|p| p.parse().ok()).collect();
    if parts.is_empty() { None } else { Some(parts) }
}

fn compare_versions(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Whether `actual` satisfies `expr`. Ordering operators compare versions; `==`/`!=`
/// compare versions when both sides are versions, else strings. `None` if an ordering
/// operator meets a value that is not a version.
pub fn satisfies(actual: &str, expr: &str) -> Option<bool> {
    let (op, want) = parse_expr(expr);
    let (a, w) = (version_parts(actual), version_parts(want));
    let ord = match (&a, &w) {
        (Some(a), Some(w)) => Some(compare_versions(a, w)),
        _ => None,
    };
    let eq = match (ord, want.contains(|c: char| c.is_ascii_alphabetic())) {
        (Some(o), false) => o == Ordering::Equal,
        _ => actual.trim() == want,
    };
    Some(match op {
        "==" => eq,
        "!=" => !eq,
        ">=" => ord? != Ordering::Less,
        "<=" => ord? != Ordering::Greater,
        ">" => ord? == Ordering::Greater,
        "<" => ord? == Ordering::Less,
        _ => unreachable!("parse_expr returns known operators"),
    })
}

/// Evaluate every constraint against the snapshot, in order.
pub fn evaluate(constraints: &[Constraint], snapshot: &Snapshot) -> Vec<Check> {
    constraints
        .iter()
        .map(|c| {
            let actual = snapshot.lookup(&c.name);
            let status = match &actual {
                None => Status::Skipped,
                Some(a) => match satisfies(a, &c.value) {
                    Some(true) => Status::Passed,
                    _ => Status::Failed,
                },
            };
            let remediation = match status {
                Status::Passed => None,
                Status::Skipped => Some(format!(
                    "the snapshot has no `{}` measurement; take a newer snapshot",
                    c.name
                )),
                Status::Failed => Some(c.remediation.clone().unwrap_or_else(|| {
                    format!("change the cluster so that `{}` is {}", c.name, c.value)
                })),
            };
            Check {
                name: c.name.clone(),
                expected: c.value.clone(),
                actual,
                status,
                remediation,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_table() {
        let cases = [
            ("v1.34.1-eks-3025e55", ">= 1.30", Some(true)),
            ("v1.29.9-eks-1", ">= 1.30", Some(false)),
            ("6.8.0-1043-aws", ">= 6.8", Some(true)),
            ("6.5.0", ">= 6.8", Some(false)),
            ("1.30", "<= 1.30.0", Some(true)),
            ("1.31", "< 1.31", Some(false)),
            ("1.31.1", "> 1.31", Some(true)),
            ("24.04", "== 24.04", Some(true)),
            ("24.04", "24.04", Some(true)),
            ("22.04", "!= 24.04", Some(true)),
            ("ubuntu", "ubuntu", Some(true)),
            ("rhel", "ubuntu", Some(false)),
            ("ubuntu", "!= rhel", Some(true)),
            ("unknown", ">= 1.0", None),
        ];
        for (actual, expr, want) in cases {
            assert_eq!(satisfies(actual, expr), want, "{actual} {expr}");
        }
    }

    #[test]
    fn evaluate_reports_each_status() {
        let snap = Snapshot::from_yaml("s", crate::detect::tests::SNAP).unwrap();
        let c = |n: &str, v: &str| Constraint {
            name: n.into(),
            value: v.into(),
            remediation: None,
        };
        let checks = evaluate(
            &[
                c("K8s.server.version", ">= 1.30"),
                c("OS.release.ID", "rhel"),
                c("OS.release.NOPE", "x"),
            ],
            &snap,
        );
        let st: Vec<_> = checks.iter().map(|c| c.status).collect();
        assert_eq!(st, [Status::Passed, Status::Failed, Status::Skipped]);
        assert_eq!(checks[1].actual.as_deref(), Some("ubuntu"));
        assert!(
            checks[1]
                .remediation
                .as_deref()
                .unwrap()
                .contains("`OS.release.ID` is rhel")
        );
    }
}
