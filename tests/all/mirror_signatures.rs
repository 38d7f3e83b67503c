//! Signatures survive mirroring (issue 38, items 1 and 3): `mirror` copies each image's
//! cosign signature (`.sig`), attestations (`.att`) and referrers tag (with the Sigstore
//! bundle referrers it lists) with it, so `verify` passes at the destination in both formats;
//! `--verify-images KEY` refuses an image whose signature does not verify, before anything of
//! it is copied.

use crate::mirror::{push_image, under};
use crate::util::{cnsctl, ok, registry_client, tempdir};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, run};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn cns(t: &Path, args: &[&str]) -> Output {
    run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(args)
        .env("CNS_SIGN_PASSWORD", "pw"))
}

#[test]
fn signatures_travel_with_mirrored_images_and_unverified_ones_are_refused() {
    let (Some(src), Some(dst)) = (TestRegistry::start(), TestRegistry::start()) else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    ok(&cns(
        t,
        &["generate-key-pair", "--output-key-prefix", "other"],
    ));
    let reg = registry_client();
    // cert-manager's images in the stage, each signed there with cosign.key.
    let list = ok(&cns(t, &["images", "-b", "cert-manager"]));
    let refs: Vec<&str> = list.lines().collect();
    assert!(refs.len() >= 3, "{list}");
    // Every other one in cosign 2's layout, the rest as Sigstore bundle referrers.
    let legacy = |i: usize| i % 2 == 1;
    for (i, r) in refs.iter().enumerate() {
        let at = under(&src.addr, "src", r);
        push_image(&reg, &at, r, 1024, ("amd64", "linux"));
        let format = if legacy(i) { "legacy" } else { "bundle" };
        ok(&cns(
            t,
            &[
                "sign",
                &at.to_string(),
                "--key",
                "cosign.key",
                "--plain-http",
                "--signature-format",
                format,
            ],
        ));
    }
    // The chart, as an earlier mirror converted it into the stage.
    let chart_version = list_chart_version(t);
    let chart = cns_oci::OciRef::parse(&format!(
        "oci://{}/src/charts/cert-manager:{chart_version}",
        src.addr
    ))
    .unwrap();
    push_image(&reg, &chart, "cert-manager-chart", 1024, ("", ""));
    let mirror = |prefix: &str, extra: &[&str]| {
        let to = format!("oci://{}/{prefix}", dst.addr);
        let from = format!("oci://{}/src", src.addr);
        let mut args = vec![
            "mirror",
            "-b",
            "cert-manager",
            "--from",
            &from,
            "--to",
            &to,
            "--plain-http",
            "--source-plain-http",
            "--format",
            "json",
        ];
        args.extend(extra);
        cns(t, &args)
    };
    let o = mirror("m", &["--verify-images", "cosign.pub"]);
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    crate::util::conforms("mirror", &report);
    for c in report["copies"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        if let Some(i) = refs.iter().position(|r| what == format!("image {r}")) {
            let tag = c["digest"].as_str().unwrap().replace(':', "-");
            let want = if legacy(i) { format!("{tag}.sig") } else { tag };
            assert_eq!(c["attached"], serde_json::json!([want]), "{c}");
        }
    }
    // At the destination each signature verifies with the key it was made with, in the
    // format it was made in.
    for (i, r) in refs.iter().enumerate() {
        let at = under(&dst.addr, "m", r);
        let v = crate::sigstore_bundles::verified(t, &at.to_string(), &[]);
        let format = if legacy(i) { "legacy" } else { "bundle" };
        assert_eq!(v["signature"]["format"], format, "{r}: {v}");
    }
    // A source that serves the referrers API (and keeps no referrers tag): the first image
    // signed there, its Sigstore bundle read through the API, copied, and listed at the
    // destination (which has no API) in a referrers tag; it verifies there.
    let front = crate::sigstore_bundles::Front::start(&src.addr);
    for r in &refs {
        let through = under(&front.1, "api", r);
        push_image(&reg, &through, r, 1024, ("amd64", "linux"));
        ok(&cns(
            t,
            &[
                "sign",
                &through.to_string(),
                "--key",
                "cosign.key",
                "--plain-http",
            ],
        ));
    }
    let chart_api = cns_oci::OciRef::parse(&format!(
        "oci://{}/api/charts/cert-manager:{chart_version}",
        front.1
    ))
    .unwrap();
    push_image(&reg, &chart_api, "cert-manager-chart", 1024, ("", ""));
    let o = cns(
        t,
        &[
            "mirror",
            "-b",
            "cert-manager",
            "--from",
            &format!("oci://{}/api", front.1),
            "--to",
            &format!("oci://{}/from-api", dst.addr),
            "--plain-http",
            "--source-plain-http",
            "--format",
            "json",
            "--verify-images",
            "cosign.pub",
        ],
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    for c in report["copies"].as_array().unwrap() {
        if c["what"].as_str().unwrap().starts_with("image ") {
            let tag = c["digest"].as_str().unwrap().replace(':', "-");
            assert_eq!(c["attached"], serde_json::json!([tag]), "{c}");
        }
    }
    let at = under(&dst.addr, "from-api", refs[0]);
    let v = crate::sigstore_bundles::verified(t, &at.to_string(), &[]);
    assert_eq!(v["signature"]["format"], "bundle", "{v}");
    drop(front);

    // A signed cnsctl bundle travels too (`--bundle`), its Sigstore bundle referrers (the
    // signature, the provenance, the SBOM) with it: `pull --verify-key
    // --require-attestation` passes at the destination; one signed by another key is
    // refused with --verify-images.
    ok(&cns(t, &["bundle", "--output", "local"]));
    let signed = format!("oci://{}/bundles/gpu:v1", src.addr);
    ok(&cns(
        t,
        &[
            "push",
            "local",
            &signed,
            "--sign-key",
            "cosign.key",
            "--plain-http",
        ],
    ));
    let o = mirror(
        "with-bundle",
        &["--bundle", &signed, "--verify-images", "cosign.pub"],
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    let copy = report["copies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == format!("bundle {signed}"))
        .expect("the bundle is copied")
        .clone();
    assert_eq!(
        copy["to"],
        format!("oci://{}/with-bundle/bundles/gpu:v1", dst.addr),
        "{copy}"
    );
    let o = cns(
        t,
        &[
            "pull",
            &format!("oci://{}/with-bundle/bundles/gpu:v1", dst.addr),
            "--output",
            "pulled",
            "--verify-key",
            "cosign.pub",
            "--require-attestation",
            "--plain-http",
        ],
    );
    ok(&o);
    ok(&cns(
        t,
        &["bundle", "--deployer", "argocd", "--output", "other-local"],
    ));
    let foreign = format!("oci://{}/bundles/other:v1", src.addr);
    ok(&cns(
        t,
        &[
            "push",
            "other-local",
            &foreign,
            "--sign-key",
            "other.key",
            "--plain-http",
        ],
    ));
    let o = mirror(
        "foreign",
        &["--bundle", &foreign, "--verify-images", "cosign.pub"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--verify-images: not copied"),
        "{}",
        describe(&o)
    );

    // Another key: the first image is refused, nothing of it reaches the target.
    let o = mirror("refused", &["--verify-images", "other.pub"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--verify-images: not copied"), "{err}");
    let first = under(&dst.addr, "refused", refs[0]);
    assert!(reg.fetch_manifest(&first).unwrap().is_none());
}

/// The cert-manager chart version the default recipe installs.
fn list_chart_version(t: &Path) -> String {
    let o = cns(
        t,
        &[
            "mirror",
            "-b",
            "cert-manager",
            "--to",
            "oci://m.example/x",
            "--dry-run",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    report["copies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| {
            let what = c["what"].as_str()?;
            what.strip_prefix("chart cert-manager ")
                .and_then(|rest| rest.split(' ').next())
                .map(str::to_string)
        })
        .expect("the cert-manager chart is among the copies")
}
