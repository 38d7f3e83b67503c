//! Quoting by construction for generated text. Every value that reaches a shell script or
//! a comment line goes through one of these helpers, so no value, however strange, can end
//! a comment early, start a new command or a new YAML document.
//!
//! ```
//! use cns_plugin_sdk::quote::{comment_text, in_double_quotes, shell_quote, shell_word};
//! assert_eq!(shell_quote("a'b"), r"'a'\''b'");
//! assert_eq!(shell_word("gpu-operator"), "gpu-operator");
//! assert_eq!(shell_word("$(id)"), "'$(id)'");
//! assert_eq!(in_double_quotes("a$b`c"), r"a\$b\`c");
//! assert_eq!(comment_text("v1\rkind: Secret"), r"v1\rkind: Secret");
//! ```

use std::borrow::Cow;

/// Characters a shell word may hold without quoting.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c)
}

/// Quote `s` for POSIX shells: single quotes, each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` as the value of a shell assignment (`NAME=value`): single-quoted, or double-quoted
/// with `\`, `$`, `` ` `` and `"` escaped when it holds `$`, `` ` `` or `\` (so that linters
/// do not read a literal `$(…)` as an expansion that was meant to happen).
pub fn shell_value(s: &str) -> String {
    if s.contains(['$', '`', '\\']) {
        format!("\"{}\"", in_double_quotes(s))
    } else {
        shell_quote(s)
    }
}

/// `s` as one shell word: unchanged when every character is plain (letters, digits and
/// `-_./:@%+=,`), else [`shell_quote`]d.
pub fn shell_word(s: &str) -> Cow<'_, str> {
    if !s.is_empty() && s.chars().all(is_plain) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(shell_quote(s))
    }
}

/// `s` for use inside a double-quoted shell string: `\`, `$`, `` ` `` and `"` escaped, so
/// nothing in it expands.
pub fn in_double_quotes(s: &str) -> Cow<'_, str> {
    if !s.contains(['\\', '$', '`', '"']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | '$' | '`' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

pub use cns_values::comment_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_plain_or_quoted() {
        for (raw, want) in [
            ("cert-manager", "cert-manager"),
            (
                "oci://ghcr.io/nvidia/nvsentinel",
                "oci://ghcr.io/nvidia/nvsentinel",
            ),
            ("", "''"),
            ("a b", "'a b'"),
            ("a\nrm -rf /", "'a\nrm -rf /'"),
            ("it's", r"'it'\''s'"),
            ("${HOME}", "'${HOME}'"),
        ] {
            assert_eq!(shell_word(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn values_are_single_or_double_quoted() {
        assert_eq!(shell_value("gpu-operator"), "'gpu-operator'");
        assert_eq!(shell_value("it's"), r"'it'\''s'");
        assert_eq!(shell_value("$(id)"), r#""\$(id)""#);
        assert_eq!(shell_value("a`b\\c\"d"), r#""a\`b\\c\"d""#);
    }

    #[test]
    fn comments_stay_on_one_line() {
        for raw in [
            "a\nb",
            "a\rb",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\x1bb",
        ] {
            let c = comment_text(raw);
            assert!(
                !c.chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
                "{raw:?} -> {c:?}"
            );
            assert_eq!(c.lines().count(), 1);
        }
        assert!(matches!(comment_text("plain text"), Cow::Borrowed(_)));
    }
}
