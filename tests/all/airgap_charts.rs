//! Charts in the air gap (issue 38, item 4): `mirror` copies a classic Helm repository's
//! chart into the mirror as an OCI chart (archive fetched, checked against the digest the
//! index lists, pushed with Helm's media types), real `helm pull oci://…` and `helm
//! template` read it back, and `bundle --registry-mirror` installs the chart from the
//! mirror. The repository is made by real `helm package` and `helm repo index` from the
//! reference charts and served on 127.0.0.1.

use crate::chart_digests::classic_repository;
use crate::util::{cnsctl, ok, repo_file, tempdir};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, require_tool, run};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

fn cns(t: &Path, args: &[&str]) -> Output {
    run(cnsctl(&t.join("cache")).current_dir(t).args(args))
}

fn recipe(t: &Path, url: &str, version: &str) {
    // A component no registry entry knows: it has no image data, so the mirror copies the
    // chart alone (no upstream image registry is reachable here).
    std::fs::write(
        t.join("r.yaml"),
        format!(
            "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: my-operator\n  chart: gpu-operator\n  namespace: gpu-operator\n  source: {url}\n  version: {version}\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_classic_repository_chart_is_mirrored_as_an_oci_chart_and_bundles_install_from_it() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let repo = t.join("repo");
    let (served, url) = classic_repository(
        &helm,
        &repo,
        &[("gpu-operator", "v26.7.0"), ("gpu-operator", "v26.7.1")],
    );
    let archive = std::fs::read(repo.join("gpu-operator-v26.7.0.tgz")).unwrap();
    let mirror = format!("oci://{}/m", reg.addr);

    recipe(t, &url, "v26.7.0");
    let o = cns(
        t,
        &[
            "mirror",
            "-r",
            "r.yaml",
            "--to",
            &mirror,
            "--plain-http",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    crate::util::conforms("mirror", &report);
    let copies = report["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{report}");
    assert_eq!(
        copies[0]["to"],
        format!("oci://{}/m/charts/gpu-operator:v26.7.0", reg.addr)
    );
    assert_eq!(report["skipped"], serde_json::json!([]));

    // Real Helm reads it back from the mirror: the same archive, and it renders.
    let pulled = t.join("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    let o = run(Command::new(&helm)
        .args([
            "pull",
            &format!("{mirror}/charts/gpu-operator"),
            "--version",
            "v26.7.0",
        ])
        .args(["--plain-http", "--destination"])
        .arg(&pulled));
    assert!(o.status.success(), "{}", describe(&o));
    let got = std::fs::read(pulled.join("gpu-operator-v26.7.0.tgz")).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&got)),
        hex::encode(Sha256::digest(&archive))
    );
    let o = run(Command::new(&helm)
        .args(["show", "chart"])
        .arg(pulled.join("gpu-operator-v26.7.0.tgz")));
    assert!(ok(&o).contains("name: gpu-operator"), "{}", describe(&o));
    let o = run(Command::new(&helm)
        .args(["template", "gpu-operator"])
        .arg(pulled.join("gpu-operator-v26.7.0.tgz"))
        .args(["--namespace", "gpu-operator", "--kube-version", "1.32.0"]));
    assert!(
        ok(&o).contains("kind: ClusterPolicy") || o.stdout.len() > 1000,
        "{}",
        describe(&o)
    );

    // A bundle for the mirror installs the chart from it.
    ok(&cns(
        t,
        &[
            "bundle",
            "-r",
            "r.yaml",
            "--registry-mirror",
            &mirror,
            "--output",
            "b",
        ],
    ));
    let install = std::fs::read_to_string(t.join("b/my-operator/scripts/install.sh")).unwrap();
    assert!(install.contains(&format!("{mirror}/charts")), "{install}");

    // An archive that does not hash to what the index lists is refused; nothing is pushed.
    let bad = repo.join("gpu-operator-v26.7.1.tgz");
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes.push(0);
    std::fs::write(&bad, bytes).unwrap();
    recipe(t, &url, "v26.7.1");
    let o = cns(
        t,
        &["mirror", "-r", "r.yaml", "--to", &mirror, "--plain-http"],
    );
    // A check that failed: exit 1, as for an image whose digest does not match.
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("gpu-operator-v26.7.1.tgz: digest mismatch"),
        "{err}"
    );
    let client = crate::util::registry_client();
    let tag = cns_oci::OciRef::parse(&format!("{mirror}/charts/gpu-operator:v26.7.1")).unwrap();
    assert!(client.fetch_manifest(&tag).unwrap().is_none());
    drop(served);
}
