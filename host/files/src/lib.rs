//! A file of a bundle, the one rule for its path, and `checksums.txt`: shared by the plugin
//! host (what plugins return), the bundle tree and OCI archives, so a path that one of them
//! accepts is a path all of them accept. Knows nothing about plugins, trees or registries.
//!
//! ```
//! use cns_files::check_path;
//! assert!(check_path("gpu-operator/values.yaml").is_ok());
//! assert!(check_path("../etc/passwd").is_err());
//! ```

use sha2::{Digest, Sha256};
use std::fmt;

/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 1024;

/// One file: a relative `/`-separated path, its content and whether it is executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative, `/`-separated path (see [`check_path`]).
    pub path: String,
    /// Content.
    pub content: Vec<u8>,
    /// Mode 0755 instead of 0644.
    pub executable: bool,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty.
    Empty,
    /// Longer than [`MAX_PATH`] bytes.
    TooLong(usize),
    /// Starts with `/`.
    Absolute,
    /// Contains `\`.
    Backslash,
    /// Contains a control character or a Unicode line separator.
    Control,
    /// Has an empty segment (`a//b`).
    EmptySegment,
    /// Has a `.` or `..` segment.
    DotSegment,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Empty => f.write_str("empty path"),
            PathError::TooLong(n) => write!(f, "path of {n} bytes, longer than {MAX_PATH}"),
            PathError::Absolute => f.write_str("absolute path"),
            PathError::Backslash => f.write_str("backslash in path (not portable)"),
            PathError::Control => f.write_str("control character in path"),
            PathError::EmptySegment => f.write_str("empty path segment"),
            PathError::DotSegment => f.write_str("`.` or `..` segment (path traversal)"),
        }
    }
}

impl std::error::Error for PathError {}

/// Whether a YAML parser or a shell could read `c` as ending a line: control characters
/// (line feed and carriage return among them) and the Unicode line and paragraph separators
/// (line breaks in YAML 1.1).
pub fn breaks_lines(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The rule for every path in a bundle: not empty, at most [`MAX_PATH`] bytes, relative, no
/// `\`, no control characters or line separators, no empty, `.` or `..` segment (so no
/// trailing `/` either).
pub fn check_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong(path.len()));
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    if path.chars().any(breaks_lines) {
        return Err(PathError::Control);
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err(PathError::EmptySegment),
            "." | ".." => return Err(PathError::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

/// `checksums.txt` in GNU `sha256sum -c` format: one line per file, in the order given
/// (callers pass them sorted by path).
pub fn checksums<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut s = String::new();
    for (path, content) in files {
        s.push_str(&hex::encode(Sha256::digest(content)));
        s.push_str("  ");
        s.push_str(path);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rule() {
        for ok in ["a", "a/b.yaml", "gpu-operator/manifests/x.yaml", "é/ü"] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(MAX_PATH + 1);
        for (bad, why) in [
            ("", PathError::Empty),
            (long.as_str(), PathError::TooLong(MAX_PATH + 1)),
            ("/etc/passwd", PathError::Absolute),
            ("a\\b", PathError::Backslash),
            ("a\nb", PathError::Control),
            ("a\u{1b}[2Jb", PathError::Control),
            ("a\u{2028}b", PathError::Control),
            ("a//b", PathError::EmptySegment),
            ("dir/", PathError::EmptySegment),
            ("a/./b", PathError::DotSegment),
            ("../x", PathError::DotSegment),
            ("a/..", PathError::DotSegment),
        ] {
            assert_eq!(check_path(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn checksums_in_gnu_format() {
        let s = checksums([("a.txt", &b"a\n"[..])]);
        assert_eq!(
            s,
            "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7  a.txt\n"
        );
    }
}
