//! Import circles between the module files of a crate: a file's edges are the `crate::…`,
//! `super::…` and `self::…` paths it names outside its `#[cfg(test)]` part (`use` statements
//! with brace groups expanded, and paths written inline), each resolved to the module file
//! that defines the longest matching prefix; `mod x;` is not an edge. A circle is a strongly
//! connected set of two or more files. The same analysis as `shared/tools/modcycles.py`,
//! so the workspace's test and the stop hook agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Folders never searched for crates.
const SKIP: &[&str] = &[
    "target",
    "tests",
    "benches",
    "fixtures",
    "bundles-golden",
    "node_modules",
];

/// What [`scan`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Module files read (those inside a crate).
    pub files: usize,
    /// Each circle's files, sorted, relative to the root.
    pub circles: Vec<Vec<PathBuf>>,
}

/// Every circle among the Rust files under `root`.
pub fn scan(root: &Path) -> std::io::Result<Report> {
    let mut files = Vec::new();
    walk(root, &mut files)?;
    files.sort();
    let mut report = Report::default();
    // Crate root directory → module path → file.
    let mut crates: BTreeMap<PathBuf, BTreeMap<Vec<String>, PathBuf>> = BTreeMap::new();
    for f in files {
        if let Some(r) = crate_root(root, &f) {
            let m = module_of(&f, &r);
            crates.entry(r).or_default().insert(m, f);
            report.files += 1;
        }
    }
    for mods in crates.values() {
        let mut edges: BTreeMap<&PathBuf, BTreeSet<&PathBuf>> = BTreeMap::new();
        for (module, file) in mods {
            let src = std::fs::read_to_string(file)?;
            let e = edges.entry(file).or_default();
            for path in paths(&code(&src)) {
                if let Some(t) = resolve(module, &path, mods)
                    && t != file
                {
                    e.insert(t);
                }
            }
        }
        for comp in strongly_connected(&edges) {
            let mut c: Vec<PathBuf> = comp
                .iter()
                .map(|p| p.strip_prefix(root).unwrap_or(p).to_path_buf())
                .collect();
            c.sort();
            report.circles.push(c);
        }
    }
    Ok(report)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !name.starts_with('.') && !SKIP.contains(&name.as_ref()) {
                walk(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The nearest folder at or above `file`'s that holds a `lib.rs` or `main.rs`.
fn crate_root(root: &Path, file: &Path) -> Option<PathBuf> {
    let mut d = file.parent()?;
    while d.starts_with(root) {
        if d.join("lib.rs").exists() || d.join("main.rs").exists() {
            return Some(d.to_path_buf());
        }
        d = d.parent()?;
    }
    None
}

fn module_of(file: &Path, crate_root: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(crate_root)
        .unwrap_or(file)
        .with_extension("");
    let mut segs: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segs
        .last()
        .is_some_and(|l| ["mod", "lib", "main"].contains(&l.as_str()))
    {
        segs.pop();
    }
    segs
}

/// The text before `#[cfg(test)]`, without comments.
fn code(src: &str) -> String {
    let src = src.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` starts at byte `i` of `s` as a whole word.
fn word_at(s: &str, i: usize, word: &str) -> bool {
    s[i..].starts_with(word)
        && !s[..i].chars().next_back().is_some_and(is_ident)
        && !s[i + word.len()..].chars().next().is_some_and(is_ident)
}

/// The paths (as segments) that start with `crate`, `super` or `self`: those of `use`
/// statements expanded, and every such path written inline with at least one `::` segment.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("use") {
        if !word_at(code, i, "use") {
            continue;
        }
        let tail = code[i + 3..].trim_start();
        if !["crate::", "super::", "self::"]
            .iter()
            .any(|p| tail.starts_with(p))
        {
            continue;
        }
        if let Some(end) = tail.find(';') {
            for p in expand(&tail[..end]) {
                out.push(
                    p.split("::")
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                );
            }
        }
    }
    for start in ["crate", "super", "self"] {
        for (i, _) in code.match_indices(start) {
            if !word_at(code, i, start) {
                continue;
            }
            let mut segs = vec![start.to_string()];
            let mut rest = &code[i + start.len()..];
            while let Some(r) = rest.strip_prefix("::") {
                let n = r.find(|c: char| !is_ident(c)).unwrap_or(r.len());
                if n == 0 || !r.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    break;
                }
                segs.push(r[..n].to_string());
                rest = &r[n..];
            }
            if segs.len() > 1 {
                out.push(segs);
            }
        }
    }
    out
}

/// `a::{b, c::{d as e}}` → `a::b`, `a::c::d` (aliases and whitespace dropped).
fn expand(tree: &str) -> Vec<String> {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut joined = String::new();
    let mut i = 0;
    while i < words.len() {
        if words[i] == "as" && i + 1 < words.len() {
            // `x as y,` or `x as y}`: keep what follows the alias name.
            let after = words[i + 1].trim_start_matches(is_ident);
            joined.push_str(after);
            i += 2;
            continue;
        }
        joined.push_str(words[i]);
        i += 1;
    }
    let tree = joined;
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let mut depth = 0;
    let mut close = None;
    for (i, c) in tree.char_indices().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![tree];
    };
    let (head, body, tail) = (&tree[..open], &tree[open + 1..close], &tree[close + 1..]);
    let mut parts = Vec::new();
    let (mut d, mut cur) = (0, String::new());
    for c in body.chars() {
        match c {
            ',' if d == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            '{' => d += 1,
            '}' => d -= 1,
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{head}{p}{tail}")))
        .collect()
}

/// The file defining the longest prefix of `path` (taken from `module`'s point of view).
fn resolve<'m>(
    module: &[String],
    path: &[String],
    mods: &'m BTreeMap<Vec<String>, PathBuf>,
) -> Option<&'m PathBuf> {
    let mut segs: &[String] = path;
    let mut base: Vec<String> = module.to_vec();
    if segs.first().is_some_and(|s| s == "crate") {
        base.clear();
        segs = &segs[1..];
    } else {
        while let Some(s) = segs.first().filter(|s| *s == "super" || *s == "self") {
            if s == "super" {
                base.pop();
            }
            segs = &segs[1..];
        }
    }
    base.extend(segs.iter().cloned());
    (0..=base.len()).rev().find_map(|n| mods.get(&base[..n]))
}

/// Tarjan's strongly connected components of two or more nodes.
fn strongly_connected<'a>(
    edges: &BTreeMap<&'a PathBuf, BTreeSet<&'a PathBuf>>,
) -> Vec<Vec<&'a PathBuf>> {
    struct State<'a> {
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<&'a PathBuf>>,
    }
    fn visit<'a>(
        v: &'a PathBuf,
        edges: &BTreeMap<&'a PathBuf, BTreeSet<&'a PathBuf>>,
        st: &mut State<'a>,
    ) {
        let n = st.index.len();
        st.index.insert(v, n);
        st.low.insert(v, n);
        st.stack.push(v);
        st.on.insert(v);
        for &w in edges.get(v).into_iter().flatten() {
            if !st.index.contains_key(w) {
                visit(w, edges, st);
                let lw = st.low[w];
                let lv = st.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if st.on.contains(w) {
                let iw = st.index[w];
                let lv = st.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                st.out.push(comp);
            }
        }
    }
    let mut st = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in edges.keys() {
        if !st.index.contains_key(v) {
            visit(v, edges, &mut st);
        }
    }
    st.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        d
    }

    #[test]
    fn braces_expand() {
        assert_eq!(
            expand("crate::{a, b::{c, d as e}, f as g}"),
            ["crate::a", "crate::b::c", "crate::b::d", "crate::f"]
        );
        assert_eq!(expand("super::x as y"), ["super::x"]);
    }

    #[test]
    fn finds_use_inline_and_super_circles() {
        let d = tree(&[
            ("c/src/lib.rs", "mod a;\nmod b;\nmod x;\n"),
            ("c/src/a.rs", "use crate::{b::Thing, x};\n"),
            ("c/src/b.rs", "fn f() { crate::a::g() }\n"),
            ("c/src/x/mod.rs", "mod y;\n"),
            ("c/src/x/y.rs", "use super::super::x::Z;\n"),
        ]);
        let got = scan(d.path()).unwrap();
        assert_eq!(got.files, 5);
        assert_eq!(
            got.circles,
            [vec![
                PathBuf::from("c/src/a.rs"),
                PathBuf::from("c/src/b.rs")
            ]],
            "x ↔ y only through `mod y;`, which is no edge"
        );
    }

    #[test]
    fn tests_comments_and_mod_lines_are_not_edges() {
        let d = tree(&[
            ("c/src/main.rs", "mod a;\nmod b;\nuse crate::a::A;\n"),
            (
                "c/src/a.rs",
                "// use crate::b::B;\n/* crate::b::x() */\n#[cfg(test)]\nmod t { use crate::b::B; }\n",
            ),
            (
                "c/src/b.rs",
                "use crate::a::A;\nlet s = \"supercrate::a\";\n",
            ),
        ]);
        assert!(scan(d.path()).unwrap().circles.is_empty());
    }

    #[test]
    fn a_file_importing_its_own_module_is_no_circle() {
        let d = tree(&[
            ("c/src/lib.rs", "mod a;\n"),
            (
                "c/src/a.rs",
                "use self::inner::X;\nmod inner {}\nfn f() { crate::a::f() }\n",
            ),
        ]);
        assert!(scan(d.path()).unwrap().circles.is_empty());
    }
}
