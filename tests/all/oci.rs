//! Bundles as OCI artifacts against a real registry (Debian's docker-registry on 127.0.0.1,
//! started per test): push/pull round trip, reproducible digests, independent pullers
//! (skopeo, oras-py), cosign-format signatures checked by openssl and with a key written by
//! Python's cryptography/pynacl, every tamper case, a registry that goes away, and a layer
//! that tries path traversal.

use crate::util::{cnsctl, fails, ok, registry_client as client, repo_file, same_tree, tempdir};
use cns_oci::OciRef;
use cns_oci::manifest::{self, Descriptor, Manifest};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, list_files, require_tool, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python() -> Option<PathBuf> {
    require_tool("python", &[&repo_file("target/tools/venv/bin")])
}

/// `cnsctl` with a shared cache, `--plain-http` appended for registry commands. Signing
/// commands get `--signature-format legacy`: this file checks cosign 2's layout (`.sig`,
/// `.att`) byte by byte with independent tools; tests/all/sigstore_bundles.rs checks the
/// default, Sigstore bundles as referrers.
fn cns(tmp: &Path, args: &[&str]) -> Output {
    let mut c = cnsctl(&tmp.join("cache"));
    c.current_dir(tmp).args(args).env("CNS_SIGN_PASSWORD", "pw");
    if args[0] == "sign" || args.contains(&"--sign-key") {
        c.args(["--signature-format", "legacy"]);
    }
    if ["push", "pull", "sign", "verify"].contains(&args[0])
        || args.iter().any(|a| a.starts_with("oci://")) && args[0] == "bundle"
    {
        c.arg("--plain-http");
    }
    run(&mut c)
}

/// cosign.key/.pub and other.key/.pub in `t` (password `pw`).
fn two_key_pairs(t: &Path) {
    ok(&cns(t, &["generate-key-pair"]));
    ok(&cns(
        t,
        &["generate-key-pair", "--output-key-prefix", "other"],
    ));
}

fn untar(python: &Path, tgz: &Path, into: &Path) {
    let o = run(Command::new(python)
        .args([
            "-c",
            "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='tar')",
        ])
        .arg(tgz)
        .arg(into));
    assert!(o.status.success(), "{}", describe(&o));
}

#[test]
fn push_pull_round_trip_is_byte_identical_with_a_stable_digest_and_independent_pullers() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["bundle", "--output", "b", "--deployer", "flux"]));
    let repo = reg.oci("bundles/gpu");
    let d1 = ok(&cns(
        t,
        &["push", "b", &format!("{repo}:v1"), "--digest-file", "d1"],
    ));
    assert!(d1.starts_with("sha256:") && d1.len() == 71, "{d1}");
    assert_eq!(
        std::fs::read_to_string(t.join("d1")).unwrap(),
        format!("{d1}\n")
    );
    let d2 = ok(&cns(t, &["push", "b", &format!("{repo}:v2")]));
    assert_eq!(d1, d2, "same bundle, same digest");
    let d3 = ok(&cns(
        t,
        &[
            "bundle",
            "--deployer",
            "flux",
            "--output",
            &format!("{repo}:v3"),
        ],
    ));
    assert_eq!(d1, d3, "bundle --output oci:// gives the same artifact");

    // Our pull, by tag and by digest.
    assert_eq!(
        ok(&cns(t, &["pull", &format!("{repo}:v1"), "--output", "p1"])),
        d1
    );
    same_tree(&t.join("b"), &t.join("p1"));
    ok(&cns(
        t,
        &["pull", &format!("{repo}@{d1}"), "--output", "p2"],
    ));
    same_tree(&t.join("b"), &t.join("p2"));
    fails(
        &cns(t, &["pull", &format!("{repo}:v1"), "--output", "p1"]),
        2,
        "not empty",
    );

    // The manifest has the agreed shape.
    let r = OciRef::parse(&format!("{repo}:v1")).unwrap();
    let (bytes, digest) = client().fetch_manifest(&r).unwrap().unwrap();
    assert_eq!(digest, d1);
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["mediaType"], manifest::MANIFEST);
    assert_eq!(m["artifactType"], manifest::BUNDLE_ARTIFACT);
    assert_eq!(m["config"]["mediaType"], manifest::EMPTY_CONFIG);
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], manifest::TAR_GZIP_LAYER);
    assert_eq!(
        m["layers"][0]["annotations"][manifest::TITLE],
        "bundle.tar.gz"
    );
    assert_eq!(m["annotations"][manifest::CREATED], manifest::EPOCH);

    // skopeo copies the artifact into an OCI layout; its layer unpacks to the same bundle.
    if let (Some(skopeo), Some(py)) = (require_tool("skopeo", &[]), python()) {
        let layout = t.join("layout");
        let o = run(Command::new(skopeo)
            .args(["copy", "--insecure-policy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/bundles/gpu:v1", reg.addr))
            .arg(format!("oci:{}:v1", layout.display())));
        assert!(o.status.success(), "{}", describe(&o));
        let layer = m["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .replace("sha256:", "");
        let blob = layout.join("blobs/sha256").join(layer);
        std::fs::create_dir_all(t.join("skopeo-out")).unwrap();
        untar(&py, &blob, &t.join("skopeo-out"));
        same_tree(&t.join("b"), &t.join("skopeo-out"));
    }
    // oras-py treats a tar+gzip layer as a directory and unpacks it into its output dir.
    if let Some(py) = python() {
        let o = run(Command::new(&py)
            .args([
                "-c",
                "import sys, oras.client\nc = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)\nprint(c.pull(target=sys.argv[2], outdir=sys.argv[3]))",
            ])
            .arg(&reg.addr)
            .arg(format!("{}/bundles/gpu:v1", reg.addr))
            .arg(t.join("oras")));
        assert!(o.status.success(), "{}", describe(&o));
        same_tree(&t.join("b"), &t.join("oras"));
    }
}

#[test]
fn signatures_verify_and_every_tamper_case_is_refused() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    two_key_pairs(t);
    fails(&cns(t, &["generate-key-pair"]), 2, "exists");
    let key = std::fs::read_to_string(t.join("cosign.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));

    ok(&cns(t, &["bundle", "--output", "a"]));
    ok(&cns(
        t,
        &["bundle", "--output", "b", "--deployer", "argocd"],
    ));
    let repo = reg.oci("bundles/gpu");
    let da = ok(&cns(
        t,
        &[
            "push",
            "a",
            &format!("{repo}:a"),
            "--sign-key",
            "cosign.key",
        ],
    ));
    let db = ok(&cns(t, &["push", "b", &format!("{repo}:b")]));
    assert_ne!(da, db);

    ok(&cns(
        t,
        &["verify", &format!("{repo}:a"), "--key", "cosign.pub"],
    ));
    ok(&cns(
        t,
        &["verify", &format!("{repo}@{da}"), "--key", "cosign.pub"],
    ));
    ok(&cns(
        t,
        &[
            "pull",
            &format!("{repo}:a"),
            "--output",
            "pa",
            "--verify-key",
            "cosign.pub",
        ],
    ));
    same_tree(&t.join("a"), &t.join("pa"));

    // openssl checks the signature over the payload, both fetched by skopeo.
    if let (Some(skopeo), Some(openssl)) =
        (require_tool("skopeo", &[]), require_tool("openssl", &[]))
    {
        let sigdir = t.join("sigdir");
        let o = run(Command::new(skopeo)
            .args(["copy", "--insecure-policy", "--src-tls-verify=false"])
            .arg(format!(
                "docker://{}/bundles/gpu:{}",
                reg.addr,
                da.replace(':', "-") + ".sig"
            ))
            .arg(format!("dir:{}", sigdir.display())));
        assert!(o.status.success(), "{}", describe(&o));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sigdir.join("manifest.json")).unwrap()).unwrap();
        let layer = &m["layers"][0];
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let payload = sigdir.join(layer["digest"].as_str().unwrap().replace("sha256:", ""));
        let p: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&payload).unwrap()).unwrap();
        assert_eq!(
            p["critical"]["image"]["docker-manifest-digest"],
            da.as_str()
        );
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"]["dev.cosignproject.cosign/signature"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        std::fs::write(t.join("sig.der"), der).unwrap();
        let o = run(Command::new(openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(t.join("cosign.pub"))
            .arg("-signature")
            .arg(t.join("sig.der"))
            .arg(&payload));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Verified OK"),
            "{}",
            describe(&o)
        );
    }

    // Unsigned: verify and pull --verify-key fail with exit 1, nothing written.
    fails(
        &cns(t, &["verify", &format!("{repo}:b"), "--key", "cosign.pub"]),
        1,
        "is not signed",
    );
    fails(
        &cns(
            t,
            &[
                "pull",
                &format!("{repo}:b"),
                "--output",
                "pb",
                "--verify-key",
                "cosign.pub",
            ],
        ),
        1,
        "is not signed",
    );
    assert!(!t.join("pb").exists());
    // Wrong key.
    fails(
        &cns(t, &["verify", &format!("{repo}:a"), "--key", "other.pub"]),
        1,
        "does not match the public key",
    );
    // A's signature copied to B's signature tag: it names A's digest.
    let c = client();
    let r = OciRef::parse(&repo).unwrap();
    let sig_a = r.at_tag(&cns_oci::sign::signature_tag(&da));
    let (sig_bytes, _) = c.fetch_manifest(&sig_a).unwrap().unwrap();
    let sig_b = r.at_tag(&cns_oci::sign::signature_tag(&db));
    c.push_manifest(&sig_b, &sig_bytes, manifest::MANIFEST)
        .unwrap();
    fails(
        &cns(t, &["verify", &format!("{repo}:b"), "--key", "cosign.pub"]),
        1,
        &format!("is for {da}"),
    );
    // Tampered payload: B's digest in the payload, A's signature kept.
    let mut m: Manifest = serde_json::from_slice(&sig_bytes).unwrap();
    let payload = c.fetch_blob(&sig_a, &m.layers[0]).unwrap();
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace(&da, &db)
        .into_bytes();
    c.push_raw_blob(&r, &tampered, "tampered").unwrap();
    let sig = m.layers[0].annotations.clone();
    m.layers[0] = Descriptor::of(&m.layers[0].media_type, &tampered);
    m.layers[0].annotations = sig;
    c.push_manifest(&sig_b, &m.to_bytes(), manifest::MANIFEST)
        .unwrap();
    fails(
        &cns(t, &["verify", &format!("{repo}:b"), "--key", "cosign.pub"]),
        1,
        "does not match the public key",
    );

    // A key written by Python's cryptography + pynacl in cosign's encrypted format, and a
    // PKCS#8 PEM, both sign what cnsctl then verifies.
    if let Some(py) = python() {
        let o = run(Command::new(py)
            .current_dir(t)
            .arg("-c")
            .arg(PY_COSIGN_KEY)
            .arg("py-pw"));
        assert!(o.status.success(), "{}", describe(&o));
        let mut c = cnsctl(&t.join("cache"));
        let o = run(c.current_dir(t).env("CNS_SIGN_PASSWORD", "py-pw").args([
            "sign",
            &format!("{repo}:b"),
            "--key",
            "py.key",
            "--plain-http",
        ]));
        ok(&o);
        ok(&cns(
            t,
            &["verify", &format!("{repo}:b"), "--key", "py.pub"],
        ));
        let mut c = cnsctl(&t.join("cache"));
        let o = run(c.current_dir(t).env("CNS_SIGN_PASSWORD", "wrong").args([
            "sign",
            &format!("{repo}:b"),
            "--key",
            "py.key",
            "--plain-http",
        ]));
        fails(&o, 2, "wrong password");
        ok(&cns(
            t,
            &["sign", &format!("{repo}@{db}"), "--key", "py-pkcs8.pem"],
        ));
        ok(&cns(
            t,
            &["verify", &format!("{repo}:b"), "--key", "py.pub"],
        ));
    }
}

/// Writes py.key (cosign encrypted format), py.pub and py-pkcs8.pem; password argv[1].
const PY_COSIGN_KEY: &str = r#"
import base64, json, os, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
import nacl.secret
pw = sys.argv[1].encode()
k = ec.generate_private_key(ec.SECP256R1())
der = k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
salt = os.urandom(32)
key = Scrypt(salt=salt, length=32, n=32768, r=8, p=1).derive(pw)
nonce = os.urandom(24)
ct = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
b = lambda x: base64.b64encode(x).decode()
blob = json.dumps({"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": b(salt)},
                   "cipher": {"name": "nacl/secretbox", "nonce": b(nonce)}, "ciphertext": b(ct)}).encode()
body = base64.b64encode(blob).decode()
pem = "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + "\n".join(body[i:i+64] for i in range(0, len(body), 64)) + "\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
open("py.key", "w").write(pem)
open("py.pub", "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
open("py-pkcs8.pem", "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
# Private keys are the user's alone: cnsctl refuses keys others may read.
os.chmod("py.key", 0o600)
os.chmod("py-pkcs8.pem", 0o600)
"#;

#[test]
fn a_registry_that_goes_away_gives_a_clean_error_and_no_output() {
    let Some(mut reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["bundle", "--output", "b"]));
    let repo = reg.oci("bundles/gpu");
    ok(&cns(t, &["push", "b", &format!("{repo}:v1")]));
    reg.stop();
    let o = cns(t, &["pull", &format!("{repo}:v1"), "--output", "p"]);
    fails(&o, 2, &reg.addr);
    assert!(!t.join("p").exists());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("retry"),
        "{}",
        describe(&o)
    );
    fails(&cns(t, &["push", "b", &format!("{repo}:v2")]), 2, &reg.addr);
    fails(
        &cns(t, &["bundle", "--output", &format!("{repo}:v3")]),
        2,
        &reg.addr,
    );
}

#[test]
fn pull_refuses_path_traversal_and_foreign_artifacts_writing_nothing() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    // A tar.gz whose entry climbs out of the output directory.
    let mut h = tar::Header::new_old();
    h.set_size(4);
    h.set_mode(0o644);
    h.as_old_mut().name[..9].copy_from_slice(b"../evil.t");
    h.set_cksum();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append(&h, &b"evil"[..]).unwrap();
    let layer = b.into_inner().unwrap().finish().unwrap();
    let r = OciRef::parse(&reg.oci("bundles/evil:v1")).unwrap();
    let mut d = Descriptor::of(manifest::TAR_GZIP_LAYER, &layer);
    d.annotations
        .insert(manifest::TITLE.into(), "bundle.tar.gz".into());
    let m = Manifest::artifact(manifest::BUNDLE_ARTIFACT, d.clone(), Default::default());
    client().push_artifact(&r, &m, &layer, "evil").unwrap();
    let out = t.join("sub/out");
    std::fs::create_dir_all(t.join("sub")).unwrap();
    fails(
        &cns(t, &["pull", &r.to_string(), "--output", "sub/out"]),
        2,
        "path traversal",
    );
    assert!(!out.exists() && !t.join("sub/evil.t").exists() && !t.join("evil.t").exists());
    // Another artifact type is not a bundle.
    let other = OciRef::parse(&reg.oci("bundles/other:v1")).unwrap();
    let m = Manifest::artifact("application/vnd.example.thing", d, Default::default());
    client().push_artifact(&other, &m, &layer, "other").unwrap();
    fails(
        &cns(t, &["pull", &other.to_string(), "--output", "o"]),
        2,
        "artifactType",
    );
    // A bad reference names itself.
    fails(
        &cns(t, &["pull", "oci://127.0.0.1/UPPER:x", "--output", "o"]),
        2,
        "`UPPER`",
    );
    assert!(!t.join("o").exists());
}

#[test]
fn plugins_from_files_and_signed_oci_artifacts() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let script = cns_plugin_artifacts::BUILTIN
        .iter()
        .find(|a| a.name == "script")
        .unwrap();
    std::fs::write(t.join("script.wasm"), script.bytes).unwrap();
    std::fs::write(t.join("copy.wasm"), script.bytes).unwrap();
    two_key_pairs(t);

    // From a file: replaces the built-in deployer of the same name, said on stderr.
    let o = cns(t, &["bundle", "--output", "b1", "--plugin", "script.wasm"]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("replaces the built-in one"),
        "{}",
        describe(&o)
    );
    // Two external plugins with one name: an error naming both.
    let o = cns(
        t,
        &[
            "plugin",
            "list",
            "--plugin",
            "script.wasm",
            "--plugin",
            "copy.wasm",
        ],
    );
    fails(&o, 2, "two plugins are named `script`");
    assert!(String::from_utf8_lossy(&o.stderr).contains("copy.wasm"));
    // A plugin directory is scanned.
    std::fs::create_dir_all(t.join("pdir")).unwrap();
    std::fs::copy(t.join("script.wasm"), t.join("pdir/script.wasm")).unwrap();
    let o = cns(t, &["plugin", "list", "--json", "--plugin-dir", "pdir"]);
    let list: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let s = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "script")
        .unwrap();
    assert!(
        s["origin"].as_str().unwrap().contains("pdir/script.wasm"),
        "{s}"
    );

    // Published signed; loaded only with a trusted key (or --allow-unsigned).
    let r = format!("{}:v1", reg.oci("plugins/script"));
    let digest = ok(&cns(
        t,
        &[
            "plugin",
            "push",
            "script.wasm",
            &r,
            "--sign-key",
            "cosign.key",
            "--plain-http",
        ],
    ));
    let unsigned = format!("{}:v1", reg.oci("plugins/unsigned"));
    ok(&cns(
        t,
        &["plugin", "push", "script.wasm", &unsigned, "--plain-http"],
    ));
    fails(
        &cns(t, &["plugin", "push", "recipe.yaml", &r, "--plain-http"]),
        2,
        "failed to read",
    );

    let pl = |extra: &[&str]| {
        let mut a = vec!["bundle", "--output", "b2", "--force", "--plugin-plain-http"];
        a.extend_from_slice(extra);
        cns(t, &a)
    };
    fails(&pl(&["--plugin", &r]), 2, "--plugin-key");
    // A signature that does not verify is a failed check (1); no key at all, a usage error.
    fails(
        &pl(&["--plugin", &r, "--plugin-key", "other.pub"]),
        1,
        "no trusted key verifies it",
    );
    fails(
        &pl(&["--plugin", &unsigned, "--plugin-key", "cosign.pub"]),
        1,
        "is not signed",
    );
    let o = pl(&[
        "--plugin",
        &r,
        "--plugin-key",
        "other.pub",
        "--plugin-key",
        "cosign.pub",
    ]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("signature verified"),
        "{}",
        describe(&o)
    );
    ok(&pl(&["--plugin", &unsigned, "--allow-unsigned"]));
    same_tree(&t.join("b1"), &t.join("b2"));

    // A trust policy: keys limited to repositories by glob, unsigned allowed by glob.
    let host = reg
        .oci("")
        .trim_start_matches("oci://")
        .trim_end_matches('/')
        .to_string();
    std::fs::create_dir_all(t.join("keys")).unwrap();
    std::fs::copy(t.join("cosign.pub"), t.join("keys/cosign.pub")).unwrap();
    let policy = |text: &str| std::fs::write(t.join("policy.yaml"), text).unwrap();
    policy(&format!(
        "trustedKeys:\n  - key: keys/cosign.pub\n    repositories: [\"{host}/plugins/*\"]\n"
    ));
    let o = pl(&["--plugin", &r, "--plugin-policy", "policy.yaml"]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("signature verified with keys/cosign.pub"),
        "{}",
        describe(&o)
    );
    same_tree(&t.join("b1"), &t.join("b2"));
    // Out of the key's scope: refused, naming the policy; nothing written.
    policy(&format!(
        "trustedKeys:\n  - key: keys/cosign.pub\n    repositories: [\"{host}/other/*\"]\n"
    ));
    std::fs::remove_dir_all(t.join("b2")).unwrap();
    fails(
        &pl(&["--plugin", &r, "--plugin-policy", "policy.yaml"]),
        2,
        &format!("is trusted for {host}/plugins/script"),
    );
    assert!(!t.join("b2").exists());
    // A scoped key that did not sign it: refused with the reason.
    std::fs::copy(t.join("other.pub"), t.join("keys/cosign.pub")).unwrap();
    policy(&format!(
        "trustedKeys:\n  - key: keys/cosign.pub\n    repositories: [\"{host}/**\"]\n"
    ));
    fails(
        &pl(&["--plugin", &r, "--plugin-policy", "policy.yaml"]),
        1,
        "no trusted key verifies it",
    );
    // allowUnsigned by repository, from the default policy location in the config directory.
    std::fs::create_dir_all(t.join("config/cnsctl")).unwrap();
    std::fs::write(
        t.join("config/cnsctl/plugin-policy.yaml"),
        format!("allowUnsigned: [\"{host}/plugins/unsigned\"]\n"),
    )
    .unwrap();
    let o = pl(&["--plugin", &unsigned]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("allowed unsigned"),
        "{}",
        describe(&o)
    );
    fails(&pl(&["--plugin", &r]), 2, "plugin-policy.yaml");
    // A broken policy names the file, line and field.
    std::fs::write(
        t.join("config/cnsctl/plugin-policy.yaml"),
        "trustedKeys:\n  - path: x.pub\n",
    )
    .unwrap();
    fails(&pl(&["--plugin", &r]), 2, "plugin-policy.yaml:2:");
    std::fs::remove_file(t.join("config/cnsctl/plugin-policy.yaml")).unwrap();

    let o = cns(
        t,
        &[
            "plugin",
            "inspect",
            &r,
            "--plugin-key",
            "cosign.pub",
            "--plugin-plain-http",
            "--json",
        ],
    );
    let info: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(info["name"], "script");
    assert_eq!(info["kind"], "deployer");
    assert_eq!(info["wit"], "0.3.0");
    assert!(info["origin"].as_str().unwrap().contains(&digest), "{info}");
    let o = cns(t, &["plugin", "inspect", "script.wasm"]);
    assert!(
        ok(&o).contains("imports:     cns:plugin/host@0.3.0"),
        "{}",
        describe(&o)
    );
}

#[test]
fn a_core_module_is_componentized_into_a_loadable_plugin() {
    let tmp = tempdir();
    let t = tmp.path();
    let core = repo_file("target/wasm-plugins/wasm32-unknown-unknown/plugin/cns_plugin_helm.wasm");
    assert!(
        core.exists(),
        "{} (built by host/plugin-artifacts)",
        core.display()
    );
    let o = cns(
        t,
        &[
            "plugin",
            "componentize",
            core.to_str().unwrap(),
            "-o",
            "helm.wasm",
        ],
    );
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bundler helm"),
        "{}",
        describe(&o)
    );
    let o = cns(t, &["plugin", "inspect", "helm.wasm", "--json"]);
    let info: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(info["name"], "helm");
    std::fs::write(t.join("junk.wasm"), b"\0asm\x01\0\0\0").unwrap();
    fails(
        &cns(t, &["plugin", "componentize", "junk.wasm", "-o", "x.wasm"]),
        2,
        "does not load as a cnsctl plugin",
    );
    assert!(!t.join("x.wasm").exists());
}

/// Issue 19: `bundle --deployer flux --output oci://… --sign-key` makes the bundle's
/// OCIRepository verify the signature cnsctl made, with the public key shipped in the bundle;
/// that key really verifies the pushed artifact.
#[test]
fn a_signed_flux_bundle_verifies_itself_with_the_key_it_ships() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["generate-key-pair"]));
    let reference = format!("{}:v1", reg.oci("bundles/flux"));
    ok(&cns(
        t,
        &[
            "bundle",
            "--deployer",
            "flux",
            "--repo",
            &reference,
            "--output",
            &reference,
            "--sign-key",
            "cosign.key",
        ],
    ));
    ok(&cns(
        t,
        &[
            "pull",
            &reference,
            "--output",
            "pulled",
            "--verify-key",
            "cosign.pub",
        ],
    ));
    let source: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(t.join("pulled/flux-system/bundle-source.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(source["kind"], "OCIRepository");
    assert_eq!(
        source["spec"]["verify"],
        serde_json::json!({"provider": "cosign", "secretRef": {"name": "cns-bundle-cosign"}})
    );
    let secret: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(t.join("pulled/flux-system/cosign-public-key.yaml")).unwrap(),
    )
    .unwrap();
    let shipped = secret["stringData"]["cosign.pub"].as_str().unwrap();
    assert_eq!(
        shipped,
        std::fs::read_to_string(t.join("cosign.pub")).unwrap()
    );
    std::fs::write(t.join("shipped.pub"), shipped).unwrap();
    ok(&cns(t, &["verify", &reference, "--key", "shipped.pub"]));
    // checksums.txt covers the key file.
    let sums = std::fs::read_to_string(t.join("pulled/checksums.txt")).unwrap();
    assert!(
        sums.contains("flux-system/cosign-public-key.yaml"),
        "{sums}"
    );
}

/// Issue 20 item 4: a signed bundle carries SLSA v1 provenance in a DSSE envelope at
/// `sha256-<hex>.att`; `verify --attestation` prints it, `pull --require-attestation` needs
/// it; a wrong key and a tampered predicate are refused, by cnsctl and by an independent
/// implementation (securesystemslib's DSSE). Its CycloneDX SBOM is a second envelope there
/// (issue 38 item 6), checked the same ways.
#[test]
fn signed_bundles_carry_slsa_provenance_checked_independently() {
    use cns_oci::attest;
    use sha2::{Digest, Sha256};
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    two_key_pairs(t);
    let repo = reg.oci("bundles/prov");
    let reference = format!("{repo}:v1");
    let flags = [
        "--deployer",
        "argocd",
        "--set",
        "gpu-operator:driver.version=580.95.05",
    ];
    let digest = ok(&cns(
        t,
        &[
            &["bundle", "--output", &reference, "--sign-key", "cosign.key"][..],
            &flags[..],
        ]
        .concat(),
    ));
    ok(&cns(
        t,
        &[&["bundle", "--output", "local"][..], &flags[..]].concat(),
    ));

    // verify --attestation prints the predicate: what made the bundle, from what.
    let out = cns(
        t,
        &["verify", &reference, "--key", "cosign.pub", "--attestation"],
    );
    let p: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let def = &p["buildDefinition"];
    assert_eq!(def["buildType"], "urn:cnsctl:build-type:bundle:v1");
    assert_eq!(
        def["externalParameters"]["recipe"]["digest"]["sha256"],
        sha(&std::fs::read(t.join("local/recipe.yaml")).unwrap())
    );
    assert_eq!(def["externalParameters"]["deployer"], "argocd");
    assert_eq!(
        def["externalParameters"]["set"],
        serde_json::json!(["gpu-operator:driver.version=580.95.05"])
    );
    let deps = def["resolvedDependencies"].as_array().unwrap();
    for (name, plugin) in [
        ("bundler/gpu-operator", "gpu-operator"),
        ("deployer/argocd", "argocd"),
    ] {
        let d = deps
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {p}"));
        let builtin = cns_plugin_artifacts::BUILTIN
            .iter()
            .find(|a| a.name == plugin)
            .unwrap();
        assert_eq!(d["digest"]["sha256"], sha(builtin.bytes), "{name}");
    }
    assert!(deps.iter().any(|d| d["name"] == "chart/gpu-operator"));
    assert_eq!(
        p["runDetails"]["byproducts"][0]["digest"]["sha256"],
        sha(&std::fs::read(t.join("local/checksums.txt")).unwrap())
    );
    // The images lock: its digest, and the references it lists.
    let lock = &p["runDetails"]["byproducts"][1];
    assert_eq!(lock["name"], "images.lock.yaml");
    assert_eq!(
        lock["digest"]["sha256"],
        sha(&std::fs::read(t.join("local/images.lock.yaml")).unwrap())
    );
    assert!(
        lock["annotations"]["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i
                .as_str()
                .unwrap()
                .starts_with("nvcr.io/nvidia/gpu-operator:")),
        "{lock}"
    );
    assert_eq!(
        p["runDetails"]["builder"]["version"]["cnsctl"],
        env!("CARGO_PKG_VERSION")
    );
    // The bundle's SBOM is attested with it: verified, and the same document as the file.
    let out = cns(
        t,
        &[
            "verify",
            &reference,
            "--key",
            "cosign.pub",
            "--attestation",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    crate::util::conforms("verify", &v);
    assert_eq!(v["sbom"]["verified"], true, "{v}");
    let local_sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("local/sbom.cdx.json")).unwrap()).unwrap();
    assert_eq!(v["sbom"]["predicate"], local_sbom);

    // pull --require-attestation: yes for this one; no for one that is only signed.
    ok(&cns(
        t,
        &[
            "pull",
            &reference,
            "--output",
            "p1",
            "--verify-key",
            "cosign.pub",
            "--require-attestation",
        ],
    ));
    // (Another bundle: the same files would be the same artifact, attestation included.)
    ok(&cns(t, &["bundle", "--output", "script"]));
    ok(&cns(t, &["push", "script", &format!("{repo}:plain")]));
    ok(&cns(
        t,
        &["sign", &format!("{repo}:plain"), "--key", "cosign.key"],
    ));
    let o = cns(
        t,
        &[
            "pull",
            &format!("{repo}:plain"),
            "--output",
            "p2",
            "--verify-key",
            "cosign.pub",
            "--require-attestation",
        ],
    );
    fails(&o, 1, "no attestation at tag");
    assert!(!t.join("p2").exists());
    // `push DIR --sign-key` attests what a directory shows.
    ok(&cns(
        t,
        &[
            "push",
            "script",
            &format!("{repo}:dir"),
            "--sign-key",
            "cosign.key",
        ],
    ));
    let out = cns(
        t,
        &[
            "verify",
            &format!("{repo}:dir"),
            "--key",
            "cosign.pub",
            "--attestation",
        ],
    );
    let p: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        p["buildDefinition"]["buildType"],
        "urn:cnsctl:build-type:push-directory:v1"
    );

    // Tamper: the same envelope with a changed predicate, then one signed by another key.
    let client = client();
    let r = OciRef::parse(&reference).unwrap();
    let att = r.at_tag(&attest::attestation_tag(&digest));
    let (bytes, _) = client.fetch_manifest(&att).unwrap().unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    let good = client.fetch_blob(&att, &m.layers[0]).unwrap();
    std::fs::write(t.join("good.json"), &good).unwrap();
    // Two attestations, as cosign stores them: a DSSE layer each, named by predicate type.
    let types: Vec<&str> = m
        .layers
        .iter()
        .map(|l| l.annotations["predicateType"].as_str())
        .collect();
    assert_eq!(types, [attest::SLSA_PROVENANCE_V1, attest::CYCLONEDX_BOM]);
    let sbom_env = client.fetch_blob(&att, &m.layers[1]).unwrap();
    std::fs::write(t.join("sbom.json"), &sbom_env).unwrap();
    let mut env: attest::Envelope = serde_json::from_slice(&good).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &env.payload).unwrap(),
    )
    .unwrap();
    st["predicate"]["buildDefinition"]["externalParameters"]["deployer"] = "flux".into();
    env.payload = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&st).unwrap(),
    );
    let tampered = serde_json::to_vec(&env).unwrap();
    std::fs::write(t.join("tampered.json"), &tampered).unwrap();
    let put = |layer_bytes: &[u8]| {
        client.push_raw_blob(&r, layer_bytes, "test").unwrap();
        let mut m2 = m.clone();
        m2.layers[0] = Descriptor::of(attest::DSSE_ENVELOPE, layer_bytes);
        client
            .push_manifest(&att, &m2.to_bytes(), manifest::MANIFEST)
            .unwrap();
    };
    put(&tampered);
    let o = cns(
        t,
        &["verify", &reference, "--key", "cosign.pub", "--attestation"],
    );
    fails(&o, 1, "wrong key or tampered statement");
    let other = cns_oci::sign::load_signing_key(
        "other.key",
        &std::fs::read_to_string(t.join("other.key")).unwrap(),
        || Some("pw".into()),
    )
    .unwrap();
    let foreign = attest::envelope(&st, &other);
    put(&serde_json::to_vec(&foreign).unwrap());
    fails(
        &cns(
            t,
            &["verify", &reference, "--key", "cosign.pub", "--attestation"],
        ),
        1,
        "wrong key",
    );
    // The provenance good again, the SBOM tampered: refused too.
    let mut sbom: attest::Envelope = serde_json::from_slice(&sbom_env).unwrap();
    let mut bom_st: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sbom.payload).unwrap(),
    )
    .unwrap();
    bom_st["predicate"]["components"] = serde_json::json!([]);
    sbom.payload = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&bom_st).unwrap(),
    );
    let bad_sbom = serde_json::to_vec(&sbom).unwrap();
    client.push_raw_blob(&r, &good, "test").unwrap();
    client.push_raw_blob(&r, &bad_sbom, "test").unwrap();
    let mut m3 = m.clone();
    m3.layers[1] = Descriptor::of(attest::DSSE_ENVELOPE, &bad_sbom);
    m3.layers[1]
        .annotations
        .insert("predicateType".into(), attest::CYCLONEDX_BOM.into());
    client
        .push_manifest(&att, &m3.to_bytes(), manifest::MANIFEST)
        .unwrap();
    let o = cns(
        t,
        &["verify", &reference, "--key", "cosign.pub", "--attestation"],
    );
    fails(&o, 1, "wrong key or tampered statement");

    // The independent check: securesystemslib verifies the DSSE signature cnsctl made over
    // the PAE with cosign.pub, and refuses the tampered envelope and the wrong key.
    let Some(py) = python() else {
        return;
    };
    let script = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from securesystemslib.exceptions import VerificationError
def key(path):
    return SSlibKey(keyid="", keytype="ecdsa", scheme="ecdsa-sha2-nistp256",
                    keyval={"public": open(path).read()})
def check(env_path, pub, ptype="https://slsa.dev/provenance/v1"):
    env = Envelope.from_dict(json.load(open(env_path)))
    try:
        env.verify([key(pub)], 1)
    except VerificationError:
        return "refused"
    st = json.loads(env.payload)
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == ptype
    return "verified " + st["subject"][0]["digest"]["sha256"]
print(check("good.json", "cosign.pub"))
print(check("tampered.json", "cosign.pub"))
print(check("good.json", "other.pub"))
print(check("sbom.json", "cosign.pub", "https://cyclonedx.org/bom"))
"#;
    let o = run(Command::new(py).current_dir(t).args(["-c", script]));
    let lines = ok(&o);
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(
        lines,
        format!("verified {hex}\nrefused\nrefused\nverified {hex}"),
        "{}",
        describe(&o)
    );
}

/// Issue 34, item 8: `push` refuses a directory without `checksums.txt` (a failed check, 1);
/// an unknown `--deployer` lists every deployer; a registry that answers a TLS handshake in
/// plain HTTP, and a host that does not resolve, say what to do, at once (no retries).
#[test]
fn push_needs_checksums_deployers_are_listed_and_connection_errors_say_what_to_try() {
    let tmp = tempdir();
    let t = tmp.path();
    std::fs::create_dir(t.join("plain")).unwrap();
    std::fs::write(t.join("plain/a.txt"), "a\n").unwrap();
    fails(
        &cns(t, &["push", "plain", "oci://127.0.0.1:1/x:v1"]),
        1,
        "no checksums.txt, so its files cannot be checked",
    );
    fails(
        &cns(t, &["bundle", "--deployer", "helm", "--output", "b"]),
        2,
        "unknown deployer `helm`; available: argocd, flux, script",
    );
    // A plain HTTP server where TLS was expected.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    // (`cns` would add --plain-http: the point here is its absence.)
    let plain = |args: &[&str]| run(cnsctl(&t.join("cache")).current_dir(t).args(args));
    let o = plain(&["pull", &format!("oci://{addr}/x/y:v1"), "--output", "p"]);
    fails(
        &o,
        2,
        "does not answer in TLS; if it serves plain HTTP, pass --plain-http",
    );
    // Asking again would not help: no retry was made.
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("(retry "),
        "{}",
        describe(&o)
    );
    fails(
        &plain(&["pull", "oci://no-such-host.invalid/x/y:v1", "--output", "p"]),
        2,
        "the registry host `no-such-host.invalid` does not resolve",
    );
    assert!(!t.join("p").exists());
}

#[test]
fn push_pull_and_verify_report_as_json_in_their_documented_shapes() {
    use crate::util::conforms;
    use serde_json::Value;
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    two_key_pairs(t);
    ok(&cns(t, &["bundle", "--output", "b"]));
    let reference = format!("{}:v1", reg.oci("bundles/json"));
    let json = |o: &Output| -> Value {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(o)))
    };

    let pushed = cns(
        t,
        &[
            "push",
            "b",
            &reference,
            "--sign-key",
            "cosign.key",
            "--format",
            "json",
        ],
    );
    ok(&pushed);
    let p = json(&pushed);
    conforms("push", &p);
    let digest = p["digest"].as_str().unwrap().to_string();
    assert_eq!(p["reference"], reference);
    let files = list_files(&t.join("b"));
    assert_eq!(p["files"], files.len());
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(t.join("b").join(f)).unwrap().len())
        .sum();
    assert_eq!(p["bytes"], bytes);
    let tag = digest.replace(':', "-");
    assert_eq!(p["signatureTag"], format!("{tag}.sig"));
    assert_eq!(p["attestationTag"], format!("{tag}.att"));
    // The text form prints the same digest alone; unsigned, no tags.
    assert_eq!(ok(&cns(t, &["push", "b", &reference])), digest);
    let unsigned = json(&cns(t, &["push", "b", &reference, "--format", "json"]));
    conforms("push", &unsigned);
    assert!(unsigned["signatureTag"].is_null() && unsigned["attestationTag"].is_null());
    // The same bytes, the same digest: the signature and attestation pushed first still
    // belong to it.
    assert_eq!(unsigned["digest"], digest.as_str());

    let v = cns(
        t,
        &[
            "verify",
            &reference,
            "--key",
            "cosign.pub",
            "--attestation",
            "--format",
            "json",
        ],
    );
    ok(&v);
    let v = json(&v);
    conforms("verify", &v);
    assert_eq!(v["verified"], true);
    assert_eq!(v["reference"], format!("{reference}@{digest}"));
    assert_eq!(v["signature"]["verified"], true);
    assert_eq!(
        v["attestation"]["predicate"]["buildDefinition"]["buildType"],
        "urn:cnsctl:build-type:push-directory:v1"
    );
    // A key that did not sign: exit 1, and the answer still a document saying why.
    let bad = cns(
        t,
        &[
            "verify",
            &reference,
            "--key",
            "other.pub",
            "--format",
            "json",
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
    let b = json(&bad);
    conforms("verify", &b);
    assert_eq!(b["verified"], false);
    assert_eq!(b["signature"]["verified"], false);
    assert!(b["error"].as_str().unwrap().contains("signature"), "{b}");

    let pulled = cns(
        t,
        &[
            "pull",
            &reference,
            "-o",
            "p",
            "--verify-key",
            "cosign.pub",
            "--require-attestation",
            "--format",
            "json",
        ],
    );
    ok(&pulled);
    let q = json(&pulled);
    conforms("pull", &q);
    assert_eq!(q["digest"], digest.as_str());
    assert_eq!(
        (q["files"].clone(), q["bytes"].clone()),
        (p["files"].clone(), p["bytes"].clone())
    );
    assert_eq!(q["unchanged"], false);
    assert_eq!(q["signatureVerified"], true);
    assert_eq!(q["attestationVerified"], true);
    let again = json(&cns(
        t,
        &["pull", &reference, "-o", "p", "--force", "--format", "json"],
    ));
    conforms("pull", &again);
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["signatureVerified"], false);
}
