//! Bundles as OCI artifacts: a bundle directory read back (files only, its `checksums.txt`
//! checked), packed into one reproducible layer and pushed; or pulled, every digest and the
//! signature checked, unpacked within limits, `checksums.txt` checked again.

use super::{Pushed, publish};
use crate::archive::{self, Entry, UnpackLimits};
use crate::manifest::{self, Descriptor, Manifest};
use crate::sign::{self, Signer, VerifyingKey};
use crate::{Error, OciRef, Registry, Result};
use std::path::Path;

/// Name of the layer (ORAS saves the layer under this name).
pub const LAYER_TITLE: &str = "bundle.tar.gz";
/// Largest bundle layer `pull` accepts.
pub const MAX_LAYER: u64 = 256 << 20;

/// The files of a bundle directory, sorted by path. Only regular files and directories are
/// accepted (no links, FIFOs, sockets or devices); paths obey the bundle path rule; if the
/// bundle has a `checksums.txt`, every other file must match it.
pub fn read_dir(dir: &Path) -> Result<Vec<Entry>> {
    fn io(path: &Path, e: std::io::Error) -> Error {
        Error::BundleDir {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
    fn walk(root: &Path, d: &Path, out: &mut Vec<Entry>) -> Result<()> {
        let mut items: Vec<_> = std::fs::read_dir(d)
            .and_then(|r| r.collect::<std::io::Result<Vec<_>>>())
            .map_err(|e| io(d, e))?;
        items.sort_by_key(|e| e.file_name());
        for item in items {
            let path = item.path();
            let refuse = |reason: &str| Error::BundleDir {
                path: path.display().to_string(),
                reason: reason.to_string(),
            };
            let ft = item.file_type().map_err(|e| io(&path, e))?;
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_str()
                .ok_or_else(|| refuse("the name is not UTF-8"))?
                .to_string();
            if ft.is_symlink() {
                return Err(refuse(
                    "is a symlink; bundles hold only files and directories",
                ));
            } else if ft.is_dir() {
                walk(root, &path, out)?;
            } else if !ft.is_file() {
                return Err(refuse(
                    "is not a regular file (a FIFO, socket or device); bundles hold only files and directories",
                ));
            } else {
                cns_files::check_path(&rel).map_err(|e| refuse(&e.to_string()))?;
                #[cfg(unix)]
                let executable = {
                    use std::os::unix::fs::PermissionsExt;
                    item.metadata()
                        .map_err(|e| io(&path, e))?
                        .permissions()
                        .mode()
                        & 0o111
                        != 0
                };
                #[cfg(not(unix))]
                let executable = rel.ends_with(".sh");
                out.push(Entry {
                    path: rel,
                    content: std::fs::read(&path).map_err(|e| io(&path, e))?,
                    executable,
                });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    if out.is_empty() {
        return Err(Error::BundleDir {
            path: dir.display().to_string(),
            reason: "is empty".into(),
        });
    }
    // What is pushed is what `cnsctl bundle` wrote: its checksums.txt must be there.
    if !out.iter().any(|f| f.path == "checksums.txt") {
        return Err(Error::NoChecksums {
            bundle: dir.display().to_string(),
        });
    }
    check_checksums(&dir.display().to_string(), &out)?;
    Ok(out)
}

/// If `files` include `checksums.txt`, it must list exactly the other files with their
/// sha256, as cnsctl writes it.
pub fn check_checksums(bundle: &str, files: &[Entry]) -> Result<()> {
    let Some(sums) = files.iter().find(|f| f.path == "checksums.txt") else {
        return Ok(());
    };
    let mut rest: Vec<&Entry> = files.iter().filter(|f| f.path != "checksums.txt").collect();
    rest.sort_by(|a, b| a.path.cmp(&b.path));
    let want = cns_files::checksums(rest.iter().map(|f| (f.path.as_str(), f.content.as_slice())));
    if want.as_bytes() == sums.content.as_slice() {
        Ok(())
    } else {
        Err(Error::Checksums {
            bundle: bundle.to_string(),
        })
    }
}

/// The manifest and layer of a bundle: one reproducible tar+gzip layer titled
/// [`LAYER_TITLE`], artifactType [`manifest::BUNDLE_ARTIFACT`].
pub fn pack(files: &[Entry]) -> Result<(Manifest, Vec<u8>)> {
    let layer = archive::pack(files)?;
    let mut desc = Descriptor::of(manifest::TAR_GZIP_LAYER, &layer);
    desc.annotations
        .insert(manifest::TITLE.into(), LAYER_TITLE.into());
    let m = Manifest::artifact(
        manifest::BUNDLE_ARTIFACT,
        desc,
        crate::registry::bundle_annotations("cnsctl bundle"),
    );
    Ok((m, layer))
}

/// Pack and push `files` to `target` (a tag), signing with `signer`.
pub fn push(
    reg: &Registry,
    target: &OciRef,
    files: &[Entry],
    signer: Option<Signer<'_>>,
) -> Result<Pushed> {
    let (m, layer) = pack(files)?;
    publish(reg, target, &m, &layer, LAYER_TITLE, signer)
}

/// A pulled bundle.
#[derive(Debug)]
pub struct Pulled {
    /// The manifest digest.
    pub digest: String,
    /// The files, sorted by path.
    pub files: Vec<Entry>,
}

/// What `pull --format json` prints once the bundle is written
/// (schemas/output/pull.schema.json).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullReport {
    /// What was pulled.
    pub reference: String,
    /// Its manifest digest.
    pub digest: String,
    /// Where it was written.
    pub output: String,
    /// Files written.
    pub files: usize,
    /// Their bytes together.
    pub bytes: u64,
    /// The output already held exactly these files and was left as it was.
    pub unchanged: bool,
    /// Its signature was verified.
    pub signature_verified: bool,
    /// Its SLSA provenance was verified.
    pub attestation_verified: bool,
}

/// Pull the bundle at `r`: manifest and layer digests, the signature when `key` is given
/// (an unsigned or badly signed bundle is [`Error::Unsigned`] / [`Error::Verify`]) and,
/// with `attestation`, its SLSA provenance signed by the same key; then the layer unpacked
/// within `limits` and its `checksums.txt` checked.
pub fn pull(
    reg: &Registry,
    r: &OciRef,
    key: Option<&VerifyingKey>,
    attestation: bool,
    limits: UnpackLimits,
) -> Result<Pulled> {
    let pulled = reg.pull_artifact(
        r,
        manifest::BUNDLE_ARTIFACT,
        manifest::TAR_GZIP_LAYER,
        MAX_LAYER,
    )?;
    if let Some(key) = key {
        sign::verify(reg, r, &pulled.digest, key)?;
        if attestation {
            crate::attest::verify(
                reg,
                r,
                &pulled.digest,
                key,
                crate::attest::SLSA_PROVENANCE_V1,
            )?;
        }
    }
    let files = archive::unpack(&pulled.layer, limits)?;
    check_checksums(&r.to_string(), &files)?;
    Ok(Pulled {
        digest: pulled.digest,
        files,
    })
}
