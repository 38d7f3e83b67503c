//! Verifying an artifact in a registry as `cnsctl verify` does: its signature by a key and,
//! on request, its SLSA provenance attestation by the same key (and its CycloneDX SBOM
//! attestation, where it has one). The answer is what a pipeline
//! reads ([`Verification`], `verify --format json`, schemas/output/verify.schema.json): a
//! failed check is in it (`verified: false` and why), not an error.

use crate::sign::{self, VerifyingKey};
use crate::{Error, OciRef, Registry, Result, attest};
use serde::Serialize;

/// The outcome of verifying one artifact.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The artifact at its digest.
    pub reference: String,
    /// Its manifest digest.
    pub digest: String,
    /// The key it was checked with, as the user named it.
    pub key: String,
    /// The signature verified, and the attestation too when asked for.
    pub verified: bool,
    /// The signature check.
    pub signature: Check,
    /// The attestation check, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Check>,
    /// The SBOM attestation check, when the attestation was asked for and the artifact has
    /// an SBOM attestation (a bundle pushed before cnsctl wrote SBOMs has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Check>,
    /// Why a check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One signature or attestation check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// It verified.
    pub verified: bool,
    /// Where it is stored: the Sigstore bundle referrer's digest (`sha256:…`) or the legacy
    /// tag (`sha256-….sig`, `sha256-….att`); before it verified, the legacy tag.
    pub tag: String,
    /// `bundle` (a Sigstore bundle referrer) or `legacy` (cosign 2's tags), once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The attestation's predicate, once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// A check that did not verify (unsigned, or a bad signature) as `Err` inside `Ok`; any
/// other failure (the registry, the network) stays an error.
pub fn checked<T>(r: Result<T>) -> Result<std::result::Result<T, Error>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e @ (Error::Unsigned { .. } | Error::Verify { .. })) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// The manifest digest of `r`: its own, or the one its tag points at (an image manifest or
/// an index).
pub fn digest_of(reg: &Registry, r: &OciRef) -> Result<String> {
    if let Some(d) = &r.digest {
        return Ok(d.clone());
    }
    match reg.fetch_manifest_of(r, crate::manifest::ACCEPT_ANY)? {
        Some((_, digest, _)) => Ok(digest),
        None => Err(Error::NotFound {
            reference: r.to_string(),
        }),
    }
}

/// Verify `r`'s signature with `key` (named `key_name` in the answer) and, with
/// `attestation`, its SLSA provenance attestation.
pub fn verify(
    reg: &Registry,
    r: &OciRef,
    key: &VerifyingKey,
    key_name: &str,
    attestation: bool,
) -> Result<Verification> {
    let digest = digest_of(reg, r)?;
    let mut v = Verification {
        reference: r.at_digest(&digest).to_string(),
        digest: digest.clone(),
        key: key_name.to_string(),
        verified: false,
        signature: Check {
            verified: false,
            tag: sign::signature_tag(&digest),
            format: None,
            predicate: None,
        },
        attestation: None,
        sbom: None,
        error: None,
    };
    match checked(sign::verify(reg, r, &digest, key))? {
        Ok((format, at)) => {
            v.signature.tag = at;
            v.signature.format = Some(format.as_str());
        }
        Err(e) => {
            v.error = Some(e.to_string());
            return Ok(v);
        }
    }
    v.signature.verified = true;
    if attestation {
        let mut check = Check {
            verified: false,
            tag: attest::attestation_tag(&digest),
            format: None,
            predicate: None,
        };
        match checked(attest::verify(
            reg,
            r,
            &digest,
            key,
            attest::SLSA_PROVENANCE_V1,
        ))? {
            Ok(mut found) => {
                check.verified = true;
                check.tag = found.at;
                check.format = Some(found.format.as_str());
                check.predicate = Some(found.statement["predicate"].take());
            }
            Err(e) => v.error = Some(e.to_string()),
        }
        let ok = check.verified;
        v.attestation = Some(check);
        if !ok {
            return Ok(v);
        }
        match checked(attest::verify_if_present(
            reg,
            r,
            &digest,
            key,
            attest::CYCLONEDX_BOM,
        ))? {
            Ok(None) => {}
            Ok(Some(mut found)) => {
                v.sbom = Some(Check {
                    verified: true,
                    tag: found.at,
                    format: Some(found.format.as_str()),
                    predicate: Some(found.statement["predicate"].take()),
                });
            }
            Err(e) => {
                v.sbom = Some(Check {
                    verified: false,
                    tag: attest::attestation_tag(&digest),
                    format: None,
                    predicate: None,
                });
                v.error = Some(e.to_string());
                return Ok(v);
            }
        }
    }
    v.verified = true;
    Ok(v)
}
