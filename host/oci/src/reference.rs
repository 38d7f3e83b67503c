//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]` references.

use crate::{Error, Result};
use std::fmt;

/// A parsed OCI reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    /// Registry host, with port if any (`127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`bundles/gpu`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// `sha256:<hex>` digest, if given.
    pub digest: Option<String>,
}

fn bad(reference: &str, reason: impl Into<String>) -> Error {
    Error::Reference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

/// Whether `d` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One repository path component, as the OCI distribution spec defines it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. Rules out `.`, `..`, empty components and
/// anything percent-encoded, so one repository has one spelling.
fn is_path_component(seg: &str) -> bool {
    let b = seg.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &seg[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

impl OciRef {
    /// Parse `oci://…`.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix("oci://")
            .ok_or_else(|| bad(s, "must start with oci://"))?;
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                if !is_sha256_digest(d) {
                    return Err(bad(s, format!("`{d}` is not a sha256:<64 hex> digest")));
                }
                (r, Some(d.to_string()))
            }
            None => (rest, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad(s, "needs REGISTRY/REPOSITORY"))?;
        if registry.is_empty()
            || !registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:_[]".contains(&b))
        {
            return Err(bad(s, format!("`{registry}` is not a registry host")));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
            _ => (path, None),
        };
        if repository.is_empty() || !repository.split('/').all(is_path_component) {
            return Err(bad(
                s,
                format!(
                    "`{repository}` is not a repository: `/`-separated components of lowercase letters and digits joined by `.`, `_`, `__` or dashes (no `.` or `..` components)"
                ),
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(bad(s, format!("`{t}` is not a valid tag")));
            }
        }
        Ok(OciRef {
            // Host names are case-insensitive: one spelling, so trust rules match it.
            registry: registry.to_ascii_lowercase(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The same repository at `digest`.
    pub fn at_digest(&self, digest: &str) -> Self {
        OciRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository at `digest` only (no tag).
    pub fn by_digest(&self, digest: &str) -> Self {
        OciRef {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository at `tag` (no digest).
    pub fn at_tag(&self, tag: &str) -> Self {
        OciRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// `REGISTRY/REPOSITORY`, as cosign's `docker-reference`.
    pub fn repository_ref(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    pub(crate) fn client_ref(&self) -> oci_client::Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                d.clone(),
            ),
            (None, t) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_digests_and_ports() {
        let r = OciRef::parse("oci://127.0.0.1:5000/bundles/gpu:v1").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "bundles/gpu");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = OciRef::parse(&format!("oci://reg.example/b@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), format!("oci://reg.example/b@{d}"));
        let r = OciRef::parse("oci://Reg.EXAMPLE/a__b/c-d/e.f").unwrap();
        assert_eq!(r.repository_ref(), "reg.example/a__b/c-d/e.f");
        let r = OciRef::parse("oci://reg.example:443/b").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("reg.example:443", None));
    }

    #[test]
    fn rejects_malformed_references_naming_the_part() {
        for (s, part) in [
            ("https://x/y", "oci://"),
            ("oci://x", "REGISTRY/REPOSITORY"),
            ("oci://x/Upper", "`Upper`"),
            ("oci://x/y:bad tag", "`bad tag`"),
            ("oci://x/y@sha256:abc", "`sha256:abc`"),
            ("oci:///y", "registry host"),
            ("oci://x/dev/../plugins/p", "no `.` or `..`"),
            ("oci://x/dev/./p", "no `.` or `..`"),
            ("oci://x/dev//p", "not a repository"),
            ("oci://x/dev%2f..%2fp", "not a repository"),
            ("oci://x/a..b", "not a repository"),
            ("oci://x/-a", "not a repository"),
        ] {
            let e = OciRef::parse(s).unwrap_err().to_string();
            assert!(e.contains(part), "{s}: {e}");
        }
    }
}
