//! Signatures and attestations as Sigstore bundles (v0.3) attached as OCI 1.1 referrers,
//! the layout cosign 3 writes by default and Flux 2.8+ reads: an artifact manifest whose
//! `artifactType` and single layer are `application/vnd.dev.sigstore.bundle.v0.3+json`, whose
//! config is the empty descriptor and whose `subject` is the signed manifest, annotated with
//! `dev.sigstore.bundle.content: dsse-envelope` and `dev.sigstore.bundle.predicateType`. The
//! bundle holds a DSSE envelope of an in-toto Statement v1 (a signature is the statement of
//! predicate `https://sigstore.dev/cosign/sign/v1` about the manifest digest) and, for a key,
//! a public-key hint and no transparency-log entry (offline, as `cosign verify --key
//! --insecure-ignore-tlog` and Flux with a key check it).
//!
//! Found through the referrers API (`GET /v2/<name>/referrers/<digest>`) or, on registries
//! without it (Debian's `docker-registry` among them), the referrers tag schema: an image
//! index at tag `sha256-<hex>` that the pusher keeps. cnsctl keeps that index unless the
//! registry answers the API (probed after the push: `oci-client` does not show the
//! `OCI-Subject` header that would say so), and where it cannot tell (a registry that wants
//! credentials for the probe), it keeps the index too.

use crate::dsse::{self, Envelope};
use crate::manifest::{self, Descriptor, Manifest};
use crate::{Error, OciRef, Registry, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Media type of a Sigstore bundle v0.3 (the referrer's `artifactType` and layer type).
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// `predicateType` of a cosign 3 signature statement.
pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";
/// Referrer annotation: what the bundle holds.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Referrer annotation: the statement's predicate type.
pub const PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// Media type of an OCI image index (the referrers tag schema's).
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Largest bundle layer read (an SBOM attestation of a large bundle fits many times).
pub const MAX_BUNDLE: u64 = 16 << 20;

/// How `push`, `bundle --output oci://…`, `plugin push` and `sign` store a signature and its
/// attestations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureFormat {
    /// Sigstore bundles as OCI referrers (cosign 3's default).
    #[default]
    Bundle,
    /// cosign 2's tags: `sha256-<hex>.sig` (SimpleSigning) and `.att` (DSSE layers).
    Legacy,
}

impl SignatureFormat {
    /// `bundle` or `legacy`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::Bundle => "bundle",
            SignatureFormat::Legacy => "legacy",
        }
    }
}

/// The referrers tag schema's tag for `digest` (`sha256:<hex>` → `sha256-<hex>`).
pub fn referrers_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

/// A key's hint in a bundle: base64 of the SHA-256 of its SubjectPublicKeyInfo (DER).
pub fn key_hint(key: &VerifyingKey) -> String {
    use p256::pkcs8::EncodePublicKey;
    use sha2::{Digest, Sha256};
    let der = key
        .to_public_key_der()
        .expect("a P-256 key encodes as SPKI");
    B64.encode(Sha256::digest(der.as_bytes()))
}

/// The Sigstore bundle (protobuf JSON, fields in a fixed order) of `env` signed by `key`.
pub fn bundle(env: &Envelope, key: &VerifyingKey) -> Vec<u8> {
    let v = json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": { "publicKey": { "hint": key_hint(key) }, "tlogEntries": [] },
        "dsseEnvelope": {
            "payload": env.payload,
            "payloadType": env.payload_type,
            "signatures": env.signatures.iter().map(|s| json!({ "sig": s.sig, "keyid": s.keyid })).collect::<Vec<_>>(),
        },
    });
    serde_json::to_vec(&v).expect("a bundle serialises")
}

/// The part of a bundle the checks read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    dsse_envelope: Option<Envelope>,
}

/// The signature statement cosign 3 signs for `digest` of `r`'s repository.
pub fn signature_statement(r: &OciRef, digest: &str) -> Value {
    dsse::statement(&r.repository_ref(), digest, COSIGN_SIGN_V1, json!({}))
}

/// An index entry of the referrers tag schema (and of the API's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The referrer's manifest media type.
    pub media_type: String,
    /// The referrer's manifest digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// Its `artifactType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<Entry>,
}

/// Sign each of `statements` (about `digest` in `r`'s repository) with `key` into a
/// Sigstore bundle and attach it as a referrer of `digest`, in order, listing them in the
/// referrers tag index where the registry has no referrers API. Returns each referrer's
/// manifest digest and its bundle's size.
pub fn attach(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    statements: &[Value],
    key: &SigningKey,
) -> Result<Vec<(String, usize)>> {
    // The subject as the registry serves it: an image manifest, or an index (a multi-platform
    // image), with its media type.
    let (subject_bytes, _, media_type) = reg
        .fetch_manifest_of(&r.at_digest(digest), manifest::ACCEPT_ANY)?
        .ok_or_else(|| crate::registry::manifest_not_found(&r.at_digest(digest), "sign"))?;
    let mut subject = Descriptor::of(
        media_type.as_deref().unwrap_or(manifest::MANIFEST),
        &subject_bytes,
    );
    subject.digest = digest.to_string();
    reg.push_raw_blob(r, manifest::EMPTY_CONFIG_BLOB, "empty config")?;
    let mut attached = Vec::new();
    let mut entries = Vec::new();
    for statement in statements {
        let bytes = bundle(&dsse::envelope(statement, key), key.verifying_key());
        let predicate = statement["predicateType"].as_str().unwrap_or_default();
        reg.push_raw_blob(r, &bytes, "Sigstore bundle")?;
        let annotations = BTreeMap::from([
            (CONTENT_ANNOTATION.to_string(), "dsse-envelope".to_string()),
            (PREDICATE_ANNOTATION.to_string(), predicate.to_string()),
        ]);
        let mut m = Manifest::artifact(BUNDLE_V03, Descriptor::of(BUNDLE_V03, &bytes), annotations);
        m.subject = Some(subject.clone());
        let mbytes = m.to_bytes();
        let referrer = manifest::digest(&mbytes);
        reg.push_manifest(&r.at_digest(&referrer), &mbytes, manifest::MANIFEST)?;
        // The index entry carries the referrer manifest's own annotations, as the API lists it.
        entries.push(Entry {
            media_type: manifest::MANIFEST.into(),
            digest: referrer.clone(),
            size: mbytes.len() as u64,
            artifact_type: Some(BUNDLE_V03.into()),
            annotations: m.annotations,
        });
        attached.push((referrer, bytes.len()));
    }
    // The referrers tag schema, for registries without the API.
    if !serves_referrers_api(reg, r, digest) {
        add_to_tag_index(reg, r, digest, entries)?;
    }
    Ok(attached)
}

/// Add `entries` (those not listed yet, in order) to the referrers tag index of `digest` in
/// `r`'s repository.
pub fn add_to_tag_index(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    entries: Vec<Entry>,
) -> Result<()> {
    let tag = r.at_tag(&referrers_tag(digest));
    let mut index = match reg.fetch_manifest_of(&tag, INDEX)? {
        Some((b, _, _)) => serde_json::from_slice::<Index>(&b).map_err(|e| Error::Verify {
            reference: tag.to_string(),
            reason: format!("the referrers tag does not hold an image index: {e}"),
        })?,
        None => Index {
            schema_version: 2,
            media_type: INDEX.into(),
            manifests: Vec::new(),
        },
    };
    let before = index.manifests.len();
    for e in entries {
        if !index.manifests.iter().any(|m| m.digest == e.digest) {
            index.manifests.push(e);
        }
    }
    if index.manifests.len() > before {
        index.media_type = INDEX.into();
        let ibytes = serde_json::to_vec(&index).expect("an index serialises");
        reg.push_manifest(&tag, &ibytes, INDEX)?;
    }
    Ok(())
}

/// Whether `r`'s registry answers the referrers API for `digest` (an image index, 200);
/// `false` for a 404 (no API) and for anything it cannot tell.
pub fn serves_referrers_api(reg: &Registry, r: &OciRef, digest: &str) -> bool {
    let url = format!(
        "{}://{}/v2/{}/referrers/{digest}",
        reg.scheme, r.registry, r.repository
    );
    reg.retry_raw("probe the referrers API", || async {
        let res = reg.http.get(&url).header("Accept", INDEX).send().await?;
        let index = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(INDEX));
        Ok(res.status() == http::StatusCode::OK && index)
    })
    .unwrap_or(false)
}

/// What the referrers of a digest say about one predicate type.
#[derive(Debug)]
pub enum Found {
    /// No Sigstore bundle referrer of that predicate type.
    None,
    /// One verified: its statement and the referrer's digest.
    Verified(Value, String),
    /// Some are there; none verified (why, for each).
    Failed(Vec<String>),
}

/// The referrers of `r` (at a digest) of `artifact_type` (all without one), through the
/// referrers API, else the referrers tag schema.
pub fn referrers(reg: &Registry, r: &OciRef, artifact_type: Option<&str>) -> Result<Vec<Entry>> {
    let at = r.client_ref();
    reg.authenticate(r, oci_client::RegistryOperation::Pull)?;
    let index = reg.retry(r, "list referrers", || {
        reg.client.pull_referrers(&at, artifact_type)
    })?;
    Ok(index
        .manifests
        .into_iter()
        .map(|e| Entry {
            media_type: e.media_type,
            digest: e.digest,
            size: e.size as u64,
            artifact_type: e.artifact_type,
            annotations: e.annotations.unwrap_or_default().into_iter().collect(),
        })
        .collect())
}

/// Find a Sigstore bundle referrer of `digest` whose statement is of `predicate_type`,
/// signed by `key`, about `digest`.
pub fn find(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    key: &VerifyingKey,
    predicate_type: &str,
) -> Result<Found> {
    let subject = r.at_digest(digest);
    let mut reasons = Vec::new();
    // A registry that answers the referrers endpoint with something other than a list or a
    // 404 (which means "no API": the tag is read then) still has the legacy tags to try:
    // the failure is a reason, not the answer.
    let listed = match referrers(reg, &subject, Some(BUNDLE_V03)) {
        Ok(listed) => listed,
        Err(e) => return Ok(Found::Failed(vec![format!("listing referrers: {e}")])),
    };
    for e in listed {
        if e.annotations
            .get(PREDICATE_ANNOTATION)
            .is_some_and(|p| p != predicate_type)
        {
            continue;
        }
        let at = r.at_digest(&e.digest);
        let Some((bytes, _)) = reg.fetch_manifest(&at)? else {
            reasons.push(format!("referrer {} is listed but not there", e.digest));
            continue;
        };
        let m: Manifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                reasons.push(format!("a referrer is not a manifest: {e}"));
                continue;
            }
        };
        if m.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest) {
            reasons.push(format!("referrer {} has another subject", e.digest));
            continue;
        }
        let Some(layer) = m.layers.iter().find(|l| l.media_type == BUNDLE_V03) else {
            reasons.push(format!("referrer {} has no bundle layer", e.digest));
            continue;
        };
        let raw = reg.fetch_blob_capped(&at, layer, MAX_BUNDLE)?;

        let env = match serde_json::from_slice::<Bundle>(&raw) {
            Ok(b) if b.media_type != BUNDLE_V03 => {
                reasons.push(format!("bundle media type is `{}`", b.media_type));
                continue;
            }
            Ok(Bundle {
                dsse_envelope: Some(env),
                ..
            }) => env,
            Ok(_) => {
                reasons.push("the bundle holds no DSSE envelope".into());
                continue;
            }
            Err(err) => {
                reasons.push(format!("the bundle is not a Sigstore bundle: {err}"));
                continue;
            }
        };
        match dsse::open(&env, key, digest, predicate_type) {
            Ok(st) => return Ok(Found::Verified(st, e.digest)),
            Err(why) => reasons.push(format!("referrer {}: {why}", e.digest)),
        }
    }
    Ok(if reasons.is_empty() {
        Found::None
    } else {
        Found::Failed(reasons)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_is_protobuf_json_with_a_key_hint_and_the_envelope() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let st = dsse::statement("r/b", "sha256:ab", COSIGN_SIGN_V1, json!({}));
        let env = dsse::envelope(&st, &key);
        let b: Value = serde_json::from_slice(&bundle(&env, key.verifying_key())).unwrap();
        assert_eq!(b["mediaType"], BUNDLE_V03);
        assert_eq!(
            b["verificationMaterial"]["publicKey"]["hint"],
            key_hint(key.verifying_key())
        );
        assert_eq!(b["dsseEnvelope"]["payloadType"], dsse::IN_TOTO_PAYLOAD);
        let back: Bundle = serde_json::from_value(b).unwrap();
        let st2 = dsse::open(
            &back.dsse_envelope.unwrap(),
            key.verifying_key(),
            "sha256:ab",
            COSIGN_SIGN_V1,
        )
        .unwrap();
        assert_eq!(st2, st);
        assert_eq!(referrers_tag("sha256:ab"), "sha256-ab");
    }
}
