//! cnsctl's two kinds of OCI artifact, each with push and pull: bundles ([`bundle`]: one
//! reproducible tar+gzip layer) and plugins ([`plugin`]: one `application/wasm` layer).
//! Pulls check every digest, and signatures where keys are given, before returning content.

pub mod bundle;
pub mod plugin;

use crate::manifest::Manifest;
use crate::sign::{self, SigningKey};
use crate::{OciRef, Registry, Result};

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest.
    pub digest: String,
    /// The signature tag, when signed.
    pub signature_tag: Option<String>,
    /// Size of the layer in bytes.
    pub layer_size: usize,
    /// The SLSA provenance attestation's tag, when one was attached.
    pub attestation_tag: Option<String>,
}

/// Push `m` with its `layer` to `target` (a tag), and sign it with `key`.
fn publish(
    reg: &Registry,
    target: &OciRef,
    m: &Manifest,
    layer: &[u8],
    title: &str,
    key: Option<&SigningKey>,
) -> Result<Pushed> {
    let digest = reg.push_artifact(target, m, layer, title)?;
    let signature_tag = match key {
        Some(k) => Some(sign::sign(reg, target, &digest, k)?),
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
