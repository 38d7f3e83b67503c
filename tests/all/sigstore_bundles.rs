//! Sigstore bundles as OCI referrers (issue 38, item 1): a signed push stores its signature,
//! SLSA provenance and SBOM as Sigstore bundles v0.3 in referrer artifacts whose `subject`
//! is the bundle, listed in the referrers tag index (Debian's `docker-registry` has no
//! referrers API); `verify` and `pull --verify-key` read them, and the legacy layout
//! (`--signature-format legacy`) still; each bundle is checked by the Sigstore project's own
//! verifier (sigstore-js) and its DSSE envelope by another implementation (securesystemslib);
//! a signature by another key, or a changed statement, is refused.

use crate::util::{cnsctl, fails, ok, registry_client, repo_file, tempdir};
use cns_oci::manifest::{self, Manifest};
use cns_oci::{OciRef, sigstore};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, require_tool, run};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn cns(t: &Path, args: &[&str]) -> Output {
    let mut c = cnsctl(&t.join("cache"));
    c.current_dir(t).args(args).env("CNS_SIGN_PASSWORD", "pw");
    if ["push", "pull", "sign", "verify"].contains(&args[0])
        || args.iter().any(|a| a.starts_with("oci://"))
    {
        c.arg("--plain-http");
    }
    run(&mut c)
}

/// `verify REFERENCE --key cosign.pub --format json` (and `extra`) in `t`: it must verify;
/// its answer, held to the verify schema.
pub(crate) fn verified(t: &Path, reference: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "verify",
        reference,
        "--key",
        "cosign.pub",
        "--format",
        "json",
    ];
    args.extend(extra);
    let v: Value = serde_json::from_str(&ok(&cns(t, &args))).unwrap();
    crate::util::conforms("verify", &v);
    v
}

#[test]
fn signed_pushes_are_sigstore_bundle_referrers_verified_by_cnsctl_and_independently() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    ok(&cns(
        t,
        &["generate-key-pair", "--output-key-prefix", "other"],
    ));
    let repo = reg.oci("bundles/sigstore");
    let reference = format!("{repo}:v1");
    let digest = ok(&cns(
        t,
        &["bundle", "--output", &reference, "--sign-key", "cosign.key"],
    ));
    let digest = digest.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // No cosign 2 tags; the referrers tag lists three bundles, one per predicate.
    let client = registry_client();
    let r = OciRef::parse(&reference).unwrap();
    let tag = digest.replace(':', "-");
    for legacy in [format!("{tag}.sig"), format!("{tag}.att")] {
        assert!(client.fetch_manifest(&r.at_tag(&legacy)).unwrap().is_none());
    }
    let index = client
        .fetch_manifest_of(&r.at_tag(&tag), sigstore::INDEX)
        .unwrap()
        .expect("the referrers tag");
    let index: Value = serde_json::from_slice(&index.0).unwrap();
    assert_eq!(index["mediaType"], sigstore::INDEX);
    let entries = index["manifests"].as_array().unwrap();
    let predicates: Vec<&str> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["artifactType"], sigstore::BUNDLE_V03, "{e}");
            e["annotations"][sigstore::PREDICATE_ANNOTATION]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        predicates,
        [
            sigstore::COSIGN_SIGN_V1,
            cns_oci::attest::SLSA_PROVENANCE_V1,
            cns_oci::attest::CYCLONEDX_BOM
        ]
    );
    // Each referrer: empty config, one bundle layer, the pushed bundle as its subject.
    let pubkey = cns_oci::publish::read_verifying_key(&t.join("cosign.pub")).unwrap();
    for (i, e) in entries.iter().enumerate() {
        let at = r.at_digest(e["digest"].as_str().unwrap());
        let (bytes, _) = client.fetch_manifest(&at).unwrap().unwrap();
        let m: Manifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(m.artifact_type.as_deref(), Some(sigstore::BUNDLE_V03));
        assert_eq!(m.config.media_type, manifest::EMPTY_CONFIG);
        assert_eq!(m.subject.as_ref().unwrap().digest, digest);
        assert_eq!(m.annotations[sigstore::CONTENT_ANNOTATION], "dsse-envelope");
        let raw = client.fetch_blob(&at, &m.layers[0]).unwrap();
        std::fs::write(t.join(format!("bundle{i}.json")), &raw).unwrap();
        let b: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(b["mediaType"], sigstore::BUNDLE_V03);
        assert_eq!(
            b["verificationMaterial"]["publicKey"]["hint"],
            sigstore::key_hint(&pubkey)
        );
        std::fs::write(
            t.join(format!("envelope{i}.json")),
            serde_json::to_vec(&b["dsseEnvelope"]).unwrap(),
        )
        .unwrap();
    }

    // cnsctl verify: every check found as a bundle.
    let v = verified(t, &reference, &["--attestation"]);
    assert_eq!(v["verified"], true, "{v}");
    for check in ["signature", "attestation", "sbom"] {
        assert_eq!(v[check]["format"], "bundle", "{check}: {v}");
    }
    assert_eq!(v["signature"]["tag"], entries[0]["digest"]);
    ok(&cns(
        t,
        &[
            "pull",
            &reference,
            "--output",
            "pulled",
            "--verify-key",
            "cosign.pub",
            "--require-attestation",
        ],
    ));
    // The wrong key: refused (a failed check, exit 1), nothing unpacked.
    let o = cns(
        t,
        &[
            "pull",
            &reference,
            "--output",
            "refused",
            "--verify-key",
            "other.pub",
        ],
    );
    fails(&o, 1, "wrong key");
    assert!(!t.join("refused").exists());

    // A bundle signed only by another key does not verify with cosign.pub (another bundle:
    // the same files would be the same artifact, signatures included).
    ok(&cns(
        t,
        &["bundle", "--deployer", "flux", "--output", "flux"],
    ));
    ok(&cns(t, &["push", "flux", &format!("{repo}:v2")]));
    ok(&cns(
        t,
        &["sign", &format!("{repo}:v2"), "--key", "other.key"],
    ));
    let o = cns(t, &["verify", &format!("{repo}:v2"), "--key", "cosign.pub"]);
    fails(&o, 1, "wrong key");
    ok(&cns(
        t,
        &["verify", &format!("{repo}:v2"), "--key", "other.pub"],
    ));

    // cosign 2's layout on request, read by the same verify.
    ok(&cns(
        t,
        &["bundle", "--deployer", "argocd", "--output", "argocd"],
    ));
    ok(&cns(
        t,
        &[
            "push",
            "argocd",
            &format!("{repo}:legacy"),
            "--sign-key",
            "cosign.key",
            "--signature-format",
            "legacy",
        ],
    ));
    let v = verified(t, &format!("{repo}:legacy"), &["--attestation"]);
    assert_eq!(v["signature"]["format"], "legacy", "{v}");
    assert_eq!(v["attestation"]["format"], "legacy", "{v}");

    // The Sigstore project's own verifier (sigstore-js, offline with the key, no tlog as
    // cosign --insecure-ignore-tlog): each bundle verifies with cosign.pub; another key and a
    // changed statement are refused.
    let verifier = require_tool("sigstore-verify", &[&repo_file("target/tools/bin")]);
    if let Some(js) = &verifier {
        for (i, predicate) in predicates.iter().enumerate() {
            let bundle = format!("bundle{i}.json");
            let o = run(Command::new(js)
                .current_dir(t)
                .args([&bundle, "cosign.pub"]));
            assert_eq!(ok(&o), format!("verified {predicate}"), "{}", describe(&o));
            let o = run(Command::new(js).current_dir(t).args([&bundle, "other.pub"]));
            assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        }
        let mut b: Value =
            serde_json::from_slice(&std::fs::read(t.join("bundle0.json")).unwrap()).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b["dsseEnvelope"]["payload"].as_str().unwrap();
        let mut st: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        st["subject"][0]["digest"]["sha256"] = "0".repeat(64).into();
        b["dsseEnvelope"]["payload"] = b64.encode(serde_json::to_vec(&st).unwrap()).into();
        std::fs::write(t.join("tampered.json"), serde_json::to_vec(&b).unwrap()).unwrap();
        let o = run(Command::new(js)
            .current_dir(t)
            .args(["tampered.json", "cosign.pub"]));
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("refused: "),
            "{}",
            describe(&o)
        );
    }

    // And securesystemslib verifies each bundle's DSSE envelope with cosign.pub, and
    // refuses other.pub.
    let Some(py) = require_tool("python", &[&repo_file("target/tools/venv/bin")]) else {
        return;
    };
    let script = r#"
import json
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from securesystemslib.exceptions import VerificationError
def key(path):
    return SSlibKey(keyid="", keytype="ecdsa", scheme="ecdsa-sha2-nistp256",
                    keyval={"public": open(path).read()})
for i in range(3):
    env = Envelope.from_dict(json.load(open(f"envelope{i}.json")))
    env.verify([key("cosign.pub")], 1)
    try:
        env.verify([key("other.pub")], 1)
        print("other key accepted")
    except VerificationError:
        pass
    st = json.loads(env.payload)
    print(st["predicateType"], st["subject"][0]["digest"]["sha256"])
"#;
    let o = run(Command::new(py).current_dir(t).args(["-c", script]));
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(
        ok(&o),
        format!(
            "{} {hex}\n{} {hex}\n{} {hex}",
            sigstore::COSIGN_SIGN_V1,
            cns_oci::attest::SLSA_PROVENANCE_V1,
            cns_oci::attest::CYCLONEDX_BOM
        ),
        "{}",
        describe(&o)
    );
}

/// `tests/fixtures/referrers-api.py` in front of a registry, stopped when dropped.
pub(crate) struct Front(std::process::Child, pub(crate) String);

impl Front {
    pub(crate) fn start(upstream: &str) -> Front {
        Front::with(upstream, &[])
    }

    fn with(upstream: &str, flags: &[&str]) -> Front {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let front = Front(
            Command::new("python3")
                .arg(repo_file("tests/fixtures/referrers-api.py"))
                .args([&port.to_string(), upstream])
                .args(flags)
                .spawn()
                .expect("python3"),
            format!("127.0.0.1:{port}"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return front;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the referrers API front did not start");
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A registry that serves the referrers API (distribution-spec v1.1) is read through it and
/// gets no referrers tag: in front of `docker-registry` (which lacks the API),
/// `tests/fixtures/referrers-api.py` adds it and hides referrers tags, so what verifies
/// there was found through the API.
#[test]
fn a_registry_with_the_referrers_api_is_read_through_it() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let front = Front::start(&reg.addr);
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    let at = |host: &str| format!("oci://{host}/bundles/api:v1");
    ok(&cns(
        t,
        &[
            "bundle",
            "--output",
            &at(&front.1),
            "--sign-key",
            "cosign.key",
        ],
    ));
    let v = verified(t, &at(&front.1), &["--attestation"]);
    for check in ["signature", "attestation", "sbom"] {
        assert_eq!(v[check]["format"], "bundle", "{check}: {v}");
    }
    // The registry behind it holds no referrers tag: the push saw the API and kept none, and
    // the front hides such tags anyway, so the verify above was answered by the API.
    let client = registry_client();
    let r = OciRef::parse(&at(&reg.addr)).unwrap();
    let (_, digest) = client.fetch_manifest(&r).unwrap().unwrap();
    let tag = r.at_tag(&sigstore::referrers_tag(&digest));
    assert!(
        client
            .fetch_manifest_of(&tag, sigstore::INDEX)
            .unwrap()
            .is_none()
    );
}

/// A multi-platform image (an image index) is signed with the index as the referrer's
/// subject, its media type as the registry serves it, and verifies.
#[test]
fn an_image_index_is_signed_as_the_subject_it_is() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    let client = registry_client();
    let r = OciRef::parse(&reg.oci("images/multi:v1")).unwrap();
    let (digest, _) = crate::mirror::push_index(&client, &r, "multi");
    ok(&cns(t, &["sign", &r.to_string(), "--key", "cosign.key"]));
    let v = verified(t, &r.to_string(), &[]);
    assert_eq!(v["digest"], digest.as_str());
    let referrer = r.at_digest(v["signature"]["tag"].as_str().unwrap());
    let (bytes, _) = client.fetch_manifest(&referrer).unwrap().unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    let subject = m.subject.unwrap();
    assert_eq!(subject.digest, digest);
    assert_eq!(subject.media_type, sigstore::INDEX);
}

/// A registry whose referrers endpoint answers an error (neither a list nor a 404): a legacy
/// signature there still verifies; a bundle-only one is refused with the listing's error.
#[test]
fn a_referrers_endpoint_that_errs_leaves_the_legacy_tags_to_verify() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let front = Front::with(&reg.addr, &["--refuse"]);
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    ok(&cns(t, &["bundle", "--output", "b"]));
    let at = |host: &str, tag: &str| format!("oci://{host}/bundles/err:{tag}");
    ok(&cns(
        t,
        &[
            "push",
            "b",
            &at(&front.1, "legacy"),
            "--sign-key",
            "cosign.key",
            "--signature-format",
            "legacy",
        ],
    ));
    let v = verified(t, &at(&front.1, "legacy"), &[]);
    assert_eq!(v["signature"]["format"], "legacy", "{v}");
    // Signed as a bundle (at the registry itself, through its referrers tag), then read
    // through the front whose endpoint errs: refused, saying why.
    ok(&cns(t, &["bundle", "--deployer", "flux", "--output", "f"]));
    ok(&cns(
        t,
        &[
            "push",
            "f",
            &at(&reg.addr, "bundle"),
            "--sign-key",
            "cosign.key",
        ],
    ));
    let o = cns(
        t,
        &["verify", &at(&front.1, "bundle"), "--key", "cosign.pub"],
    );
    fails(&o, 1, "listing referrers");
}
