//! A fast YAML writer for values trees whose output is byte-identical to `serde_norway`'s
//! (libyaml's emitter with serde_norway's settings: indent 2, no line width, unicode, plain
//! style where a string reads back as itself).
//!
//! Why: `perf` put ~40 % of a bundle's work in the libyaml port's emitter (each event goes
//! through a queue, an analysis pass and a byte buffer), in the host and, under Cranelift, in
//! every plugin. This writer walks the tree once and follows the same rules, transcribed from
//! the emitter's state machine (`write_indent`, `write_indicator`, `analyze_scalar`,
//! `select_scalar_style`) and serde_norway's choice of style per string, so bundles do not
//! change by a byte.
//!
//! It covers what values trees hold: maps, lists, strings, integers, booleans and null.
//! Anything it does not reproduce — a float, a string that needs double quotes (control
//! characters, tabs, `\r`, a space before a line break, a multi-line key), a key over 128
//! bytes — makes [`emit`] return `None`, and the caller writes the document with
//! serde_norway instead. The differential tests below compare the two writers on every
//! shape the rules distinguish and on generated strings.
//!
//! One file of ~620 lines, over the house's ~600: the scalar analysis and the writer are one
//! transcription of one state machine, and keeping them side by side is what lets a reader
//! check each rule against libyaml's.

use serde_json::Value;

/// A tree the writer walks: serde_json's (sorted maps: values trees) or serde_norway's
/// (maps in insertion order: structs turned into values, fields in declaration order).
pub(crate) trait Node: Sized {
    /// What this node is; `None` for what the writer leaves to serde_norway.
    fn view(&self) -> Option<View<'_, Self>>;
    /// A map's entries, keys as strings (`None` for a key that is not a string).
    fn entries(&self) -> impl Iterator<Item = (Option<&str>, &Self)>;
}

/// One node, as the writer needs it.
pub(crate) enum View<'a, N> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Str(&'a str),
    Seq(&'a [N]),
    /// A map with this many entries (read through [`Node::entries`]).
    Map(usize),
}

impl Node for Value {
    fn view(&self) -> Option<View<'_, Self>> {
        Some(match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => View::Unsigned(u),
                (None, Some(i)) => View::Signed(i),
                // Floats: serde_norway formats them with ryu; leave them to it.
                (None, None) => return None,
            },
            Value::String(s) => View::Str(s),
            Value::Array(a) => View::Seq(a),
            Value::Object(m) => View::Map(m.len()),
        })
    }

    fn entries(&self) -> impl Iterator<Item = (Option<&str>, &Self)> {
        self.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (Some(k.as_str()), v))
    }
}

impl Node for serde_norway::Value {
    fn view(&self) -> Option<View<'_, Self>> {
        use serde_norway::Value as Y;
        Some(match self {
            Y::Null => View::Null,
            Y::Bool(b) => View::Bool(*b),
            Y::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => View::Unsigned(u),
                (None, Some(i)) => View::Signed(i),
                (None, None) => return None,
            },
            Y::String(s) => View::Str(s),
            Y::Sequence(a) => View::Seq(a),
            Y::Mapping(m) => View::Map(m.len()),
            // `!Tag` values (enum variants with data): serde_norway's own business.
            Y::Tagged(_) => return None,
        })
    }

    fn entries(&self) -> impl Iterator<Item = (Option<&str>, &Self)> {
        self.as_mapping()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// libyaml's `best_indent`.
const INDENT: i32 = 2;

/// Write `value` as one YAML document, exactly as `serde_norway::to_string` would; `None`
/// when the document holds something this writer leaves to serde_norway.
pub(crate) fn emit<N: Node>(value: &N) -> Option<String> {
    let mut e = Emitter {
        out: String::with_capacity(256),
        indent: -1,
        indents: Vec::with_capacity(16),
        column: 0,
        whitespace: true,
        indention: true,
    };
    e.node(value, false)?;
    // Document end (implicit): a line break unless at the start of a line. serde_norway
    // never ends the stream, so a `+`-chomped block scalar gets no `...` after it.
    e.write_indent();
    Some(e.out)
}

struct Emitter {
    out: String,
    indent: i32,
    indents: Vec<i32>,
    /// Characters written on the current line.
    column: i32,
    whitespace: bool,
    indention: bool,
}

/// The scalar styles the writer produces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Literal,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += width(s);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.write(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { INDENT } else { 0 };
        } else if !indentless {
            self.indent += INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    /// One node; `mapping`: it is a mapping's value.
    fn node<N: Node>(&mut self, value: &N, mapping: bool) -> Option<()> {
        match value.view()? {
            // serde_norway writes these plain, and none of them needs quoting.
            View::Null => self.plain("null"),
            View::Bool(b) => self.plain(if b { "true" } else { "false" }),
            View::Unsigned(u) => self.plain(&u.to_string()),
            View::Signed(i) => self.plain(&i.to_string()),
            View::Str(s) => self.string(s, false)?,
            View::Seq([]) => self.empty_flow("[", "]"),
            View::Map(0) => self.empty_flow("{", "}"),
            View::Seq(items) => {
                // Indentless when the list is a mapping's value written after `key:`.
                let indentless = mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false)?;
                }
                self.pop_indent();
            }
            View::Map(_) => {
                self.increase_indent(false, false);
                for (key, item) in value.entries() {
                    let key = key?;
                    self.write_indent();
                    // A simple key is at most 128 bytes (else libyaml writes `? key`); a
                    // multi-line one is declined by `string`.
                    if key.len() > 128 {
                        return None;
                    }
                    self.string(key, true)?;
                    self.write_indicator(":", false, false, false);
                    self.node(item, true)?;
                }
                self.pop_indent();
            }
        }
        Some(())
    }

    /// A plain scalar (libyaml's `write_plain_scalar`, without line folding: no width).
    fn plain(&mut self, s: &str) {
        if !self.whitespace && !s.is_empty() {
            self.put(' ');
        }
        self.write(s);
        self.whitespace = false;
        self.indention = false;
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    /// A string, in the style serde_norway asks for and libyaml settles on.
    fn string(&mut self, s: &str, simple_key: bool) -> Option<()> {
        let a = analyze(s)?;
        // The style serde_norway asks for; libyaml may then settle on another.
        let mut style = if a.multiline {
            Style::Literal
        } else if reads_as_non_string(s) {
            Style::Single
        } else {
            Style::Plain
        };
        if simple_key && a.multiline {
            return None; // double-quoted
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            return None; // double-quoted
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            return None; // double-quoted
        }
        match style {
            Style::Plain => self.plain(s),
            Style::Single => {
                self.write_indicator("'", true, false, false);
                let mut rest = s;
                while let Some(i) = rest.find('\'') {
                    self.write(&rest[..=i]);
                    self.put('\'');
                    rest = &rest[i + 1..];
                }
                self.write(rest);
                self.write_indicator("'", false, false, false);
                self.whitespace = false;
                self.indention = false;
            }
            Style::Literal => {
                // libyaml indents every scalar; only a block scalar's lines show it.
                self.increase_indent(true, false);
                self.literal(s);
                self.pop_indent();
            }
        }
        Some(())
    }

    fn literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation digit when the text starts with a space or a
        // break; `-` without a final break, `+` with more than one (or only a break).
        if s.starts_with([' ', '\n']) {
            self.write_indicator("2", false, false, false);
        }
        let chomp = if !s.ends_with('\n') {
            Some("-")
        } else if s == "\n" || s.ends_with("\n\n") {
            Some("+")
        } else {
            None
        };
        if let Some(c) = chomp {
            self.write_indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for line in s.split_inclusive('\n') {
            let (text, newline) = match line.strip_suffix('\n') {
                Some(t) => (t, true),
                None => (line, false),
            };
            if !text.is_empty() {
                if breaks {
                    self.write_indent();
                }
                self.write(text);
                self.indention = false;
                breaks = false;
            }
            if newline {
                self.put_break();
                self.indention = true;
                breaks = true;
            }
        }
    }
}

/// Characters on a line: bytes for ASCII, else chars (libyaml counts characters).
fn width(s: &str) -> i32 {
    if s.is_ascii() {
        s.len() as i32
    } else {
        s.chars().count() as i32
    }
}

/// What libyaml's `analyze_scalar` finds out about a scalar, for block context.
#[derive(Debug, PartialEq, Eq)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// libyaml's scalar analysis; `None` for characters the fast writer leaves to serde_norway
/// (anything not printable, and line breaks other than `\n`).
fn analyze(s: &str) -> Option<Analysis> {
    if s.is_empty() {
        return Some(Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        });
    }
    let block_indicators = s.starts_with("---") || s.starts_with("...");
    analyze_word(s.as_bytes(), block_indicators).or_else(|| analyze_chars(s, block_indicators))
}

/// [`analyze`] of a non-empty string, character by character, as libyaml does.
fn analyze_chars(s: &str, block_indicators: bool) -> Option<Analysis> {
    let flags = if s.is_ascii() {
        scan(block_indicators, s.bytes().map(char::from))
    } else {
        scan(block_indicators, s.chars())
    }?;
    let Flags {
        block_indicators,
        line_breaks,
        leading_space,
        leading_break,
        trailing_space,
        trailing_break,
        break_space,
        space_break,
    } = flags;
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    Some(a)
}

/// [`analyze`] of a non-empty string of visible ASCII characters (no space, tab, break or
/// control character: names, versions, image references, paths), in one pass over its bytes;
/// `None` for any other string. Without whitespace only the indicators at either end matter:
/// one of `#,[]{}&*!|>'"%@\`` first; `?`, `:` or `-` alone (the only place followed by
/// whitespace); `:` last (a `#` after the first byte follows no whitespace).
fn analyze_word(b: &[u8], block_indicators: bool) -> Option<Analysis> {
    let (&first, &last) = (b.first()?, b.last()?);
    if !b.iter().all(|c| (0x21..=0x7E).contains(c)) {
        return None;
    }
    let indicator = block_indicators
        || matches!(
            first,
            b'#' | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
        )
        || (b.len() == 1 && matches!(first, b'?' | b':' | b'-'))
        || (b.len() > 1 && last == b':');
    Some(Analysis {
        multiline: false,
        block_plain_allowed: !indicator,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

/// What the character-by-character pass of `analyze_scalar` records.
struct Flags {
    block_indicators: bool,
    line_breaks: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
}

fn scan(block_indicators: bool, chars: impl Iterator<Item = char>) -> Option<Flags> {
    let mut f = Flags {
        block_indicators,
        line_breaks: false,
        leading_space: false,
        leading_break: false,
        trailing_space: false,
        trailing_break: false,
        break_space: false,
        space_break: false,
    };
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = chars.peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        if !printable(c) {
            return None;
        }
        let next = chars.peek().copied();
        let followed_by_whitespace = matches!(next, None | Some(' ' | '\t' | '\n'));
        let last = next.is_none();
        if first {
            if matches!(
                c,
                '#' | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            ) {
                f.block_indicators = true;
            }
            if matches!(c, '?' | ':' | '-') && followed_by_whitespace {
                f.block_indicators = true;
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            f.block_indicators = true;
        }
        match c {
            ' ' => {
                f.leading_space |= first;
                f.trailing_space |= last;
                f.break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            }
            '\n' => {
                f.line_breaks = true;
                f.leading_break |= first;
                f.trailing_break |= last;
                f.space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            }
            _ => {
                previous_space = false;
                previous_break = false;
            }
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\n');
        first = false;
    }
    Some(f)
}

/// Printable for libyaml, less the line breaks other than `\n` (NEL, LS, PS: left to
/// serde_norway, as are `\r`, tabs and other control characters).
fn printable(c: char) -> bool {
    matches!(c as u32,
        0x0A | 0x20..=0x7E | 0xA0..=0x2027 | 0x202A..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD
        | 0x10000..=0x10FFFF)
}

/// Whether serde_norway writes this string quoted because, plain, it would read back as
/// something else: empty, null, a boolean, an integer in any radix it reads, a float, or
/// digits with a leading zero (a string in YAML 1.2, quoted to be safe).
fn reads_as_non_string(s: &str) -> bool {
    let Some(&b) = s.as_bytes().first() else {
        return true;
    };
    if matches!(
        s,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) {
        return true;
    }
    if b.is_ascii_alphabetic() {
        // No number starts with a letter (`inf` and `nan` read as floats only with a dot).
        return false;
    }
    unsigned_int(s) || negative_int(s) || leading_zero_digits(s) || float(s)
}

fn leading_zero_digits(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

const RADIX_PREFIXES: [(&str, u32); 3] = [("0x", 16), ("0o", 8), ("0b", 2)];

fn unsigned_int(s: &str) -> bool {
    let u = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in RADIX_PREFIXES {
        if let Some(rest) = u.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return false;
            }
            if u128::from_str_radix(rest, radix).is_ok() {
                return true;
            }
        }
    }
    if u.starts_with(['+', '-']) || leading_zero_digits(s) {
        return false;
    }
    u.parse::<u128>().is_ok()
}

fn negative_int(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('-') {
        for (prefix, radix) in RADIX_PREFIXES {
            if let Some(digits) = rest.strip_prefix(prefix)
                && i128::from_str_radix(&format!("-{digits}"), radix).is_ok()
            {
                return true;
            }
        }
    }
    !leading_zero_digits(s) && s.parse::<i128>().is_ok()
}

fn float(s: &str) -> bool {
    let u = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return false,
        Some(u) => u,
        None => s,
    };
    if matches!(u, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
    {
        return true;
    }
    matches!(u.parse::<f64>(), Ok(f) if f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::emit;
    use serde_json::{Value, json};

    /// The reference: serde_norway's writer.
    fn reference(v: &Value) -> String {
        serde_norway::to_string(v).unwrap()
    }

    /// Either the fast writer matches serde_norway byte for byte, or it declines.
    fn check(v: &Value) -> bool {
        match emit(v) {
            Some(fast) => {
                assert_eq!(fast, reference(v), "for {v}");
                true
            }
            None => false,
        }
    }

    /// Strings that exercise every rule: ambiguous scalars, indicators at the start, in the
    /// middle and at the end, spaces and breaks at either end, quotes, unicode.
    const STRINGS: &[&str] = &[
        "",
        "a",
        "abc",
        "a b",
        " a",
        "a ",
        "  ",
        " ",
        "null",
        "Null",
        "NULL",
        "~",
        "nul",
        "true",
        "True",
        "TRUE",
        "tRue",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "0",
        "1",
        "-1",
        "+1",
        "01",
        "-01",
        "+01",
        "007",
        "0.5",
        ".5",
        "5.",
        "1e3",
        "1E3",
        "-1e-3",
        "1_000",
        "0x1F",
        "0x",
        "0X1F",
        "-0x1F",
        "+0x1F",
        "0x-1",
        "0o17",
        "0b101",
        "0b2",
        "-0b1",
        "+-1",
        "--1",
        ".inf",
        "-.inf",
        "+.inf",
        ".Inf",
        ".NaN",
        ".nan",
        "inf",
        "nan",
        "NaN",
        "Infinity",
        "-inf",
        "1.0.0",
        "v1.2.3",
        "25.3.0",
        "550.54.15",
        "1:2",
        "a:b",
        "a: b",
        "a:",
        ":a",
        ": a",
        "?",
        "?a",
        "? a",
        "-",
        "-a",
        "- a",
        "--",
        "---",
        "---a",
        "...",
        "...a",
        "#",
        "#a",
        "a#b",
        "a #b",
        "a # b",
        ",",
        "a,b",
        "[",
        "a[b]",
        "{a}",
        "a{b",
        "&a",
        "*a",
        "!a",
        "a!",
        "|",
        "a|b",
        ">",
        "a>b",
        "'",
        "a'b",
        "'a'",
        "\"",
        "a\"b",
        "%",
        "a%",
        "@a",
        "a@b",
        "`a",
        "a`",
        "a\nb",
        "a\n",
        "a\n\n",
        "\n",
        "\n\n",
        "\na",
        " a\nb",
        "a\n b",
        "a \nb",
        "a\n\nb",
        "a\n  b\n",
        "line one\nline two\n",
        "#!/bin/sh\nset -eu\n",
        "a\t",
        "\ta",
        "a\rb",
        "x\u{85}y",
        "é",
        "naïve café",
        "日本語",
        "a\u{2028}b",
        "\u{feff}a",
        "emoji 🚀",
        "nvcr.io/nvidia/gpu-operator:v25.3.0",
        "--set=a.b=c",
        "key=value",
        "http://x/y?z=1",
        "*",
        "**/*.yaml",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f",
    ];

    #[test]
    fn every_string_rule_matches_serde_norway_as_value_key_and_list_item() {
        let mut fast = 0;
        for s in STRINGS {
            for v in [
                json!(s),
                json!({ "k": s }),
                json!({ *s: 1 }),
                json!([s]),
                json!({"a": [s, {"b": s}], "c": {"d": [[s]]}}),
                json!([{ *s: [s] }]),
            ] {
                fast += usize::from(check(&v));
            }
        }
        // Most of them take the fast path.
        assert!(fast > STRINGS.len() * 5, "{fast}");
    }

    #[test]
    fn structures_match_serde_norway() {
        for v in [
            json!(null),
            json!(true),
            json!(42),
            json!(-7),
            json!(u64::MAX),
            json!(i64::MIN),
            json!({}),
            json!([]),
            json!({"a": {}, "b": [], "c": null, "d": [{}, [], null]}),
            json!([[1, 2], [[3]], {"a": [1]}, [{"b": {"c": []}}]]),
            json!({"a": {"b": {"c": {"d": [1, {"e": [2, [3, {"f": "x\ny\n"}]]}]}}}}),
            json!({"script": "#!/bin/sh\nset -eu\n\nexit 0\n", "after": 1}),
            json!({"kept": "a\n\n", "next": "b"}),
            json!({"list": ["a\n\n"]}),
            json!({"x": [" lead\nx", "\nlead", "a\n"]}),
        ] {
            assert!(check(&v), "fast path declined {v}");
        }
    }

    #[test]
    fn structs_keep_field_order_and_match_serde_norway() {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        enum Kind {
            Helm,
            KustomizeApp,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Inner {
            zeta: u32,
            alpha: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
            kind: Kind,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Outer {
            kind: &'static str,
            api_version: &'static str,
            items: Vec<Inner>,
            empty: Vec<Inner>,
            notes: String,
            version: &'static str,
            negative: i64,
        }
        let v = Outer {
            kind: "RecipeResult",
            api_version: "cns/v1",
            items: vec![
                Inner {
                    zeta: 1,
                    alpha: None,
                    skipped: None,
                    kind: Kind::Helm,
                },
                Inner {
                    zeta: 2,
                    alpha: Some("true".into()),
                    skipped: Some("x: y".into()),
                    kind: Kind::KustomizeApp,
                },
            ],
            empty: vec![],
            notes: "line\nline 2\n".into(),
            version: "1.0",
            negative: -3,
        };
        let want = serde_norway::to_string(&v).unwrap();
        assert!(
            want.starts_with("kind: RecipeResult\napiVersion: cns/v1\n"),
            "{want}"
        );
        let tree = serde_norway::to_value(&v).unwrap();
        assert_eq!(emit(&tree).as_deref(), Some(want.as_str()));
        assert_eq!(crate::to_yaml_ordered(&v).unwrap(), want);
    }

    /// The one-pass analysis of visible ASCII words agrees with the character-by-character one
    /// on every string it takes.
    #[test]
    fn the_word_analysis_agrees_with_the_full_one() {
        let mut taken = 0;
        for s in generated_strings() {
            let indicators = s.starts_with("---") || s.starts_with("...");
            if let Some(a) = super::analyze_word(s.as_bytes(), indicators) {
                assert_eq!(Some(a), super::analyze_chars(&s, indicators), "{s:?}");
                taken += 1;
            }
        }
        assert!(taken > 3000, "{taken}");
    }

    #[test]
    fn declines_what_it_does_not_reproduce() {
        for v in [
            json!(1.5),
            json!({"tab": "a\tb"}),
            json!({"cr": "a\rb"}),
            json!({"a\nb": 1}),
            json!({"x".repeat(129): 1}),
            json!("a \nb"),
        ] {
            assert!(emit(&v).is_none(), "{v}");
        }
        assert!(check(&json!({"x".repeat(128): 1})));
    }

    /// Every string of up to 3 characters over an alphabet of the characters the rules look
    /// at, plus longer mixes from a fixed generator (no randomness in tests).
    fn generated_strings() -> Vec<String> {
        const ALPHABET: &[char] = &[
            'a', '0', '1', ' ', '\n', ':', '-', '#', '\'', '"', '.', '?', '[', ',', '+', 'x', 'e',
            '~', '!', '|', '_', 'é', '{', '&', '*', '>', '%', '@', '`', ']', '}', '/',
        ];
        let mut strings = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for s in &frontier {
                for c in ALPHABET {
                    let mut t = s.clone();
                    t.push(*c);
                    next.push(t);
                }
            }
            strings.extend(next.iter().cloned());
            frontier = next;
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            let len = 4 + (state % 9) as usize;
            let mut t = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            strings.push(t);
        }
        strings
    }

    #[test]
    fn generated_strings_match_serde_norway() {
        let strings = generated_strings();
        let mut fast = 0;
        for s in &strings {
            fast += usize::from(check(&json!({ "k": s, "l": [s] })));
            fast += usize::from(check(&json!({ s.as_str(): [s] })));
        }
        assert!(fast > strings.len(), "{fast} of {}", strings.len() * 2);
    }
}
