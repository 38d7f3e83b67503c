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

/// `kubectl` and `helm` stubs (the deployer tests' recording stub and
/// [`HELM_RENDERS_ITS_FILE`]) in `t/stub-bin`, returned.
fn stubs(t: &Path) -> std::path::PathBuf {
    let bin = t.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["kubectl", "helm"] {
        let p = bin.join(tool);
        std::fs::write(
            &p,
            format!("{}{HELM_RENDERS_ITS_FILE}", crate::deployers::STUB),
        )
        .unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    bin
}

/// Appended to the deployer tests' recording stub ([`crate::deployers::STUB`]):
/// `helm upgrade --install` also needs its chart to be a file (what a vendored bundle
/// installs from) and renders it with the real Helm of `CNS_REAL_HELM`.
const HELM_RENDERS_ITS_FILE: &str = r#"if [ "$(basename "$0")" = helm ] && [ "$1" = upgrade ]; then
  [ -f "$4" ] || { echo "stub helm: chart $4 is not a file" >&2; exit 3; }
  "${CNS_REAL_HELM}" template "$3" "$4" --kube-version 1.32.0 > /dev/null || exit 4
fi
"#;

#[test]
fn vendored_charts_are_in_the_bundle_and_deploy_sh_installs_from_them() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let repo = t.join("repo");
    // The GPU Operator from a classic repository, cert-manager from an OCI registry.
    let (served, url) = classic_repository(
        &helm,
        &repo,
        &[
            ("gpu-operator", "v26.7.0"),
            ("gpu-operator", "v26.7.1"),
            ("cert-manager", "v1.21.1"),
        ],
    );
    let charts_at = format!("oci://{}/charts", reg.addr);
    let o = run(Command::new(&helm)
        .args(["push"])
        .arg(repo.join("cert-manager-v1.21.1.tgz"))
        .args([&charts_at, "--plain-http"]));
    assert!(o.status.success(), "{}", describe(&o));
    let two = |gpu_v: &str| {
        std::fs::write(
            t.join("r.yaml"),
            format!(
                "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: my-operator\n  chart: gpu-operator\n  namespace: gpu-operator\n  source: {url}\n  version: {gpu_v}\n- name: cert-manager\n  chart: cert-manager\n  namespace: cert-manager\n  source: {charts_at}\n  version: v1.21.1\n"
            ),
        )
        .unwrap();
    };
    two("v26.7.0");
    let o = cns(
        t,
        &[
            "bundle",
            "-r",
            "r.yaml",
            "--vendor-charts",
            "--plain-http",
            "--output",
            "b",
        ],
    );
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("vendored 2 chart archives"),
        "{}",
        describe(&o)
    );
    // Nothing is reached from here on: the repository and the registry are gone.
    drop(served);
    drop(reg);
    let b = t.join("b");
    for (component, file) in [
        ("my-operator", "gpu-operator-v26.7.0.tgz"),
        ("cert-manager", "cert-manager-v1.21.1.tgz"),
    ] {
        let served = std::fs::read(repo.join(file)).unwrap();
        let path = format!("{component}/chart/{file}");
        assert_eq!(std::fs::read(b.join(&path)).unwrap(), served, "{path}");
        let digest = hex::encode(Sha256::digest(&served));
        let sums = std::fs::read_to_string(b.join("checksums.txt")).unwrap();
        assert!(sums.contains(&format!("{digest}  {path}\n")), "{sums}");
        let sbom: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.join("sbom.cdx.json")).unwrap()).unwrap();
        let chart = sbom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["bom-ref"] == format!("chart:{component}"))
            .unwrap();
        assert_eq!(chart["hashes"][0]["content"], digest.as_str(), "{chart}");
        let install =
            std::fs::read_to_string(b.join(format!("{component}/scripts/install.sh"))).unwrap();
        assert!(
            install.contains(&format!("CHART=\"${{COMPONENT_DIR}}/\"'chart/{file}'\n"))
                && !install.contains("REPO="),
            "{install}"
        );
    }
    let o = run(Command::new("sha256sum")
        .args(["-c", "--quiet", "checksums.txt"])
        .current_dir(&b));
    assert!(o.status.success(), "{}", describe(&o));

    // deploy.sh against stub kubectl and helm: each chart installed from its file.
    let bin = stubs(t);
    let log = t.join("calls.log");
    let o = run(Command::new("bash")
        .arg(b.join("deploy.sh"))
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("CNS_REAL_HELM", &helm)
        .env("CNS_STUB_LOG", &log));
    assert!(o.status.success(), "{}", describe(&o));
    let log = std::fs::read_to_string(&log).unwrap();
    for (component, file) in [
        ("my-operator", "gpu-operator-v26.7.0.tgz"),
        ("cert-manager", "cert-manager-v1.21.1.tgz"),
    ] {
        let line = format!(
            "helm upgrade --install {component} {}/{component}/chart/{file} --version",
            b.display()
        );
        assert!(log.contains(&line), "{line}\n{log}");
    }
    assert!(!log.contains("--repo") && !log.contains("oci://"), "{log}");

    // Argo CD and Flux install from repositories: refused, naming the flag.
    let o = cns(
        t,
        &[
            "bundle",
            "-r",
            "r.yaml",
            "--vendor-charts",
            "--deployer",
            "flux",
            "--output",
            "f",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--vendor-charts is for --deployer script"),
        "{}",
        describe(&o)
    );
    assert!(!t.join("f").exists());
}

#[test]
fn a_vendored_archive_that_does_not_match_its_index_is_refused_and_nothing_is_written() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let repo = t.join("repo");
    let (served, url) = classic_repository(&helm, &repo, &[("gpu-operator", "v26.7.1")]);
    let bad = repo.join("gpu-operator-v26.7.1.tgz");
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes.push(0);
    std::fs::write(&bad, bytes).unwrap();
    recipe(t, &url, "v26.7.1");
    let o = cns(
        t,
        &["bundle", "-r", "r.yaml", "--vendor-charts", "--output", "b"],
    );
    assert_ne!(o.status.code(), Some(0), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--vendor-charts: chart gpu-operator v26.7.1 of `my-operator`")
            && err.contains("gpu-operator-v26.7.1.tgz: digest mismatch"),
        "{err}"
    );
    assert!(!t.join("b").exists());
    drop(served);
}

/// The ```sh block after `<!-- air-gap walkthrough -->` in README.md.
fn walkthrough() -> String {
    crate::util::sh_block_after("README.md", "<!-- air-gap walkthrough -->")
}

#[test]
fn the_readme_air_gap_walkthrough_runs_as_it_stands() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let (served, url) = classic_repository(
        &helm,
        &t.join("repo"),
        &[("gpu-operator", "v26.7.0"), ("cert-manager", "v1.21.1")],
    );
    // Components no registry entry knows: no image data, so only their charts are mirrored
    // (no upstream image registry is reachable here).
    std::fs::write(
        t.join("recipe.yaml"),
        format!(
            "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: my-certs\n  chart: cert-manager\n  namespace: cert-manager\n  source: {url}\n  version: v1.21.1\n- name: my-operator\n  chart: gpu-operator\n  namespace: gpu-operator\n  source: {url}\n  version: v26.7.0\n  dependencyRefs: [my-certs]\n"
        ),
    )
    .unwrap();
    let script = walkthrough().replace("127.0.0.1:5000", &reg.addr);
    std::fs::write(t.join("walkthrough.sh"), &script).unwrap();
    let bin = stubs(t);
    let cnsctl_dir = std::path::PathBuf::from(env!("CARGO_BIN_EXE_cnsctl"));
    let log = t.join("calls.log");
    let o = run(Command::new("bash")
        .args(["-euo", "pipefail", "walkthrough.sh"])
        .current_dir(t)
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                bin.display(),
                cnsctl_dir.parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("CNS_CACHE_DIR", t.join("cache"))
        .env("CNS_REAL_HELM", &helm)
        .env("CNS_STUB_LOG", &log));
    assert!(
        o.status.success(),
        "{}\nregistry log:\n{}",
        describe(&o),
        reg.log()
    );
    // Deployed in order, each chart from its archive in the pulled bundle.
    let log = std::fs::read_to_string(&log).unwrap();
    let pulled = t.join("gpu-stack");
    let mut last = 0;
    for (component, file) in [
        ("my-certs", "cert-manager-v1.21.1.tgz"),
        ("my-operator", "gpu-operator-v26.7.0.tgz"),
    ] {
        let line = format!(
            "helm upgrade --install {component} {}/{component}/chart/{file} --version",
            pulled.display()
        );
        let at = log.find(&line).unwrap_or_else(|| panic!("{line}\n{log}"));
        assert!(at >= last, "{log}");
        last = at;
        let served = std::fs::read(t.join("repo").join(file)).unwrap();
        assert_eq!(
            std::fs::read(pulled.join(format!("{component}/chart/{file}"))).unwrap(),
            served
        );
    }
    // The bundle names the mirror as each chart's source.
    let info = std::fs::read_to_string(pulled.join("my-operator/scripts/install.sh")).unwrap();
    assert!(!info.contains(&url), "{info}");
    drop(served);
}
