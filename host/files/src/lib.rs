//! A file of a bundle, the one rule for its path, `checksums.txt`, the bundle as a tree of
//! files ([`FileTree`]) and its atomic writer: shared by the plugin host (what plugins
//! return), the bundle pipeline, the server and OCI archives, so a path that one of them
//! accepts is a path all of them accept. Also the two guards every reader of someone else's
//! text uses: [`terminal_safe`] before it is shown, [`nesting::check`] before YAML or JSON is
//! parsed. Knows nothing about plugins or registries.
//!
//! ```
//! use cns_files::check_path;
//! assert!(check_path("gpu-operator/values.yaml").is_ok());
//! assert!(check_path("../etc/passwd").is_err());
//! ```

pub mod nesting;
pub mod tree;
pub mod write;

pub use tree::FileTree;
pub use write::{Interrupted, WriteReport, interrupt, write_atomic, write_private};

use sha2::{Digest, Sha256};
use std::fmt;

/// Why a tree refuses a file or cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path breaks the bundle's path rule.
    #[error("`{path}` from {producer} is not a valid bundle path: {reason}")]
    BadPath {
        /// The path, escaped.
        path: String,
        /// Who produced it.
        producer: String,
        /// Why.
        reason: String,
    },
    /// Two producers wrote the same path.
    #[error("`{path}` is produced twice: by {first} and by {second}")]
    Conflict {
        /// The path.
        path: String,
        /// First producer.
        first: String,
        /// Second producer.
        second: String,
    },
    /// The output path is in the way.
    #[error("output `{path}` exists and is not empty (use --force to replace it)")]
    OutputExists {
        /// The output directory.
        path: String,
    },
    /// Writing the tree failed; nothing was left at the output path.
    #[error("cannot write the bundle to `{path}`")]
    Write {
        /// The output directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The uid this process runs as: the owner of `/proc/self` (Linux), else of a new temp file
/// (read once). What the writer checks a replaced output's files against, and the plugin
/// cache its directory.
#[cfg(unix)]
pub fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    static UID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .or_else(|_| {
                tempfile::tempfile()
                    .and_then(|f| f.metadata())
                    .map(|m| m.uid())
            })
            .ok()
    })
}

/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 1024;

/// A bundle's SBOM (CycloneDX JSON): written by `cns_bundle`, attested by `cns_oci` when the
/// bundle is pushed signed.
pub const SBOM_FILE: &str = "sbom.cdx.json";

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

/// Whether `c` may not reach a terminal as it is: what [`breaks_lines`] says, and the
/// Unicode bidirectional overrides and isolates (which reorder what a terminal shows).
fn unsafe_on_terminal(c: char) -> bool {
    breaks_lines(c) || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it may be shown on a terminal: every control character (escape sequences, `\r`,
/// line breaks unless `keep_newlines`), Unicode line separator and bidirectional override
/// written as its Rust escape (`\u{1b}`, `\n`), everything else as it is. Readings and
/// cluster messages go through this before they are printed, so they cannot forge table rows
/// or send escape sequences.
pub fn terminal_safe(text: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| unsafe_on_terminal(c) && !(keep_newlines && (c == '\n' || c == '\t'));
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
    fn terminal_text_has_no_controls() {
        assert_eq!(terminal_safe("NVIDIA H100 80GB", false), "NVIDIA H100 80GB");
        assert_eq!(terminal_safe("é ü 日本", false), "é ü 日本");
        assert_eq!(
            terminal_safe("1.30\nK8s.fake  modified  a  b\x1b[2J\r", false),
            "1.30\\nK8s.fake  modified  a  b\\u{1b}[2J\\r"
        );
        assert_eq!(terminal_safe("a\u{202e}b", false), "a\\u{202e}b");
        assert_eq!(
            terminal_safe("line 1\nline 2\x07", true),
            "line 1\nline 2\\u{7}"
        );
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
