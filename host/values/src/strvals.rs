//! Helm's `--set` syntax, as Helm users know it: `name1=value1,name2=value2`, dotted names
//! (`a.b=c`), list indices (`a[0].b=c`), lists in braces (`a={x,y}`), `\` escaping the next
//! character (`a\.b=c` is the key `a.b`; `b\,c` a value with a comma), and Helm's typing:
//! `--set` makes `true`/`false` (any case) booleans, `null` null, and integers that fit 64
//! bits and do not start with `0` (other than `0` itself) integers; everything else stays a
//! string (`1.50`, `v1.0`, `0123`, `1e3`). `--set-string` keeps every value a string,
//! `--set-json` reads each value as JSON, `--set-file` takes each value as a file's content.
//! [`merge`] applies the result over values the way Helm does: maps merge, anything else
//! replaces, and `null` removes the key. Tested against real `helm template` in the
//! integration tests.
//!
//! ```
//! use cns_values::strvals::{Kind, parse_into};
//! let mut m = serde_json::Map::new();
//! parse_into("a.b=1.50,a.c=10,d[1]=true", Kind::Typed, &mut m, &|_| unreachable!()).unwrap();
//! assert_eq!(serde_json::Value::Object(m), serde_json::json!({"a": {"b": "1.50", "c": 10}, "d": [null, true]}));
//! ```

use serde_json::{Map, Value};

/// Which Helm flag the line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--set`: values typed as Helm types them.
    Typed,
    /// `--set-string`: every value a string.
    String,
    /// `--set-json`: every value JSON (an empty value is null).
    Json,
    /// `--set-file`: every value the content of the file it names.
    File,
}

impl Kind {
    /// The flag, for messages.
    pub fn flag(self) -> &'static str {
        match self {
            Kind::Typed => "--set",
            Kind::String => "--set-string",
            Kind::Json => "--set-json",
            Kind::File => "--set-file",
        }
    }
}

/// Deepest dotted name (Helm's limit).
pub const MAX_NAME_DEPTH: usize = 30;
/// Largest list index (Helm's limit).
pub const MAX_INDEX: usize = 65_536;

/// Why a line does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StrvalsError(pub String);

type Res<T> = Result<T, StrvalsError>;

fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(StrvalsError(msg.into()))
}

/// The file reader of [`Kind::File`]: a path to its content (or why not).
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<String, String>;

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    kind: Kind,
    read_file: ReadFile<'a>,
}

/// Parse `line` (what follows the flag, e.g. `a.b=c,d=e`) into `dest`, over what it already
/// holds, as Helm's `ParseInto` does for each `--set` flag in turn.
pub fn parse_into(
    line: &str,
    kind: Kind,
    dest: &mut Map<String, Value>,
    read_file: ReadFile<'_>,
) -> Res<()> {
    let mut p = Parser {
        chars: line.chars().collect(),
        at: 0,
        kind,
        read_file,
    };
    while p.at < p.chars.len() {
        p.key(dest, 0)?;
    }
    Ok(())
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    /// Characters up to (not including) one of `stop`, `\` escaping the next one; the stop
    /// character found (consumed), or `None` at the end.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.at += 1;
            if stop.contains(&c) {
                return (out, Some(c));
            }
            if c == '\\' {
                match self.peek() {
                    Some(n) => {
                        self.at += 1;
                        out.push(n);
                    }
                    None => return (out, None),
                }
            } else {
                out.push(c);
            }
        }
        (out, None)
    }

    fn key(&mut self, data: &mut Map<String, Value>, depth: usize) -> Res<()> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        check_key(&k)?;
        match last {
            None if k.is_empty() => Ok(()),
            None => err(format!("key `{}` has no value", k.escape_debug())),
            Some(',') => err(format!(
                "key `{}` has no value (cannot end with ,)",
                k.escape_debug()
            )),
            Some('=') => {
                let v = self.value()?;
                set(data, &k, v);
                Ok(())
            }
            Some('.') => {
                if depth + 1 > MAX_NAME_DEPTH {
                    return err(format!(
                        "the name is nested deeper than {MAX_NAME_DEPTH} levels"
                    ));
                }
                let mut inner = match data.remove(&k) {
                    None => Map::new(),
                    Some(Value::Object(m)) => m,
                    Some(other) => {
                        return err(format!(
                            "`{}` is a {}, not a map",
                            k.escape_debug(),
                            crate::kind(&other)
                        ));
                    }
                };
                let r = self.key(&mut inner, depth + 1);
                if r.is_ok() && inner.is_empty() {
                    return err(format!("key map `{}` has no value", k.escape_debug()));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Object(inner));
                }
                r
            }
            Some('[') => {
                let i = self.index()?;
                let list = match data.remove(&k) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a,
                    Some(other) => {
                        return err(format!(
                            "`{}` is a {}, not a list",
                            k.escape_debug(),
                            crate::kind(&other)
                        ));
                    }
                };
                let list = self.list_item(list, i, depth)?;
                set(data, &k, Value::Array(list));
                Ok(())
            }
            Some(_) => unreachable!("stop characters only"),
        }
    }

    fn index(&mut self) -> Res<usize> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return err(format!("index `[{}` is not closed", v.escape_debug()));
        }
        let i: i64 = v
            .parse()
            .map_err(|_| StrvalsError(format!("index `{}` is not a number", v.escape_debug())))?;
        if i < 0 {
            return err(format!("negative index {i} not allowed"));
        }
        let i = i as usize;
        if i > MAX_INDEX {
            return err(format!(
                "index {i} is greater than the largest supported, {MAX_INDEX}"
            ));
        }
        Ok(i)
    }

    fn list_item(&mut self, mut list: Vec<Value>, i: usize, depth: usize) -> Res<Vec<Value>> {
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return err(format!(
                "unexpected `{}` after a list index",
                k.escape_debug()
            ));
        }
        let v = match last {
            None => return err("a list index has no value"),
            Some('=') => self.value()?,
            Some('[') => {
                let next = self.index()?;
                let inner = match list.get_mut(i).map(std::mem::take) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                Value::Array(self.list_item(inner, next, depth)?)
            }
            Some('.') => {
                let mut inner = match list.get_mut(i).map(std::mem::take) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                self.key(&mut inner, depth)?;
                Value::Object(inner)
            }
            Some(_) => unreachable!("stop characters only"),
        };
        if list.len() <= i {
            list.resize(i + 1, Value::Null);
        }
        list[i] = v;
        Ok(list)
    }

    /// The value after `=`: a JSON document (`--set-json`), a `{a,b}` list, or a scalar up
    /// to the next `,`.
    fn value(&mut self) -> Res<Value> {
        if self.kind == Kind::Json {
            return self.json_value();
        }
        if self.peek() == Some('{') {
            self.at += 1;
            let mut list = Vec::new();
            loop {
                let (v, last) = self.until(&[',', '}']);
                match last {
                    None => return err("a list must end with `}`"),
                    Some('}') => {
                        list.push(self.scalar(&v)?);
                        if self.peek() == Some(',') {
                            self.at += 1;
                        }
                        return Ok(Value::Array(list));
                    }
                    _ => list.push(self.scalar(&v)?),
                }
            }
        }
        let (v, _) = self.until(&[',']);
        self.scalar(&v)
    }

    fn scalar(&self, v: &str) -> Res<Value> {
        Ok(match self.kind {
            Kind::Typed => typed(v),
            Kind::String => Value::String(v.to_string()),
            Kind::File => Value::String((self.read_file)(v).map_err(StrvalsError)?),
            Kind::Json => unreachable!("JSON values are read whole"),
        })
    }

    fn json_value(&mut self) -> Res<Value> {
        // Blanks, then the end or a comma: an empty value, which is null.
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
        match self.peek() {
            None => return Ok(Value::Null),
            Some(',') => {
                self.at += 1;
                return Ok(Value::Null);
            }
            _ => {}
        }
        let rest: String = self.chars[self.at..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        let v = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return err(format!("the value is not JSON: {e}")),
            None => Value::Null,
        };
        let used = rest[..stream.byte_offset()].chars().count();
        self.at += used;
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
        if self.peek() == Some(',') {
            self.at += 1;
        }
        Ok(v)
    }
}

/// Keys are text without control characters (they become YAML keys of `values.yaml`).
fn check_key(k: &str) -> Res<()> {
    if k.chars().any(char::is_control) {
        return err(format!(
            "key `{}` has a control character",
            k.escape_debug()
        ));
    }
    Ok(())
}

/// An empty key sets nothing (as Helm).
fn set(data: &mut Map<String, Value>, k: &str, v: Value) {
    if !k.is_empty() {
        data.insert(k.to_string(), v);
    }
}

/// A `--set` value as Helm types it: `true`/`false`/`null` in any case, `0`, and integers
/// that fit 64 bits and do not start with `0`; anything else is a string.
pub fn typed(v: &str) -> Value {
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if v == "0" {
        return Value::from(0);
    }
    if !v.starts_with('0')
        && let Ok(i) = v.parse::<i64>()
    {
        return Value::from(i);
    }
    Value::String(v.to_string())
}

/// Apply `over` (what the `--set` flags gave) to `base` as Helm does: maps merge key by
/// key, any other value replaces, and `null` removes the key.
pub fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (_, Value::Null) => {
                base.remove(&k);
            }
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: &str, kind: Kind) -> Res<Value> {
        let mut m = Map::new();
        parse_into(line, kind, &mut m, &|p| {
            if p == "missing" {
                Err("no such file".into())
            } else {
                Ok(format!("<{p}>"))
            }
        })?;
        Ok(Value::Object(m))
    }

    #[test]
    fn values_are_typed_as_helm_types_them() {
        for (line, want) in [
            ("a=1.50", json!({"a": "1.50"})),
            ("a=v1.0", json!({"a": "v1.0"})),
            ("a=0123", json!({"a": "0123"})),
            ("a=1e3", json!({"a": "1e3"})),
            ("a=10", json!({"a": 10})),
            ("a=-5", json!({"a": -5})),
            ("a=0", json!({"a": 0})),
            (
                "a=TRUE,b=False,c=Null",
                json!({"a": true, "b": false, "c": null}),
            ),
            ("a=9223372036854775808", json!({"a": "9223372036854775808"})),
            ("a=", json!({"a": ""})),
            ("a=b=c", json!({"a": "b=c"})),
        ] {
            assert_eq!(parse(line, Kind::Typed).unwrap(), want, "{line}");
        }
        assert_eq!(
            parse("a=1,b=true", Kind::String).unwrap(),
            json!({"a": "1", "b": "true"})
        );
    }

    #[test]
    fn names_indices_lists_and_escapes() {
        for (line, want) in [
            ("a.b.c=1,a.d=x", json!({"a": {"b": {"c": 1}, "d": "x"}})),
            ("a[1]=x", json!({"a": [null, "x"]})),
            ("a[0].b=1,a[0].c=2", json!({"a": [{"b": 1, "c": 2}]})),
            ("a[0][1]=x", json!({"a": [[null, "x"]]})),
            ("a={x,1,true}", json!({"a": ["x", 1, true]})),
            ("a={x},b=y", json!({"a": ["x"], "b": "y"})),
            ("a\\.b=c", json!({"a.b": "c"})),
            ("a=b\\,c", json!({"a": "b,c"})),
            (
                "nodeSelector.nvidia\\.com/gpu\\.present=true",
                json!({"nodeSelector": {"nvidia.com/gpu.present": true}}),
            ),
        ] {
            assert_eq!(parse(line, Kind::Typed).unwrap(), want, "{line}");
        }
    }

    #[test]
    fn json_and_file_values() {
        assert_eq!(
            parse(r#"a={"b":[1,"x",null]},c=[2] ,d="s""#, Kind::Json).unwrap(),
            json!({"a": {"b": [1, "x", null]}, "c": [2], "d": "s"})
        );
        assert_eq!(parse("a=", Kind::Json).unwrap(), json!({"a": null}));
        assert!(parse("a={nope", Kind::Json).is_err());
        assert_eq!(
            parse("a.b=cert.pem,c=x", Kind::File).unwrap(),
            json!({"a": {"b": "<cert.pem>"}, "c": "<x>"})
        );
        assert_eq!(
            parse("a=missing", Kind::File).unwrap_err().0,
            "no such file"
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        for (line, want) in [
            ("a", "key `a` has no value"),
            ("a,b=1", "cannot end with ,"),
            ("a[x]=1", "index `x` is not a number"),
            ("a[-1]=1", "negative index"),
            ("a[99999999]=1", "greater than the largest supported"),
            ("a[0]x=1", "unexpected `x` after a list index"),
            ("a={x,y", "a list must end with `}`"),
            ("a[1", "is not closed"),
            ("a\u{7}b=1", "control character"),
        ] {
            let e = parse(line, Kind::Typed).unwrap_err().0;
            assert!(e.contains(want), "{line}: {e}");
        }
        let deep = format!("{}=1", vec!["a"; 40].join("."));
        assert!(
            parse(&deep, Kind::Typed)
                .unwrap_err()
                .0
                .contains("nested deeper")
        );
        let mut m = Map::new();
        parse_into("a=1", Kind::Typed, &mut m, &|_| Ok(String::new())).unwrap();
        let e = parse_into("a.b=1", Kind::Typed, &mut m, &|_| Ok(String::new())).unwrap_err();
        assert!(e.0.contains("`a` is a number, not a map"), "{e}");
    }

    #[test]
    fn merging_replaces_merges_maps_and_null_removes() {
        let mut base = json!({"keep": 1, "drop": 2, "m": {"a": 1, "b": 2}, "l": [1, 2]});
        let over = json!({"drop": null, "m": {"b": 3}, "l": [9], "new": "x"});
        let (Value::Object(b), Value::Object(o)) = (&mut base, over) else {
            unreachable!()
        };
        merge(b, o);
        assert_eq!(
            base,
            json!({"keep": 1, "m": {"a": 1, "b": 3}, "l": [9], "new": "x"})
        );
    }
}
