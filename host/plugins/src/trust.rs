//! Which keys may sign which `oci://` plugins: `--plugin-key` flags plus an optional policy file.
//!
//! The policy file (YAML, `--plugin-policy`, default `cnsctl/plugin-policy.yaml` in the user's
//! config directory) lists trusted public keys, each optionally limited to repositories by
//! glob, and repositories whose plugins may load unsigned:
//!
//! ```yaml
//! trustedKeys:
//!   - key: keys/acme.pub            # relative to this file; or `publicKey: |` with the PEM
//!     repositories: ["registry.example.com/acme/**"]
//! allowUnsigned: ["127.0.0.1:5000/dev/*"]
//! ```
//!
//! Patterns match `REGISTRY/REPOSITORY` (no tag or digest); `*` stays within one path
//! segment, `**` crosses segments. A key without `repositories` is trusted everywhere.

use crate::{Error, Result};
use cns_oci::sign::VerifyingKey;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One key trusted for some repositories.
pub struct TrustedKey {
    /// Where the key came from, for messages: a file path or `policy.yaml: trustedKeys[N]`.
    pub label: String,
    /// The key.
    pub key: VerifyingKey,
    /// `None`: every repository.
    scope: Option<GlobSet>,
}

/// The trust decision inputs for `oci://` plugins.
pub struct Trust {
    keys: Vec<TrustedKey>,
    /// Repositories whose plugins load without a signature.
    unsigned: Option<GlobSet>,
    /// `--allow-unsigned`: every repository.
    allow_unsigned_everywhere: bool,
    /// The policy file, if any, for messages.
    policy: Option<PathBuf>,
}

/// What `Trust` says about one repository.
pub struct Decision<'a> {
    /// Keys any one of which must verify the plugin.
    pub keys: Vec<&'a TrustedKey>,
    /// The plugin may load without a valid signature.
    pub unsigned_ok: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyFile {
    #[serde(default)]
    trusted_keys: Vec<KeyEntry>,
    #[serde(default)]
    allow_unsigned: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeyEntry {
    /// Path of a PEM public key, relative to the policy file.
    key: Option<PathBuf>,
    /// The PEM public key itself.
    public_key: Option<String>,
    /// Repositories (globs) this key is trusted for; all when absent.
    repositories: Option<Vec<String>>,
}

impl Trust {
    /// `--plugin-key` files (trusted everywhere), the policy file if given, `--allow-unsigned`.
    pub fn new(key_files: &[PathBuf], policy: Option<&Path>, allow_unsigned: bool) -> Result<Self> {
        let mut keys = Vec::new();
        for path in key_files {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                what: "--plugin-key",
                path: label.clone(),
                source,
            })?;
            let key = cns_oci::sign::load_verifying_key(&label, &text)?;
            keys.push(TrustedKey {
                label,
                key,
                scope: None,
            });
        }
        let mut trust = Trust {
            keys,
            unsigned: None,
            allow_unsigned_everywhere: allow_unsigned,
            policy: None,
        };
        if let Some(path) = policy {
            trust.add_policy(path)?;
        }
        Ok(trust)
    }

    fn add_policy(&mut self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            what: "plugin policy",
            path: name.clone(),
            source,
        })?;
        cns_files::nesting::check(&text).map_err(|e| Error::Policy(format!("{name}: {e}")))?;
        let file: PolicyFile = serde_norway::from_str(&text).map_err(|e| match e.location() {
            Some(l) => Error::Policy(format!("{name}:{}:{}: {e}", l.line(), l.column())),
            None => Error::Policy(format!("{name}: {e}")),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for (i, entry) in file.trusted_keys.into_iter().enumerate() {
            let field = format!("{name}: trustedKeys[{i}]");
            let (label, pem) = match (entry.key, entry.public_key) {
                (Some(rel), None) => {
                    let file = base.join(&rel);
                    let pem =
                        std::fs::read_to_string(&file).map_err(|source| Error::PolicyKey {
                            field: field.clone(),
                            path: file.display().to_string(),
                            source,
                        })?;
                    (file.display().to_string(), pem)
                }
                (None, Some(pem)) => (format!("{field}.publicKey"), pem),
                _ => {
                    return Err(Error::Policy(format!(
                        "{field}: give exactly one of `key` (a file) and `publicKey` (PEM)"
                    )));
                }
            };
            let key = cns_oci::sign::load_verifying_key(&label, &pem)?;
            let scope = match entry.repositories {
                None => None,
                Some(pats) if pats.is_empty() => {
                    return Err(Error::Policy(format!(
                        "{field}.repositories: empty list (omit the field to trust the key everywhere)"
                    )));
                }
                Some(pats) => Some(globs(&pats, &format!("{field}.repositories"))?),
            };
            self.keys.push(TrustedKey { label, key, scope });
        }
        if !file.allow_unsigned.is_empty() {
            self.unsigned = Some(globs(
                &file.allow_unsigned,
                &format!("{name}: allowUnsigned"),
            )?);
        }
        self.policy = Some(path.to_path_buf());
        Ok(())
    }

    /// What applies to `repository` (`REGISTRY/REPOSITORY`).
    pub fn decide(&self, repository: &str) -> Decision<'_> {
        let in_scope = |s: &Option<GlobSet>| s.as_ref().is_none_or(|g| g.is_match(repository));
        Decision {
            keys: self.keys.iter().filter(|k| in_scope(&k.scope)).collect(),
            unsigned_ok: self.allow_unsigned_everywhere
                || self
                    .unsigned
                    .as_ref()
                    .is_some_and(|g| g.is_match(repository)),
        }
    }

    /// How to trust a plugin from `repository`, for the refusal message.
    pub fn hint(&self, repository: &str) -> String {
        match &self.policy {
            Some(p) => format!(
                "no key in --plugin-key or `{}` is trusted for {repository}; add a key for it, list it under `allowUnsigned`, or give --allow-unsigned",
                p.display()
            ),
            None => "give --plugin-key PUBKEY or --plugin-policy FILE to check its signature, or --allow-unsigned".into(),
        }
    }
}

fn globs(patterns: &[String], field: &str) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        if p.contains("://") {
            return Err(Error::Policy(format!(
                "{field}[{i}]: `{p}`: write REGISTRY/REPOSITORY without a scheme"
            )));
        }
        let glob: Glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::Policy(format!("{field}[{i}]: bad pattern `{p}`: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| Error::Policy(format!("{field}: bad patterns: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZMKm9zVtZWDE5tlS4CSc99vOy+EI\njpKyf7j/2uc5O/u0qiFk7EThcS0vDFlEiMyE33IpyYFvDoe8pYb4tToXUw==\n-----END PUBLIC KEY-----\n";

    fn policy(text: &str) -> Result<Trust> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.pub"), PEM).unwrap();
        let p = dir.path().join("policy.yaml");
        std::fs::write(&p, text).unwrap();
        Trust::new(&[], Some(&p), false)
    }

    fn err(text: &str) -> String {
        crate::chain(&policy(text).err().expect("should fail"))
    }

    /// A policy nested past the limit is refused before it is parsed (issue 33, item 3).
    #[test]
    fn a_deeply_nested_policy_is_refused_naming_the_file() {
        let flow = format!("{}{}", "[".repeat(60_000), "]".repeat(60_000));
        let e = err(&format!("trustedKeys: {flow}\n"));
        assert!(
            e.contains("policy.yaml") && e.contains("nested deeper than 127 levels"),
            "{e}"
        );
    }

    #[test]
    fn keys_apply_to_their_repositories() {
        let t = policy(
            "trustedKeys:\n  - key: a.pub\n    repositories: [\"r.example/acme/*\", \"r.example/team/**\"]\n  - publicKey: |\n      -----BEGIN PUBLIC KEY-----\n      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZMKm9zVtZWDE5tlS4CSc99vOy+EI\n      jpKyf7j/2uc5O/u0qiFk7EThcS0vDFlEiMyE33IpyYFvDoe8pYb4tToXUw==\n      -----END PUBLIC KEY-----\nallowUnsigned: [\"127.0.0.1:5000/dev/*\"]\n",
        )
        .unwrap();
        assert_eq!(t.decide("r.example/acme/p").keys.len(), 2);
        // `*` stays within one segment, `**` crosses.
        assert_eq!(t.decide("r.example/acme/x/p").keys.len(), 1);
        assert_eq!(t.decide("r.example/team/x/p").keys.len(), 2);
        assert_eq!(t.decide("other.example/p").keys.len(), 1);
        assert!(
            t.decide("other.example/p").keys[0]
                .label
                .ends_with("trustedKeys[1].publicKey")
        );
        assert!(t.decide("127.0.0.1:5000/dev/p").unsigned_ok);
        assert!(!t.decide("127.0.0.1:5000/prod/p").unsigned_ok);
    }

    #[test]
    fn allow_unsigned_flag_covers_everything() {
        let t = Trust::new(&[], None, true).unwrap();
        let d = t.decide("r.example/x");
        assert!(d.unsigned_ok && d.keys.is_empty());
        assert!(t.hint("r.example/x").contains("--plugin-policy"));
    }

    #[test]
    fn bad_policies_name_the_file_and_field() {
        assert!(err("trustedKeys:\n  - kye: a.pub\n").contains("unknown field `kye`"));
        assert!(err("trustedKeys:\n  - kye: a.pub\n").contains("policy.yaml:2:"));
        assert!(err("trustedKeys:\n  - key: missing.pub\n").contains("trustedKeys[0].key"));
        assert!(err("trustedKeys:\n  - {}\n").contains("exactly one of `key`"));
        let both = format!("trustedKeys:\n  - key: a.pub\n    publicKey: {PEM:?}\n");
        assert!(err(&both).contains("exactly one of"));
        assert!(err("trustedKeys:\n  - publicKey: nope\n").contains("trustedKeys[0].publicKey"));
        assert!(
            err("trustedKeys:\n  - key: a.pub\n    repositories: []\n")
                .contains("trustedKeys[0].repositories: empty list")
        );
        assert!(err("allowUnsigned: [\"a/[\"]\n").contains("allowUnsigned[0]: bad pattern"));
        assert!(err("allowUnsigned: [\"oci://a/b\"]\n").contains("without a scheme"));
    }
}
