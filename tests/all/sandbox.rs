//! The hostile-plugin corpus: every misbehaviour is contained with a clear, typed error,
//! the host stays usable, and (through the CLI) nothing is written.

use crate::util::{cnsctl, tempdir};
use cns_runtime::types::{ChartSource, ComponentInput, Criteria, Scheduling};
use cns_runtime::{Error, Limits, Origin, Runtime};
use cns_test_support::{describe, run};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn input(name: &str) -> ComponentInput {
    let none = Scheduling {
        node_selector: vec![],
        tolerations: vec![],
        node_selector_paths: vec![],
        toleration_paths: vec![],
    };
    ComponentInput {
        name: name.into(),
        namespace: name.into(),
        chart: ChartSource {
            repository: "https://example.invalid".into(),
            chart: name.into(),
            version: "1.0.0".into(),
        },
        values_json: "{}".into(),
        system: none.clone(),
        accelerated: none,
        criteria: Criteria {
            service: "any".into(),
            accelerator: "any".into(),
            os: "any".into(),
            intent: "any".into(),
        },
        manifests: vec![],
        dependencies: vec![],
    }
}

fn runtime() -> Arc<Runtime> {
    let limits = Limits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_millis(
            std::env::var("T")
                .map(|t| t.parse().unwrap())
                .unwrap_or(2000),
        ),
        max_output_bytes: 16 << 20,
        max_files: 5_000,
        ..Limits::default()
    };
    Arc::new(Runtime::new(limits, None, Arc::new(|_: &str, _, _: &str| {})).unwrap())
}

#[test]
fn hostile_corpus_is_contained() {
    let rt = runtime();
    let bytes = cns_plugin_artifacts::test_plugin("hostile");
    let plugin = rt
        .load("hostile", Origin::Memory("hostile".into()), bytes)
        .unwrap();
    type Check = fn(&Error) -> bool;
    let cases: &[(&str, Check, &str)] = &[
        (
            "loop",
            |e| matches!(e, Error::Timeout { .. }),
            "did not finish within",
        ),
        (
            "memory-bomb",
            |e| matches!(e, Error::MemoryLimit { limit_mib: 64, .. }),
            "past the 64 MiB limit",
        ),
        (
            "huge-output",
            |e| matches!(e, Error::BadOutput { .. }),
            "more than the limit of 16777216 bytes",
        ),
        (
            "many-files",
            |e| matches!(e, Error::BadOutput { .. }),
            "20000 files, more than the limit of 5000",
        ),
        (
            "dotdot-path",
            |e| matches!(e, Error::BadOutput { .. }),
            "`.` or `..` segment (path traversal): `../../escaped.txt`",
        ),
        (
            "absolute-path",
            |e| matches!(e, Error::BadOutput { .. }),
            "absolute path: `/tmp/cns-hostile-absolute.txt`",
        ),
        (
            "duplicate-path",
            |e| matches!(e, Error::BadOutput { .. }),
            "duplicate path `a.yaml`",
        ),
        (
            "empty-segment-path",
            |e| matches!(e, Error::BadOutput { .. }),
            "empty path segment: `manifests//x.yaml`",
        ),
        (
            "backslash-path",
            |e| matches!(e, Error::BadOutput { .. }),
            "backslash in path",
        ),
        (
            "panic",
            |e| {
                matches!(
                    e,
                    Error::PluginTrapped {
                        last_log: Some(_),
                        ..
                    }
                )
            },
            "hostile plugin panics on purpose",
        ),
        (
            "bad-utf8-path",
            |e| matches!(e, Error::PluginTrapped { .. }),
            "plugin `hostile` crashed",
        ),
        (
            "stack-overflow",
            |e| matches!(e, Error::PluginTrapped { .. }),
            "plugin `hostile` crashed",
        ),
        (
            "plugin-error",
            |e| matches!(e, Error::PluginReturned { .. }),
            "plugin `hostile` refused the input: hostile plugin refuses this input",
        ),
        // WIT 0.3 values trees: the host writes values.yaml, and reads a tree only if it is
        // one (no shared or cyclic nodes that could expand it), within depth and unique keys.
        (
            "own-values-yaml",
            |e| matches!(e, Error::BadOutput { .. }),
            "`values.yaml` among its files: the host writes it",
        ),
        (
            "shared-values-node",
            |e| matches!(e, Error::BadOutput { .. }),
            "its values are not a values tree: node 1 is named by more than one parent",
        ),
        (
            "cyclic-values",
            |e| matches!(e, Error::BadOutput { .. }),
            "node 1 names node 0, which is not after it",
        ),
        (
            "deep-values",
            |e| matches!(e, Error::BadOutput { .. }),
            "nested deeper than 127 levels",
        ),
        (
            "values-not-a-mapping",
            |e| matches!(e, Error::BadOutput { .. }),
            "its values are not a mapping",
        ),
        (
            "duplicate-values-key",
            |e| matches!(e, Error::BadOutput { .. }),
            "a mapping has the key `a` twice",
        ),
    ];
    for (mode, check, want) in cases {
        let t = Instant::now();
        let err = plugin.render(&input(mode)).expect_err(mode);
        eprintln!("{mode}: {:?}", t.elapsed());
        assert!(check(&err), "{mode}: unexpected error variant {err:?}");
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains(want), "{mode}: `{want}` not in `{chain}`");
        assert!(
            chain.contains("hostile"),
            "{mode}: the error must name the plugin: {chain}"
        );
        assert!(
            t.elapsed() < rt.limits().timeout + Duration::from_secs(10),
            "{mode} took {:?}",
            t.elapsed()
        );
        // The host is still healthy after every failure.
        let ok = plugin.render(&input("well-behaved")).unwrap();
        assert_eq!(ok.files[0].path, "values.yaml");
        assert_eq!(
            String::from_utf8_lossy(&ok.files[0].content),
            "# well-behaved Helm values for chart well-behaved 1.0.0, generated by cnsctl.\nok: true\n"
        );
        assert_eq!(ok.values, Some(serde_json::json!({"ok": true})));
    }
}

#[test]
fn hostile_plugin_through_cli_writes_nothing() {
    let tmp = tempdir();
    let wasm = tmp.path().join("hostile.wasm");
    std::fs::write(&wasm, cns_plugin_artifacts::test_plugin("hostile")).unwrap();
    for mode in ["loop", "dotdot-path", "panic", "memory-bomb"] {
        let recipe = tmp.path().join(format!("{mode}.yaml"));
        std::fs::write(
            &recipe,
            format!(
                "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: cert-manager\n- name: {mode}\n  source: https://example.invalid/charts\n  version: 1.0.0\n"
            ),
        )
        .unwrap();
        let out = tmp.path().join(format!("out-{mode}"));
        let o = run(cnsctl(&tmp.path().join("cache"))
            .args([
                "bundle",
                "--plugin-timeout",
                "1",
                "--plugin-memory",
                "64",
                "--plugin",
            ])
            .arg(&wasm)
            .arg("--recipe")
            .arg(&recipe)
            .arg("--output")
            .arg(&out));
        assert_eq!(o.status.code(), Some(2), "{mode}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("component `{mode}`")) && err.contains("plugin `hostile`"),
            "{mode}: {err}"
        );
        assert!(!out.exists(), "{mode}: output was written");
        assert!(
            !tmp.path().join("escaped.txt").exists()
                && !std::path::Path::new("/tmp/cns-hostile-absolute.txt").exists()
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".cnsctl"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{mode}: staging left behind: {leftovers:?}"
        );
    }
}
