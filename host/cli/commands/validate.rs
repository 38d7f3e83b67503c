//! `cnsctl validate`: compare a recipe's criteria and constraints with a cluster snapshot
//! (`cns_recipe::validation`), or check documents against cnsctl's JSON Schemas.

use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_kube::cm::Document;
use cns_kube::location::{Documents, Location};
use cns_recipe::RecipeResult;
use cns_recipe::validation::{self, Verdict};
use cns_snapshot::document::Snapshot;
use std::path::PathBuf;

/// `validate --format`.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
enum ValidateFormat {
    /// The ValidationResult document as YAML.
    #[default]
    Yaml,
    /// The ValidationResult document as JSON.
    Json,
    /// A CTRF (Common Test Report Format) JSON report.
    Ctrf,
}

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
    /// Write the validation result to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", requires = "recipe")]
    output: Option<PathBuf>,
    /// Format of the validation result: yaml, json, or ctrf (a CTRF test report, each
    /// criterion and constraint a test, for CI systems and dashboards).
    #[arg(long, value_enum, default_value_t, requires = "recipe")]
    format: ValidateFormat,
    /// Exit 0 when no check failed but some constraints could not be evaluated (their
    /// readings are missing from the snapshot); the result still says `incomplete`.
    #[arg(long, requires = "recipe")]
    allow_skipped: bool,
    /// Also write signed evidence of this validation to FILE: a Sigstore bundle (as signed
    /// bundles carry) of an in-toto statement whose subject is the recipe document and whose
    /// predicate holds the snapshot's digest, every check and the summary. Needs --sign-key.
    #[arg(long, value_name = "FILE", requires_all = ["recipe", "sign_key"])]
    emit_attestation: Option<PathBuf>,
    /// The key --emit-attestation signs with (cosign.key; CNS_SIGN_PASSWORD or
    /// COSIGN_PASSWORD), read before anything is validated.
    #[arg(long, value_name = "KEY", requires = "emit_attestation")]
    sign_key: Option<PathBuf>,
    /// Read --sign-key even if other users may read it (refused by default).
    #[arg(long, requires = "sign_key")]
    insecure_key_permissions: bool,
    /// Check FILE against the JSON Schema for its kind (recipeResult, recipeMetadata,
    /// ComponentRegistry, Snapshot). Repeatable. Exit 1 if a file does not match, 2 if one
    /// cannot be read or has no schema.
    #[arg(long = "schema", value_name = "FILE", conflicts_with_all = ["recipe", "snapshot"])]
    schema: Vec<PathBuf>,
}

pub(crate) fn run(args: ValidateArgs, kube: &Documents) -> Result<Outcome> {
    if !args.schema.is_empty() {
        return schemas(&args.schema);
    }
    let (Some(recipe_at), Some(snap_at)) = (&args.recipe, &args.snapshot) else {
        bail!("nothing to validate: give --recipe FILE --snapshot FILE, or --schema FILE");
    };
    let key = args
        .sign_key
        .as_deref()
        .map(|p| {
            cns_oci::publish::read_signing_key(p, args.insecure_key_permissions)
                .with_context(|| format!("--sign-key `{}`", p.display()))
        })
        .transpose()?;
    let recipe_text = kube.read(recipe_at, Document::Recipe)?;
    let recipe = RecipeResult::from_yaml(&recipe_at.to_string(), &recipe_text)?;
    let snapshot_text = kube.read(snap_at, Document::Snapshot)?;
    let snapshot = Snapshot::from_yaml(&snap_at.to_string(), &snapshot_text)?;
    let start = epoch_ms();
    let result = validation::validate(
        &recipe,
        &recipe_at.to_string(),
        &snapshot,
        &snap_at.to_string(),
    );
    for line in result.report_lines(args.allow_skipped) {
        crate::ui::status(&line);
    }
    let doc = match args.format {
        ValidateFormat::Yaml => serde_norway::to_string(&result)?,
        ValidateFormat::Json => serde_json::to_string_pretty(&result)? + "\n",
        ValidateFormat::Ctrf => {
            let timing = cns_recipe::ctrf::Timing {
                start,
                stop: epoch_ms(),
            };
            let report =
                cns_recipe::ctrf::report(&result, "cnsctl", env!("CARGO_PKG_VERSION"), timing);
            serde_json::to_string_pretty(&report)? + "\n"
        }
    };
    if let (Some(path), Some(key)) = (&args.emit_attestation, &key) {
        let statement = validation::evidence(
            &result,
            recipe_text.as_bytes(),
            snapshot_text.as_bytes(),
            env!("CARGO_PKG_VERSION"),
        );
        let env = cns_oci::dsse::envelope(&statement, key);
        let bundle = cns_oci::sigstore::bundle(&env, key.verifying_key());
        cns_files::write_atomic(path, &bundle)
            .with_context(|| format!("--emit-attestation: failed to write `{}`", path.display()))?;
        crate::ui::status(&format!(
            "signed evidence of this validation written to {} (a Sigstore bundle)",
            path.display()
        ));
    }
    match &args.output {
        Some(p) => cns_files::write_atomic(p, doc.as_bytes())
            .with_context(|| format!("failed to write `{}`", p.display()))?,
        None => print!("{doc}"),
    }
    Ok(match result.summary.status {
        Verdict::Pass => Outcome::Success,
        Verdict::Incomplete if args.allow_skipped => Outcome::Success,
        Verdict::Incomplete | Verdict::Fail => Outcome::CheckFailed,
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

/// Now, in milliseconds since the Unix epoch (CTRF's summary times).
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
