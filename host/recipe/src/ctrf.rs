//! A validation result as a CTRF report (Common Test Report Format, spec 0.0): what CI
//! systems and dashboards read from test tools. Each criterion and each constraint is a test
//! of the `readiness` phase; statuses map to CTRF's `passed`/`failed`/`skipped`, the
//! expected and measured values go to `message` and `extra`.

use crate::constraints::Status;
use crate::validation::{CriterionStatus, ValidationResult};
use serde_json::{Value, json};

/// The CTRF spec version written.
pub const SPEC_VERSION: &str = "0.0.0";

/// When a validation ran: milliseconds since the Unix epoch at its start and end (CTRF
/// requires them). Each check's own `duration` is 0 ms: the checks are evaluated together
/// in one pass over the snapshot, well under a millisecond.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Start, ms since the epoch.
    pub start: u64,
    /// End, ms since the epoch.
    pub stop: u64,
}

/// `result` as a CTRF document from `tool` at `version`.
pub fn report(result: &ValidationResult, tool: &str, version: &str, timing: Timing) -> Value {
    let mut tests = Vec::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut count = |status: &str| match status {
        "passed" => passed += 1,
        "failed" => failed += 1,
        _ => skipped += 1,
    };
    for c in &result.criteria_checks {
        let status = match c.status {
            CriterionStatus::Matched => "passed",
            CriterionStatus::Mismatched => "failed",
            CriterionStatus::NotChecked => "skipped",
        };
        count(status);
        let mut message = format!(
            "criterion {}: recipe {}, snapshot {}",
            c.name,
            c.recipe,
            c.snapshot.as_deref().unwrap_or("(not shown)")
        );
        if let Some(note) = &c.note {
            message.push_str(&format!(": {note}"));
        }
        tests.push(json!({
            "name": format!("criteria.{}", c.name),
            "status": status,
            "duration": 0,
            "suite": ["readiness", "criteria"],
            "message": message,
            "rawStatus": c.status,
            "extra": { "recipe": c.recipe, "snapshot": c.snapshot },
        }));
    }
    for c in &result.results {
        let status = match c.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        count(status);
        let mut message = format!(
            "expected {}, measured {}",
            c.expected,
            c.actual.as_deref().unwrap_or("nothing (no reading)")
        );
        if let Some(r) = &c.remediation {
            message.push_str(&format!("; {r}"));
        }
        tests.push(json!({
            "name": c.name,
            "status": status,
            "duration": 0,
            "suite": ["readiness", "constraints"],
            "message": message,
            "rawStatus": c.status,
            "extra": { "expected": c.expected, "actual": c.actual },
        }));
    }
    json!({
        "reportFormat": "CTRF",
        "specVersion": SPEC_VERSION,
        "generatedBy": format!("{tool} {version}"),
        "results": {
            "tool": { "name": tool, "version": version },
            "summary": {
                "tests": tests.len(),
                "passed": passed,
                "failed": failed,
                "skipped": skipped,
                "pending": 0,
                "other": 0,
                "start": timing.start,
                "stop": timing.stop,
            },
            "tests": tests,
            "extra": {
                "recipe": result.recipe,
                "snapshot": result.snapshot,
                "status": result.summary.status,
                "hints": result.hints,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::SNAP;
    use crate::validation::validate;
    use cns_snapshot::document::Snapshot;

    #[test]
    fn every_criterion_and_constraint_is_a_test_with_its_status_counted() {
        let s = Snapshot::from_yaml("s.yaml", SNAP).unwrap();
        let recipe = crate::RecipeResult {
            criteria: crate::criteria::Criteria::new(
                Some("aks"),
                Some("h100"),
                Some("ubuntu"),
                Some("training"),
            )
            .unwrap(),
            ..crate::Store::default_recipe().unwrap()
        };
        let r = validate(&recipe, "r.yaml", &s, "s.yaml");
        let t = Timing { start: 1, stop: 2 };
        let doc = report(&r, "cnsctl", "0.1.0", t);
        let tests = doc["results"]["tests"].as_array().unwrap();
        assert_eq!(tests.len(), r.criteria_checks.len() + r.results.len());
        let count = |s: &str| tests.iter().filter(|t| t["status"] == s).count();
        let sum = &doc["results"]["summary"];
        for s in ["passed", "failed", "skipped"] {
            assert_eq!(sum[s], count(s), "{s}");
        }
        assert_eq!(sum["tests"], tests.len());
        // The service criterion contradicts the snapshot (eks): a failed test naming both.
        let service = tests
            .iter()
            .find(|t| t["name"] == "criteria.service")
            .unwrap();
        assert_eq!(service["status"], "failed");
        assert!(
            service["message"]
                .as_str()
                .unwrap()
                .contains("recipe aks, snapshot eks"),
            "{service}"
        );
        assert_eq!(doc["results"]["extra"]["status"], "fail");
        assert_eq!(
            (sum["start"].as_u64(), sum["stop"].as_u64()),
            (Some(1), Some(2))
        );
    }
}
