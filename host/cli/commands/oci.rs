//! `cnsctl push`, `pull`, `sign`, `verify`, `generate-key-pair`: flags mapped to
//! `cns_oci::artifact` (bundles as signed OCI artifacts) and `cns_oci::sign`.

use crate::opts::{OutputFormat, PushArgs, RegistryArgs, print_json};
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_files::FileTree;
use cns_oci::archive::UnpackLimits;
use cns_oci::artifact::bundle::PullReport;
use cns_oci::artifact::{self, Pushed};
use cns_oci::publish::{Publish, key_password, read_signing_key, read_verifying_key};
use cns_oci::{Entry, OciRef, Registry, sign};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `push`.
#[derive(Debug, Args)]
pub(crate) struct PushCmd {
    /// Bundle directory to push (as written by `cnsctl bundle`).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Destination: oci://REGISTRY/REPOSITORY:TAG.
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) push: PushArgs,
    /// Output: text (the digest on stdout), or json (schemas/output/push.schema.json).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub(crate) struct PullCmd {
    /// Source: oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST].
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Directory to unpack into; must not exist or be empty (see --force). Written atomically.
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: PathBuf,
    /// Replace a non-empty output directory.
    #[arg(long)]
    pub(crate) force: bool,
    /// Refuse the bundle unless it carries a valid signature for this public key (cosign.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) verify_key: Option<PathBuf>,
    /// Also refuse it unless it carries SLSA provenance signed by --verify-key (attached by
    /// `push`/`bundle --output oci://…` with --sign-key).
    #[arg(long, requires = "verify_key")]
    pub(crate) require_attestation: bool,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output: text (the digest on stdout), or json (schemas/output/pull.schema.json).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub(crate) struct SignCmd {
    /// Artifact to sign: oci://REGISTRY/REPOSITORY@sha256:DIGEST (a tag is resolved first).
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Private key: cosign.key (encrypted; CNS_SIGN_PASSWORD or COSIGN_PASSWORD) or PKCS#8 PEM.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: PathBuf,
    /// Read --key even if other users may read it (refused by default).
    #[arg(long)]
    pub(crate) insecure_key_permissions: bool,
    /// How the signature is stored: bundle (a Sigstore bundle as an OCI referrer) or legacy
    /// (cosign 2's `.sig` tag).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t)]
    pub(crate) signature_format: crate::opts::SignatureFormatArg,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyCmd {
    /// Artifact to verify: oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST].
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    /// Public key (cosign.pub, PEM).
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) key: PathBuf,
    /// Also verify the artifact's SLSA provenance attestation (signed by the same key) and
    /// print its predicate as JSON.
    #[arg(long)]
    pub(crate) attestation: bool,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Output: text, or json (schemas/output/verify.schema.json), printed whether the
    /// check passed or failed (exit 1 then, with `verified: false` and the reason).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}

/// Arguments of `generate-key-pair`.
#[derive(Debug, Args)]
pub(crate) struct KeyPairCmd {
    /// Write PREFIX.key and PREFIX.pub (in the current directory unless PREFIX has a path).
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub(crate) output_key_prefix: String,
    /// Overwrite existing key files.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Verification failures are "a check failed" (exit 1); other errors stay errors (exit 2).
fn check_outcome<T>(r: cns_oci::Result<T>) -> Result<std::result::Result<T, Outcome>> {
    Ok(cns_oci::verify::checked(r)?.map_err(|e| {
        eprintln!("error: {e}");
        Outcome::CheckFailed
    }))
}

/// The push to `reference` with the flags of `args`, every local input checked before
/// anything else runs.
pub(crate) fn prepare_push(reference: &str, args: &PushArgs) -> Result<Publish> {
    Ok(Publish::prepare(
        reference,
        args.sign_key.as_deref(),
        args.signature_format.into(),
        args.insecure_key_permissions,
        args.digest_file.as_deref(),
    )?)
}

/// Run a prepared push on the registry of `registry`'s flags.
pub(crate) fn push_with(
    publish: Publish,
    registry: &RegistryArgs,
    push: impl FnOnce(Publish, &Registry) -> cns_oci::Result<Pushed>,
) -> Result<Pushed> {
    let reg = registry.registry()?;
    let target = publish.target().clone();
    push(publish, &reg).with_context(|| format!("failed to push {target}"))
}

/// Push a bundle's `files` (and, when signed, its `provenance`), reporting the push: the
/// digest on stdout, or the report as JSON.
pub(crate) fn push_bundle(
    publish: Publish,
    registry: &RegistryArgs,
    files: &[Entry],
    provenance: &cns_bundle::provenance::Provenance,
    format: OutputFormat,
) -> Result<()> {
    let start = Instant::now();
    let target = publish.target().clone();
    let progress = |l: &str| crate::ui::status(l);
    let pushed = push_with(publish, registry, |p, reg| {
        p.bundle(reg, files, provenance.to_value(), &progress)
    })?;
    let report = pushed.report(&target, files);
    crate::ui::status(&format!(
        "pushed {} files ({} bytes, layer {} bytes) to {target} in {:.0?}",
        report.files,
        report.bytes,
        report.layer_size,
        start.elapsed()
    ));
    match format {
        OutputFormat::Text => println!("{}", report.digest),
        OutputFormat::Json => print_json(&report)?,
    }
    Ok(())
}

/// `cnsctl push`.
pub(crate) fn push(cmd: PushCmd) -> Result<Outcome> {
    let publish = prepare_push(&cmd.reference, &cmd.push)?;
    let files = artifact::bundle::read_dir(&cmd.dir)?;
    let provenance = cns_bundle::provenance::for_directory(&files);
    push_bundle(publish, &cmd.push.registry, &files, &provenance, cmd.format)?;
    Ok(Outcome::Success)
}

/// `cnsctl pull`.
pub(crate) fn pull(cmd: PullCmd) -> Result<Outcome> {
    let start = Instant::now();
    let r = OciRef::parse(&cmd.reference)?;
    let key = cmd
        .verify_key
        .as_deref()
        .map(read_verifying_key)
        .transpose()?;
    let reg = cmd.registry.registry()?;
    let pulled = match check_outcome(artifact::bundle::pull(
        &reg,
        &r,
        key.as_ref(),
        cmd.require_attestation,
        UnpackLimits::default(),
    ))
    .with_context(|| format!("failed to pull {r}"))?
    {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    if key.is_some() {
        crate::ui::status(&format!("verified signature of {}", pulled.digest));
    }
    if cmd.require_attestation {
        crate::ui::status(&format!("verified SLSA provenance of {}", pulled.digest));
    }
    let tree = FileTree::from_files(pulled.files, "pulled layer")?;
    let report = tree.write_to(&cmd.output, cmd.force)?;
    crate::ui::stale_removed(&report);
    crate::ui::status(&format!(
        "pulled {} ({} files, {} bytes) into {}{} in {:.0?}",
        pulled.digest,
        tree.files().len(),
        tree.size(),
        cmd.output.display(),
        if report.unchanged {
            " (already identical there: left as it was)"
        } else {
            ""
        },
        start.elapsed()
    ));
    match cmd.format {
        OutputFormat::Text => println!("{}", pulled.digest),
        OutputFormat::Json => print_json(&PullReport {
            reference: r.to_string(),
            digest: pulled.digest.clone(),
            output: cmd.output.display().to_string(),
            files: tree.files().len(),
            bytes: tree.size() as u64,
            unchanged: report.unchanged,
            signature_verified: key.is_some(),
            attestation_verified: cmd.require_attestation,
        })?,
    }
    Ok(Outcome::Success)
}

/// `cnsctl sign`.
pub(crate) fn sign_cmd(cmd: SignCmd) -> Result<Outcome> {
    let r = OciRef::parse(&cmd.reference)?;
    let key = read_signing_key(&cmd.key, cmd.insecure_key_permissions)?;
    let reg = cmd.registry.registry()?;
    let digest = cns_oci::verify::digest_of(&reg, &r)?;
    let signer = sign::Signer {
        key: &key,
        format: cmd.signature_format.into(),
    };
    let tag =
        sign::sign(&reg, &r, &digest, signer).with_context(|| format!("failed to sign {r}"))?;
    let at = match signer.format {
        sign::SignatureFormat::Bundle => "Sigstore bundle referrer",
        sign::SignatureFormat::Legacy => "signature tag",
    };
    crate::ui::status(&format!("signed {digest} ({at} {tag})"));
    Ok(Outcome::Success)
}

/// `cnsctl verify`: the library's answer, printed; a check that did not verify exits 1.
pub(crate) fn verify(cmd: VerifyCmd) -> Result<Outcome> {
    let r = OciRef::parse(&cmd.reference)?;
    let key = read_verifying_key(&cmd.key)?;
    let reg = cmd.registry.registry()?;
    let key_name = cmd.key.display().to_string();
    let v = cns_oci::verify::verify(&reg, &r, &key, &key_name, cmd.attestation)?;
    if v.signature.verified {
        crate::ui::status(&format!(
            "verified: {} is signed by {key_name}",
            v.reference
        ));
    }
    if let Some(a) = v.attestation.as_ref().filter(|a| a.verified) {
        crate::ui::status(&format!(
            "verified: its SLSA provenance ({}) is signed by {key_name}",
            a.tag
        ));
    }
    if let Some(a) = v.sbom.as_ref().filter(|a| a.verified) {
        crate::ui::status(&format!(
            "verified: its CycloneDX SBOM ({}) is signed by {key_name} (--format json prints it)",
            a.tag
        ));
    }
    match cmd.format {
        OutputFormat::Json => print_json(&v)?,
        OutputFormat::Text => {
            if let Some(e) = &v.error {
                eprintln!("error: {e}");
            }
            if let Some(p) = v.attestation.as_ref().and_then(|a| a.predicate.as_ref()) {
                println!("{}", serde_json::to_string_pretty(p)?);
            }
        }
    }
    Ok(if v.verified {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}

/// `cnsctl generate-key-pair`.
pub(crate) fn generate_key_pair(cmd: KeyPairCmd) -> Result<Outcome> {
    let pw = key_password().context(
        "set CNS_SIGN_PASSWORD (or COSIGN_PASSWORD) to the password that encrypts the private key (it may be empty)",
    )?;
    let (key, public) = cns_oci::publish::write_key_pair(&cmd.output_key_prefix, cmd.force, &pw)?;
    crate::ui::status(&format!(
        "wrote {} (encrypted private key) and {} (public key)",
        key.display(),
        public.display()
    ));
    Ok(Outcome::Success)
}
