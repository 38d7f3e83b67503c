//! Publishing as the commands run it: key files read with their permissions checked, and a
//! push ([`Publish`]) whose local inputs (the reference, the signing key and its password,
//! the digest file's folder) are all checked before the registry is written to, then the
//! push, its signature, the provenance attestation of a signed bundle, and the digest file.

use crate::artifact::{self, Pushed};
use crate::sign::{self, SigningKey, VerifyingKey};
use crate::{Entry, Error, OciRef, Registry, Result, attest};
use std::path::{Path, PathBuf};

/// The password of an encrypted private key: `CNS_SIGN_PASSWORD`, else `COSIGN_PASSWORD`.
pub fn key_password() -> Option<String> {
    std::env::var("CNS_SIGN_PASSWORD")
        .or_else(|_| std::env::var("COSIGN_PASSWORD"))
        .ok()
}

/// Write a new key pair as `PREFIX.key` (the private key, encrypted with `password`, cosign's
/// format, mode 0600) and `PREFIX.pub`, refusing to replace either unless `force`. Returns
/// both paths.
pub fn write_key_pair(prefix: &str, force: bool, password: &str) -> Result<(PathBuf, PathBuf)> {
    let (key_path, pub_path) = (
        PathBuf::from(format!("{prefix}.key")),
        PathBuf::from(format!("{prefix}.pub")),
    );
    for p in [&key_path, &pub_path] {
        if p.exists() && !force {
            return Err(Error::Key {
                path: p.display().to_string(),
                reason: "exists; use --force to overwrite".into(),
            });
        }
    }
    let (private, public) = sign::generate_key_pair(password.as_bytes())?;
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source: std::io::Error| Error::WriteFile { path, source }
    };
    cns_files::write_private(&key_path, private.as_bytes()).map_err(write_error(&key_path))?;
    cns_files::write_atomic(&pub_path, public.as_bytes()).map_err(write_error(&pub_path))?;
    Ok((key_path, pub_path))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.display().to_string(),
        source,
    })
}

/// Read a private key file (cosign's encrypted format with [`key_password`], or PKCS#8
/// PEM), refusing one that users other than its owner may read or write unless `insecure`
/// (`--insecure-key-permissions`).
pub fn read_signing_key(path: &Path, insecure: bool) -> Result<SigningKey> {
    #[cfg(unix)]
    if !insecure {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| Error::ReadFile {
                path: path.display().to_string(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::KeyPermissions {
                path: path.display().to_string(),
                mode: mode & 0o7777,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = insecure;
    sign::load_signing_key(&path.display().to_string(), &read(path)?, key_password)
}

/// Read a public key file (`cosign.pub`, PEM).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey> {
    sign::load_verifying_key(&path.display().to_string(), &read(path)?)
}

/// A push with everything that can fail locally already checked.
pub struct Publish {
    target: OciRef,
    key: Option<SigningKey>,
    format: sign::SignatureFormat,
    digest_file: Option<(PathBuf, tempfile::NamedTempFile)>,
}

impl Publish {
    /// Check the destination `reference` (a tag, `latest` when none), read the signing key
    /// (`sign_key`, see [`read_signing_key`]; signatures stored in `format`) and make sure
    /// the digest file can be written.
    pub fn prepare(
        reference: &str,
        sign_key: Option<&Path>,
        format: sign::SignatureFormat,
        insecure_key_permissions: bool,
        digest_file: Option<&Path>,
    ) -> Result<Self> {
        let target = artifact::push_target(reference)?;
        let key = sign_key
            .map(|p| read_signing_key(p, insecure_key_permissions))
            .transpose()?;
        let digest_file = match digest_file {
            Some(f) => {
                let refuse = |reason, source| Error::DigestFile {
                    path: f.display().to_string(),
                    reason,
                    source,
                };
                if f.is_dir() {
                    return Err(refuse("is a directory", None));
                }
                let dir = match f.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".cnsctl-digest-")
                    .tempfile_in(dir)
                    .map_err(|e| refuse("cannot be written", Some(e)))?;
                Some((f.to_path_buf(), tmp))
            }
            None => None,
        };
        Ok(Publish {
            target,
            key,
            format,
            digest_file,
        })
    }

    /// Where the push goes.
    pub fn target(&self) -> &OciRef {
        &self.target
    }

    /// The public key (PEM) of the signing key, when the push signs.
    pub fn public_key_pem(&self) -> Result<Option<String>> {
        self.key.as_ref().map(sign::public_key_pem).transpose()
    }

    /// Pack, push and (with a key) sign a bundle's `files`; a signed bundle also gets
    /// `provenance` (an SLSA v1 predicate) as a signed attestation, and its `sbom.cdx.json`
    /// (CycloneDX) as a second one. `progress` gets a line
    /// per step.
    pub fn bundle(
        self,
        reg: &Registry,
        files: &[Entry],
        provenance: serde_json::Value,
        progress: &dyn Fn(&str),
    ) -> Result<Pushed> {
        let (r, key) = (&self.target, self.key.as_ref());
        let mut pushed = artifact::bundle::push(reg, r, files, self.signer())?;
        if let Some(k) = key {
            let subject = r.repository_ref();
            let mut statements = vec![attest::statement(
                &subject,
                &pushed.digest,
                attest::SLSA_PROVENANCE_V1,
                provenance,
            )];
            // The bundle's own SBOM, when it has one, attested with it.
            let sbom = files
                .iter()
                .find(|e| e.path == cns_files::SBOM_FILE)
                .and_then(|e| serde_json::from_slice::<serde_json::Value>(&e.content).ok());
            let has_sbom = sbom.is_some();
            if let Some(bom) = sbom {
                statements.push(attest::statement(
                    &subject,
                    &pushed.digest,
                    attest::CYCLONEDX_BOM,
                    bom,
                ));
            }
            let (tag, sizes) = match self.format {
                sign::SignatureFormat::Legacy => {
                    attest::attach(reg, r, &pushed.digest, &statements, k)?
                }
                sign::SignatureFormat::Bundle => {
                    // Where the provenance is: its referrer's digest.
                    let attached = crate::sigstore::attach(reg, r, &pushed.digest, &statements, k)?;
                    let sizes = attached.iter().map(|(_, size)| *size).collect();
                    (attached[0].0.clone(), sizes)
                }
            };
            progress(&format!(
                "attached SLSA provenance{} to {} ({} {tag}, {} bytes)",
                if has_sbom {
                    " and the CycloneDX SBOM"
                } else {
                    ""
                },
                pushed.digest,
                where_(self.format),
                sizes.iter().sum::<usize>()
            ));
            pushed.attestation_tag = Some(tag);
        }
        report_signature(&pushed, self.format, progress);
        self.finish(pushed)
    }

    /// Push and (with a key) sign a plugin component.
    pub fn plugin(
        self,
        reg: &Registry,
        bytes: &[u8],
        meta: &artifact::plugin::PluginMeta,
        progress: &dyn Fn(&str),
    ) -> Result<Pushed> {
        let pushed = artifact::plugin::push(reg, &self.target, bytes, meta, self.signer())?;
        report_signature(&pushed, self.format, progress);
        self.finish(pushed)
    }

    /// The key and format a push signs with, if it signs.
    fn signer(&self) -> Option<sign::Signer<'_>> {
        self.key.as_ref().map(|key| sign::Signer {
            key,
            format: self.format,
        })
    }

    /// Write the digest file, if one was asked for.
    fn finish(self, pushed: Pushed) -> Result<Pushed> {
        if let Some((path, mut tmp)) = self.digest_file {
            use std::io::Write;
            let werr = |source| Error::WriteFile {
                path: path.display().to_string(),
                source,
            };
            tmp.write_all(format!("{}\n", pushed.digest).as_bytes())
                .map_err(werr)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = tmp
                    .as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644));
            }
            tmp.persist(&path).map_err(|e| werr(e.error))?;
        }
        Ok(pushed)
    }
}

fn report_signature(pushed: &Pushed, format: sign::SignatureFormat, progress: &dyn Fn(&str)) {
    if let Some(at) = &pushed.signature_tag {
        progress(&format!(
            "signed {} ({} {at})",
            pushed.digest,
            where_(format)
        ));
    }
}

/// How a progress line names where a signature or attestation is.
fn where_(format: sign::SignatureFormat) -> &'static str {
    match format {
        sign::SignatureFormat::Bundle => "Sigstore bundle referrer",
        sign::SignatureFormat::Legacy => "tag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn local_inputs_are_checked_before_anything_is_pushed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        std::fs::write(&key, "not a key").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Publish::prepare(
            "oci://r.example/b:v1",
            Some(&key),
            Default::default(),
            false,
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("is accessible to other users (mode 0644)"),
            "{e}"
        );
        let e = Publish::prepare(
            "oci://r.example/b:v1",
            None,
            Default::default(),
            false,
            Some(dir.path()),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.ends_with("is a directory"), "{e}");
        let e = Publish::prepare(
            "oci://r.example/b@sha256:00",
            None,
            Default::default(),
            false,
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("invalid OCI reference"), "{e}");
        let p =
            Publish::prepare("oci://r.example/b", None, Default::default(), false, None).unwrap();
        assert_eq!(p.target().tag.as_deref(), Some("latest"));
        assert_eq!(p.public_key_pem().unwrap(), None);
    }
}
