//! Plugin output: files with validated relative paths, within size and count caps.

use crate::bindings::types::BundleFile;
use crate::{Error, Limits, Result};
use std::collections::BTreeSet;

/// A file returned by a plugin, after validation: the bundle's one file type.
pub type OutputFile = cns_files::File;

/// Check that a plugin-supplied path is a plain relative path ([`cns_files::check_path`]),
/// describing the problem with the path (escaped) for messages.
pub fn check_path(path: &str) -> std::result::Result<(), String> {
    cns_files::check_path(path).map_err(|e| {
        let shown: String = path.chars().take(120).collect();
        format!("{e}: `{}`", shown.escape_debug())
    })
}

/// The file the host writes from a WIT 0.3 bundler's values.
pub const VALUES_FILE: &str = "values.yaml";

/// The `values.yaml` the host writes for `input`'s component from the final `values` its
/// bundler returned (WIT 0.3): the text bundlers of 0.1 and 0.2 wrote themselves.
pub fn values_file(
    input: &crate::bindings::types::ComponentInput,
    values: &serde_json::Value,
) -> std::result::Result<OutputFile, String> {
    let text = cns_values::values_file(
        &input.name,
        &input.chart.chart,
        &input.chart.version,
        values,
    )
    .map_err(|e| format!("its values cannot be written as YAML: {e}"))?;
    Ok(OutputFile {
        path: VALUES_FILE.into(),
        content: text.into_bytes(),
        executable: false,
    })
}

/// Validate a plugin's files against the rules and limits, keeping their order.
pub(crate) fn validate(
    plugin: &str,
    files: Vec<BundleFile>,
    limits: &Limits,
) -> Result<Vec<OutputFile>> {
    let bad = |problem: String| Error::BadOutput {
        plugin: plugin.to_string(),
        problem,
    };
    if files.len() > limits.max_files {
        return Err(bad(format!(
            "{} files, more than the limit of {}",
            files.len(),
            limits.max_files
        )));
    }
    let total: usize = files.iter().map(|f| f.content.len()).sum();
    if total > limits.max_output_bytes {
        return Err(bad(format!(
            "{total} bytes of output, more than the limit of {} bytes",
            limits.max_output_bytes
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        check_path(&f.path).map_err(bad)?;
        if !seen.insert(f.path.clone()) {
            return Err(bad(format!("duplicate path `{}`", f.path)));
        }
        out.push(OutputFile {
            path: f.path,
            content: f.content,
            executable: f.executable,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        let ok = [
            "values.yaml",
            "manifests/a.yaml",
            "a/b/c.d",
            "x..y",
            ".hidden",
        ];
        for p in ok {
            assert!(check_path(p).is_ok(), "{p}");
        }
        let bad = [
            ("", "empty path"),
            ("/etc/passwd", "absolute path"),
            ("../x", "`.` or `..` segment"),
            ("a/../../x", "`.` or `..` segment"),
            ("a/./b", "`.` or `..` segment"),
            ("a//b", "empty path segment"),
            ("a/", "empty path segment"),
            ("a\\b", "backslash"),
            ("a\nb", "control character"),
        ];
        for (p, want) in bad {
            let e = check_path(p).unwrap_err();
            assert!(e.contains(want), "{p:?}: {e}");
        }
    }

    fn f(path: &str, n: usize) -> BundleFile {
        BundleFile {
            path: path.into(),
            content: vec![b'x'; n],
            executable: false,
        }
    }

    #[test]
    fn limits_and_duplicates() {
        let limits = Limits {
            max_files: 2,
            max_output_bytes: 10,
            ..Limits::default()
        };
        assert!(validate("p", vec![f("a", 5), f("b", 5)], &limits).is_ok());
        let e = validate("p", vec![f("a", 1), f("b", 1), f("c", 1)], &limits).unwrap_err();
        assert!(e.to_string().contains("3 files"), "{e}");
        let e = validate("p", vec![f("a", 11)], &limits).unwrap_err();
        assert!(e.to_string().contains("11 bytes"), "{e}");
        let e = validate("p", vec![f("a", 1), f("a", 1)], &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin `p` returned invalid output: duplicate path `a`"
        );
    }
}
