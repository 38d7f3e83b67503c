//! Copying images and OCI charts between registries (`cnsctl mirror`) and resolving tags to
//! digests (`--resolve-digests`): manifests are copied as their exact bytes (so digests stay
//! the same), every platform of an index, blobs streamed through a temporary file with
//! digest and size checked, and blobs the target already has skipped (which is also how an
//! interrupted copy resumes).

use crate::manifest::Descriptor;
use crate::{Error, OciRef, Registry, Result};
use serde::Deserialize;

/// Every manifest media type a copy or a digest lookup accepts.
pub const ACCEPT_ANY: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Largest blob a mirror copies (a GPU driver image layer is a few GiB).
pub const MAX_MIRROR_BLOB: u64 = 64 << 30;

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Manifests pushed (an index and its platforms count one each).
    pub manifests: usize,
    /// Blobs copied.
    pub blobs_copied: usize,
    /// Blobs the target already had.
    pub blobs_skipped: usize,
    /// Bytes of the copied blobs.
    pub bytes_copied: u64,
}

impl CopyStats {
    /// Add another copy's counts.
    pub fn add(&mut self, o: &CopyStats) {
        self.manifests += o.manifests;
        self.blobs_copied += o.blobs_copied;
        self.blobs_skipped += o.blobs_skipped;
        self.bytes_copied += o.bytes_copied;
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn is_index(media_type: &str) -> bool {
    media_type.contains("image.index") || media_type.contains("manifest.list")
}

/// The manifest at `r` (any media type): bytes, digest (checked against `r`'s digest when
/// it has one) and media type.
pub fn fetch_any(reg: &Registry, r: &OciRef) -> Result<(Vec<u8>, String, String)> {
    let (bytes, digest, media_type, _) = fetch_parsed(reg, r)?;
    Ok((bytes, digest, media_type))
}

/// [`fetch_any`] with the manifest's descriptors, parsed once.
fn fetch_parsed(reg: &Registry, r: &OciRef) -> Result<(Vec<u8>, String, String, AnyManifest)> {
    let (bytes, digest, header_type) = reg
        .fetch_manifest_of(r, ACCEPT_ANY)?
        .ok_or_else(|| crate::registry::manifest_not_found(r, &format!("pull manifest {r}")))?;
    let mut parsed: AnyManifest =
        serde_json::from_slice(&bytes).map_err(|e| Error::WrongArtifact {
            reference: r.to_string(),
            expected: "image manifest or index".into(),
            reason: e.to_string(),
        })?;
    let media_type = parsed
        .media_type
        .take()
        .or(header_type)
        .unwrap_or_else(|| crate::manifest::MANIFEST.to_string());
    Ok((bytes, digest, media_type, parsed))
}

/// The digest a tag points at (an index's own digest for a multi-platform image).
pub fn resolve_digest(reg: &Registry, r: &OciRef) -> Result<String> {
    Ok(fetch_any(reg, r)?.1)
}

fn copy_blob(
    src: &Registry,
    from: &OciRef,
    dst: &Registry,
    to: &OciRef,
    d: &Descriptor,
    stats: &mut CopyStats,
) -> Result<()> {
    if dst.blob_exists(to, &d.digest)? {
        stats.blobs_skipped += 1;
        return Ok(());
    }
    let file = src.fetch_blob_file(from, d, MAX_MIRROR_BLOB)?;
    dst.push_blob_file(to, &file, &d.digest, d.size)?;
    stats.blobs_copied += 1;
    stats.bytes_copied += d.size;
    Ok(())
}

/// Copy the image or artifact at `from` to `to` (its tag, or its digest): every platform of
/// an index, every blob the target lacks, then the manifests as their exact bytes. Returns
/// the manifest digest, which is the same in both registries. Content that does not hash to
/// `from`'s digest, or to `expect` (the digest a chart pins beside the tag), is refused
/// before anything is written.
pub fn copy(
    src: &Registry,
    from: &OciRef,
    dst: &Registry,
    to: &OciRef,
    expect: Option<&str>,
    stats: &mut CopyStats,
) -> Result<String> {
    let (bytes, digest, media_type, parsed) = fetch_parsed(src, from)?;
    if let Some(e) = expect
        && e != digest
    {
        return Err(Error::Digest {
            what: format!("manifest of {from}"),
            expected: e.to_string(),
            actual: digest,
        });
    }
    if is_index(&media_type) {
        for child in &parsed.manifests {
            copy(
                src,
                &from.at_digest(&child.digest),
                dst,
                &to.at_digest(&child.digest),
                None,
                stats,
            )?;
        }
    } else {
        for d in parsed.config.iter().chain(&parsed.layers) {
            copy_blob(src, from, dst, to, d, stats)?;
        }
    }
    let pushed = dst.push_manifest(to, &bytes, &media_type)?;
    if pushed != digest {
        return Err(Error::Digest {
            what: format!("manifest copied to {to}"),
            expected: digest,
            actual: pushed,
        });
    }
    stats.manifests += 1;
    Ok(digest)
}
