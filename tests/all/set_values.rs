//! `--set`, `--set-string`, `--set-json` and `--set-file` as Helm users know them: each line
//! is given to real `helm template` on a tiny chart whose template prints `.Values` as JSON,
//! and to `cns_values::strvals` applied over the same chart defaults; the two must agree.
//! Then the same through `cnsctl bundle` (issue 34, item 3).

use crate::util::{cnsctl, ok, repo_file, tempdir};
use cns_test_support::{describe, require_tool, run};
use cns_values::strvals::{Kind, merge, parse_into};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The chart's own defaults, which a `null` removes and a map merges into.
const DEFAULTS: &str = "keep: 1\ndrop: 2\nmap:\n  a: 1\n  b: 2\nlist: [1, 2]\n";

fn chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), DEFAULTS).unwrap();
    std::fs::write(
        dir.join("templates/values.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  values: {{ toJson .Values | quote }}\n",
    )
    .unwrap();
}

/// What Helm makes of `flag line`: `.Values` after the flag, over the chart defaults.
fn helm_values(helm: &Path, chart: &Path, flag: &str, line: &str) -> Value {
    let o = run(std::process::Command::new(helm)
        .arg("template")
        .arg("probe")
        .arg(chart)
        .arg(flag)
        .arg(line));
    assert!(o.status.success(), "helm {flag} {line}: {}", describe(&o));
    let doc: Value = serde_norway::from_slice(&o.stdout).unwrap();
    serde_json::from_str(doc["data"]["values"].as_str().unwrap()).unwrap()
}

/// What cnsctl makes of it.
fn ours(kind: Kind, line: &str, files: &Path) -> Value {
    let mut tree = Map::new();
    let read = |p: &str| std::fs::read_to_string(files.join(p)).map_err(|e| e.to_string());
    parse_into(line, kind, &mut tree, &read).unwrap();
    let Value::Object(mut base) = serde_norway::from_str::<Value>(DEFAULTS).unwrap() else {
        unreachable!()
    };
    merge(&mut base, tree);
    Value::Object(base)
}

#[test]
fn set_flags_agree_with_helm() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let tmp = tempdir();
    let dir = tmp.path().join("probe");
    chart(&dir);
    std::fs::write(tmp.path().join("cert.pem"), "-----BEGIN X-----\nabc, def\n").unwrap();
    let cases: &[(Kind, &str)] = &[
        (Kind::Typed, "v=1.50"),
        (Kind::Typed, "v=v1.0"),
        (Kind::Typed, "v=0123"),
        (Kind::Typed, "v=1e3"),
        (Kind::Typed, "v=10"),
        (Kind::Typed, "v=-5"),
        (Kind::Typed, "v=0"),
        (Kind::Typed, "v=TRUE,w=False"),
        (Kind::Typed, "v=9223372036854775808"),
        (Kind::Typed, "v="),
        (Kind::Typed, "v=b=c"),
        (Kind::Typed, "v=a b c"),
        (Kind::Typed, "drop=null"),
        (Kind::Typed, "map.b=null,map.c=3"),
        (Kind::Typed, "list[1]=x"),
        (Kind::Typed, "a.b[0].c=x,a.b[0].d=y"),
        (Kind::Typed, "a[0][1]=x"),
        (Kind::Typed, "v={x,1,true}"),
        (Kind::Typed, "a\\.b=c"),
        (Kind::Typed, "v=b\\,c"),
        (Kind::Typed, "nodeSelector.nvidia\\.com/gpu\\.present=true"),
        (Kind::String, "v=1,w=true,x=null"),
        (Kind::String, "v={1,2}"),
        (Kind::Json, "v={\"b\":[1,\"x\",null]}"),
        (Kind::Json, "v=[1,2],w=\"s\""),
        (Kind::Json, "drop="),
        (Kind::File, "v=cert.pem"),
    ];
    for (kind, line) in cases {
        let helm_line = if *kind == Kind::File {
            line.replace(
                "cert.pem",
                &tmp.path().join("cert.pem").display().to_string(),
            )
        } else {
            line.to_string()
        };
        let want = helm_values(&helm, &dir, kind.flag(), &helm_line);
        assert_eq!(
            ours(*kind, line, tmp.path()),
            want,
            "{} {line}",
            kind.flag()
        );
    }
}

/// Through `cnsctl bundle`: a version stays the string it was typed as (`1.50` was the
/// number 1.5), JSON and string flags reach values.yaml, `null` removes a chart value.
#[test]
fn bundle_values_follow_helm_typing() {
    let tmp = tempdir();
    let t = tmp.path();
    let o = run(cnsctl(t).current_dir(t).args([
        "bundle",
        "--output",
        "b",
        "--set",
        "gpuoperator:driver.version=1.50,driver.upgradePolicy.maxParallelUpgrades=2",
        "--set-string",
        "gpu-operator:dcgmExporter.config.name=0123",
        "--set-json",
        r#"gpu-operator:daemonsets.labels={"team":"ml"}"#,
        "--set",
        "cert-manager:replicaCount=null",
    ]));
    ok(&o);
    let v: Value = serde_norway::from_str(
        &std::fs::read_to_string(t.join("b/gpu-operator/values.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["driver"]["version"], json!("1.50"));
    assert_eq!(
        v["driver"]["upgradePolicy"]["maxParallelUpgrades"],
        json!(2)
    );
    assert_eq!(v["dcgmExporter"]["config"]["name"], json!("0123"));
    assert_eq!(v["daemonsets"]["labels"], json!({"team": "ml"}));
    let cm: Value = serde_norway::from_str(
        &std::fs::read_to_string(t.join("b/cert-manager/values.yaml")).unwrap(),
    )
    .unwrap();
    assert!(cm.get("replicaCount").is_none(), "{cm}");
    // A malformed line is refused naming the flag, before anything is written.
    let o = run(cnsctl(t).current_dir(t).args([
        "bundle",
        "--output",
        "c",
        "--set-json",
        "gpuoperator:a={nope",
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("invalid --set-json value `gpuoperator:a={nope`"),
        "{}",
        describe(&o)
    );
    assert!(!t.join("c").exists());
}
