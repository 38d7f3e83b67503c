//! Signed attestations attached the way cosign attaches them: an in-toto Statement v1 in a
//! DSSE envelope signed with the same ECDSA P-256 keys as signatures, stored in the
//! artifact's repository at tag `sha256-<hex>.att` as an OCI image manifest whose layer is the
//! envelope (`application/vnd.dsse.envelope.v1+json`, annotated with its `predicateType`),
//! the layout `cosign attest --key` writes and `cosign verify-attestation --key` reads.

use crate::{Error, OciRef, Registry, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Media type of a DSSE envelope layer.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// `predicateType` of a CycloneDX SBOM (as `cosign attest --type cyclonedx` writes it).
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";
/// Layer annotation naming the predicate type (cosign's).
pub const PREDICATE_ANNOTATION: &str = "predicateType";

/// Tag holding the attestations of `digest` (`sha256:<hex>` → `sha256-<hex>.att`).
pub fn attestation_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// What the payload is.
    pub payload_type: String,
    /// The payload, base64.
    pub payload: String,
    /// Signatures over the pre-authentication encoding.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id (empty, as cosign writes for key-based signatures).
    #[serde(default)]
    pub keyid: String,
    /// Base64 DER ECDSA signature.
    pub sig: String,
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An in-toto Statement v1 about `subject_name` at `digest` (`sha256:<hex>`).
pub fn statement(
    subject_name: &str,
    digest: &str,
    predicate_type: &str,
    predicate: Value,
) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    json!({
        "_type": STATEMENT_V1,
        "subject": [{ "name": subject_name, "digest": { "sha256": hex } }],
        "predicateType": predicate_type,
        "predicate": predicate,
    })
}

/// `statement` signed into a DSSE envelope with `key` (RFC 6979 nonces: same input, same
/// envelope).
pub fn envelope(statement: &Value, key: &SigningKey) -> Envelope {
    let payload = serde_json::to_vec(statement).expect("a JSON value serialises");
    let sig: Signature = key.sign(&pae(IN_TOTO_PAYLOAD, &payload));
    Envelope {
        payload_type: IN_TOTO_PAYLOAD.into(),
        payload: B64.encode(&payload),
        signatures: vec![EnvelopeSignature {
            keyid: String::new(),
            sig: B64.encode(sig.to_der().as_bytes()),
        }],
    }
}

/// Sign each of `statements` with `key` and attach them to `digest` in `r`'s repository, an
/// envelope layer each, in order. Returns the tag and the envelopes' sizes in bytes.
pub fn attach(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    statements: &[Value],
    key: &SigningKey,
) -> Result<(String, Vec<usize>)> {
    let envelopes: Vec<(Vec<u8>, BTreeMap<String, String>)> = statements
        .iter()
        .map(|st| {
            let env = serde_json::to_vec(&envelope(st, key)).expect("an envelope serialises");
            let annotations = st["predicateType"]
                .as_str()
                .map(|t| (PREDICATE_ANNOTATION.to_string(), t.to_string()))
                .into_iter()
                .collect();
            (env, annotations)
        })
        .collect();
    let tag = attestation_tag(digest);
    crate::sign::push_attached(
        reg,
        r,
        &tag,
        envelopes
            .iter()
            .map(|(env, a)| (DSSE_ENVELOPE, env.as_slice(), a.clone()))
            .collect(),
        ("attestation", "attestation config"),
    )?;
    Ok((tag, envelopes.iter().map(|(e, _)| e.len()).collect()))
}

/// Check one envelope: signed by `key` over its PAE, an in-toto statement of
/// `predicate_type` whose subject is `digest`. Returns the statement.
pub fn open(
    env: &Envelope,
    key: &VerifyingKey,
    digest: &str,
    predicate_type: &str,
) -> std::result::Result<Value, String> {
    if env.payload_type != IN_TOTO_PAYLOAD {
        return Err(format!(
            "payload type is `{}`, not {IN_TOTO_PAYLOAD}",
            env.payload_type
        ));
    }
    let payload = B64
        .decode(&env.payload)
        .map_err(|_| "the payload is not base64".to_string())?;
    let pae = pae(&env.payload_type, &payload);
    let verified = env.signatures.iter().any(|s| {
        B64.decode(&s.sig)
            .ok()
            .and_then(|der| Signature::from_der(&der).ok())
            .is_some_and(|sig| key.verify(&pae, &sig).is_ok())
    });
    if !verified {
        return Err(
            "no signature of the envelope matches the public key (wrong key or tampered statement)"
                .into(),
        );
    }
    let st: Value =
        serde_json::from_slice(&payload).map_err(|e| format!("the statement is not JSON: {e}"))?;
    if st["_type"] != STATEMENT_V1 {
        return Err(format!("`_type` is {}, not {STATEMENT_V1}", st["_type"]));
    }
    if st["predicateType"] != predicate_type {
        return Err(format!(
            "predicateType is {}, not {predicate_type}",
            st["predicateType"]
        ));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let names_it = st["subject"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["digest"]["sha256"] == hex));
    if !names_it {
        return Err(format!("the statement's subject is not {digest}"));
    }
    Ok(st)
}

/// Find the attestation of `predicate_type` for `digest` in `r`'s repository signed by
/// `key`; returns its statement.
pub fn verify(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    key: &VerifyingKey,
    predicate_type: &str,
) -> Result<Found> {
    verify_layers(reg, r, digest, key, predicate_type, false)
        .map(|st| st.expect("required: found or an error"))
}

/// A verified attestation: its statement and where it is stored.
#[derive(Debug, Clone)]
pub struct Found {
    /// The in-toto statement.
    pub statement: Value,
    /// The format it was found in.
    pub format: crate::sigstore::SignatureFormat,
    /// Where: the referrer's digest (a Sigstore bundle) or the `.att` tag (legacy).
    pub at: String,
}

/// [`verify`] for an attestation a bundle may lack (the SBOM of one pushed before cnsctl
/// wrote one): `None` when no layer is annotated with `predicate_type`; a layer that is
/// there must verify.
pub fn verify_if_present(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    key: &VerifyingKey,
    predicate_type: &str,
) -> Result<Option<Found>> {
    verify_layers(reg, r, digest, key, predicate_type, true)
}

fn verify_layers(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    key: &VerifyingKey,
    predicate_type: &str,
    optional: bool,
) -> Result<Option<Found>> {
    use crate::sigstore::{self, SignatureFormat};
    let tag = attestation_tag(digest);
    let at = r.at_digest(digest);
    let att_ref = r.at_tag(&tag);
    let fail = |reason: String| Error::Verify {
        reference: at.to_string(),
        reason,
    };
    // A Sigstore bundle referrer first (cosign 3), then the `.att` tag (cosign 2).
    let mut reasons = match sigstore::find(reg, r, digest, key, predicate_type)? {
        sigstore::Found::Verified(statement, referrer) => {
            return Ok(Some(Found {
                statement,
                format: SignatureFormat::Bundle,
                at: referrer,
            }));
        }
        sigstore::Found::Failed(reasons) => reasons,
        sigstore::Found::None => Vec::new(),
    };
    let Some(m) = crate::sign::fetch_attached(reg, r, &tag, "attestation", fail)? else {
        if optional && reasons.is_empty() {
            return Ok(None);
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no Sigstore bundle referrer of {predicate_type} and no attestation at tag `{tag}`"
            ));
        }
        return Err(fail(format!("attestation: {}", reasons.join("; "))));
    };
    let annotated = |l: &&crate::manifest::Descriptor| {
        l.annotations.get(PREDICATE_ANNOTATION).map(String::as_str) == Some(predicate_type)
    };
    if optional && reasons.is_empty() && !m.layers.iter().any(|l| annotated(&l)) {
        return Ok(None);
    }
    let layers = m
        .layers
        .iter()
        .filter(|l| l.media_type == DSSE_ENVELOPE)
        .filter(|l| !optional || annotated(l));
    for layer in layers {
        // At most MAX_SMALL_BLOB bytes, digest checked.
        let raw = reg.fetch_blob(&att_ref, layer)?;
        match serde_json::from_slice::<Envelope>(&raw) {
            Ok(env) => match open(&env, key, digest, predicate_type) {
                Ok(statement) => {
                    return Ok(Some(Found {
                        statement,
                        format: SignatureFormat::Legacy,
                        at: tag,
                    }));
                }
                Err(why) => reasons.push(why),
            },
            Err(e) => reasons.push(format!("a layer is not a DSSE envelope: {e}")),
        }
    }
    if reasons.is_empty() {
        reasons.push(format!("no {DSSE_ENVELOPE} layer at `{tag}`"));
    }
    Err(fail(format!("attestation: {}", reasons.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        // The DSSE specification's own example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn envelopes_open_only_with_the_key_for_the_subject() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let st = statement("b", "sha256:ab", SLSA_PROVENANCE_V1, json!({"x": 1}));
        let env = envelope(&st, &key);
        assert_eq!(envelope(&st, &key), env, "deterministic");
        let k = key.verifying_key();
        assert_eq!(open(&env, k, "sha256:ab", SLSA_PROVENANCE_V1).unwrap(), st);
        let e = open(&env, other.verifying_key(), "sha256:ab", SLSA_PROVENANCE_V1).unwrap_err();
        assert!(e.contains("wrong key"), "{e}");
        let e = open(&env, k, "sha256:cd", SLSA_PROVENANCE_V1).unwrap_err();
        assert!(e.contains("subject"), "{e}");
        let e = open(&env, k, "sha256:ab", "https://other/v1").unwrap_err();
        assert!(e.contains("predicateType"), "{e}");
        // A tampered predicate no longer matches the signature.
        let mut bad = env.clone();
        let tampered = statement("b", "sha256:ab", SLSA_PROVENANCE_V1, json!({"x": 2}));
        bad.payload = B64.encode(serde_json::to_vec(&tampered).unwrap());
        let e = open(&bad, k, "sha256:ab", SLSA_PROVENANCE_V1).unwrap_err();
        assert!(e.contains("tampered"), "{e}");
    }
}
