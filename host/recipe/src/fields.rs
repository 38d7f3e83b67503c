//! Validation of the string fields of recipe documents, which users take from others and
//! which flow into generated scripts and YAML: names and namespaces are Kubernetes DNS
//! labels, versions are chart versions, sources are URLs or OCI references, data paths are
//! plain relative paths, and no field carries control characters. Each error names the
//! file, the line and the field.
//!
//! This is the first of two defences: generators also quote by construction, so a value
//! that passes here still cannot break out of a script or a YAML document.

use crate::component::{ComponentRef, Constraint};
use crate::{Error, Result};
use serde_json::Value;

/// Longest string accepted in a free-text field (constraint values, remediation hints).
const MAX_TEXT: usize = 4096;
/// Deepest values tree accepted in `overrides`.
const MAX_DEPTH: usize = 64;

/// A Kubernetes DNS label (RFC 1123): namespaces and component names.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes DNS subdomain (RFC 1123): object names such as ConfigMaps; dot-separated DNS
/// labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Helm chart version: SemVer 2 with an optional leading `v`
/// (`v26.7.0`, `1.2.3-rc.1+build.5`); at most 128 characters.
pub fn is_chart_version(s: &str) -> bool {
    let core_end = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(core_end);
    let core = core.strip_prefix('v').unwrap_or(core);
    let nums: Vec<&str> = core.split('.').collect();
    let num_ok = |n: &&str| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit());
    let ident_ok = |part: &str| {
        !part.is_empty()
            && part.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let rest_ok = match rest.strip_prefix('-') {
        Some(pre) => match pre.split_once('+') {
            Some((p, b)) => ident_ok(p) && ident_ok(b),
            None => ident_ok(pre),
        },
        None => rest.strip_prefix('+').is_none_or(ident_ok),
    };
    s.len() <= 128 && (1..=3).contains(&nums.len()) && nums.iter().all(num_ok) && rest_ok
}

/// A chart name: lowercase letters, digits, `-`, `_` and `.`, starting with a letter or
/// digit; at most 250 characters.
pub fn is_chart_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 250
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// A chart repository: `https://`, `http://` or `oci://`, a host (with an optional port),
/// and path segments of URL-safe characters; no credentials, query, fragment, quotes or
/// spaces.
pub fn is_source(s: &str) -> bool {
    let Some(rest) = ["https://", "http://", "oci://"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
    else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        && host.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '[');
    let path_ok = path.is_empty()
        || path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
        });
    s.len() <= 2048 && host_ok && path_ok
}

/// A path inside the recipe data: relative, `/`-separated segments of letters, digits,
/// `-`, `_` and `.`, no `.` or `..` segment.
pub fn is_data_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 1024
        && s.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// Whether `s` holds a control character (line breaks included) or a Unicode line or
/// paragraph separator, which YAML 1.1 also reads as a line break.
pub fn has_control(s: &str) -> bool {
    s.chars().any(cns_files::breaks_lines)
}

/// Free text in values (e.g. a config file): tabs and line feeds are fine, carriage returns
/// and other control characters are not.
fn has_bad_text_control(s: &str) -> bool {
    s.chars()
        .any(|c| cns_files::breaks_lines(c) && c != '\n' && c != '\t')
}

/// Checks fields of one document, naming `path` and the line of each field.
pub(crate) struct Checker<'a> {
    /// The file, for messages.
    pub(crate) path: &'a str,
    /// The document text, to find lines.
    pub(crate) text: &'a str,
}

impl Checker<'_> {
    pub(crate) fn fail(&self, segs: &[String], value: &str, reason: &str) -> Error {
        Error::Field {
            path: self.path.to_string(),
            line: crate::schema::locate(self.text, segs),
            field: crate::schema::field_path(segs),
            value: value.escape_debug().to_string(),
            reason: reason.to_string(),
        }
    }

    fn check(
        &self,
        segs: &[String],
        value: &str,
        ok: fn(&str) -> bool,
        reason: &str,
    ) -> Result<()> {
        if ok(value) {
            Ok(())
        } else {
            Err(self.fail(segs, value, reason))
        }
    }

    /// A single-line text field of at most [`MAX_TEXT`] characters.
    pub(crate) fn text_field(&self, segs: &[String], value: &str) -> Result<()> {
        if has_control(value) {
            return Err(self.fail(segs, value, "control characters are not allowed"));
        }
        if value.len() > MAX_TEXT {
            return Err(self.fail(
                segs,
                &value.chars().take(64).collect::<String>(),
                &format!("longer than {MAX_TEXT} bytes"),
            ));
        }
        Ok(())
    }

    /// Every field of one component reference at `segs`.
    pub(crate) fn component(&self, segs: &[String], r: &ComponentRef) -> Result<()> {
        let at = |f: &str| {
            let mut s = segs.to_vec();
            s.push(f.to_string());
            s
        };
        self.check(
            &at("name"),
            &r.name,
            is_dns_label,
            "component names are Kubernetes DNS labels: lowercase letters, digits and `-`, at most 63",
        )?;
        if let Some(v) = &r.namespace {
            self.check(
                &at("namespace"),
                v,
                is_dns_label,
                "namespaces are Kubernetes DNS labels: lowercase letters, digits and `-`, at most 63",
            )?;
        }
        if let Some(v) = &r.version {
            self.check(
                &at("version"),
                v,
                is_chart_version,
                "expected a chart version such as `v26.7.0` or `1.2.3-rc.1`",
            )?;
        }
        if let Some(v) = &r.chart {
            self.check(
                &at("chart"),
                v,
                is_chart_name,
                "chart names are lowercase letters, digits, `-`, `_` and `.`",
            )?;
        }
        if let Some(v) = &r.source {
            self.check(
                &at("source"),
                v,
                is_source,
                "expected https://HOST/PATH or oci://REGISTRY/PATH (no credentials, spaces or quotes)",
            )?;
        }
        if let Some(v) = &r.kind {
            self.text_field(&at("type"), v)?;
        }
        if let Some(v) = &r.values_file {
            self.check(
                &at("valuesFile"),
                v,
                is_data_path,
                "expected a relative path in the recipe data",
            )?;
        }
        for (i, d) in r.dependency_refs.iter().enumerate() {
            let mut s = at("dependencyRefs");
            s.push(i.to_string());
            self.check(&s, d, is_dns_label, "dependencies name components")?;
        }
        for (i, m) in r.manifest_files.iter().enumerate() {
            let mut s = at("manifestFiles");
            s.push(i.to_string());
            self.check(
                &s,
                m,
                is_data_path,
                "expected a relative path in the recipe data",
            )?;
        }
        if let Some(o) = &r.overrides {
            self.values(&at("overrides"), o, 0)?;
        }
        Ok(())
    }

    /// A values tree: bounded depth; keys without control characters; string values may
    /// hold line feeds and tabs but no other control characters.
    pub(crate) fn values(&self, segs: &[String], v: &Value, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.fail(segs, "…", &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match v {
            Value::String(s) if has_bad_text_control(s) => Err(self.fail(
                segs,
                s,
                "control characters other than line feeds and tabs are not allowed",
            )),
            Value::Object(m) => {
                for (k, child) in m {
                    let mut s = segs.to_vec();
                    s.push(k.clone());
                    if has_control(k) {
                        return Err(self.fail(&s, k, "control characters are not allowed in keys"));
                    }
                    self.values(&s, child, depth + 1)?;
                }
                Ok(())
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    let mut s = segs.to_vec();
                    s.push(i.to_string());
                    self.values(&s, child, depth + 1)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The constraints list at `segs`.
    pub(crate) fn constraints(&self, segs: &[String], cs: &[Constraint]) -> Result<()> {
        for (i, c) in cs.iter().enumerate() {
            let at = |f: &str| {
                let mut s = segs.to_vec();
                s.push(i.to_string());
                s.push(f.to_string());
                s
            };
            self.text_field(&at("name"), &c.name)?;
            self.text_field(&at("value"), &c.value)?;
            if let Some(r) = &c.remediation {
                self.text_field(&at("remediation"), r)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_are_dot_separated_labels() {
        assert!(is_dns_subdomain("cns-snapshot") && is_dns_subdomain("a.b-c.d"));
        for bad in [
            "",
            "a..b",
            "-a",
            "a.",
            "A",
            &"x".repeat(64),
            &"a.".repeat(127),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn field_grammars() {
        for ok in ["gpu-operator", "a", "a1-b2"] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "a\nb", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
        for ok in [
            "v26.7.0",
            "1.2.3",
            "26.4",
            "v1",
            "1.2.3-rc.1",
            "1.2.3+b.5",
            "1.2.3-rc.1+b.5",
        ] {
            assert!(is_chart_version(ok), "{ok}");
        }
        for bad in [
            "",
            "v",
            "1..2",
            "1.2.3.4",
            "1.2.3-",
            "1.2.3\n",
            "1.2.3\rkind: Secret",
            "1.5 ",
            "x1",
            "1.2.3-a b",
        ] {
            assert!(!is_chart_version(bad), "{bad:?}");
        }
        for ok in [
            "https://helm.ngc.nvidia.com/nvidia",
            "oci://ghcr.io/nvidia",
            "https://charts.jetstack.io/",
            "http://127.0.0.1:8879/charts",
        ] {
            assert!(is_source(ok), "{ok}");
        }
        for bad in [
            "ghcr.io/x",
            "https://",
            "https://a/b c",
            "https://a/'b",
            "https://u:p@a/b",
            "https://a/b?x",
            "https://a/../b",
            "oci://a/b\n",
            "ftp://a/b",
            "https://a/$(x)",
        ] {
            assert!(!is_source(bad), "{bad:?}");
        }
        for ok in ["gpu-operator", "skyhook-operator", "nv_chart.x"] {
            assert!(is_chart_name(ok), "{ok}");
        }
        for bad in ["", "-x", "A", "a/b", "a b", "a\n"] {
            assert!(!is_chart_name(bad), "{bad:?}");
        }
        assert!(is_data_path("components/gpu-operator/values.yaml"));
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/./b", "a b"] {
            assert!(!is_data_path(bad), "{bad:?}");
        }
        assert!(has_control("a\rb") && has_control("a\u{2028}") && !has_control("a b"));
    }
}
