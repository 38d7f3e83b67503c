//! Test-only bundler that misbehaves on purpose, to prove the host contains it.
//!
//! The misbehaviour is chosen by the component name it is asked to render (see [`MODES`]).
//! Never shipped in the `cnsctl` binary; the host's sandbox tests load it.

use cns_plugin_sdk::wit::{self, Member, Values};
use cns_plugin_sdk::{BundleFile, ComponentInput, PluginError, PluginInfo, PluginKind, file};

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
    "own-values-yaml",
    "shared-values-node",
    "cyclic-values",
    "deep-values",
    "values-not-a-mapping",
    "duplicate-values-key",
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

/// Values `{}`.
fn empty() -> Values {
    Values {
        nodes: vec![wit::Value::Mapping(vec![])],
    }
}

fn files(files: Vec<BundleFile>) -> Result<wit::Rendered, PluginError> {
    Ok(wit::Rendered {
        files,
        values: empty(),
    })
}

fn values(nodes: Vec<wit::Value>) -> Result<wit::Rendered, PluginError> {
    Ok(wit::Rendered {
        files: vec![],
        values: Values { nodes },
    })
}

fn member(key: &str, value: u32) -> Member {
    Member {
        key: key.into(),
        value,
    }
}

impl Hostile {
    /// Describe the plugin.
    pub fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            kind: PluginKind::Bundler,
            version: "0.0.0".into(),
            description: "misbehaves on purpose (tests only)".into(),
            serves: MODES.iter().map(|m| m.to_string()).collect(),
        }
    }

    /// Misbehave as `input.name` says, with the WIT record built by hand (so that values
    /// trees the SDK would never send can be sent).
    pub fn render(input: ComponentInput) -> Result<wit::Rendered, PluginError> {
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
            "huge-output" => files(vec![file("big.yaml", vec![b'x'; 24 << 20])]),
            "many-files" => files(
                (0..20_000)
                    .map(|i| file(format!("f{i}.yaml"), "a: 1\n"))
                    .collect(),
            ),
            "dotdot-path" => files(vec![file("../../escaped.txt", "gotcha")]),
            "absolute-path" => files(vec![file("/tmp/cns-hostile-absolute.txt", "gotcha")]),
            "duplicate-path" => files(vec![file("a.yaml", "a: 1\n"), file("a.yaml", "a: 2\n")]),
            "empty-segment-path" => files(vec![file("manifests//x.yaml", "a: 1\n")]),
            "backslash-path" => files(vec![file("..\\..\\x.yaml", "a: 1\n")]),
            "panic" => panic!("hostile plugin panics on purpose"),
            "bad-utf8-path" => files(vec![file(invalid_utf8(), "a: 1\n")]),
            "plugin-error" => Err(PluginError::InvalidInput(
                "hostile plugin refuses this input".into(),
            )),
            "stack-overflow" => files(vec![file("x", recurse(0).to_string())]),
            // WIT 0.3: the host writes values.yaml from the values.
            "own-values-yaml" => files(vec![file("values.yaml", "a: 1\n")]),
            // One node under two keys: 40 levels of it would expand to 2^40 values.
            "shared-values-node" => values(
                (0..40u32)
                    .map(|i| wit::Value::Mapping(vec![member("a", i + 1), member("b", i + 1)]))
                    .chain([wit::Value::Null])
                    .collect(),
            ),
            "cyclic-values" => values(vec![
                wit::Value::Mapping(vec![member("a", 1)]),
                wit::Value::Sequence(vec![0]),
            ]),
            "deep-values" => values(
                (0..10_000u32)
                    .map(|i| wit::Value::Sequence(vec![i + 1]))
                    .chain([wit::Value::Null])
                    .collect(),
            ),
            "values-not-a-mapping" => values(vec![wit::Value::Text("x".into())]),
            "duplicate-values-key" => values(vec![
                wit::Value::Mapping(vec![member("a", 1), member("a", 2)]),
                wit::Value::Null,
                wit::Value::Null,
            ]),
            "well-behaved" => values(vec![
                wit::Value::Mapping(vec![member("ok", 1)]),
                wit::Value::Boolean(true),
            ]),
            other => Err(PluginError::Unsupported(format!("unknown mode `{other}`"))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
const _: () = {
    struct Export;
    impl cns_plugin_sdk::bundler_world::exports::cns::plugin::bundler::Guest for Export {
        fn info() -> PluginInfo {
            Hostile::info()
        }
        fn render(input: ComponentInput) -> Result<wit::Rendered, PluginError> {
            cns_plugin_sdk::install_panic_hook();
            Hostile::render(input)
        }
    }
    cns_plugin_sdk::bundler_world::__export_bundler_world!(Export with_types_in cns_plugin_sdk::bundler_world);
};
