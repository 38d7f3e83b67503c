//! cnsctl's two kinds of OCI artifact, each with push and pull: bundles ([`bundle`]: one
//! reproducible tar+gzip layer) and plugins ([`plugin`]: one `application/wasm` layer).
//! Pulls check every digest, and signatures where keys are given, before returning content.

pub mod bundle;
pub mod plugin;

use crate::manifest::Manifest;
use crate::sign::{self, Signer};
use crate::{OciRef, Registry, Result};

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest.
    pub digest: String,
    /// Where the signature is, when signed: the Sigstore bundle referrer's digest, or the
    /// legacy signature tag.
    pub signature_tag: Option<String>,
    /// Size of the layer in bytes.
    pub layer_size: usize,
    /// Where the SLSA provenance attestation is, when one was attached: its referrer's
    /// digest, or the legacy attestation tag.
    pub attestation_tag: Option<String>,
}

/// What `push --format json` prints (schemas/output/push.schema.json).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushReport {
    /// Where it was pushed.
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
    /// Files in the bundle.
    pub files: usize,
    /// Their bytes together.
    pub bytes: usize,
    /// The layer's bytes.
    pub layer_size: usize,
    /// Where the signature is, when signed (see [`Pushed`]).
    pub signature_tag: Option<String>,
    /// Where the attestation is, when one was attached.
    pub attestation_tag: Option<String>,
}

impl Pushed {
    /// The report of pushing `files` to `target`.
    pub fn report(&self, target: &crate::OciRef, files: &[crate::Entry]) -> PushReport {
        PushReport {
            reference: target.to_string(),
            digest: self.digest.clone(),
            files: files.len(),
            bytes: files.iter().map(|f| f.content.len()).sum(),
            layer_size: self.layer_size,
            signature_tag: self.signature_tag.clone(),
            attestation_tag: self.attestation_tag.clone(),
        }
    }
}

/// Push `m` with its `layer` to `target` (a tag), and sign it with `signer`.
fn publish(
    reg: &Registry,
    target: &OciRef,
    m: &Manifest,
    layer: &[u8],
    title: &str,
    signer: Option<Signer<'_>>,
) -> Result<Pushed> {
    let digest = reg.push_artifact(target, m, layer, title)?;
    let signature_tag = match signer {
        Some(s) => Some(sign::sign(reg, target, &digest, s)?),
        None => None,
    };
    Ok(Pushed {
        digest,
        signature_tag,
        layer_size: layer.len(),
        attestation_tag: None,
    })
}

/// The tagged destination of a push: `latest` when no tag is given; a digest is refused
/// (a push names where it goes, the registry names what it is).
pub fn push_target(reference: &str) -> Result<OciRef> {
    let r = OciRef::parse(reference)?;
    if r.digest.is_some() {
        return Err(crate::Error::Reference {
            reference: reference.to_string(),
            reason: "push needs a tag, not a digest".into(),
        });
    }
    Ok(if r.tag.is_none() {
        r.at_tag("latest")
    } else {
        r
    })
}
