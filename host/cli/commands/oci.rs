//! `cnsctl push`, `pull`, `sign`, `verify`, `generate-key-pair`: bundles as signed OCI
//! artifacts (one tar+gzip layer, our artifactType, cosign-format signatures).

use super::Outcome;
use crate::trust::Trust;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_bundle::FileTree;
use cns_oci::archive::{self, UnpackLimits};
use cns_oci::manifest::{self, Descriptor, Manifest};
use cns_oci::{Entry, OciRef, Registry, RegistryOptions, sign};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Name of the layer file (ORAS saves the layer under this name).
pub(crate) const LAYER_TITLE: &str = "bundle.tar.gz";
/// Largest bundle layer `pull` accepts.
const MAX_LAYER: u64 = 256 << 20;

/// How to reach a registry.
#[derive(Debug, Args, Clone)]
pub(crate) struct RegistryArgs {
    /// Talk plain HTTP to the registry instead of HTTPS (e.g. a local registry).
    #[arg(long, visible_alias = "insecure")]
    pub(crate) plain_http: bool,
}

impl RegistryArgs {
    pub(crate) fn registry(&self) -> Result<Registry> {
        Ok(Registry::new(
            RegistryOptions {
                plain_http: self.plain_http,
                ..Default::default()
            },
            Box::new(crate::ui::status),
        )?)
    }
}

/// Push options shared by `push` and `bundle --output oci://…`.
#[derive(Debug, Args, Clone)]
pub(crate) struct PushArgs {
    /// Sign the pushed artifact with this private key (cosign.key, or a PKCS#8 PEM); the
    /// password comes from CNS_SIGN_PASSWORD or COSIGN_PASSWORD.
    #[arg(long, value_name = "KEY")]
    pub(crate) sign_key: Option<PathBuf>,

    /// Also write the pushed manifest digest (sha256:…) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) digest_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

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
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
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
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
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

fn password() -> Option<String> {
    std::env::var("CNS_SIGN_PASSWORD")
        .or_else(|_| std::env::var("COSIGN_PASSWORD"))
        .ok()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("failed to read `{}`", path.display()))
}

fn parse_ref(s: &str) -> Result<OciRef> {
    Ok(OciRef::parse(s)?)
}

/// Verification failures are "a check failed" (exit 1); other errors stay errors (exit 2).
fn check_outcome(r: cns_oci::Result<()>) -> Result<Outcome> {
    match r {
        Ok(()) => Ok(Outcome::Success),
        Err(e @ (cns_oci::Error::Unsigned { .. } | cns_oci::Error::Verify { .. })) => {
            eprintln!("error: {e}");
            Ok(Outcome::CheckFailed)
        }
        Err(e) => Err(e.into()),
    }
}

/// Files of a bundle directory (no symlinks), checked against its checksums.txt if present.
fn read_bundle_dir(dir: &Path) -> Result<Vec<Entry>> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<Entry>) -> Result<()> {
        let mut items: Vec<_> = std::fs::read_dir(d)
            .with_context(|| format!("failed to read `{}`", d.display()))?
            .collect::<std::io::Result<_>>()?;
        items.sort_by_key(|e| e.file_name());
        for item in items {
            let path = item.path();
            let ft = item.file_type()?;
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_str()
                .with_context(|| format!("`{}` is not UTF-8", path.display()))?
                .to_string();
            if ft.is_symlink() {
                bail!("`{}` is a symlink; bundles hold only files", path.display());
            } else if ft.is_dir() {
                walk(root, &path, out)?;
            } else {
                #[cfg(unix)]
                let executable = {
                    use std::os::unix::fs::PermissionsExt;
                    item.metadata()?.permissions().mode() & 0o111 != 0
                };
                #[cfg(not(unix))]
                let executable = rel.ends_with(".sh");
                out.push(Entry {
                    path: rel,
                    content: std::fs::read(&path)
                        .with_context(|| format!("failed to read `{}`", path.display()))?,
                    executable,
                });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    if out.is_empty() {
        bail!("`{}` is empty", dir.display());
    }
    check_checksums(&out).with_context(|| format!("bundle `{}`", dir.display()))?;
    Ok(out)
}

/// If the files include `checksums.txt`, every other file must be listed with its sha256.
fn check_checksums(files: &[Entry]) -> Result<()> {
    let Some(sums) = files.iter().find(|f| f.path == "checksums.txt") else {
        return Ok(());
    };
    let mut tree = FileTree::default();
    for f in files.iter().filter(|f| f.path != "checksums.txt") {
        tree.add(f.path.clone(), f.content.clone(), f.executable, "bundle")?;
    }
    if tree.checksums().as_bytes() != sums.content.as_slice() {
        bail!("checksums.txt does not match the files (edited after generation?)");
    }
    Ok(())
}

/// The tagged destination of a push (`latest` when no tag is given; a digest is refused).
fn push_target(reference: &str) -> Result<OciRef> {
    let r = parse_ref(reference)?;
    if r.digest.is_some() {
        bail!("push needs a tag, not a digest: `{reference}`");
    }
    Ok(if r.tag.is_none() {
        r.at_tag("latest")
    } else {
        r
    })
}

/// The signing key of `--sign-key`, loaded before anything is pushed so that a wrong
/// password fails early.
fn sign_key(args: &PushArgs) -> Result<Option<sign::SigningKey>> {
    match &args.sign_key {
        Some(p) => Ok(Some(sign::load_signing_key(
            &p.display().to_string(),
            &read(p)?,
            password,
        )?)),
        None => Ok(None),
    }
}

/// Push `m` with its `layer` to `r`, sign it with `key`, write `--digest-file`, print the
/// digest; returns it.
fn publish(
    reg: &Registry,
    r: &OciRef,
    m: &Manifest,
    layer: &[u8],
    title: &str,
    key: Option<&sign::SigningKey>,
    args: &PushArgs,
) -> Result<String> {
    let digest = reg
        .push_artifact(r, m, layer, title)
        .with_context(|| format!("failed to push {r}"))?;
    if let Some(key) = key {
        let tag = sign::sign(reg, r, &digest, key)
            .with_context(|| format!("failed to sign {r}@{digest}"))?;
        crate::ui::status(&format!("signed {digest} (signature tag {tag})"));
    }
    if let Some(f) = &args.digest_file {
        std::fs::write(f, format!("{digest}\n"))
            .with_context(|| format!("failed to write `{}`", f.display()))?;
    }
    println!("{digest}");
    Ok(digest)
}

/// Pack, push and optionally sign `files` at `reference`; prints and returns the digest.
pub(crate) fn push_files(files: &[Entry], reference: &str, args: &PushArgs) -> Result<String> {
    let r = push_target(reference)?;
    let key = sign_key(args)?;
    let start = Instant::now();
    let layer = archive::pack(files)?;
    let mut desc = Descriptor::of(manifest::TAR_GZIP_LAYER, &layer);
    desc.annotations
        .insert(manifest::TITLE.into(), LAYER_TITLE.into());
    let m = Manifest::artifact(
        manifest::BUNDLE_ARTIFACT,
        desc,
        cns_oci::registry::bundle_annotations("cnsctl bundle"),
    );
    let reg = args.registry.registry()?;
    let digest = publish(&reg, &r, &m, &layer, LAYER_TITLE, key.as_ref(), args)?;
    crate::ui::status(&format!(
        "pushed {} files ({} bytes, layer {} bytes) to {r} in {:.0?}",
        files.len(),
        files.iter().map(|f| f.content.len()).sum::<usize>(),
        layer.len(),
        start.elapsed()
    ));
    Ok(digest)
}

/// `cnsctl push`.
pub(crate) fn push(cmd: PushCmd) -> Result<Outcome> {
    let files = read_bundle_dir(&cmd.dir)?;
    push_files(&files, &cmd.reference, &cmd.push)?;
    Ok(Outcome::Success)
}

/// `cnsctl pull`.
pub(crate) fn pull(cmd: PullCmd) -> Result<Outcome> {
    let start = Instant::now();
    let r = parse_ref(&cmd.reference)?;
    let key = match &cmd.verify_key {
        Some(p) => Some(sign::load_verifying_key(
            &p.display().to_string(),
            &read(p)?,
        )?),
        None => None,
    };
    let reg = cmd.registry.registry()?;
    let pulled = reg
        .pull_artifact(
            &r,
            manifest::BUNDLE_ARTIFACT,
            manifest::TAR_GZIP_LAYER,
            MAX_LAYER,
        )
        .with_context(|| format!("failed to pull {r}"))?;
    if let Some(key) = &key {
        match check_outcome(sign::verify(&reg, &r, &pulled.digest, key))? {
            Outcome::Success => {
                crate::ui::status(&format!("verified signature of {}", pulled.digest))
            }
            other => return Ok(other),
        }
    }
    let files = archive::unpack(&pulled.layer, UnpackLimits::default())
        .with_context(|| format!("refusing the bundle layer of {r}"))?;
    check_checksums(&files).with_context(|| format!("bundle {r}"))?;
    let mut tree = FileTree::default();
    for f in files {
        tree.add(f.path, f.content, f.executable, "pulled layer")?;
    }
    tree.write_to(&cmd.output, cmd.force)?;
    crate::ui::status(&format!(
        "pulled {} ({} files, {} bytes) into {} in {:.0?}",
        pulled.digest,
        tree.files().len(),
        tree.size(),
        cmd.output.display(),
        start.elapsed()
    ));
    println!("{}", pulled.digest);
    Ok(Outcome::Success)
}

fn resolve_digest(reg: &Registry, r: &OciRef) -> Result<String> {
    if let Some(d) = &r.digest {
        return Ok(d.clone());
    }
    let (_, digest) = reg
        .fetch_manifest(r)?
        .with_context(|| format!("{r} does not exist"))?;
    Ok(digest)
}

/// `cnsctl sign`.
pub(crate) fn sign_cmd(cmd: SignCmd) -> Result<Outcome> {
    let r = parse_ref(&cmd.reference)?;
    let key = sign::load_signing_key(&cmd.key.display().to_string(), &read(&cmd.key)?, password)?;
    let reg = cmd.registry.registry()?;
    let digest = resolve_digest(&reg, &r)?;
    let tag = sign::sign(&reg, &r, &digest, &key).with_context(|| format!("failed to sign {r}"))?;
    crate::ui::status(&format!("signed {digest} (signature tag {tag})"));
    Ok(Outcome::Success)
}

/// `cnsctl verify`.
pub(crate) fn verify(cmd: VerifyCmd) -> Result<Outcome> {
    let r = parse_ref(&cmd.reference)?;
    let key = sign::load_verifying_key(&cmd.key.display().to_string(), &read(&cmd.key)?)?;
    let reg = cmd.registry.registry()?;
    let digest = resolve_digest(&reg, &r)?;
    let outcome = check_outcome(sign::verify(&reg, &r, &digest, &key))?;
    if outcome == Outcome::Success {
        crate::ui::status(&format!(
            "verified: {} is signed by {}",
            r.at_digest(&digest),
            cmd.key.display()
        ));
    }
    Ok(outcome)
}

/// `cnsctl generate-key-pair`.
pub(crate) fn generate_key_pair(cmd: KeyPairCmd) -> Result<Outcome> {
    let (key_path, pub_path) = (
        PathBuf::from(format!("{}.key", cmd.output_key_prefix)),
        PathBuf::from(format!("{}.pub", cmd.output_key_prefix)),
    );
    for p in [&key_path, &pub_path] {
        if p.exists() && !cmd.force {
            bail!("`{}` exists; use --force to overwrite", p.display());
        }
    }
    let pw = password().context(
        "set CNS_SIGN_PASSWORD (or COSIGN_PASSWORD) to the password that encrypts the private key (it may be empty)",
    )?;
    let (private, public) = sign::generate_key_pair(pw.as_bytes())?;
    write_private(&key_path, &private)?;
    std::fs::write(&pub_path, public)
        .with_context(|| format!("failed to write `{}`", pub_path.display()))?;
    crate::ui::status(&format!(
        "wrote {} (encrypted private key) and {} (public key)",
        key_path.display(),
        pub_path.display()
    ));
    Ok(Outcome::Success)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let werr = || format!("failed to write `{}`", path.display());
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(werr)?;
        f.write_all(text.as_bytes()).with_context(werr)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, text).with_context(werr)?;
    Ok(())
}

/// Largest plugin component `--plugin oci://…` accepts.
const MAX_PLUGIN: u64 = 64 << 20;

/// Pull a plugin artifact; unless `trust` lets its repository load unsigned, one of the keys
/// trusted for its repository must have signed it. Returns the component bytes and the
/// manifest digest.
pub(crate) fn pull_plugin(
    reference: &str,
    trust: &Trust,
    plain_http: bool,
) -> Result<(Vec<u8>, String)> {
    let r = parse_ref(reference)?;
    let repository = r.repository_ref();
    let decision = trust.decide(&repository);
    if decision.keys.is_empty() && !decision.unsigned_ok {
        bail!("refusing plugin {r}: {}", trust.hint(&repository));
    }
    let reg = RegistryArgs { plain_http }.registry()?;
    let pulled = reg
        .pull_artifact(
            &r,
            manifest::PLUGIN_ARTIFACT,
            manifest::WASM_LAYER,
            MAX_PLUGIN,
        )
        .with_context(|| format!("failed to pull plugin {r}"))?;
    if decision.keys.is_empty() {
        crate::ui::status(&format!(
            "plugin {r}: loaded without a signature check (allowed unsigned)"
        ));
        return Ok((pulled.layer, pulled.digest));
    }
    let mut reasons = Vec::new();
    for k in &decision.keys {
        match sign::verify(&reg, &r, &pulled.digest, &k.key) {
            Ok(()) => {
                crate::ui::status(&format!(
                    "plugin {r}: signature verified with {} ({})",
                    k.label, pulled.digest
                ));
                return Ok((pulled.layer, pulled.digest));
            }
            Err(e @ (cns_oci::Error::Unsigned { .. } | cns_oci::Error::Verify { .. })) => {
                reasons.push(format!("{}: {e}", k.label))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if decision.unsigned_ok {
        crate::ui::status(&format!(
            "plugin {r}: no trusted signature, loaded because unsigned plugins are allowed ({})",
            reasons.join("; ")
        ));
        return Ok((pulled.layer, pulled.digest));
    }
    bail!(
        "refusing plugin {r}: no trusted key verifies it ({})",
        reasons.join("; ")
    )
}

/// Push a plugin component as an OCI artifact (`application/wasm` layer); returns the digest.
pub(crate) fn push_plugin(
    bytes: &[u8],
    info: &cns_runtime::Plugin,
    reference: &str,
    args: &PushArgs,
) -> Result<String> {
    let r = push_target(reference)?;
    let key = sign_key(args)?;
    let title = format!("{}.wasm", info.name);
    let mut desc = Descriptor::of(manifest::WASM_LAYER, bytes);
    desc.annotations
        .insert(manifest::TITLE.into(), title.clone());
    let mut ann = std::collections::BTreeMap::new();
    ann.insert("dev.cnsctl.plugin.name".to_string(), info.name.clone());
    ann.insert(
        "dev.cnsctl.plugin.kind".to_string(),
        info.kind.as_str().to_string(),
    );
    ann.insert(
        "dev.cnsctl.plugin.version".to_string(),
        info.version.clone(),
    );
    ann.insert(
        "dev.cnsctl.plugin.wit".to_string(),
        info.wit_version.clone(),
    );
    let m = Manifest::artifact(manifest::PLUGIN_ARTIFACT, desc, ann);
    let reg = args.registry.registry()?;
    publish(&reg, &r, &m, bytes, &title, key.as_ref(), args)
}
