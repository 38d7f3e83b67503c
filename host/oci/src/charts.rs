//! Helm charts where their sources serve them: a classic repository's `index.yaml` lists
//! each version's archive and its digest; an OCI registry gives the chart manifest's digest
//! (what `bundle --resolve-chart-digests` records in the SLSA provenance and the SBOM). And a
//! classic repository's chart copied into a registry as an OCI chart with Helm's media types
//! (what `mirror` does for the air gap).

use crate::manifest::{self, Descriptor, Manifest};
use crate::stats::CopyStats;
use crate::{Error, OciRef, Registry, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Largest `index.yaml` read (the biggest public repositories' are tens of MiB).
pub const MAX_INDEX: usize = 64 << 20;

/// Largest chart archive fetched.
pub const MAX_CHART: usize = 64 << 20;

/// Largest `Chart.yaml` read from an archive.
const MAX_CHART_YAML: u64 = 1 << 20;

/// Helm's media type of an OCI chart's config (the chart's metadata as JSON).
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// Helm's media type of an OCI chart's content layer (the `.tgz`).
pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// What a chart's digest is the digest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestOf {
    /// The chart archive (`.tgz`), as a classic repository's `index.yaml` lists it.
    Archive,
    /// The chart's OCI manifest.
    OciManifest,
}

impl DigestOf {
    /// `archive` or `oci-manifest`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestOf::Archive => "archive",
            DigestOf::OciManifest => "oci-manifest",
        }
    }
}

/// A chart version's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartDigest {
    /// `sha256:<hex>`.
    pub digest: String,
    /// What it is the digest of.
    pub of: DigestOf,
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<IndexEntry>>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    version: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
}

/// The digest `index` (a classic repository's `index.yaml`, read from `url`) lists for
/// `chart` at `version` (compared without a leading `v`, as Helm does for SemVer).
pub fn index_digest(url: &str, index: &[u8], chart: &str, version: &str) -> Result<String> {
    index_entry(url, index, chart, version).map(|(d, _)| d)
}

/// [`index_digest`] and the entry's archive URLs.
fn index_entry(
    url: &str,
    index: &[u8],
    chart: &str,
    version: &str,
) -> Result<(String, Vec<String>)> {
    let fail = |reason: String| Error::Registry {
        registry: url.to_string(),
        operation: format!("find chart {chart} {version} in index.yaml"),
        message: reason,
    };
    let index: Index =
        serde_norway::from_slice(index).map_err(|e| fail(format!("not a Helm index: {e}")))?;
    let Some(versions) = index.entries.get(chart) else {
        return Err(fail(format!("the index has no chart `{chart}`")));
    };
    let bare = |v: &str| v.strip_prefix('v').unwrap_or(v).to_string();
    let entry = versions
        .iter()
        .find(|e| e.version == version)
        .or_else(|| versions.iter().find(|e| bare(&e.version) == bare(version)))
        .ok_or_else(|| fail(format!("the index has no version {version} of `{chart}`")))?;
    let hex = entry
        .digest
        .as_deref()
        .ok_or_else(|| fail("the index lists no digest for it".into()))?;
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(fail(format!(
            "its digest `{}` is not a SHA-256",
            hex.escape_debug()
        )));
    }
    Ok((
        format!("sha256:{}", hex.to_ascii_lowercase()),
        entry.urls.clone(),
    ))
}

/// The digest of `chart` at `version` in `repository` (`https://…`/`http://…`: from its
/// `index.yaml`; `oci://…`: the manifest of `repository/chart:version`, `+` written `_` as
/// Helm tags it).
pub fn resolve(
    reg: &Registry,
    repository: &str,
    chart: &str,
    version: &str,
) -> Result<ChartDigest> {
    let repo = repository.trim_end_matches('/');
    if repo.starts_with("oci://") {
        let r = OciRef::parse(&format!("{repo}/{chart}:{}", version.replace('+', "_")))?;
        return Ok(ChartDigest {
            digest: crate::verify::digest_of(reg, &r)?,
            of: DigestOf::OciManifest,
        });
    }
    if !(repo.starts_with("https://") || repo.starts_with("http://")) {
        return Err(Error::Registry {
            registry: repository.to_string(),
            operation: format!("resolve chart {chart} {version}"),
            message: "expected an https://, http:// or oci:// chart repository".into(),
        });
    }
    let (url, index) = fetch_index(reg, repository)?;
    Ok(ChartDigest {
        digest: index_digest(&url, &index, chart, version)?,
        of: DigestOf::Archive,
    })
}

/// The `index.yaml` of the classic repository `repository` (bounded by [`MAX_INDEX`]), with
/// its URL; a repository without one is an error.
fn fetch_index(reg: &Registry, repository: &str) -> Result<(String, Vec<u8>)> {
    let url = format!("{}/index.yaml", repository.trim_end_matches('/'));
    let index = reg
        .get_url(&url, MAX_INDEX)?
        .ok_or_else(|| Error::Registry {
            registry: repository.to_string(),
            operation: format!("GET {url}"),
            message: "404 Not Found: not a Helm chart repository".into(),
        })?;
    Ok((url, index))
}

/// `href` (an index entry's URL) against the repository URL: absolute as it is, relative
/// under the repository.
fn archive_url(repository: &str, href: &str) -> String {
    if href.contains("://") {
        href.to_string()
    } else {
        format!(
            "{}/{}",
            repository.trim_end_matches('/'),
            href.trim_start_matches('/')
        )
    }
}

/// `Chart.yaml` of a chart archive (`NAME/Chart.yaml`), as JSON: an OCI chart's config.
fn chart_metadata(archive: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar
        .entries()
        .map_err(|e| format!("not a chart archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("not a chart archive: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "Chart.yaml" {
            let mut text = String::new();
            (&mut entry)
                .take(MAX_CHART_YAML)
                .read_to_string(&mut text)
                .map_err(|e| format!("Chart.yaml: {e}"))?;
            let meta: serde_json::Value =
                serde_norway::from_str(&text).map_err(|e| format!("Chart.yaml: {e}"))?;
            return Ok(serde_json::to_vec(&meta).expect("JSON"));
        }
    }
    Err("the archive has no NAME/Chart.yaml".into())
}

/// A chart archive (`.tgz`) fetched from its source and checked.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The archive's bytes.
    pub archive: Vec<u8>,
    /// `sha256:<hex>` of the archive (what a classic repository's index lists).
    pub digest: String,
    /// Where it was read from (the archive's URL, or the OCI reference).
    pub from: String,
}

/// The archive of `chart` at `version` from `repository`: a classic repository's (its
/// `index.yaml` entry's first URL; the archive must hash to the digest the index lists) or
/// an OCI registry's (the `HELM_CHART` layer of `repository/chart:version`, `+` written `_`;
/// the registry's blob checked against the manifest's digest). At most [`MAX_CHART`] bytes.
pub fn fetch(reg: &Registry, repository: &str, chart: &str, version: &str) -> Result<Fetched> {
    let repo = repository.trim_end_matches('/');
    if !repo.starts_with("oci://") {
        return fetch_classic(reg, repository, chart, version);
    }
    let r = OciRef::parse(&format!("{repo}/{chart}:{}", version.replace('+', "_")))?;
    reg.authenticate(&r, oci_client::RegistryOperation::Pull)?;
    let (bytes, _) = reg
        .fetch_manifest(&r)?
        .ok_or_else(|| crate::registry::manifest_not_found(&r, &format!("pull chart {r}")))?;
    let wrong = |reason: String| Error::WrongArtifact {
        reference: r.to_string(),
        expected: "a Helm chart".into(),
        reason,
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| wrong(format!("manifest is not an OCI image manifest: {e}")))?;
    let layer = m
        .layers
        .iter()
        .find(|l| l.media_type == HELM_CHART)
        .ok_or_else(|| wrong(format!("no layer of media type `{HELM_CHART}`")))?;
    let archive = reg.fetch_blob_capped(&r, layer, MAX_CHART as u64)?;
    Ok(Fetched {
        archive,
        digest: layer.digest.clone(),
        from: r.to_string(),
    })
}

/// [`fetch`] from a classic repository.
fn fetch_classic(src: &Registry, repository: &str, chart: &str, version: &str) -> Result<Fetched> {
    let repo = repository.trim_end_matches('/');
    if !(repo.starts_with("https://") || repo.starts_with("http://")) {
        return Err(Error::Registry {
            registry: repository.to_string(),
            operation: format!("fetch chart {chart} {version}"),
            message: "expected an https://, http:// or oci:// chart repository".into(),
        });
    }
    let (index_url, index) = fetch_index(src, repository)?;
    let (digest, urls) = index_entry(&index_url, &index, chart, version)?;
    let Some(href) = urls.first() else {
        return Err(Error::Registry {
            registry: index_url,
            operation: format!("find chart {chart} {version}"),
            message: "the index lists no URL for it".into(),
        });
    };
    let url = archive_url(repo, href);
    let archive = src
        .get_url(&url, MAX_CHART)?
        .ok_or_else(|| Error::Registry {
            registry: repository.to_string(),
            operation: format!("GET {url}"),
            message: "404 Not Found".into(),
        })?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&archive)));
    if actual != digest {
        return Err(Error::Digest {
            what: url,
            expected: digest,
            actual,
        });
    }
    Ok(Fetched {
        archive,
        digest,
        from: url,
    })
}

/// Copy `chart` at `version` from the classic repository `repository` (read with `src`)
/// to `to` in `dst` as an OCI chart, as `helm push` stores one: the archive as the
/// `HELM_CHART` layer, its `Chart.yaml` as the `HELM_CONFIG` config, the chart's name and
/// version as annotations. The archive must hash to the digest the index lists. Returns the
/// manifest digest.
pub fn copy_classic(
    src: &Registry,
    repository: &str,
    chart: &str,
    version: &str,
    dst: &Registry,
    to: &OciRef,
    stats: &mut CopyStats,
) -> Result<String> {
    let Fetched {
        archive, from: url, ..
    } = fetch_classic(src, repository, chart, version)?;
    let config = chart_metadata(&archive).map_err(|reason| Error::Registry {
        registry: repository.to_string(),
        operation: format!("read {url}"),
        message: reason,
    })?;
    for (bytes, label) in [(&archive, "chart"), (&config, "chart config")] {
        if dst.blob_exists(to, &manifest::digest(bytes))? {
            stats.blobs_skipped += 1;
        } else {
            dst.push_raw_blob(to, bytes, label)?;
            stats.blobs_copied += 1;
            stats.bytes_copied += bytes.len() as u64;
        }
    }
    let m = Manifest {
        schema_version: 2,
        media_type: manifest::MANIFEST.into(),
        artifact_type: None,
        config: Descriptor::of(HELM_CONFIG, &config),
        layers: vec![Descriptor::of(HELM_CHART, &archive)],
        subject: None,
        annotations: BTreeMap::from([
            (
                "org.opencontainers.image.title".to_string(),
                chart.to_string(),
            ),
            (
                "org.opencontainers.image.version".to_string(),
                version.to_string(),
            ),
        ]),
    };
    let bytes = m.to_bytes();
    dst.push_manifest(to, &bytes, manifest::MANIFEST)?;
    stats.manifests += 1;
    Ok(manifest::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_come_from_the_index_entry_of_the_version() {
        let hex = "ab".repeat(32);
        let index = format!(
            "apiVersion: v1\nentries:\n  gpu-operator:\n  - version: v25.10.1\n    digest: {hex}\n    urls: [gpu-operator-v25.10.1.tgz]\n  - version: v25.3.0\n  cert-manager:\n  - version: v1.21.1\n    digest: sha256:{}\n",
            hex.to_uppercase()
        );
        let url = "http://127.0.0.1/index.yaml";
        let get = |c: &str, v: &str| index_digest(url, index.as_bytes(), c, v);
        assert_eq!(
            get("gpu-operator", "v25.10.1").unwrap(),
            format!("sha256:{hex}")
        );
        assert_eq!(
            get("cert-manager", "1.21.1").unwrap(),
            format!("sha256:{hex}")
        );
        for (c, v, why) in [
            ("gpu-operator", "v25.3.0", "lists no digest"),
            ("gpu-operator", "v9.9.9", "no version v9.9.9"),
            ("skyhook", "v0.13.0", "no chart `skyhook`"),
        ] {
            let e = get(c, v).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(url), "{e}");
        }
        let e = index_digest(url, b"[1, 2", "a", "1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Helm index"), "{e}");
    }
}
