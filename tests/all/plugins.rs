//! Contract tests for every built plugin: it loads, describes itself, imports nothing but
//! the `host` interface (no WASI), and a bundler renders a minimal component.

use cns_runtime::types::{ChartSource, ComponentInput, Criteria, Scheduling};
use cns_runtime::{Limits, Origin, PluginKind, Runtime};
use std::sync::Arc;

fn runtime() -> Arc<Runtime> {
    Arc::new(Runtime::new(Limits::default(), None, Arc::new(|_: &str, _, _: &str| {})).unwrap())
}

fn all_artifacts() -> Vec<cns_plugin_artifacts::Artifact> {
    cns_plugin_artifacts::require();
    cns_plugin_artifacts::BUILTIN
        .iter()
        .chain(cns_plugin_artifacts::TEST_ONLY)
        .copied()
        .collect()
}

#[test]
fn components_import_only_the_host_interface() {
    let rt = runtime();
    for a in all_artifacts() {
        let p = rt
            .load(a.name, Origin::Memory(a.name.into()), a.bytes)
            .unwrap();
        assert!(
            !p.imports.is_empty(),
            "{}: expected the host import",
            a.name
        );
        for i in &p.imports {
            assert!(
                i == "cns:plugin/host@0.3.0" || i == "cns:plugin/types@0.3.0",
                "{} imports `{i}`: plugins may import only cns:plugin/host",
                a.name
            );
        }
        // An independent look at the raw component: no WASI anywhere in its import names.
        let text = String::from_utf8_lossy(a.bytes);
        assert!(
            !text.contains("wasi:"),
            "{} mentions a wasi: import",
            a.name
        );
        assert!(
            !text.contains("wasi_snapshot_preview1"),
            "{} needs the WASI adapter",
            a.name
        );
    }
}

#[test]
fn every_plugin_describes_itself() {
    let rt = runtime();
    for a in all_artifacts() {
        let p = rt
            .load(a.name, Origin::Memory(a.name.into()), a.bytes)
            .unwrap();
        assert_eq!(p.name, a.name);
        assert_eq!(p.wit_version, "0.3.0");
        // `cnsctl bundle` loads only the built-ins named like its components and deployer
        // (plus `helm`), which relies on this.
        if cns_plugin_artifacts::BUILTIN
            .iter()
            .any(|b| b.name == a.name)
        {
            let own = if a.name == "helm" { "*" } else { a.name };
            assert_eq!(p.serves, [own], "{}", a.name);
        }
        assert!(
            !p.version.is_empty() && !p.description.is_empty() && !p.serves.is_empty(),
            "{p:?}"
        );
    }
}

#[test]
fn every_bundler_renders_a_minimal_component() {
    let rt = runtime();
    let none = Scheduling {
        node_selector: vec![],
        tolerations: vec![],
        node_selector_paths: vec![],
        toleration_paths: vec![],
    };
    for a in cns_plugin_artifacts::require() {
        let p = rt.load(a.name, Origin::Builtin, a.bytes).unwrap();
        if p.kind != PluginKind::Bundler {
            continue;
        }
        let name = if p.serves[0] == "*" {
            "anything"
        } else {
            p.serves[0].as_str()
        };
        let files = p
            .render(&ComponentInput {
                name: name.into(),
                namespace: "ns".into(),
                chart: ChartSource {
                    repository: "https://example.invalid".into(),
                    chart: name.into(),
                    version: "1.0.0".into(),
                },
                values_json: "{}".into(),
                system: none.clone(),
                accelerated: none.clone(),
                criteria: Criteria {
                    service: "eks".into(),
                    accelerator: "h100".into(),
                    os: "ubuntu".into(),
                    intent: "training".into(),
                },
                manifests: vec![],
                dependencies: vec![],
            })
            .unwrap_or_else(|e| panic!("{}: {e}", a.name));
        // WIT 0.3: the bundler returns its values; the host writes values.yaml first.
        let paths: Vec<_> = files.files.iter().map(|f| f.path.as_str()).collect();
        assert!(
            paths[0] == "values.yaml" && paths.contains(&"README.md"),
            "{}: {paths:?}",
            a.name
        );
        assert!(files.values.is_some(), "{}", a.name);
    }
}

#[test]
fn more_concurrent_calls_than_pool_slots_wait_instead_of_failing() {
    let rt = runtime();
    let a = cns_plugin_artifacts::require()
        .iter()
        .find(|a| a.name == "helm")
        .unwrap();
    let p = rt.load(a.name, Origin::Builtin, a.bytes).unwrap();
    let none = Scheduling {
        node_selector: vec![],
        tolerations: vec![],
        node_selector_paths: vec![],
        toleration_paths: vec![],
    };
    let input = ComponentInput {
        name: "x".into(),
        namespace: "ns".into(),
        chart: ChartSource {
            repository: "https://example.invalid".into(),
            chart: "x".into(),
            version: "1.0.0".into(),
        },
        values_json: r#"{"a": 1}"#.into(),
        system: none.clone(),
        accelerated: none,
        criteria: Criteria {
            service: "eks".into(),
            accelerator: "h100".into(),
            os: "ubuntu".into(),
            intent: "training".into(),
        },
        manifests: vec![],
        dependencies: vec![],
    };
    let want = p.render(&input).unwrap();
    let n = 3 * cns_runtime::POOL_SLOTS as usize;
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n).map(|_| s.spawn(|| p.render(&input))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in outs {
        let o = o.unwrap();
        assert_eq!(
            (o.files, o.values),
            (want.files.clone(), want.values.clone())
        );
    }
}

#[test]
fn a_non_component_is_refused_with_its_name() {
    let rt = runtime();
    let err = rt
        .load(
            "junk.wasm",
            Origin::Memory("junk".into()),
            b"\0asm not really",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("plugin `junk.wasm` is not a valid WebAssembly component"),
        "{err}"
    );
}

/// The native backend of the WASM-vs-native benchmark (the same file).
#[path = "../../benches/native.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "shared with the benchmark; only the lists are used here"
)]
mod native;

#[test]
fn the_native_plugin_list_is_the_builtin_list() {
    // The built-in list is written once (host/plugin-artifacts/build.rs); the benchmark's
    // native table must name the same plugins, or WASM and native would compare different sets.
    let mut native: Vec<&str> = native::BUNDLERS
        .iter()
        .map(|(n, _)| *n)
        .chain(native::DEPLOYERS.iter().map(|(n, _)| *n))
        .collect();
    native.sort_unstable();
    let mut builtin: Vec<&str> = cns_plugin_artifacts::BUILTIN
        .iter()
        .map(|a| a.name)
        .collect();
    builtin.sort_unstable();
    assert_eq!(native, builtin);
}

/// The sha256 each built-in carries (computed by the build script, so loading skips hashing)
/// is the hash of its bytes: what `plugin list`, provenance and the trust records show.
#[test]
fn builtin_digests_computed_at_build_time_are_the_bytes_digests() {
    use sha2::{Digest, Sha256};
    let all = cns_plugin_artifacts::require()
        .iter()
        .chain(cns_plugin_artifacts::TEST_ONLY);
    for a in all {
        assert_eq!(a.sha256, hex::encode(Sha256::digest(a.bytes)), "{}", a.name);
    }
}
