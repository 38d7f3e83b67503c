//! Whether a cluster snapshot fits a recipe: the recipe's criteria compared with what the
//! snapshot shows (derived exactly as `recipe --snapshot` derives them, [`crate::detect`]),
//! and each constraint evaluated ([`crate::constraints`]). The answer a pipeline trusts is
//! the status: `pass` only when no criterion contradicts the snapshot and every constraint
//! was evaluated and passed; `incomplete` when a constraint could not be evaluated (a
//! reading is missing); `fail` otherwise.

use crate::constraints::{self, Check, Status};
use crate::criteria::Criteria;
use crate::{API_VERSION, RecipeResult};
use cns_snapshot::document::Snapshot;
use serde::Serialize;

/// How one criterion compares with the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriterionStatus {
    /// The snapshot shows the recipe's value (or the recipe takes any).
    Matched,
    /// The snapshot shows another value.
    Mismatched,
    /// The snapshot cannot show this criterion (nothing measured, or not measurable).
    NotChecked,
}

/// One criterion of the recipe against the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CriterionCheck {
    /// `service`, `accelerator`, `os` or `intent`.
    pub name: &'static str,
    /// The recipe's value.
    pub recipe: String,
    /// What the snapshot shows, when it shows anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The comparison.
    pub status: CriterionStatus,
    /// Why a criterion was not checked, or what a mismatch means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The overall answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every criterion matches or is unchecked, and every constraint was evaluated and passed.
    Pass,
    /// No contradiction, but some constraints could not be evaluated.
    Incomplete,
    /// A criterion contradicts the snapshot, or a constraint failed.
    Fail,
}

/// Counts and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Constraints.
    pub total: usize,
    /// Constraints passed.
    pub passed: usize,
    /// Constraints failed.
    pub failed: usize,
    /// Constraints not evaluated (a reading is missing).
    pub skipped: usize,
    /// Criteria the snapshot contradicts.
    pub criteria_mismatched: usize,
    /// Criteria the snapshot cannot show.
    pub criteria_not_checked: usize,
    /// The verdict.
    pub status: Verdict,
}

/// The `ValidationResult` document `cnsctl validate` writes (the predecessor's fields, plus
/// the criteria comparison).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResult {
    /// `ValidationResult`.
    pub kind: &'static str,
    /// The API version of cnsctl's documents.
    pub api_version: &'static str,
    /// Where the recipe came from.
    pub recipe: String,
    /// Where the snapshot came from.
    pub snapshot: String,
    /// The recipe's criteria.
    pub criteria: Criteria,
    /// Each criterion against the snapshot.
    pub criteria_checks: Vec<CriterionCheck>,
    /// Each constraint, in the recipe's order.
    pub results: Vec<Check>,
    /// Counts and the verdict.
    pub summary: Summary,
    /// What the snapshot suggests beyond the constraints, which does not change the verdict
    /// (e.g. a training fabric the recipe installs and the node lacks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// `predicateType` of a validation's signed evidence.
pub const EVIDENCE_PREDICATE: &str = "urn:cnsctl:predicate-type:validation:v1";

/// The in-toto Statement v1 of `result` as signed evidence: its subject the recipe
/// document (`recipe`, its bytes as read), its predicate the snapshot document's name and
/// digest, the phase, every check and the summary, and the cnsctl `version` that judged.
pub fn evidence(
    result: &ValidationResult,
    recipe: &[u8],
    snapshot: &[u8],
    version: &str,
) -> serde_json::Value {
    use sha2::{Digest, Sha256};
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": result.recipe, "digest": { "sha256": sha(recipe) } }],
        "predicateType": EVIDENCE_PREDICATE,
        "predicate": {
            "phase": "readiness",
            "snapshot": { "name": result.snapshot, "digest": { "sha256": sha(snapshot) } },
            "criteria": result.criteria,
            "criteriaChecks": result.criteria_checks,
            "results": result.results,
            "summary": result.summary,
            "cnsctl": version,
        },
    })
}

/// Compare `recipe` (read from `recipe_at`) with `snapshot` (read from `snapshot_at`).
pub fn validate(
    recipe: &RecipeResult,
    recipe_at: &str,
    snapshot: &Snapshot,
    snapshot_at: &str,
) -> ValidationResult {
    let criteria_checks = compare_criteria(&recipe.criteria, snapshot);
    let results = constraints::evaluate(&recipe.constraints, snapshot);
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (passed, failed, skipped) = (
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Skipped),
    );
    let ccount = |s: CriterionStatus| criteria_checks.iter().filter(|c| c.status == s).count();
    let (mismatched, not_checked) = (
        ccount(CriterionStatus::Mismatched),
        ccount(CriterionStatus::NotChecked),
    );
    let status = if failed > 0 || mismatched > 0 {
        Verdict::Fail
    } else if skipped > 0 {
        Verdict::Incomplete
    } else {
        Verdict::Pass
    };
    ValidationResult {
        kind: "ValidationResult",
        api_version: API_VERSION,
        recipe: recipe_at.to_string(),
        snapshot: snapshot_at.to_string(),
        criteria: recipe.criteria.clone(),
        criteria_checks,
        summary: Summary {
            total: results.len(),
            passed,
            failed,
            skipped,
            criteria_mismatched: mismatched,
            criteria_not_checked: not_checked,
            status,
        },
        results,
        hints: hints(recipe, snapshot),
    }
}

/// The EFA device plugin exposes the node's Elastic Fabric Adapter interfaces; the snapshot's
/// PCI scan counts them (`GPU.fabric.efa-count`). A recipe that installs the plugin on a node
/// without EFA, or a node with EFA whose recipe does not, gets a hint. No reading, no hint.
fn hints(recipe: &RecipeResult, snapshot: &Snapshot) -> Vec<String> {
    let efa = snapshot
        .lookup("GPU.fabric.efa-count")
        .and_then(|n| n.parse::<u64>().ok());
    let plugin = recipe.component("aws-efa-k8s-device-plugin").is_some();
    match efa {
        Some(0) if plugin => vec![
            "the recipe installs the EFA device plugin, but the snapshot's node has no EFA interface (GPU.fabric.efa-count 0): NCCL between nodes would fall back to TCP; use an EFA instance type (p4d, p5, p6e) with EFA interfaces attached to the node group".to_string(),
        ],
        Some(n) if n > 0 && !plugin => vec![format!(
            "the snapshot's node has {n} EFA interface(s) and the recipe installs no EFA device plugin: pods cannot request vpc.amazonaws.com/efa (the EKS training recipes install it)"
        )],
        _ => Vec::new(),
    }
}

/// Each criterion of `want` against what `snapshot` shows.
fn compare_criteria(want: &Criteria, snapshot: &Snapshot) -> Vec<CriterionCheck> {
    let detection = crate::detect::detect(snapshot);
    let got = &detection.criteria;
    let mut out = Vec::new();
    for (name, recipe, detected) in [
        ("service", &want.service, &got.service),
        ("accelerator", &want.accelerator, &got.accelerator),
        ("os", &want.os, &got.os),
    ] {
        let unmatched = detection.unmatched.iter().find(|u| u.field == name);
        let (snapshot, status, note) = match (recipe.as_str(), detected.as_str(), unmatched) {
            (_, d, _) if d != "any" && d == recipe => {
                (Some(d.to_string()), CriterionStatus::Matched, None)
            }
            ("any", d, u) => (
                (d != "any")
                    .then(|| d.to_string())
                    .or_else(|| u.map(|u| u.measured.clone())),
                CriterionStatus::Matched,
                Some("the recipe applies to any".to_string()),
            ),
            (_, "any", Some(u)) => (
                Some(u.measured.clone()),
                CriterionStatus::Mismatched,
                Some(format!(
                    "the snapshot measured {} `{}`, which the recipe data has no settings for",
                    u.field, u.measured
                )),
            ),
            (_, "any", None) => (
                None,
                CriterionStatus::NotChecked,
                Some(format!("the snapshot has no reading that shows the {name}")),
            ),
            (_, d, _) => (
                Some(d.to_string()),
                CriterionStatus::Mismatched,
                Some(format!(
                    "the recipe is for {name} `{recipe}`, the snapshot is of `{d}`: resolve a recipe for this cluster (`cnsctl recipe --snapshot …`)"
                )),
            ),
        };
        out.push(CriterionCheck {
            name,
            recipe: recipe.clone(),
            snapshot,
            status,
            note,
        });
    }
    out.push(CriterionCheck {
        name: "intent",
        recipe: want.intent.clone(),
        snapshot: None,
        status: CriterionStatus::NotChecked,
        note: Some("the intent is a choice, not a reading of the cluster".into()),
    });
    out
}

impl ValidationResult {
    /// The result for people: a line per criterion and constraint (`PASS`, `FAIL`, `SKIP`,
    /// `----` for a criterion not checked), then the counts and the status naming each
    /// constraint not evaluated; readings are escaped for a terminal.
    pub fn report_lines(&self, allow_skipped: bool) -> Vec<String> {
        let r = self;
        let mut out = Vec::new();
        let safe = |s: &str| cns_files::terminal_safe(s, false).into_owned();
        for c in &r.criteria_checks {
            let mark = match c.status {
                CriterionStatus::Matched => "PASS",
                CriterionStatus::Mismatched => "FAIL",
                CriterionStatus::NotChecked => "----",
            };
            out.push(format!(
                "{mark} criterion {}: recipe `{}`, snapshot {}{}",
                c.name,
                safe(&c.recipe),
                c.snapshot
                    .as_deref()
                    .map_or("not measured".to_string(), |s| format!("`{}`", safe(s))),
                c.note
                    .as_deref()
                    .map(|n| format!(" ({})", safe(n)))
                    .unwrap_or_default()
            ));
        }
        for c in &r.results {
            let mark = match c.status {
                Status::Passed => "PASS",
                Status::Failed => "FAIL",
                Status::Skipped => "SKIP",
            };
            out.push(format!(
                "{mark} {} (expected {}, actual {})",
                safe(&c.name),
                safe(&c.expected),
                safe(c.actual.as_deref().unwrap_or("not measured"))
            ));
            if c.status == Status::Failed
                && let Some(h) = &c.remediation
            {
                out.push(format!("     hint: {}", safe(h)));
            }
        }
        for h in &r.hints {
            out.push(format!("HINT {}", safe(h)));
        }
        let s = &r.summary;
        out.push(format!(
        "{} of {} constraints passed, {} failed, {} skipped; {} criteria contradict the snapshot",
        s.passed, s.total, s.failed, s.skipped, s.criteria_mismatched
    ));
        let skipped: Vec<String> = r
            .results
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .map(|c| format!("`{}` (no such reading in the snapshot)", safe(&c.name)))
            .collect();
        let verdict = match s.status {
            Verdict::Pass => "pass".to_string(),
            Verdict::Fail => "fail".to_string(),
            Verdict::Incomplete if allow_skipped => format!(
                "incomplete, accepted by --allow-skipped: not evaluated {}",
                skipped.join(", ")
            ),
            Verdict::Incomplete => format!(
                "incomplete: not evaluated {}; take a snapshot that has them, or pass --allow-skipped",
                skipped.join(", ")
            ),
        };
        out.push(format!("status: {verdict}"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::SNAP;

    fn recipe(service: &str, accelerator: &str, os: &str) -> RecipeResult {
        RecipeResult {
            criteria: Criteria::new(Some(service), Some(accelerator), Some(os), Some("training"))
                .unwrap(),
            ..crate::Store::default_recipe().unwrap()
        }
    }

    fn snap(text: &str) -> Snapshot {
        Snapshot::from_yaml("s.yaml", text).unwrap()
    }

    #[test]
    fn criteria_that_contradict_the_snapshot_fail_naming_both_values() {
        let s = snap(SNAP);
        let r = validate(&recipe("aks", "a100", "ubuntu"), "r", &s, "s");
        let by = |n: &str| r.criteria_checks.iter().find(|c| c.name == n).unwrap();
        assert_eq!(by("service").status, CriterionStatus::Mismatched);
        assert_eq!(by("service").snapshot.as_deref(), Some("eks"));
        assert_eq!(by("accelerator").status, CriterionStatus::Mismatched);
        assert_eq!(by("os").status, CriterionStatus::Matched);
        assert_eq!(by("intent").status, CriterionStatus::NotChecked);
        assert_eq!(r.summary.criteria_mismatched, 2);
        assert_eq!(r.summary.status, Verdict::Fail);
        // The same recipe for the snapshot's own criteria does not fail on them.
        let r = validate(&recipe("eks", "h100", "ubuntu"), "r", &s, "s");
        assert_eq!(r.summary.criteria_mismatched, 0);
        // A recipe for any service matches whatever the snapshot shows.
        let r = validate(&recipe("any", "h100", "any"), "r", &s, "s");
        assert_eq!(r.summary.criteria_mismatched, 0);
    }

    #[test]
    fn a_measured_value_the_data_does_not_know_contradicts_a_recipe_for_another() {
        let s = snap(&SNAP.replace("NVIDIA H100 80GB HBM3", "NVIDIA H200"));
        let r = validate(&recipe("eks", "h100", "ubuntu"), "r", &s, "s");
        let acc = r
            .criteria_checks
            .iter()
            .find(|c| c.name == "accelerator")
            .unwrap();
        assert_eq!(acc.status, CriterionStatus::Mismatched);
        assert_eq!(acc.snapshot.as_deref(), Some("NVIDIA H200"));
    }

    #[test]
    fn skipped_is_not_passed() {
        // No GPU, OS or K8s readings: nothing contradicts, nothing is evaluated.
        let s = snap("kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements: []\n");
        let r = validate(&recipe("eks", "h100", "ubuntu"), "r", &s, "s");
        assert_eq!(r.summary.passed, 0);
        assert!(r.summary.skipped > 0);
        assert_eq!(r.summary.criteria_not_checked, 4);
        assert_eq!(r.summary.status, Verdict::Incomplete);
    }
}
