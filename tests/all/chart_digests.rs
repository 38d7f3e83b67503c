//! `bundle --resolve-chart-digests` (issue 38, item 5): each chart's digest read where it is
//! served — a classic Helm repository's `index.yaml` (archives made by real `helm package`
//! from the reference charts, indexed by `helm repo index`, served on 127.0.0.1) and an OCI
//! registry (`helm push` into the loopback `docker-registry`) — lands in the SBOM and in the
//! signed SLSA provenance's resolved dependencies.

use crate::util::{cnsctl, fails, ok, repo_file, tempdir};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, require_tool, run};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Child, Command, Output};

fn cns(t: &Path, args: &[&str]) -> Output {
    run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(args)
        .env("CNS_SIGN_PASSWORD", "pw"))
}

/// A static file server on 127.0.0.1 (Python's), stopped when dropped.
pub(crate) struct Served(Child, pub(crate) u16);

impl Served {
    pub(crate) fn dir(dir: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Held by the guard at once, so it is killed and waited for on every path.
        let served = Served(
            Command::new("python3")
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                ])
                .current_dir(dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("python3 -m http.server"),
            port,
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return served;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the file server did not start");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A classic Helm repository in `repo`: each reference chart packaged at each version by
/// `helm package`, indexed by `helm repo index`, served on 127.0.0.1. Returns the server
/// and its URL.
pub(crate) fn classic_repository(
    helm: &Path,
    repo: &Path,
    charts: &[(&str, &str)],
) -> (Served, String) {
    std::fs::create_dir_all(repo).unwrap();
    for (chart, v) in charts {
        let o = run(Command::new(helm)
            .args(["package"])
            .arg(crate::charts::chart_dir(chart))
            .args(["--version", v, "--destination"])
            .arg(repo));
        assert!(o.status.success(), "{}", describe(&o));
    }
    let served = Served::dir(repo);
    let url = format!("http://127.0.0.1:{}", served.1);
    let o = run(Command::new(helm)
        .args(["repo", "index"])
        .arg(repo)
        .args(["--url", &url]));
    assert!(o.status.success(), "{}", describe(&o));
    (served, url)
}

#[test]
fn chart_digests_from_an_index_and_a_registry_reach_the_sbom_and_the_provenance() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let recipe = ok(&cns(
        t,
        &[
            "recipe",
            "--service",
            "eks",
            "--accelerator",
            "h100",
            "--os",
            "ubuntu",
            "--intent",
            "training",
        ],
    ));
    let mut recipe: Value = serde_norway::from_str(&recipe).unwrap();
    let version = |name: &str| -> String {
        recipe["componentRefs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (gpu_v, cm_v) = (version("gpu-operator"), version("cert-manager"));

    // The GPU Operator from a classic repository, cert-manager from an OCI registry.
    let repo = t.join("repo");
    let (served, url) = classic_repository(
        &helm,
        &repo,
        &[("gpu-operator", &gpu_v), ("cert-manager", &cm_v)],
    );
    let archive = std::fs::read(repo.join(format!("gpu-operator-{gpu_v}.tgz"))).unwrap();
    let archive_digest = hex::encode(Sha256::digest(&archive));
    let charts_at = format!("oci://{}/charts", reg.addr);
    let o = run(Command::new(&helm)
        .args(["push"])
        .arg(repo.join(format!("cert-manager-{cm_v}.tgz")))
        .args([&charts_at, "--plain-http"]));
    assert!(o.status.success(), "{}", describe(&o));
    let pushed =
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    let oci_digest = pushed
        .split("Digest: sha256:")
        .nth(1)
        .map(|d| d.trim().chars().take(64).collect::<String>())
        .unwrap_or_else(|| panic!("helm push said no digest: {pushed}"));
    for c in recipe["componentRefs"].as_array_mut().unwrap() {
        match c["name"].as_str().unwrap() {
            "gpu-operator" => c["source"] = url.clone().into(),
            "cert-manager" => c["source"] = charts_at.clone().into(),
            _ => {}
        }
    }
    std::fs::write(
        t.join("recipe.yaml"),
        serde_norway::to_string(&recipe).unwrap(),
    )
    .unwrap();

    // A signed push: the provenance names both digests; the SBOM carries them as hashes.
    ok(&cns(t, &["generate-key-pair"]));
    let bundle = reg.oci("bundles/resolved:v1");
    let common = [
        "bundle",
        "-r",
        "recipe.yaml",
        "-b",
        "gpu-operator,cert-manager",
        "--resolve-chart-digests",
        "--plain-http",
    ];
    let o = cns(t, &[&common[..], &["--output", "local"]].concat());
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("resolved 2 chart digests"),
        "{}",
        describe(&o)
    );
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(t.join("local/sbom.cdx.json")).unwrap()).unwrap();
    let chart = |name: &str| -> Value {
        sbom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["bom-ref"] == format!("chart:{name}"))
            .unwrap()
            .clone()
    };
    assert_eq!(
        chart("gpu-operator")["hashes"][0]["content"],
        archive_digest.as_str()
    );
    assert_eq!(
        chart("cert-manager")["hashes"][0]["content"],
        oci_digest.as_str()
    );
    ok(&cns(
        t,
        &[
            &common[..],
            &["--output", &bundle, "--sign-key", "cosign.key"],
        ]
        .concat(),
    ));
    let o = cns(
        t,
        &[
            "verify",
            &bundle,
            "--key",
            "cosign.pub",
            "--attestation",
            "--plain-http",
        ],
    );
    let p: Value = serde_json::from_str(&ok(&o)).unwrap();
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let dep = |name: &str| {
        deps.iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {p}"))
            .clone()
    };
    let gpu = dep("chart/gpu-operator");
    assert_eq!(gpu["digest"]["sha256"], archive_digest.as_str());
    assert_eq!(gpu["annotations"]["digestOf"], "archive");
    assert_eq!(gpu["uri"], url.as_str());
    let cm = dep("chart/cert-manager");
    assert_eq!(cm["digest"]["sha256"], oci_digest.as_str());
    assert_eq!(cm["annotations"]["digestOf"], "oci-manifest");
    assert_eq!(
        p["buildDefinition"]["externalParameters"]["resolveChartDigests"],
        true
    );

    // A version the index does not list: refused, naming the chart and the index.
    for c in recipe["componentRefs"].as_array_mut().unwrap() {
        if c["name"] == "gpu-operator" {
            c["version"] = "v0.0.1".into();
        }
    }
    std::fs::write(
        t.join("recipe.yaml"),
        serde_norway::to_string(&recipe).unwrap(),
    )
    .unwrap();
    let o = cns(t, &[&common[..], &["--output", "bad"]].concat());
    fails(
        &o,
        2,
        "--resolve-chart-digests: chart gpu-operator v0.0.1 of `gpu-operator`",
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("the index has no version v0.0.1"),
        "{}",
        describe(&o)
    );
    assert!(!t.join("bad").exists());
    drop(served);
}
