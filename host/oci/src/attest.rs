//! Signed attestations attached the way cosign attaches them: an in-toto Statement v1 in a
//! DSSE envelope signed with the same ECDSA P-256 keys as signatures, stored in the
//! artifact's repository at tag `sha256-<hex>.att` as an OCI image manifest whose layer is the
//! envelope (`application/vnd.dsse.envelope.v1+json`, annotated with its `predicateType`),
//! the layout `cosign attest --key` writes and `cosign verify-attestation --key` reads
//! (`--signature-format legacy`). Verifying looks for a Sigstore bundle referrer first
//! ([`crate::sigstore`], the default layout), then at that tag. The envelopes themselves are
//! [`crate::dsse`]'s.

pub use crate::dsse::{
    CYCLONEDX_BOM, Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD, SLSA_PROVENANCE_V1, STATEMENT_V1,
    envelope, open, pae, statement,
};
use crate::{Error, OciRef, Registry, Result};
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde_json::Value;
use std::collections::BTreeMap;

/// Media type of a DSSE envelope layer.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Layer annotation naming the predicate type (cosign's).
pub const PREDICATE_ANNOTATION: &str = "predicateType";

/// Tag holding the attestations of `digest` (`sha256:<hex>` → `sha256-<hex>.att`).
pub fn attestation_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
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
