//! OCI image manifests for artifacts, serialised with a fixed field order so the same
//! content always has the same manifest digest.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// OCI image manifest media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Every manifest media type a copy, a digest lookup or a signature's subject accepts.
pub const ACCEPT_ANY: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// The empty config media type (OCI 1.1 artifacts).
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The empty config blob.
pub const EMPTY_CONFIG_BLOB: &[u8] = b"{}";
/// `artifactType` of a cnsctl bundle.
pub const BUNDLE_ARTIFACT: &str = "application/vnd.cnsctl.bundle.v1";
/// Layer media type of a bundle: what Flux's OCIRepository, Argo CD ≥ 3.1 and ORAS read.
pub const TAR_GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// `artifactType` of a cnsctl plugin.
pub const PLUGIN_ARTIFACT: &str = "application/vnd.cnsctl.plugin.v1";
/// Layer media type of a plugin component.
pub const WASM_LAYER: &str = "application/wasm";
/// Title annotation (ORAS names the pulled file after it).
pub const TITLE: &str = "org.opencontainers.image.title";
/// Creation-time annotation, fixed to the epoch for reproducibility.
pub const CREATED: &str = "org.opencontainers.image.created";
/// The fixed creation time.
pub const EPOCH: &str = "1970-01-01T00:00:00Z";

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Inline data (base64), used for the empty config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Annotations, sorted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// Describe `bytes` of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest: digest(bytes),
            size: bytes.len() as u64,
            data: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST`].
    #[serde(default)]
    pub media_type: String,
    /// The artifact's type, e.g. [`BUNDLE_ARTIFACT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Config descriptor.
    pub config: Descriptor,
    /// Layers.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (OCI 1.1 referrers: signatures, attestations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations, sorted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// An OCI 1.1 artifact manifest: empty config, one layer, creation time fixed.
    pub fn artifact(
        artifact_type: &str,
        layer: Descriptor,
        mut annotations: BTreeMap<String, String>,
    ) -> Self {
        annotations
            .entry(CREATED.into())
            .or_insert_with(|| EPOCH.into());
        let mut config = Descriptor::of(EMPTY_CONFIG, EMPTY_CONFIG_BLOB);
        config.data = Some("e30=".into());
        Manifest {
            schema_version: 2,
            media_type: MANIFEST.into(),
            artifact_type: Some(artifact_type.into()),
            config,
            layers: vec![layer],
            subject: None,
            annotations,
        }
    }

    /// Canonical bytes (field order fixed, maps sorted, no whitespace).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_manifest_is_stable_and_oci_shaped() {
        let mut layer = Descriptor::of(TAR_GZIP_LAYER, b"abc");
        layer
            .annotations
            .insert(TITLE.into(), "bundle.tar.gz".into());
        let m = Manifest::artifact(BUNDLE_ARTIFACT, layer, BTreeMap::new());
        let bytes = m.to_bytes();
        assert_eq!(
            bytes,
            Manifest::artifact(BUNDLE_ARTIFACT, m.layers[0].clone(), BTreeMap::new()).to_bytes()
        );
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(v["annotations"][CREATED], EPOCH);
        assert_eq!(v["artifactType"], BUNDLE_ARTIFACT);
        let back: Manifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, m);
    }
}
