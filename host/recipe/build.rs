//! Rebuild when the embedded recipe data changes (include_dir does not track files itself),
//! and write a JSON twin of each embedded YAML document (`$OUT_DIR/twins.rs`): a process
//! then reads the registry, overlays, examples and values files with serde_json instead of
//! serde_norway (parsing registry.yaml had been 7 % of a warm `cnsctl bundle` process). The
//! runtime uses a twin only when the text it was asked to parse is byte-for-byte the
//! embedded file's.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=../../recipes");
    println!("cargo:rerun-if-changed=../../schemas");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut code = String::from(
        "/// JSON twins of the embedded YAML documents, by path, sorted.\n\
         pub(crate) static JSON_TWINS: &[(&str, &str)] = &[\n",
    );
    for (i, rel) in files.iter().enumerate() {
        let text = std::fs::read_to_string(root.join(rel)).expect("read recipe data");
        // Manifests go to plugins as bytes, and a document that does not parse (or is a
        // stream of several) keeps its YAML path and its error messages.
        let Ok(value) = serde_norway::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let json = out.join(format!("twin-{i}.json"));
        std::fs::write(&json, serde_json::to_string(&value).expect("json")).expect("write twin");
        let _ = writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            json.display().to_string()
        );
    }
    code.push_str("];\n");
    std::fs::write(out.join("twins.rs"), code).expect("write twins.rs");
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read recipes dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "manifests") {
                continue;
            }
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let rel = path.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
