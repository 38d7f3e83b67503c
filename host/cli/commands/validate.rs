//! `cnsctl validate`: check a recipe's constraints against a cluster snapshot, or check
//! documents against cnsctl's JSON Schemas.

use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_kube::cm::Document;
use cns_kube::location::{Documents, Location};
use cns_recipe::constraints::{self, Status};
use cns_recipe::{API_VERSION, RecipeResult};
use cns_snapshot::document::Snapshot;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Recipe whose constraints to check (with --snapshot): FILE or cm://NAMESPACE/NAME.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = Location::parse, requires = "snapshot")]
    recipe: Option<Location>,
    /// Cluster snapshot to check the constraints against (with --recipe): FILE or
    /// cm://NAMESPACE/NAME.
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = Location::parse, requires = "recipe")]
    snapshot: Option<Location>,
    /// Write the validation result (YAML) to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", requires = "recipe")]
    output: Option<PathBuf>,
    /// Check FILE against the JSON Schema for its kind (recipeResult, recipeMetadata,
    /// ComponentRegistry, Snapshot). Repeatable. Exit 1 if a file does not match, 2 if one
    /// cannot be read or has no schema.
    #[arg(long = "schema", value_name = "FILE", conflicts_with_all = ["recipe", "snapshot"])]
    schema: Vec<PathBuf>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    total: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidationResult {
    kind: &'static str,
    api_version: &'static str,
    recipe: String,
    snapshot: String,
    criteria: cns_recipe::Criteria,
    results: Vec<constraints::Check>,
    summary: Summary,
}

pub(crate) fn run(args: ValidateArgs, kube: &Documents) -> Result<Outcome> {
    if !args.schema.is_empty() {
        return schemas(&args.schema);
    }
    let (Some(recipe_path), Some(snap_path)) = (&args.recipe, &args.snapshot) else {
        bail!("nothing to validate: give --recipe FILE --snapshot FILE, or --schema FILE");
    };
    let text = kube.read(recipe_path, Document::Recipe)?;
    let recipe = RecipeResult::from_yaml(&recipe_path.to_string(), &text)?;
    let text = kube.read(snap_path, Document::Snapshot)?;
    let snapshot = Snapshot::from_yaml(&snap_path.to_string(), &text)?;
    let results = constraints::evaluate(&recipe.constraints, &snapshot);
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (passed, failed, skipped) = (
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Skipped),
    );
    for r in &results {
        let mark = match r.status {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Skipped => "SKIP",
        };
        let safe = |s: &str| cns_files::terminal_safe(s, false).into_owned();
        crate::ui::status(&format!(
            "{mark} {} (expected {}, actual {})",
            safe(&r.name),
            safe(&r.expected),
            safe(r.actual.as_deref().unwrap_or("not measured"))
        ));
        if r.status == Status::Failed
            && let Some(h) = &r.remediation
        {
            crate::ui::status(&format!("     hint: {}", safe(h)));
        }
    }
    crate::ui::status(&format!(
        "{passed} of {} constraints passed, {failed} failed, {skipped} skipped",
        results.len()
    ));
    let doc = ValidationResult {
        kind: "ValidationResult",
        api_version: API_VERSION,
        recipe: recipe_path.to_string(),
        snapshot: snap_path.to_string(),
        criteria: recipe.criteria.clone(),
        summary: Summary {
            total: results.len(),
            passed,
            failed,
            skipped,
            status: if failed == 0 { "pass" } else { "fail" },
        },
        results,
    };
    let yaml = serde_norway::to_string(&doc)?;
    match &args.output {
        Some(p) => cns_files::write_atomic(p, yaml.as_bytes())
            .with_context(|| format!("failed to write `{}`", p.display()))?,
        None => print!("{yaml}"),
    }
    Ok(if failed == 0 {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}

fn schemas(files: &[PathBuf]) -> Result<Outcome> {
    let mut bad = 0;
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("failed to read `{}`", f.display()))?;
        let name = f.display().to_string();
        let (schema, violations) = cns_recipe::schema::validate(&name, &text)?;
        if violations.is_empty() {
            println!("{name}: ok ({schema})");
        }
        for v in &violations {
            println!("{name}:{}: {}: {}", v.line, v.field, v.message);
        }
        bad += usize::from(!violations.is_empty());
    }
    if bad > 0 {
        // A file that does not match is a failed check (1), like a failing constraint; only
        // files that cannot be checked at all (unreadable, unknown kind) are errors (2).
        crate::ui::status(&format!(
            "{bad} of {} file(s) do not match their schema",
            files.len()
        ));
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Success)
}
