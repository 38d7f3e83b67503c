//! A hostile source registry against `mirror`'s copy and `--resolve-digests`: an index whose
//! child "digests" are a tag or a path cannot make a copy write anywhere but the digests of
//! the target repository; a fan-out or deeply nested index is refused after a bounded
//! number of requests; answers that are not schema-2 manifests (`{}`, an error document with
//! status 200, schema 1, a media type with CR/LF) are refused with an error, never pinned
//! and never a panic. The target is a real `docker-registry`.

use crate::mirror::push_image;
use crate::util::registry_client as client;
use cns_oci::OciRef;
use cns_oci::manifest::digest;
use cns_test_support::registry::TestRegistry;
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A registry on loopback that answers `/v2/` and, for each manifest path
/// (`/v2/NAME/manifests/REF`), the content type and body given; 404 otherwise. Counts the
/// manifest requests it was sent.
struct Hostile {
    addr: String,
    requests: Arc<AtomicUsize>,
}

impl Hostile {
    fn start(answers: HashMap<String, (String, Vec<u8>)>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let (answers, counter) = (Arc::new(answers), requests.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (answers, counter) = (answers.clone(), counter.clone());
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut first = String::new();
                    if r.read_line(&mut first).is_err() {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                            break;
                        }
                    }
                    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut s = s;
                    let (status, ct, body) = if path == "/v2/" {
                        ("200 OK", "application/json".to_string(), b"{}".to_vec())
                    } else if let Some((ct, body)) = answers.get(&path) {
                        counter.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", ct.clone(), body.clone())
                    } else {
                        counter.fetch_add(1, Ordering::SeqCst);
                        (
                            "404 Not Found",
                            "application/json".to_string(),
                            b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"no\"}]}"
                                .to_vec(),
                        )
                    };
                    // The media type goes out as it is, control characters included: a
                    // hostile server writes whatever bytes it likes.
                    let mut head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    )
                    .into_bytes();
                    head.extend_from_slice(b"Content-Type: ");
                    head.extend_from_slice(ct.as_bytes());
                    head.extend_from_slice(b"\r\n\r\n");
                    let _ = s.write_all(&head).and_then(|()| s.write_all(&body));
                });
            }
        });
        Hostile { addr, requests }
    }

    fn oci(&self, repo: &str) -> OciRef {
        OciRef::parse(&format!("oci://{}/{repo}", self.addr)).unwrap()
    }
}

fn index(children: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": children}))
        .unwrap()
}

fn child(digest: &str) -> serde_json::Value {
    json!({"mediaType": MANIFEST, "digest": digest, "size": 100,
           "platform": {"architecture": "amd64", "os": "linux"}})
}

fn answers(pairs: Vec<(String, &str, Vec<u8>)>) -> HashMap<String, (String, Vec<u8>)> {
    pairs
        .into_iter()
        .map(|(p, ct, b)| (p, (ct.to_string(), b)))
        .collect()
}

#[test]
fn an_index_cannot_steer_a_copy_to_another_tag_or_repository() {
    let Some(dst) = TestRegistry::start() else {
        return;
    };
    let reg = client();
    let prod = OciRef::parse(&format!("{}:v2", dst.oci("prod/app"))).unwrap();
    let before = push_image(&reg, &prod, "the real v2", 64, ("amd64", "linux"));
    // What the attacker wants at prod/app:v2: another manifest over blobs the target already
    // has (so a copy would skip them and push only the manifest).
    let (real, _) = reg.fetch_manifest(&prod).unwrap().unwrap();
    let mut evil: serde_json::Value = serde_json::from_slice(&real).unwrap();
    evil["annotations"] = json!({"org.example.evil": "older image"});
    let evil = serde_json::to_vec(&evil).unwrap();
    for bad in [
        "v2".to_string(),
        "sha256:../../prod/app:v2".to_string(),
        format!("sha256:{}/../../other", "a".repeat(64)),
        format!("SHA256:{}", "a".repeat(64)),
    ] {
        let src = Hostile::start(answers(vec![
            (
                "/v2/src/app/manifests/t".into(),
                INDEX,
                index(&[child(&bad)]),
            ),
            (
                format!("/v2/src/app/manifests/{bad}"),
                MANIFEST,
                evil.clone(),
            ),
        ]));
        let to = OciRef::parse(&format!("{}:t", dst.oci("prod/app"))).unwrap();
        let mut stats = Default::default();
        let e = cns_oci::mirror::copy(&reg, &src.oci("src/app:t"), &reg, &to, None, &mut stats)
            .map(|d| format!("copied as {d}"))
            .unwrap_or_else(|e| e.to_string());
        // Nothing moved at the target: v2 is the real image, t was never written.
        assert_eq!(
            cns_oci::mirror::resolve_digest(&reg, &prod).unwrap(),
            before,
            "{bad}: the target's v2 was repointed ({e})"
        );
        assert!(reg.fetch_manifest(&to).unwrap().is_none(), "{bad}");
        assert!(
            e.contains(&format!("digest `{}`", bad.escape_debug())) && e.contains("not sha256"),
            "{bad}: {e}"
        );
        assert_eq!(stats.manifests, 0);
    }
}

#[test]
fn fan_out_and_nested_indexes_are_refused_after_bounded_work() {
    let reg = client();
    let dst = OciRef::parse("oci://127.0.0.1:9/unused/app:t").unwrap();
    // 10,000 children, each a well-formed digest the server does not have.
    let many: Vec<_> = (0..10_000)
        .map(|i| child(&digest(format!("child {i}").as_bytes())))
        .collect();
    let src = Hostile::start(answers(vec![(
        "/v2/src/app/manifests/t".into(),
        INDEX,
        index(&many),
    )]));
    let e = cns_oci::mirror::copy(
        &reg,
        &src.oci("src/app:t"),
        &reg,
        &dst,
        None,
        &mut Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("an index of 10000 manifests, more than the 256"),
        "{e}"
    );
    assert_eq!(
        src.requests.load(Ordering::SeqCst),
        1,
        "no child was fetched"
    );

    // Indexes of indexes, each real (the digests match): refused below the depth limit.
    let mut chain = Vec::new();
    let mut next = index(&[]);
    for _ in 0..8 {
        let d = digest(&next);
        chain.push((format!("/v2/src/app/manifests/{d}"), INDEX, next.clone()));
        next = index(&[json!({"mediaType": INDEX, "digest": d, "size": next.len()})]);
    }
    chain.push(("/v2/src/app/manifests/t".into(), INDEX, next));
    let src = Hostile::start(answers(chain));
    let e = cns_oci::mirror::copy(
        &reg,
        &src.oci("src/app:t"),
        &reg,
        &dst,
        None,
        &mut Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&format!(
            "indexes nested deeper than {}",
            cns_oci::mirror::MAX_INDEX_DEPTH
        )),
        "{e}"
    );
    assert_eq!(
        src.requests.load(Ordering::SeqCst),
        cns_oci::mirror::MAX_INDEX_DEPTH + 1
    );
}

#[test]
fn answers_that_are_not_manifests_are_never_pinned() {
    let reg = client();
    let schema1 = serde_json::to_vec(
        &json!({"schemaVersion": 1, "name": "src/app", "tag": "c", "fsLayers": []}),
    )
    .unwrap();
    let src = Hostile::start(answers(vec![
        ("/v2/src/app/manifests/a".into(), "application/json", b"{}".to_vec()),
        (
            "/v2/src/app/manifests/b".into(),
            "application/json",
            b"{\"errors\":[{\"code\":\"DENIED\",\"message\":\"pay up\"}]}".to_vec(),
        ),
        ("/v2/src/app/manifests/c".into(), "application/vnd.docker.distribution.manifest.v1+prettyjws", schema1),
        (
            "/v2/src/app/manifests/d".into(),
            MANIFEST,
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/json\r\nX-Evil: 1",
                "config": {"mediaType": "application/json", "digest": digest(b"c"), "size": 1}, "layers": []}))
            .unwrap(),
        ),
        (
            "/v2/src/app/manifests/e".into(),
            MANIFEST,
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": MANIFEST, "layers": []})).unwrap(),
        ),
    ]));
    for (tag, why) in [
        ("a", "no schemaVersion"),
        ("b", "no schemaVersion"),
        ("c", "schemaVersion 1"),
        ("d", "is not type/subtype"),
        ("e", "without a config"),
    ] {
        let e = cns_oci::mirror::resolve_digest(&reg, &src.oci(&format!("src/app:{tag}")))
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{tag}: {e}");
    }
}

/// Issue 34, item 6: a blob that does not hash to the digest its manifest names (a tampered
/// blob) is a failed check in `pull`: exit 1, and nothing is written.
#[test]
fn a_tampered_blob_in_pull_is_a_failed_check() {
    use cns_oci::manifest::{BUNDLE_ARTIFACT, Descriptor, Manifest, TAR_GZIP_LAYER};
    let layer = b"the layer the manifest names".to_vec();
    let m = Manifest::artifact(
        BUNDLE_ARTIFACT,
        Descriptor::of(TAR_GZIP_LAYER, &layer),
        Default::default(),
    );
    let d = m.layers[0].digest.clone();
    let mut tampered = layer.clone();
    tampered[0] ^= 1;
    let h = Hostile::start(answers(vec![
        ("/v2/b/gpu/manifests/v1".into(), MANIFEST, m.to_bytes()),
        (
            format!("/v2/b/gpu/blobs/{d}"),
            "application/octet-stream",
            tampered,
        ),
    ]));
    let tmp = crate::util::tempdir();
    let o = cns_test_support::run(
        crate::util::cnsctl(tmp.path())
            .current_dir(tmp.path())
            .args([
                "pull",
                &format!("oci://{}/b/gpu:v1", h.addr),
                "--output",
                "out",
                "--plain-http",
            ]),
    );
    crate::util::fails(&o, 1, "digest mismatch");
    assert!(!tmp.path().join("out").exists());
}
