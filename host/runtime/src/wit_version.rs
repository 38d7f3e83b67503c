//! Which WIT versions this host loads: its own major.minor (any patch) and the older minors
//! it keeps bindings for ([`WIT_COMPAT`]); anything else is refused naming both versions.

use crate::{WIT_COMPAT, WIT_VERSION};

/// Which generated bindings call a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// Built for this host's WIT major.minor.
    Current,
    /// Built for `cns:plugin@0.2.x`.
    V0_2,
    /// Built for `cns:plugin@0.1.x`.
    V0_1,
}

/// `major.minor` of a WIT version (`0.1.3` → `0.1`).
fn wit_line(v: &str) -> Option<String> {
    let mut it = v.split('.');
    let (major, minor, patch) = (it.next()?, it.next()?, it.next().unwrap_or("0"));
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (num(major) && num(minor) && num(patch) && it.next().is_none())
        .then(|| format!("{major}.{minor}"))
}

/// The bindings for a plugin built for WIT `plugin`: this host's major.minor (any patch), or
/// one of the older minors it keeps bindings for ([`WIT_COMPAT`]). Anything else (a newer
/// minor, another major) is refused.
pub(crate) fn wit_binding(plugin: &str) -> Option<Binding> {
    let line = wit_line(plugin)?;
    if Some(&line) == wit_line(WIT_VERSION).as_ref() {
        return Some(Binding::Current);
    }
    match line.as_str() {
        "0.2" if WIT_COMPAT.contains(&"0.2") => Some(Binding::V0_2),
        "0.1" if WIT_COMPAT.contains(&"0.1") => Some(Binding::V0_1),
        _ => None,
    }
}

/// The version lines this host loads, for error messages: `0.2.x or 0.1.x`.
pub(crate) static ACCEPTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(accepted_lines);

fn accepted_lines() -> String {
    let current = wit_line(WIT_VERSION).unwrap_or_default();
    std::iter::once(current.as_str())
        .chain(WIT_COMPAT.iter().copied())
        .map(|l| format!("{l}.x"))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_version_rules() {
        assert_eq!(
            WIT_VERSION, "0.3.0",
            "update this table with the WIT version"
        );
        let cases = [
            ("0.3.0", Some(Binding::Current)),
            ("0.3.7", Some(Binding::Current)),
            ("0.2.0", Some(Binding::V0_2)),
            ("0.2.9", Some(Binding::V0_2)),
            ("0.1.0", Some(Binding::V0_1)),
            ("0.1.4", Some(Binding::V0_1)),
            ("0.4.0", None),
            ("0.0.9", None),
            ("1.0.0", None),
            ("3.3.0", None),
            ("0.3", Some(Binding::Current)),
            ("0.3.0.1", None),
            ("0.3.x", None),
            ("junk", None),
            ("", None),
        ];
        for (v, want) in cases {
            assert_eq!(wit_binding(v), want, "{v}");
        }
        assert_eq!(accepted_lines(), "0.3.x or 0.2.x or 0.1.x");
    }
}
