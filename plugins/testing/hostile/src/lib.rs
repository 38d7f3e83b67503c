//! Test-only bundler that misbehaves on purpose, to prove the host contains it.
//!
//! The misbehaviour is chosen by the component name it is asked to render (see [`MODES`]).
//! Never shipped in the `cnsctl` binary; the host's sandbox tests load it.

use cns_plugin_sdk::{
    BundleFile, Bundler, ComponentInput, PluginError, PluginInfo, PluginKind, file,
};

/// Component names this plugin serves, each one a different misbehaviour.
pub const MODES: &[&str] = &[
    "loop",
    "memory-bomb",
    "huge-output",
    "many-files",
    "dotdot-path",
    "absolute-path",
    "duplicate-path",
    "empty-segment-path",
    "backslash-path",
    "panic",
    "bad-utf8-path",
    "plugin-error",
    "stack-overflow",
    "well-behaved",
];

/// The hostile bundler.
pub struct Hostile;

#[allow(
    unsafe_code,
    reason = "producing an invalid UTF-8 string is the point of this test plugin"
)]
fn invalid_utf8() -> String {
    // SAFETY: deliberately not valid UTF-8; the host must reject it when lifting the string.
    unsafe { String::from_utf8_unchecked(vec![b'a', 0xff, 0xfe, b'/', b'x']) }
}

#[allow(
    unconditional_recursion,
    reason = "stack exhaustion is the point of this mode"
)]
fn recurse(n: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + 1
}

impl Bundler for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            kind: PluginKind::Bundler,
            version: "0.0.0".into(),
            description: "misbehaves on purpose (tests only)".into(),
            serves: MODES.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn render(input: ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        match input.name.as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut v: Vec<Vec<u8>> = Vec::new();
                loop {
                    v.push(vec![1u8; 8 << 20]);
                    std::hint::black_box(&v);
                }
            }
            "huge-output" => Ok(vec![file("values.yaml", vec![b'x'; 24 << 20])]),
            "many-files" => Ok((0..20_000)
                .map(|i| file(format!("f{i}.yaml"), "a: 1\n"))
                .collect()),
            "dotdot-path" => Ok(vec![file("../../escaped.txt", "gotcha")]),
            "absolute-path" => Ok(vec![file("/tmp/cns-hostile-absolute.txt", "gotcha")]),
            "duplicate-path" => Ok(vec![
                file("values.yaml", "a: 1\n"),
                file("values.yaml", "a: 2\n"),
            ]),
            "empty-segment-path" => Ok(vec![file("manifests//x.yaml", "a: 1\n")]),
            "backslash-path" => Ok(vec![file("..\\..\\x.yaml", "a: 1\n")]),
            "panic" => panic!("hostile plugin panics on purpose"),
            "bad-utf8-path" => Ok(vec![file(invalid_utf8(), "a: 1\n")]),
            "plugin-error" => Err(PluginError::InvalidInput(
                "hostile plugin refuses this input".into(),
            )),
            "stack-overflow" => Ok(vec![file("x", recurse(0).to_string())]),
            "well-behaved" => Ok(vec![file("values.yaml", "ok: true\n")]),
            other => Err(PluginError::Unsupported(format!("unknown mode `{other}`"))),
        }
    }
}

cns_plugin_sdk::export_bundler!(Hostile);
