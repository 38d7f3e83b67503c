//! cosign-compatible key-based signatures (cosign's "legacy" `.sig` scheme, which Rust
//! signing, `cosign verify --key … --insecure-ignore-tlog`, Flux and sigstore-rs all accept
//! offline, and which needs no referrers API).
//!
//! - The signature of artifact `REPO@sha256:<hex>` lives in the same repository at tag
//!   `sha256-<hex>.sig`: an OCI image manifest whose layer is the simple-signing payload
//!   (`application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 DER ECDSA-P256/SHA-256
//!   signature in the `dev.cosignproject.cosign/signature` annotation.
//! - Keys: cosign's `ENCRYPTED COSIGN PRIVATE KEY` (scrypt N=32768 r=8 p=1 + NaCl secretbox over
//!   PKCS#8 DER, as go-securesystemslib writes it) or an unencrypted PKCS#8 PEM; public keys as
//!   SubjectPublicKeyInfo PEM (`cosign.pub`).

use crate::manifest::{self, Descriptor, Manifest};
pub use crate::sigstore::SignatureFormat;
use crate::{Error, OciRef, Registry, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::{Signer as _, Verifier};
pub use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media type of the simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Annotation carrying the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Config media type of a cosign signature manifest.
pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `critical.type` of a cosign payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
const ENCRYPTED_LABELS: &[&str] = &[
    "ENCRYPTED COSIGN PRIVATE KEY",
    "ENCRYPTED SIGSTORE PRIVATE KEY",
];

/// Tag holding the signature of `digest` (`sha256:<hex>` → `sha256-<hex>.sig`).
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

#[derive(Serialize, Deserialize)]
struct Payload {
    critical: Critical,
    optional: Option<serde_json::Value>,
}
#[derive(Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}
#[derive(Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}
#[derive(Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The simple-signing payload for `digest` in `r`'s repository (cosign's field order).
pub fn payload(r: &OciRef, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: r.repository_ref(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            kind: PAYLOAD_TYPE.into(),
        },
        optional: None,
    })
    .expect("payload serialises")
}

// ---- keys ----

#[derive(Serialize, Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}
#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}
#[derive(Serialize, Deserialize)]
#[allow(non_snake_case, reason = "cosign's field names")]
struct KdfParams {
    N: u64,
    r: u32,
    p: u32,
}
#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn key_err(path: &str, reason: impl Into<String>) -> Error {
    Error::Key {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn pem_body(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    Some(text[start..stop].split_whitespace().collect())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// Largest scrypt `N` accepted when decrypting a key (memory is 128·N·r bytes).
const MAX_SCRYPT_N: u64 = 1 << 20;
/// Largest scrypt `r` accepted.
const MAX_SCRYPT_R: u32 = 16;
/// Largest scrypt `p` accepted.
const MAX_SCRYPT_P: u32 = 16;

fn scrypt_key(
    password: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
    path: &str,
) -> Result<[u8; 32]> {
    if !n.is_power_of_two() || n < 2 {
        return Err(key_err(path, format!("scrypt N={n} is not a power of two")));
    }
    // cosign writes N=32768, r=8, p=1 (32 MiB, ~0.1 s). Beyond these bounds a key file could
    // make decryption allocate gigabytes or run for hours.
    if n > MAX_SCRYPT_N || r == 0 || r > MAX_SCRYPT_R || p == 0 || p > MAX_SCRYPT_P {
        return Err(key_err(
            path,
            format!(
                "scrypt parameters N={n} r={r} p={p} are outside the accepted bounds (N <= {MAX_SCRYPT_N}, 1 <= r <= {MAX_SCRYPT_R}, 1 <= p <= {MAX_SCRYPT_P}; cosign uses N=32768 r=8 p=1)"
            ),
        ));
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32)
        .map_err(|e| key_err(path, format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| key_err(path, format!("scrypt: {e}")))?;
    Ok(key)
}

/// A new key pair: (`cosign.key` content encrypted with `password`, `cosign.pub` content).
pub fn generate_key_pair(password: &[u8]) -> Result<(String, String)> {
    let key = SigningKey::random(&mut OsRng);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| key_err("<new key>", e.to_string()))?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let (n, r, p) = (32768, 8, 1);
    let k = scrypt_key(password, &salt, n, r, p, "<new key>")?;
    let ct = XSalsa20Poly1305::new(&k.into())
        .encrypt(&nonce.into(), der.as_bytes())
        .map_err(|_| key_err("<new key>", "encryption failed"))?;
    let blob = serde_json::to_vec(&Encrypted {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams { N: n, r, p },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ct),
    })
    .expect("serialises");
    let public = public_key_pem(&key)?;
    Ok((pem(ENCRYPTED_LABELS[0], &blob), public))
}

/// The public half of a signing key as PEM (`cosign.pub`'s format).
pub fn public_key_pem(key: &SigningKey) -> Result<String> {
    verifying_key_pem(key.verifying_key())
}

/// A public key as PEM (`cosign.pub`'s format).
pub fn verifying_key_pem(key: &VerifyingKey) -> Result<String> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| key_err("<key>", e.to_string()))
}

/// Read a private key: cosign's encrypted format (needs `password`) or PKCS#8 PEM.
pub fn load_signing_key(
    path: &str,
    text: &str,
    password: impl FnOnce() -> Option<String>,
) -> Result<SigningKey> {
    for label in ENCRYPTED_LABELS {
        if let Some(body) = pem_body(text, label) {
            let blob = B64
                .decode(body)
                .map_err(|e| key_err(path, format!("bad base64: {e}")))?;
            let enc: Encrypted = serde_json::from_slice(&blob)
                .map_err(|e| key_err(path, format!("not a cosign encrypted key: {e}")))?;
            if enc.kdf.name != "scrypt" || enc.cipher.name != "nacl/secretbox" {
                return Err(key_err(
                    path,
                    format!(
                        "unsupported kdf `{}` / cipher `{}`",
                        enc.kdf.name, enc.cipher.name
                    ),
                ));
            }
            let password = password().ok_or_else(|| {
                key_err(
                    path,
                    "the key is encrypted: set CNS_SIGN_PASSWORD or COSIGN_PASSWORD",
                )
            })?;
            let salt = B64
                .decode(&enc.kdf.salt)
                .map_err(|e| key_err(path, e.to_string()))?;
            let nonce = B64
                .decode(&enc.cipher.nonce)
                .map_err(|e| key_err(path, e.to_string()))?;
            let ct = B64
                .decode(&enc.ciphertext)
                .map_err(|e| key_err(path, e.to_string()))?;
            let nonce: [u8; 24] = nonce
                .try_into()
                .map_err(|_| key_err(path, "nonce is not 24 bytes"))?;
            let p = &enc.kdf.params;
            let k = scrypt_key(password.as_bytes(), &salt, p.N, p.r, p.p, path)?;
            let der = XSalsa20Poly1305::new(&k.into())
                .decrypt(&nonce.into(), ct.as_slice())
                .map_err(|_| key_err(path, "wrong password (or corrupted key)"))?;
            return SigningKey::from_pkcs8_der(&der)
                .map_err(|e| key_err(path, format!("not an ECDSA P-256 key: {e}")));
        }
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        return SigningKey::from_pkcs8_pem(text)
            .map_err(|e| key_err(path, format!("not an ECDSA P-256 PKCS#8 key: {e}")));
    }
    Err(key_err(
        path,
        "expected an ENCRYPTED COSIGN PRIVATE KEY or a PKCS#8 PRIVATE KEY PEM",
    ))
}

/// Read a public key (SubjectPublicKeyInfo PEM, as `cosign.pub`).
pub fn load_verifying_key(path: &str, text: &str) -> Result<VerifyingKey> {
    VerifyingKey::from_public_key_pem(text)
        .map_err(|e| key_err(path, format!("not an ECDSA P-256 public key PEM: {e}")))
}

// ---- sign / verify ----

pub(crate) fn config_blob(payload_digests: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"diff_ids": payload_digests, "type": "layers"},
    }))
    .expect("serialises")
}

/// One layer of what [`push_attached`] stores: media type, bytes, annotations.
pub(crate) type Attached<'a> = (&'a str, &'a [u8], BTreeMap<String, String>);

/// Push `layers` (each its media type, bytes and annotations) as the layers of an image
/// manifest at `tag` in `r`'s repository, with cosign's config blob: how cosign stores what
/// it attaches to an artifact (signatures at `.sig`, attestations at `.att`, one layer per
/// attestation). `labels` name the layers and the config blob in progress lines.
pub(crate) fn push_attached(
    reg: &Registry,
    r: &OciRef,
    tag: &str,
    layers: Vec<Attached<'_>>,
    labels: (&str, &str),
) -> Result<()> {
    let mut digests = Vec::new();
    let mut descriptors = Vec::new();
    for (media_type, bytes, annotations) in layers {
        digests.push(reg.push_raw_blob(r, bytes, labels.0)?);
        let mut layer = Descriptor::of(media_type, bytes);
        layer.annotations = annotations;
        descriptors.push(layer);
    }
    let config = config_blob(&digests);
    reg.push_raw_blob(r, &config, labels.1)?;
    let m = Manifest {
        schema_version: 2,
        media_type: manifest::MANIFEST.into(),
        artifact_type: None,
        config: Descriptor::of(IMAGE_CONFIG, &config),
        layers: descriptors,
        subject: None,
        annotations: BTreeMap::new(),
    };
    reg.push_manifest(&r.at_tag(tag), &m.to_bytes(), manifest::MANIFEST)?;
    Ok(())
}

/// The manifest stored at `tag` in `r`'s repository (what [`push_attached`] wrote), or
/// `None` when there is none; `what` names it in the error for a malformed one.
pub(crate) fn fetch_attached(
    reg: &Registry,
    r: &OciRef,
    tag: &str,
    what: &str,
    fail: impl Fn(String) -> Error,
) -> Result<Option<Manifest>> {
    let Some((bytes, _)) = reg.fetch_manifest(&r.at_tag(tag))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| fail(format!("{what} manifest at `{tag}` is not a manifest: {e}")))
}

/// A signing key and the format its signatures are stored in.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// The key.
    pub key: &'a SigningKey,
    /// How the signature (and attestations) are stored.
    pub format: SignatureFormat,
}

/// Sign artifact `digest` in `r`'s repository in `signer`'s format; returns where the
/// signature is: the Sigstore bundle referrer's manifest digest (`sha256:…`) or the
/// signature tag (`sha256-<hex>.sig`, legacy).
pub fn sign(reg: &Registry, r: &OciRef, digest: &str, signer: Signer<'_>) -> Result<String> {
    match signer.format {
        SignatureFormat::Bundle => {
            let st = crate::sigstore::signature_statement(r, digest);
            let attached = crate::sigstore::attach(reg, r, digest, &[st], signer.key)?;
            Ok(attached
                .into_iter()
                .next()
                .expect("one statement, one referrer")
                .0)
        }
        SignatureFormat::Legacy => sign_legacy(reg, r, digest, signer.key),
    }
}

/// [`sign`] in cosign 2's layout: a SimpleSigning payload at `sha256-<hex>.sig`.
fn sign_legacy(reg: &Registry, r: &OciRef, digest: &str, key: &SigningKey) -> Result<String> {
    let payload = payload(r, digest);
    let sig: Signature = key.sign(&payload);
    let sig_b64 = B64.encode(sig.to_der().as_bytes());
    let tag = signature_tag(digest);
    push_attached(
        reg,
        r,
        &tag,
        vec![(
            SIMPLE_SIGNING,
            &payload,
            BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig_b64)]),
        )],
        ("signature payload", "signature config"),
    )?;
    Ok(tag)
}

/// Check that a signature by `key` for exactly `digest` is stored in `r`'s repository: a
/// Sigstore bundle referrer (cosign 3) or, failing that, the `.sig` tag (cosign 2). Returns
/// the format it was found in and where: the referrer's digest, or the signature tag.
pub fn verify(
    reg: &Registry,
    r: &OciRef,
    digest: &str,
    key: &VerifyingKey,
) -> Result<(SignatureFormat, String)> {
    use crate::sigstore::{self, Found};
    let tag = signature_tag(digest);
    let at = r.at_digest(digest);
    let sig_ref = r.at_tag(&tag);
    let fail = |reason: String| Error::Verify {
        reference: at.to_string(),
        reason,
    };
    let mut reasons = match sigstore::find(reg, r, digest, key, sigstore::COSIGN_SIGN_V1)? {
        Found::Verified(_, referrer) => return Ok((SignatureFormat::Bundle, referrer)),
        Found::Failed(reasons) => reasons,
        Found::None => Vec::new(),
    };
    let Some(m) = fetch_attached(reg, r, &tag, "signature", fail)? else {
        if !reasons.is_empty() {
            return Err(fail(reasons.join("; ")));
        }
        return Err(Error::Unsigned {
            reference: at.to_string(),
            tag,
        });
    };
    for layer in m.layers.iter().filter(|l| l.media_type == SIMPLE_SIGNING) {
        let Some(sig) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
            reasons.push("a signature layer has no signature annotation".to_string());
            continue;
        };
        let payload = reg.fetch_blob(&sig_ref, layer)?;
        let Ok(der) = B64.decode(sig) else {
            reasons.push("signature is not base64".into());
            continue;
        };
        let Ok(sig) = Signature::from_der(&der) else {
            reasons.push("signature is not a DER ECDSA signature".into());
            continue;
        };
        if key.verify(&payload, &sig).is_err() {
            reasons.push(
                "the signature does not match the public key (wrong key or tampered payload)"
                    .into(),
            );
            continue;
        }
        match serde_json::from_slice::<Payload>(&payload) {
            Ok(p) if p.critical.kind != PAYLOAD_TYPE => {
                reasons.push(format!("payload type is `{}`", p.critical.kind));
            }
            Ok(p) if p.critical.image.docker_manifest_digest != digest => reasons.push(format!(
                "the signature is for {}, not {digest}",
                p.critical.image.docker_manifest_digest
            )),
            Ok(_) => return Ok((SignatureFormat::Legacy, tag)),
            Err(e) => reasons.push(format!("payload is not a cosign payload: {e}")),
        }
    }
    if reasons.is_empty() {
        reasons.push(format!("no {SIMPLE_SIGNING} layer at `{tag}`"));
    }
    Err(fail(reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_wrong_password_is_named() {
        let (private, public) = generate_key_pair(b"pw").unwrap();
        assert!(private.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let k = load_signing_key("cosign.key", &private, || Some("pw".into())).unwrap();
        let v = load_verifying_key("cosign.pub", &public).unwrap();
        assert_eq!(k.verifying_key(), &v);
        let e = load_signing_key("cosign.key", &private, || Some("nope".into())).unwrap_err();
        assert!(e.to_string().contains("wrong password"), "{e}");
        let e = load_signing_key("cosign.key", &private, || None).unwrap_err();
        assert!(e.to_string().contains("CNS_SIGN_PASSWORD"), "{e}");
        let e = load_signing_key("k.pem", "junk", || None).unwrap_err();
        assert!(e.to_string().contains("k.pem"), "{e}");
    }

    #[test]
    fn absurd_scrypt_parameters_are_refused_before_any_work() {
        let (private, _) = generate_key_pair(b"pw").unwrap();
        let body = pem_body(&private, ENCRYPTED_LABELS[0]).unwrap();
        let mut enc: Encrypted = serde_json::from_slice(&B64.decode(body).unwrap()).unwrap();
        for (n, r, p) in [
            (1u64 << 40, 8, 1),
            (32768, 1 << 20, 1),
            (32768, 8, 1 << 9),
            (32768, 0, 1),
        ] {
            enc.kdf.params = KdfParams { N: n, r, p };
            let text = pem(ENCRYPTED_LABELS[0], &serde_json::to_vec(&enc).unwrap());
            let e = load_signing_key("evil.key", &text, || Some("pw".into())).unwrap_err();
            assert!(e.to_string().contains("outside the accepted bounds"), "{e}");
            assert!(e.to_string().contains("evil.key"), "{e}");
        }
    }

    #[test]
    fn payload_matches_cosign_layout() {
        let r = OciRef::parse("oci://127.0.0.1:5000/b/gpu:v1").unwrap();
        let p = String::from_utf8(payload(&r, "sha256:ab")).unwrap();
        assert_eq!(
            p,
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/b/gpu"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#
        );
        assert_eq!(signature_tag("sha256:ab"), "sha256-ab.sig");
    }
}
