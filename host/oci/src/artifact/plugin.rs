//! Plugins as OCI artifacts: one `application/wasm` layer titled `<name>.wasm`, annotated
//! with the plugin's name, kind, version and WIT version; pulled only when one of the keys
//! trusted for its repository verifies it, or unsigned plugins are allowed there.

use super::{Pushed, publish};
use crate::manifest::{self, Descriptor, Manifest};
use crate::sign::{self, Signer, VerifyingKey};
use crate::{Error, OciRef, Registry, Result};
use std::collections::BTreeMap;

/// Largest plugin component a pull accepts.
pub const MAX_PLUGIN: u64 = 64 << 20;

/// What the manifest says about a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginMeta {
    /// Plugin name.
    pub name: String,
    /// `bundler` or `deployer`.
    pub kind: String,
    /// Plugin version.
    pub version: String,
    /// WIT version it was built against.
    pub wit: String,
}

/// The manifest of a plugin component.
pub fn manifest(bytes: &[u8], meta: &PluginMeta) -> Manifest {
    let mut desc = Descriptor::of(manifest::WASM_LAYER, bytes);
    desc.annotations
        .insert(manifest::TITLE.into(), format!("{}.wasm", meta.name));
    let ann: BTreeMap<String, String> = [
        ("dev.cnsctl.plugin.name", &meta.name),
        ("dev.cnsctl.plugin.kind", &meta.kind),
        ("dev.cnsctl.plugin.version", &meta.version),
        ("dev.cnsctl.plugin.wit", &meta.wit),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    Manifest::artifact(manifest::PLUGIN_ARTIFACT, desc, ann)
}

/// Push a plugin component to `target` (a tag), signing with `signer`.
pub fn push(
    reg: &Registry,
    target: &OciRef,
    bytes: &[u8],
    meta: &PluginMeta,
    signer: Option<Signer<'_>>,
) -> Result<Pushed> {
    let m = manifest(bytes, meta);
    publish(
        reg,
        target,
        &m,
        bytes,
        &format!("{}.wasm", meta.name),
        signer,
    )
}

/// A key trusted for a plugin's repository, with a label for messages.
pub struct TrustedKey<'a> {
    /// Where the key came from (a file, a policy entry).
    pub label: &'a str,
    /// The key.
    pub key: &'a VerifyingKey,
}

/// How a pulled plugin was admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A trusted key verified it (the key's label).
    Verified(String),
    /// Unsigned plugins are allowed for its repository; the reasons no key verified it,
    /// if keys were tried.
    Unsigned(Vec<String>),
}

/// A pulled plugin.
#[derive(Debug)]
pub struct Pulled {
    /// The component bytes.
    pub bytes: Vec<u8>,
    /// The manifest digest.
    pub digest: String,
    /// How it was admitted.
    pub admission: Admission,
}

/// Pull the plugin at `r`. One of `keys` must verify it, unless `unsigned_ok`; with no key
/// and no permission, nothing is fetched.
pub fn pull(
    reg: &Registry,
    r: &OciRef,
    keys: &[TrustedKey<'_>],
    unsigned_ok: bool,
    refusal_hint: &str,
) -> Result<Pulled> {
    if keys.is_empty() && !unsigned_ok {
        return Err(Error::Untrusted {
            reference: r.to_string(),
            reason: refusal_hint.to_string(),
        });
    }
    let mut pulled = reg.pull_artifact(
        r,
        manifest::PLUGIN_ARTIFACT,
        manifest::WASM_LAYER,
        MAX_PLUGIN,
    )?;
    let bytes = pulled.layer_bytes().map_err(|e| Error::Registry {
        registry: r.registry.clone(),
        operation: format!("read the plugin layer of {r}"),
        message: e.to_string(),
    })?;
    let mut reasons = Vec::new();
    for k in keys {
        match sign::verify(reg, r, &pulled.digest, k.key) {
            Ok(_) => {
                return Ok(Pulled {
                    bytes,
                    digest: pulled.digest,
                    admission: Admission::Verified(k.label.to_string()),
                });
            }
            Err(e @ (Error::Unsigned { .. } | Error::Verify { .. })) => {
                reasons.push(format!("{}: {e}", k.label))
            }
            Err(e) => return Err(e),
        }
    }
    if unsigned_ok {
        return Ok(Pulled {
            bytes,
            digest: pulled.digest,
            admission: Admission::Unsigned(reasons),
        });
    }
    Err(Error::NotVerified {
        reference: r.to_string(),
        reason: format!("no trusted key verifies it ({})", reasons.join("; ")),
    })
}
