//! The recipe data embedded in the binary, and the JSON twins the build script wrote of its
//! YAML documents (read with serde_json, which is faster than serde_norway on the same tree).

use include_dir::{Dir, include_dir};

pub(crate) static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../recipes");

include!(concat!(env!("OUT_DIR"), "/twins.rs"));

/// The JSON twin the build script wrote of the embedded YAML document at `path`, if `text`
/// is exactly that document (the embedded store's text, or a file with the same bytes): the
/// same tree, read with serde_json rather than serde_norway. Anything else gets `None` and
/// is parsed as YAML.
pub(crate) fn json_twin(path: &str, text: &str) -> Option<&'static str> {
    let i = JSON_TWINS.binary_search_by(|(p, _)| (*p).cmp(path)).ok()?;
    let embedded = EMBEDDED.get_file(path)?.contents();
    (embedded == text.as_bytes()).then_some(JSON_TWINS[i].1)
}
