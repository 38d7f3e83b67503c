//! DSSE envelopes of in-toto Statements v1, signed and opened with the ECDSA P-256 keys of
//! cosign: what both storage layouts hold, the Sigstore bundle referrer
//! ([`crate::sigstore`]) and cosign 2's `.att` tag ([`crate::attest`]). No registry here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// `predicateType` of a CycloneDX SBOM (as `cosign attest --type cyclonedx` writes it).
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";

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
