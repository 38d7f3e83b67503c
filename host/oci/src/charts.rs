//! Helm charts' digests as their sources serve them: a classic repository's `index.yaml`
//! lists each version's archive digest; an OCI registry gives the chart manifest's digest.
//! What `bundle --resolve-chart-digests` records in the SLSA provenance and the SBOM.

use crate::{Error, OciRef, Registry, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Largest `index.yaml` read (the biggest public repositories' are tens of MiB).
pub const MAX_INDEX: usize = 64 << 20;

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
}

/// The digest `index` (a classic repository's `index.yaml`, read from `url`) lists for
/// `chart` at `version` (compared without a leading `v`, as Helm does for SemVer).
pub fn index_digest(url: &str, index: &[u8], chart: &str, version: &str) -> Result<String> {
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
    Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
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
            digest: crate::mirror::resolve_digest(reg, &r)?,
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
    let url = format!("{repo}/index.yaml");
    let index = reg
        .get_url(&url, MAX_INDEX)?
        .ok_or_else(|| Error::Registry {
            registry: repository.to_string(),
            operation: format!("GET {url}"),
            message: "404 Not Found: not a Helm chart repository".into(),
        })?;
    Ok(ChartDigest {
        digest: index_digest(&url, &index, chart, version)?,
        of: DigestOf::Archive,
    })
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
