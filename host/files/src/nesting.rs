//! Nesting of untrusted YAML and JSON bounded before the real parser sees the text.
//!
//! Why: serde_norway (a port of libyaml) reads a whole document's events before its recursion
//! limit applies, and libyaml's scanner walks every open flow level for each token, so a
//! document of nested flow collections (`[[[[…`) costs time quadratic in its depth: 120 KiB
//! took 9–17 s. [`check`] runs granit-parser's event parser first, whose simple-key handling
//! is amortised and which stops at [`MAX_NESTING`] open collections, so the check is linear in
//! the text and the real parse then only ever sees bounded nesting.
//!
//! JSON is checked by serde_json instead (linear, the same depth limit, and much faster than
//! an event parser). Where granit-parser finds the text malformed before the end, the part it
//! did not read is still bounded: it may open at most [`MAX_NESTING`] flow collections in all. A document
//! either parser rejects is the real parser's to explain; this module only refuses depth.

/// Most collections open at once (flow and block each): what the deserialisers behind it
/// accept (serde_norway and serde_json count down from 128 and stop at 0, so 127 levels).
pub const MAX_NESTING: usize = 127;

/// A document nested deeper than [`MAX_NESTING`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nested deeper than {max} levels at line {line}, column {column}")]
pub struct TooDeep {
    /// Line (1-based) where the limit was passed.
    pub line: usize,
    /// Column (1-based).
    pub column: usize,
    /// The limit.
    pub max: usize,
}

/// Refuse `text` when one of its YAML (or JSON) documents nests collections deeper than
/// [`MAX_NESTING`], in time linear in its length.
///
/// ```
/// use cns_files::nesting::check;
/// assert!(check("a: {b: [1, 2]}\n").is_ok());
/// let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
/// assert_eq!(check(&deep).unwrap_err().line, 1);
/// ```
pub fn check(text: &str) -> Result<(), TooDeep> {
    use granit_parser::{ErrorKind, Options, Parser};
    // JSON (what API clients send) is checked by serde_json, ~30 times faster than an event
    // parser; text that is not JSON goes on to the YAML check.
    if let Some(json) = check_json(text) {
        return json;
    }
    let mut options = Options::default();
    options.flow_nesting_limit = MAX_NESTING;
    options.block_nesting_limit = MAX_NESTING;
    options.set_emit_comments(false);
    let mut parser = Parser::new_from_str_with_options(text, options);
    loop {
        match parser.next_event() {
            None => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let at = e.marker();
                if matches!(e.kind(), ErrorKind::RecursionLimitExceeded) {
                    return Err(TooDeep {
                        line: at.line(),
                        column: at.col() + 1,
                        max: MAX_NESTING,
                    });
                }
                return check_rest(text, at.index(), (at.line(), at.col() + 1));
            }
        }
    }
}

/// `Some` when `text` is a JSON document (serde_json stops at the same depth, 128), `None`
/// when it is not JSON and must be read as YAML.
fn check_json(text: &str) -> Option<Result<(), TooDeep>> {
    if !text.trim_start().starts_with(['{', '[']) {
        return None;
    }
    match serde_json::from_str::<Shape>(text) {
        Ok(_) => Some(Ok(())),
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => Some(Err(TooDeep {
            line: e.line(),
            column: e.column(),
            max: MAX_NESTING,
        })),
        Err(_) => None,
    }
}

/// A JSON document read for its shape only: nothing is kept, but unlike
/// [`serde::de::IgnoredAny`] (which serde_json skips without recursing) every collection is
/// entered, so serde_json's recursion limit applies.
struct Shape;

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
        while a.next_element::<Shape>()?.is_some() {}
        Ok(Shape)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
        while a.next_entry::<serde::de::IgnoredAny, Shape>()?.is_some() {}
        Ok(Shape)
    }
}

/// The part of `text` from char `from` on, which granit-parser could not read: it may open
/// at most [`MAX_NESTING`] flow collections in all.
fn check_rest(text: &str, from: usize, at: (usize, usize)) -> Result<(), TooDeep> {
    let openers = text
        .chars()
        .skip(from)
        .filter(|c| matches!(c, '[' | '{'))
        .count();
    if openers > MAX_NESTING {
        return Err(TooDeep {
            line: at.0,
            column: at.1,
            max: MAX_NESTING,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, depth: usize) -> String {
        format!("{}1{}", open.repeat(depth), close.repeat(depth))
    }

    #[test]
    fn ordinary_documents_pass() {
        for ok in [
            "",
            "a: 1\n",
            "a: [1, {b: c}]\n# [[[[ in a comment\nd: '[[[['\ne: \"{{{{\"\n",
            "script: |\n  if [ -z \"$x\" ]; then [[[[ echo; fi\n",
            "{\"a\": [1, 2, {\"b\": null}]}",
            "---\na: 1\n---\nb: [2]\n",
            // Malformed, but shallow: the real parser explains it.
            "a: [1, 2\n",
            "\t{\"a\":\n\t\t[1]}\n",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check(&nested("[", "]", MAX_NESTING)), Ok(()));
        assert_eq!(check(&nested("{a: ", "}", MAX_NESTING)), Ok(()));
    }

    #[test]
    fn deep_flow_block_and_json_documents_are_refused() {
        let block: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let compact = format!("{}x\n", "- ".repeat(200));
        for (what, text) in [
            ("flow sequences", nested("[", "]", MAX_NESTING + 1)),
            ("flow mappings", nested("{a: ", "}", 60_000)),
            ("JSON", nested("{\"a\":", "}", 5_000)),
            ("block mappings", block),
            ("compact block sequences", compact),
            ("unclosed", "[".repeat(60_000)),
            (
                "after a second document",
                format!("a: 1\n---\n{}", nested("[", "]", 300)),
            ),
            (
                "after a quoted key",
                format!("\"k\": {}", nested("[", "]", 300)),
            ),
        ] {
            let e = check(&text).expect_err(what);
            assert_eq!(e.max, MAX_NESTING, "{what}");
        }
    }

    /// What granit-parser cannot read is still bounded: a malformed prefix does not let deep
    /// nesting after it through.
    #[test]
    fn a_malformed_prefix_does_not_hide_deep_nesting() {
        for prefix in ["a: b: c\n", "]\n", "key: \"unclosed\n", "- a\nb: c\n"] {
            let text = format!("{prefix}x: {}", nested("[", "]", 1000));
            assert!(check(&text).is_err(), "{prefix:?}");
        }
    }

    /// The check stops at the limit instead of reading on: 200,000 levels (which would take
    /// serde_norway minutes) are refused. Its speed is measured by the `resolve` bench, not here.
    #[test]
    fn very_deep_input_is_refused_at_the_limit() {
        let e = check(&nested("[", "]", 200_000)).unwrap_err();
        assert_eq!((e.line, e.column), (1, MAX_NESTING + 1));
    }
}
