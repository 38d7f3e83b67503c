//! Image inventory commands: `cnsctl images` in each format, `cnsctl mirror` between two real
//! loopback registries (an interrupted copy resumed, a digest mismatch refused), and a bundle
//! made with `--registry-mirror --resolve-digests` whose charts, rendered by `helm template`,
//! pull every image from the mirror at the digests the source holds.

use crate::charts::{cluster_policy_images, helm_template, workload_images};
use crate::util::{cnsctl, ok, registry_client as client, repo_file, tempdir};
use cns_oci::manifest::digest;
use cns_oci::{OciRef, Registry};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, require_tool, run};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

/// The components the mirror test copies: everything of the default recipe except skyhook,
/// whose chart pins upstream digests no test image can have (the mismatch test uses that).
const COMPONENTS: &str = "cert-manager,gpu-operator,nvsentinel";

fn cns(tmp: &Path, args: &[&str]) -> std::process::Output {
    run(cnsctl(&tmp.join("cache")).current_dir(tmp).args(args))
}

fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

#[test]
fn images_formats_agree_and_strict_refuses_an_unknown_node_suffix() {
    let tmp = tempdir();
    let t = tmp.path();
    let list = ok(&cns(t, &["images"]));
    let refs: Vec<&str> = list.lines().collect();
    assert!(refs.len() > 20, "{list}");
    assert!(refs.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
    assert!(
        refs.contains(&"nvcr.io/nvidia/driver:595.91.07-ubuntu24.04"),
        "{list}"
    );
    // The lock format is the bundle's file, byte for byte.
    let lock = ok(&cns(t, &["images", "--format", "lock"]));
    let out = t.join("b");
    ok(&cns(t, &["bundle", "--output", out.to_str().unwrap()]));
    let bundled = std::fs::read_to_string(out.join("images.lock.yaml")).unwrap();
    assert_eq!(format!("{lock}\n"), bundled);
    assert!(
        std::fs::read_to_string(out.join("checksums.txt"))
            .unwrap()
            .contains("  images.lock.yaml\n")
    );
    let json: Value = serde_json::from_str(&ok(&cns(t, &["images", "--format", "json"]))).unwrap();
    let from_json: BTreeSet<&str> = json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(from_json, refs.iter().copied().collect());
    // Hauler: an Images and a Charts manifest.
    let hauler = yaml_docs(&ok(&cns(t, &["images", "--format", "hauler"])));
    assert_eq!(hauler[0]["apiVersion"], "content.hauler.cattle.io/v1");
    assert_eq!(hauler[0]["kind"], "Images");
    let names: Vec<&str> = hauler[0]["spec"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, refs);
    assert_eq!(hauler[1]["kind"], "Charts");
    assert!(
        hauler[1]["spec"]["charts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| {
                c["name"] == "gpu-operator" && c["repoURL"] == "https://helm.ngc.nvidia.com/nvidia"
            })
    );
    // Zarf: one required component per recipe component with its chart and its images.
    let zarf = yaml_docs(&ok(&cns(t, &["images", "--format", "zarf"])));
    assert_eq!(zarf[0]["kind"], "ZarfPackageConfig");
    let comps = zarf[0]["components"].as_array().unwrap();
    let mut all = BTreeSet::new();
    for c in comps {
        assert_eq!(c["required"], true);
        assert_eq!(
            c["charts"][0]["valuesFiles"][0],
            format!("{}/values.yaml", c["name"].as_str().unwrap())
        );
        all.extend(
            c["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string()),
        );
    }
    assert_eq!(all, refs.iter().map(|r| r.to_string()).collect());
    let nvs = comps.iter().find(|c| c["name"] == "nvsentinel").unwrap();
    assert_eq!(nvs["charts"][0]["url"], "oci://ghcr.io/nvidia/nvsentinel");
    // A recipe whose node OS version is not pinned: the DOCA driver's per-node tag suffix is
    // unknown. The list says so on stderr; --strict fails the check.
    let recipe = t.join("azl.yaml");
    std::fs::write(
        &recipe,
        ok(&cns(
            t,
            &[
                "recipe",
                "--service",
                "aks",
                "--accelerator",
                "h100",
                "--os",
                "azurelinux",
                "--intent",
                "training",
            ],
        )),
    )
    .unwrap();
    let o = cns(t, &["images", "--recipe", recipe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("appends `-{os}{osVersion}-{arch}`"),
        "{}",
        describe(&o)
    );
    let o = cns(
        t,
        &["images", "--strict", "--recipe", recipe.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    // Bad mirror flags name the flag.
    let o = cns(t, &["images", "--registry-mirror", "https://x/y"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--registry-mirror"),
        "{}",
        describe(&o)
    );
}

/// A small image: config and one layer, both unique to `seed`; returns the manifest digest.
pub(crate) fn push_image(
    reg: &Registry,
    r: &OciRef,
    seed: &str,
    layer_size: usize,
    platform: (&str, &str),
) -> String {
    let config = serde_json::to_vec(&json!({
        "architecture": platform.0, "os": platform.1,
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": []}
    }))
    .unwrap();
    let mut layer = seed.as_bytes().repeat(layer_size / seed.len().max(1) + 1);
    layer.truncate(layer_size.max(1));
    reg.push_raw_blob(r, &config, "config").unwrap();
    reg.push_raw_blob(r, &layer, "layer").unwrap();
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}]
    }))
    .unwrap();
    // A reference with a digest is a placeholder: push by the manifest's own digest.
    let at = if r.digest.is_some() {
        r.at_digest(&digest(&m))
    } else {
        r.clone()
    };
    reg.push_manifest(&at, &m, "application/vnd.oci.image.manifest.v1+json")
        .unwrap()
}

/// A two-platform index at `r`; returns (index digest, platform digests).
pub(crate) fn push_index(reg: &Registry, r: &OciRef, seed: &str) -> (String, Vec<String>) {
    let mut children = Vec::new();
    let mut descs = Vec::new();
    for (arch, size) in [("amd64", 8 << 20), ("arm64", 4 << 20)] {
        let d = push_image(
            reg,
            &r.at_digest("sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            &format!("{seed}-{arch}"),
            size,
            (arch, "linux"),
        );
        let (bytes, _) = reg.fetch_manifest(&r.at_digest(&d)).unwrap().unwrap();
        descs.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": bytes.len(), "platform": {"architecture": arch, "os": "linux"}}));
        children.push(d);
    }
    let idx = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descs
    }))
    .unwrap();
    (
        reg.push_manifest(r, &idx, "application/vnd.oci.image.index.v1+json")
            .unwrap(),
        children,
    )
}

/// `oci://ADDR/PREFIX/<path without host>:<tag>` for an image reference.
pub(crate) fn under(addr: &str, prefix: &str, reference: &str) -> OciRef {
    let (repo, tag, dg) = cns_bundle::images::split_reference(reference);
    let path = repo.split_once('/').map_or(
        repo.as_str(),
        |(h, p)| if h.contains('.') { p } else { &repo },
    );
    let mut s = format!("oci://{addr}/{prefix}/{path}");
    if let Some(t) = tag {
        s = format!("{s}:{t}");
    }
    if let Some(d) = dg {
        s = format!("{s}@{d}");
    }
    OciRef::parse(&s).unwrap()
}

#[test]
fn mirror_copies_a_recipe_between_two_registries_and_a_mirrored_bundle_pulls_only_from_it() {
    let (Some(src), Some(dst)) = (TestRegistry::start(), TestRegistry::start()) else {
        return;
    };
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let reg = client();
    // Seed the source with one small image per reference of the recipe (the GPU driver as a
    // two-platform index with 8 and 4 MiB layers) and the nvsentinel OCI chart.
    let list = ok(&cns(t, &["images", "-b", COMPONENTS]));
    let mut seeded: BTreeMap<String, String> = BTreeMap::new();
    let mut platforms = Vec::new();
    for r in list.lines() {
        let at = under(&src.addr, "src", r);
        let d = if r.contains("/driver:") {
            let (d, children) = push_index(&reg, &at, r);
            platforms = children;
            d
        } else {
            push_image(&reg, &at, r, 4096, ("amd64", "linux"))
        };
        seeded.insert(r.to_string(), d);
    }
    assert!(!platforms.is_empty(), "the driver is among {list}");
    let chart_at = OciRef::parse(&format!(
        "oci://{}/src/charts/nvidia/nvsentinel:v1.14.0",
        src.addr
    ))
    .unwrap();
    let chart_digest = push_image(&reg, &chart_at, "nvsentinel-chart", 2048, ("", ""));
    let mirror_args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "mirror",
            "-b",
            COMPONENTS,
            "--from",
            &format!("oci://{}/src", src.addr),
            "--to",
            &format!("oci://{}/m", dst.addr),
            "--plain-http",
            "--source-plain-http",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // The classic repositories' charts, as an earlier mirror put them in the stage (OCI
    // charts): the plan reads them there.
    let dry: Value = serde_json::from_str(&ok(&run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&["--dry-run", "--format", "json"])))))
    .unwrap();
    let mut staged_charts = 0;
    for c in dry["copies"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        if what.starts_with("chart ") && what.contains("https://") {
            let at = OciRef::parse(c["from"].as_str().unwrap()).unwrap();
            push_image(&reg, &at, what, 2048, ("", ""));
            staged_charts += 1;
        }
    }
    assert_eq!(staged_charts, 2, "cert-manager and the GPU Operator: {dry}");
    // Interrupted: killed after the first image is copied.
    let mut child = cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&[]))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("[1/") {
            first = line;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.contains("blobs copied"), "{first}");
    // Resumed: completes; what the first run copied is found and skipped.
    let o = run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&[])));
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let summary = err
        .lines()
        .find(|l| l.starts_with("mirrored "))
        .unwrap_or_else(|| panic!("{err}"));
    let skipped: usize = summary
        .split(" blobs already there")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(skipped >= 2, "{summary}");
    eprintln!("resumed mirror: {summary}");
    assert!(
        !err.contains("not copied: chart"),
        "classic Helm repositories' charts are copied too: {err}"
    );
    // Everything is in the target at the same digests, both platforms of the index included.
    for (r, d) in &seeded {
        let (_, got, _) = reg
            .fetch_manifest_of(&under(&dst.addr, "m", r), cns_oci::mirror::ACCEPT_ANY)
            .unwrap()
            .unwrap_or_else(|| panic!("{r} missing"));
        assert_eq!(&got, d, "{r}");
    }
    let driver = list.lines().find(|r| r.contains("/driver:")).unwrap();
    for p in &platforms {
        assert!(
            reg.fetch_manifest(&under(&dst.addr, "m", driver).at_digest(p))
                .unwrap()
                .is_some()
        );
    }
    let chart = OciRef::parse(&format!(
        "oci://{}/m/charts/nvidia/nvsentinel:v1.14.0",
        dst.addr
    ))
    .unwrap();
    assert_eq!(reg.fetch_manifest(&chart).unwrap().unwrap().1, chart_digest);
    // Again: nothing left to copy.
    let o = run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&[])));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains(" 0 blobs copied (0 bytes"), "{err}");
    // The same as JSON: each copy with the digest the source holds, nothing copied.
    let j: Value = serde_json::from_str(&ok(&run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&["--format", "json"])))))
    .unwrap();
    crate::util::conforms("mirror", &j);
    assert_eq!(j["dryRun"], false);
    assert_eq!(j["totals"]["blobsCopied"], 0);
    let copies = j["copies"].as_array().unwrap();
    assert_eq!(copies.len(), seeded.len() + 1 + staged_charts, "{j}");
    for (r, d) in &seeded {
        let c = copies
            .iter()
            .find(|c| c["what"] == format!("image {r}"))
            .unwrap_or_else(|| panic!("{r} in {j}"));
        assert_eq!(&c["digest"], d, "{r}");
        assert_eq!(c["blobsCopied"], 0);
    }
    assert!(
        !j["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("chart ")),
        "{j}"
    );
    let dry: Value = serde_json::from_str(&ok(&run(cnsctl(&t.join("cache"))
        .current_dir(t)
        .args(mirror_args(&["--dry-run", "--format", "json"])))))
    .unwrap();
    crate::util::conforms("mirror", &dry);
    assert_eq!(dry["copies"].as_array().unwrap().len(), copies.len());
    assert!(dry.get("totals").is_none() && dry["copies"][0].get("digest").is_none());

    // A bundle pointed at the mirror, digests resolved there.
    let mirror = format!("oci://{}/m", dst.addr);
    let out = t.join("bundle");
    ok(&cns(
        t,
        &[
            "bundle",
            "-b",
            COMPONENTS,
            "--registry-mirror",
            &mirror,
            "--resolve-digests",
            "--plain-http",
            "--output",
            out.to_str().unwrap(),
        ],
    ));
    let lock: Value =
        serde_norway::from_str(&std::fs::read_to_string(out.join("images.lock.yaml")).unwrap())
            .unwrap();
    let prefix = format!("{}/m/", dst.addr);
    for i in lock["images"].as_array().unwrap() {
        let image = i["image"].as_str().unwrap();
        assert!(image.starts_with(&prefix), "{image}");
        let upstream = seeded
            .keys()
            .find(|k| {
                under(&dst.addr, "m", k).repository
                    == OciRef::parse(&format!("oci://{}", i["repository"].as_str().unwrap()))
                        .unwrap()
                        .repository
                    && i["tag"].as_str() == cns_bundle::images::split_reference(k).1.as_deref()
            })
            .unwrap_or_else(|| panic!("{image}"));
        assert_eq!(
            i["digest"].as_str(),
            Some(seeded[upstream].as_str()),
            "{image}"
        );
    }
    // Every image the rendered charts and the GPU Operator run comes from the mirror.
    let recipe: Value =
        serde_norway::from_str(&std::fs::read_to_string(out.join("recipe.yaml")).unwrap()).unwrap();
    let mut rendered_images = BTreeSet::new();
    for c in recipe["componentRefs"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        if !out.join(name).exists() {
            continue;
        }
        let (docs, _) = helm_template(
            &helm,
            name,
            c["namespace"].as_str().unwrap(),
            &out.join(name).join("values.yaml"),
        );
        for d in &docs {
            workload_images(d, &mut rendered_images);
            if d["kind"] == "ClusterPolicy" {
                cluster_policy_images(d, "-ubuntu24.04", &mut rendered_images);
            }
        }
    }
    assert!(rendered_images.len() > 15, "{rendered_images:?}");
    for i in &rendered_images {
        assert!(i.starts_with(&prefix), "{i} does not come from the mirror");
    }

    // Skyhook's chart pins upstream digests: a source whose content differs is refused and
    // nothing lands at the target tag.
    let sky = ok(&cns(t, &["images", "-b", "skyhook"]));
    for r in sky.lines() {
        let (repo, tag, _) = cns_bundle::images::split_reference(r);
        let tagged = format!("{repo}:{}", tag.unwrap());
        push_image(
            &reg,
            &under(&src.addr, "src", &tagged),
            "not-the-pinned-content",
            1024,
            ("amd64", "linux"),
        );
    }
    // The mirror copies in inventory order (component, then image name): the agent first.
    let op = sky.lines().find(|l| l.contains("/skyhook/agent:")).unwrap();
    let o = run(cnsctl(&t.join("cache")).current_dir(t).args([
        "mirror",
        "-b",
        "skyhook",
        "--from",
        &format!("oci://{}/src", src.addr),
        "--to",
        &mirror,
        "--plain-http",
        "--source-plain-http",
    ]));
    // A pinned digest the source does not hold is a failed check (1), not an error.
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("digest mismatch") && err.contains("skyhook/agent"),
        "{err}"
    );
    let (repo, tag, _) = cns_bundle::images::split_reference(op);
    let target = under(&dst.addr, "m", &format!("{repo}:{}", tag.unwrap()));
    assert!(
        reg.fetch_manifest_of(&target, cns_oci::mirror::ACCEPT_ANY)
            .unwrap()
            .is_none()
    );
}
