//! Copying images and OCI charts between registries (`cnsctl mirror`) and resolving tags to
//! digests (`--resolve-digests`): manifests are copied as their exact bytes (so digests stay
//! the same), every platform of an index, blobs streamed through a temporary file with
//! digest and size checked, and blobs the target already has skipped (which is also how an
//! interrupted copy resumes).

use crate::manifest::Descriptor;
use crate::{Error, OciRef, Registry, Result};
use serde::{Deserialize, Serialize};

pub use crate::manifest::ACCEPT_ANY;
pub use job::{Job, Source};

mod job;

/// Largest blob a mirror copies (a GPU driver image layer is a few GiB).
pub const MAX_MIRROR_BLOB: u64 = 64 << 30;

/// Deepest nesting of indexes a copy follows (an image index is depth 1; the spec allows an
/// index of indexes, nothing real goes much further).
pub const MAX_INDEX_DEPTH: usize = 4;

/// Most manifests one copy fetches, every level together (a multi-platform image has a
/// handful; a registry answering with thousands is refused instead of keeping `mirror` busy).
pub const MAX_MANIFESTS: usize = 256;

pub use crate::stats::CopyStats;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyManifest {
    #[serde(default)]
    schema_version: Option<u64>,
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

/// Whether `d` is a digest a reference or a URL may be built from: `sha256:` and 64, or
/// `sha512:` and 128, lowercase hex digits (the OCI image spec's registered algorithms).
pub fn is_digest(d: &str) -> bool {
    let hex_of = |rest: &str, n: usize| {
        rest.len() == n
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match d.split_once(':') {
        Some(("sha256", rest)) => hex_of(rest, 64),
        Some(("sha512", rest)) => hex_of(rest, 128),
        _ => false,
    }
}

/// Whether `m` is a media type as RFC 6838 writes one (`type/subtype`, restricted-name
/// characters, no parameters): no control characters, spaces or line breaks.
pub fn is_media_type(m: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    m.split_once('/')
        .is_some_and(|(t, sub)| name(t) && name(sub))
}

/// [`fetch_any`] with the manifest's descriptors, parsed once and checked: a registry's
/// answer is used only if it is a schema-2 manifest or index with a valid media type, and
/// every digest in it is a digest (so no tag or path can be built from it).
fn fetch_parsed(reg: &Registry, r: &OciRef) -> Result<(Vec<u8>, String, String, AnyManifest)> {
    let (bytes, digest, header_type) = reg
        .fetch_manifest_of(r, ACCEPT_ANY)?
        .ok_or_else(|| crate::registry::manifest_not_found(r, &format!("pull manifest {r}")))?;
    let refuse = |reason: String| Error::WrongArtifact {
        reference: r.to_string(),
        expected: "image manifest or index".into(),
        reason,
    };
    let mut parsed: AnyManifest =
        serde_json::from_slice(&bytes).map_err(|e| refuse(e.to_string()))?;
    if parsed.schema_version != Some(2) {
        return Err(refuse(match parsed.schema_version {
            Some(v) => format!("schemaVersion {v} (only schema 2 manifests are copied)"),
            None => "no schemaVersion (an error document, or not a manifest)".into(),
        }));
    }
    let media_type = parsed
        .media_type
        .take()
        .or(header_type)
        .unwrap_or_else(|| crate::manifest::MANIFEST.to_string());
    if !is_media_type(&media_type) {
        return Err(refuse(format!(
            "media type `{}` is not type/subtype",
            media_type.escape_debug()
        )));
    }
    if is_index(&media_type) {
        if parsed.manifests.len() > MAX_MANIFESTS {
            return Err(refuse(format!(
                "an index of {} manifests, more than the {MAX_MANIFESTS} a copy follows",
                parsed.manifests.len()
            )));
        }
    } else if parsed.config.is_none() {
        return Err(refuse("an image manifest without a config".into()));
    }
    for (what, d) in parsed
        .manifests
        .iter()
        .map(|d| ("manifests", d))
        .chain(parsed.config.iter().map(|d| ("config", d)))
        .chain(parsed.layers.iter().map(|d| ("layers", d)))
    {
        if !is_digest(&d.digest) {
            return Err(refuse(format!(
                "{what} entry with digest `{}`, not sha256:<64 hex>",
                d.digest.escape_debug()
            )));
        }
        if !d.media_type.is_empty() && !is_media_type(&d.media_type) {
            return Err(refuse(format!(
                "{what} entry with media type `{}`",
                d.media_type.escape_debug()
            )));
        }
    }
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
///
/// Every digest of the source's answers is checked to be a digest before it names anything,
/// the platforms of an index are written to the target by digest only (never to a tag),
/// and a copy follows at most [`MAX_INDEX_DEPTH`] levels of indexes and [`MAX_MANIFESTS`]
/// manifests.
pub fn copy(
    src: &Registry,
    from: &OciRef,
    dst: &Registry,
    to: &OciRef,
    expect: Option<&str>,
    stats: &mut CopyStats,
) -> Result<String> {
    let mut fetched = 0;
    copy_at(src, from, dst, to, expect, stats, 0, &mut fetched)
}

#[allow(clippy::too_many_arguments)]
fn copy_at(
    src: &Registry,
    from: &OciRef,
    dst: &Registry,
    to: &OciRef,
    expect: Option<&str>,
    stats: &mut CopyStats,
    depth: usize,
    fetched: &mut usize,
) -> Result<String> {
    *fetched += 1;
    if *fetched > MAX_MANIFESTS {
        return Err(Error::WrongArtifact {
            reference: from.to_string(),
            expected: "image manifest or index".into(),
            reason: format!("more than {MAX_MANIFESTS} manifests in one copy"),
        });
    }
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
        if depth >= MAX_INDEX_DEPTH {
            return Err(Error::WrongArtifact {
                reference: from.to_string(),
                expected: "image manifest or index".into(),
                reason: format!("indexes nested deeper than {MAX_INDEX_DEPTH}"),
            });
        }
        for child in &parsed.manifests {
            // Digests only: checked by fetch_parsed, and no tag carried over.
            copy_at(
                src,
                &from.by_digest(&child.digest),
                dst,
                &to.by_digest(&child.digest),
                None,
                stats,
                depth + 1,
                fetched,
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

/// The tags that attach things to `digest` in its repository: cosign's signature (`.sig`)
/// and attestations (`.att`), and the referrers index that the OCI referrers tag schema keeps
/// for registries without the referrers API (`sha256-<hex>`).
pub fn attached_tags(digest: &str) -> [String; 3] {
    [
        crate::sign::signature_tag(digest),
        crate::attest::attestation_tag(digest),
        digest.replace(':', "-"),
    ]
}

/// Copy what is attached to `digest` at `from` to `to` ([`attached_tags`], each the source
/// has, and the referrers a source with the referrers API lists), so signatures,
/// attestations and referrers survive the mirror (their subjects keep their digests, so
/// they verify there). Returns the tags copied (the referrers tag for referrers read
/// through the API).
pub fn copy_attached(
    src: &Registry,
    from: &OciRef,
    dst: &Registry,
    to: &OciRef,
    digest: &str,
    stats: &mut CopyStats,
) -> Result<Vec<String>> {
    let mut copied = Vec::new();
    for tag in attached_tags(digest) {
        let at = from.at_tag(&tag);
        // The referrers tag holds an image index (the Sigstore bundle referrers it lists
        // are copied with it); the cosign 2 tags hold image manifests.
        if src.fetch_manifest_of(&at, ACCEPT_ANY)?.is_none() {
            continue;
        }
        copy(src, &at, dst, &to.at_tag(&tag), None, stats)?;
        copied.push(tag);
    }
    // A source with the referrers API keeps no referrers tag: its referrers (Sigstore
    // bundles, SBOMs…) are read through the API, copied by digest, and listed at the
    // destination in a referrers tag unless it answers the API itself.
    let tag = crate::sigstore::referrers_tag(digest);
    if !copied.contains(&tag) {
        let listed = crate::sigstore::referrers(src, &from.at_digest(digest), None)?;
        if !listed.is_empty() {
            for e in &listed {
                copy(
                    src,
                    &from.at_digest(&e.digest),
                    dst,
                    &to.at_digest(&e.digest),
                    Some(&e.digest),
                    stats,
                )?;
            }
            if !crate::sigstore::serves_referrers_api(dst, to, digest) {
                crate::sigstore::add_to_tag_index(dst, to, digest, listed)?;
            }
            copied.push(tag);
        }
    }
    Ok(copied)
}

/// What `mirror` did, or in a dry run would do: the answer a pipeline reads
/// (`mirror --format json`, schemas/output/mirror.schema.json).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The target, as given.
    pub to: String,
    /// The source mirror, when one was given.
    pub from: Option<String>,
    /// Nothing was copied.
    pub dry_run: bool,
    /// Each job, in order.
    pub copies: Vec<Copied>,
    /// What cannot be copied, with why.
    pub skipped: Vec<String>,
    /// Absent in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
}

/// One job's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// What it is.
    pub what: String,
    /// Where it was read.
    pub from: String,
    /// Where it was written.
    pub to: String,
    /// The pinned digest, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// The manifest digest copied (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The signature, attestation and referrers tags copied with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<String>,
    /// What the copy did (absent in a dry run).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stats: Option<CopyStats>,
}

/// Every job together.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// The counts.
    #[serde(flatten)]
    pub counts: CopyStats,
    /// Wall time.
    pub seconds: f64,
}

impl Report {
    /// The plan: `jobs` to copy into `to` (from `from`), `skipped` with why.
    pub fn plan(to: &str, from: Option<&str>, jobs: &[Job], skipped: Vec<String>) -> Report {
        Report {
            to: to.to_string(),
            from: from.map(str::to_string),
            dry_run: true,
            copies: jobs
                .iter()
                .map(|j| Copied {
                    what: j.what.clone(),
                    from: j.from.to_string(),
                    to: j.to.to_string(),
                    expect: j.expect.clone(),
                    digest: None,
                    attached: Vec::new(),
                    stats: None,
                })
                .collect(),
            skipped,
            totals: None,
        }
    }

    /// Copy every job from `src` to `dst` in order, each as [`copy`] does with what is
    /// attached to it ([`copy_attached`]), saying after each one what it did (`progress`);
    /// the report then holds each digest and count and the totals. With `verify`, an image
    /// or bundle whose signature at the source does not verify with that key is refused
    /// before it is copied. The first failure stops the run, naming the job.
    pub fn run(
        &mut self,
        src: &Registry,
        dst: &Registry,
        jobs: &[Job],
        verify: Option<&crate::sign::VerifyingKey>,
        progress: &dyn Fn(&str),
    ) -> std::result::Result<(), (String, Error)> {
        let start = std::time::Instant::now();
        let mut total = CopyStats::default();
        self.dry_run = false;
        for (i, (job, out)) in jobs.iter().zip(self.copies.iter_mut()).enumerate() {
            let t = std::time::Instant::now();
            let mut stats = CopyStats::default();
            let mut attached = Vec::new();
            let digest = match &job.from {
                Source::Registry(from) => (|| {
                    if let Some(key) = verify.filter(|_| job.is_image() || job.is_bundle()) {
                        let d = resolve_digest(src, from)?;
                        crate::sign::verify(src, from, &d, key).map_err(|e| Error::Verify {
                            reference: from.at_digest(&d).to_string(),
                            reason: format!("--verify-images: not copied: {e}"),
                        })?;
                    }
                    let d = copy(src, from, dst, &job.to, job.expect.as_deref(), &mut stats)?;
                    attached = copy_attached(src, from, dst, &job.to, &d, &mut stats)?;
                    Ok(d)
                })(),
                Source::HelmRepository {
                    url,
                    chart,
                    version,
                } => {
                    crate::charts::copy_classic(src, url, chart, version, dst, &job.to, &mut stats)
                }
            }
            .map_err(|e| {
                (
                    format!("mirror {}: {} -> {}", job.what, job.from, job.to),
                    e,
                )
            })?;
            progress(&format!(
                "[{}/{}] {} -> {} ({digest}): {} blobs copied ({} bytes), {} already there{}, {:.0?}",
                i + 1,
                jobs.len(),
                job.what,
                job.to,
                stats.blobs_copied,
                stats.bytes_copied,
                stats.blobs_skipped,
                if attached.is_empty() {
                    String::new()
                } else {
                    format!(", with {}", attached.join(", "))
                },
                t.elapsed()
            ));
            total.add(&stats);
            out.digest = Some(digest);
            out.attached = attached;
            out.stats = Some(stats);
        }
        self.totals = Some(Totals {
            counts: total,
            seconds: start.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// One line saying what the run did.
    pub fn summary(&self) -> String {
        let Some(t) = &self.totals else {
            return format!(
                "would mirror {} images and charts to {}",
                self.copies.len(),
                self.to
            );
        };
        format!(
            "mirrored {} images and charts to {}: {} manifests, {} blobs copied ({} bytes, {:.1} MB/s), {} blobs already there, in {:.1} s",
            self.copies.len(),
            self.to,
            t.counts.manifests,
            t.counts.blobs_copied,
            t.counts.bytes_copied,
            t.counts.bytes_copied as f64 / 1e6 / t.seconds.max(1e-9),
            t.counts.blobs_skipped,
            t.seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_media_types_from_registries_are_checked() {
        let hex = "a".repeat(64);
        assert!(is_digest(&format!("sha256:{hex}")));
        assert!(is_digest(&format!("sha512:{}", "0".repeat(128))));
        for bad in [
            "v2".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}/../../prod/app"),
            "sha256:../../prod/app:v2".to_string(),
            format!("md5:{hex}"),
            String::new(),
        ] {
            assert!(!is_digest(&bad), "{bad}");
        }
        assert!(is_media_type("application/vnd.oci.image.index.v1+json"));
        assert!(is_media_type(crate::manifest::MANIFEST));
        for bad in [
            "application/json\r\nX-Evil: 1",
            "application/json; charset=utf-8",
            "text",
            "/json",
            "a/ b",
        ] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }
}
