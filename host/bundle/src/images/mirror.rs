//! Registry names as container runtimes read them (a Docker Hub name normalised, the host a
//! repository names) and `--registry-mirror` / `cnsctl mirror`: a repository moved under a
//! mirror, the values overrides and operator manifests that point a bundle at it, and the
//! copies that fill it.

use super::inventory::{Inventory, first, leaf};
use cns_recipe::registry::ImageData;
use serde_json::Value;
use std::collections::BTreeMap;

/// The mirrored form of a repository: the registry host replaced by `mirror`
/// (`registry/prefix`); a Docker Hub name without a host keeps its path.
pub fn mirrored(repository: &str, mirror: &str) -> String {
    let path = match registry_host(repository) {
        Some(host) => &repository[host.len() + 1..],
        None => repository,
    };
    format!("{}/{path}", mirror.trim_end_matches('/'))
}

/// Where `mirror` (`REGISTRY/PREFIX`) holds `chart` of `repository` (`oci://HOST/PATH` or a
/// classic `https://HOST/PATH`): `REGISTRY/PREFIX/charts/PATH/CHART` (what `cnsctl mirror`
/// writes, a classic chart converted to an OCI chart); the repository to install it from is
/// that without `/CHART`, after `oci://`. Charts have a `charts/` prefix of their own: a
/// chart is often named as its operator's image (`nvidia/gpu-operator`), and both share a
/// version.
pub fn mirrored_chart(repository: &str, chart: &str, mirror: &str) -> String {
    let bare = repository
        .split_once("://")
        .map_or(repository, |(_, rest)| rest)
        .trim_end_matches('/');
    let charts = format!("{}/charts", mirror.trim_end_matches('/'));
    mirrored(&format!("{bare}/{chart}"), &charts)
}

/// The repository a bundle made with `--registry-mirror` installs `chart` from:
/// `oci://` and [`mirrored_chart`] without `/CHART`.
pub fn mirrored_chart_source(repository: &str, chart: &str, mirror: &str) -> String {
    let at = mirrored_chart(repository, chart, mirror);
    let dir = at.rsplit_once('/').map_or(at.as_str(), |(d, _)| d);
    format!("oci://{dir}")
}

/// The registry host a repository names (`nvcr.io`, `127.0.0.1:5000`, `localhost`), or none
/// for a Docker Hub name such as `bitnami/kubectl` (the first component is a host only when
/// it has a `.` or `:` or is `localhost`, as container runtimes read it).
pub fn registry_host(repository: &str) -> Option<&str> {
    let (first, _) = repository.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// `repository[:tag][@digest]` with the registry host a container runtime would use: a name
/// without one is Docker Hub's (`docker.io/`, and `library/` for a single path component).
pub fn normalized_reference(repository: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    let mut s = match (
        registry_host(repository).is_some(),
        repository.contains('/'),
    ) {
        (true, _) => repository.to_string(),
        (false, true) => format!("docker.io/{repository}"),
        (false, false) => format!("docker.io/library/{repository}"),
    };
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// The `repository` field of every operand in `spec` of the documents of `kinds`, moved under
/// `mirror`; the manifest re-serialised (sorted keys, comments dropped), or none when it has
/// no such document.
pub fn mirror_manifest(content: &[u8], kinds: &[&str], mirror: &str) -> Option<Vec<u8>> {
    use serde::Deserialize;
    let text = std::str::from_utf8(content).ok()?;
    cns_files::nesting::check(text).ok()?;
    let mut docs: Vec<Value> = serde_norway::Deserializer::from_str(text)
        .map(Value::deserialize)
        .collect::<Result<_, _>>()
        .ok()?;
    let mut changed = false;
    for doc in &mut docs {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !kinds.contains(&kind) {
            continue;
        }
        let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) else {
            continue;
        };
        for operand in spec.values_mut() {
            let has_image = operand.get("image").is_some() && operand.get("version").is_some();
            if let (true, Some(Value::String(repo))) = (has_image, operand.get_mut("repository")) {
                *repo = mirrored(repo, mirror);
                changed = true;
            }
        }
    }
    if !changed {
        return None;
    }
    let parts: Vec<String> = docs
        .iter()
        .filter(|d| !d.is_null())
        .map(|d| cns_values::to_yaml(d).expect("manifest values serialise"))
        .collect();
    Some(parts.join("---\n").into_bytes())
}

/// `--registry-mirror`: the values overrides that point every image of `data` at `mirror`.
pub fn mirror_overrides(data: &ImageData, values: &Value, mirror: &str) -> BTreeMap<String, Value> {
    let mut merged = data.chart_defaults.clone();
    cns_values::deep_merge(&mut merged, values);
    let mut out = BTreeMap::new();
    for spec in &data.refs {
        let Some(path) = &spec.mirror else { continue };
        let current = leaf(&merged, path).or_else(|| {
            first(&spec.repository, &merged)
                .map(|r| r.0)
                .or_else(|| first(&spec.r#ref, &merged).map(|r| r.0))
        });
        if let Some(cur) = current {
            out.insert(path.clone(), Value::String(mirrored(&cur, mirror)));
        }
    }
    out
}

/// One copy `cnsctl mirror` makes: source and target as runtimes name them
/// (`REGISTRY/REPOSITORY[:TAG][@DIGEST]`), the digest the source must hold when pinned,
/// and what it is (`image …`, `chart …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// `image REFERENCE` or `chart REPOSITORY:VERSION`.
    pub what: String,
    /// Where it is read.
    pub from: String,
    /// Where it is written.
    pub to: String,
    /// The pinned digest the source must hold.
    pub expect: Option<String>,
    /// A chart of a classic Helm repository, fetched from it (`from` is then its URL) and
    /// pushed as an OCI chart.
    pub helm_repository: Option<HelmChart>,
}

/// A chart version in a classic Helm repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmChart {
    /// The repository URL.
    pub repository: String,
    /// The chart's name.
    pub chart: String,
    /// Its version.
    pub version: String,
}

/// What mirroring a bundle copies, and what it cannot copy with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorPlan {
    /// Each distinct image once, then each chart.
    pub copies: Vec<Copy>,
    /// Images and charts left out, each with its reason.
    pub skipped: Vec<String>,
}

/// The copies that put `inv`'s images and the `charts` (component name, chart) under the
/// mirror `to` (`REGISTRY/PREFIX`), read from the upstream registries or from the staging
/// mirror `from`. Images are fetched at their tag (at the digest when they have no tag); a
/// pinned digest must be what the source holds there. A chart of a classic Helm repository
/// is fetched from it and pushed as an OCI chart at [`mirrored_chart`] (from the stage, it
/// is already one).
pub fn mirror_plan<'a>(
    inv: &Inventory,
    charts: impl IntoIterator<Item = (&'a str, &'a cns_runtime::types::ChartSource)>,
    to: &str,
    from: Option<&str>,
) -> MirrorPlan {
    let source = |repository: &str| match from {
        Some(f) => mirrored(repository, f),
        None => repository.to_string(),
    };
    let mut plan = MirrorPlan::default();
    let mut seen = std::collections::BTreeSet::new();
    for img in &inv.images {
        if let Some(s) = &img.unresolved_suffix {
            plan.skipped.push(format!(
                "{} ({}): the operator appends `{s}` per node and the recipe does not say which",
                img.reference(),
                img.component
            ));
            continue;
        }
        if !seen.insert(img.reference()) {
            continue;
        }
        let tag = img.tag.as_deref();
        let digest = if tag.is_none() {
            img.digest.as_deref()
        } else {
            None
        };
        plan.copies.push(Copy {
            what: format!("image {}", img.reference()),
            from: normalized_reference(&source(&img.repository), tag, digest),
            to: normalized_reference(&mirrored(&img.repository, to), tag, digest),
            expect: img.digest.clone(),
            helm_repository: None,
        });
    }
    for (_, chart) in charts {
        let version = Some(chart.version.as_str());
        let target = mirrored_chart(&chart.repository, &chart.chart, to);
        let Some(repo) = chart.repository.strip_prefix("oci://") else {
            // A classic repository: its archive is fetched and pushed as an OCI chart (read
            // from the staging mirror, where an earlier `mirror` put it, when there is one).
            let what = format!(
                "chart {} {} ({})",
                chart.chart, chart.version, chart.repository
            );
            plan.copies.push(match from {
                Some(f) => Copy {
                    what,
                    from: normalized_reference(
                        &mirrored_chart(&chart.repository, &chart.chart, f),
                        version,
                        None,
                    ),
                    to: normalized_reference(&target, version, None),
                    expect: None,
                    helm_repository: None,
                },
                None => Copy {
                    what,
                    from: chart.repository.clone(),
                    to: normalized_reference(&target, version, None),
                    expect: None,
                    helm_repository: Some(HelmChart {
                        repository: chart.repository.clone(),
                        chart: chart.chart.clone(),
                        version: chart.version.clone(),
                    }),
                },
            });
            continue;
        };
        let repository = format!("{}/{}", repo.trim_end_matches('/'), chart.chart);
        let read = match from {
            Some(f) => mirrored_chart(&chart.repository, &chart.chart, f),
            None => repository.clone(),
        };
        plan.copies.push(Copy {
            what: format!("chart {repository}:{}", chart.version),
            from: normalized_reference(&read, version, None),
            to: normalized_reference(&target, version, None),
            expect: None,
            helm_repository: None,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names_are_normalized() {
        for (repo, tag, digest, want) in [
            ("nginx", Some("1.27"), None, "docker.io/library/nginx:1.27"),
            (
                "bitnami/kubectl",
                Some("1"),
                None,
                "docker.io/bitnami/kubectl:1",
            ),
            (
                "nvcr.io/nvidia/driver",
                None,
                Some("sha256:ab"),
                "nvcr.io/nvidia/driver@sha256:ab",
            ),
            (
                "localhost/x",
                Some("t"),
                Some("sha256:cd"),
                "localhost/x:t@sha256:cd",
            ),
            ("127.0.0.1:5000/a/b", None, None, "127.0.0.1:5000/a/b"),
        ] {
            assert_eq!(normalized_reference(repo, tag, digest), want);
        }
    }

    #[test]
    fn mirrors_replace_the_registry_host_only() {
        assert_eq!(mirrored("nvcr.io/nvidia", "m:5000/p"), "m:5000/p/nvidia");
        assert_eq!(
            mirrored("bitnami/kubectl", "m:5000/p/"),
            "m:5000/p/bitnami/kubectl"
        );
        assert_eq!(mirrored("localhost/x", "m"), "m/x");
    }

    #[test]
    fn a_mirror_plan_copies_each_image_once_and_oci_charts_and_says_what_it_skips() {
        use crate::images::inventory::LockedImage;
        let img = |repository: &str, tag: Option<&str>, digest: Option<&str>| LockedImage {
            component: "c".into(),
            repository: repository.into(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
            ..Default::default()
        };
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let mut suffixed = img("nvcr.io/nvidia/driver", Some("580"), None);
        suffixed.unresolved_suffix = Some("-{os}".into());
        let inv = Inventory {
            images: vec![
                img("nvcr.io/nvidia/gpu-operator", Some("v26.7.0"), Some(d)),
                img("nvcr.io/nvidia/gpu-operator", Some("v26.7.0"), Some(d)),
                img("busybox", None, Some(d)),
                suffixed,
            ],
            ..Default::default()
        };
        let chart = |repository: &str| cns_runtime::types::ChartSource {
            repository: repository.into(),
            chart: "gpu-operator".into(),
            version: "v26.7.0".into(),
        };
        let (oci, classic) = (
            chart("oci://ghcr.io/nvidia/"),
            chart("https://helm.ngc.nvidia.com/nvidia"),
        );
        let plan = mirror_plan(
            &inv,
            [("a", &oci), ("b", &classic)],
            "m.example:5000/gpu",
            Some("stage.example/s"),
        );
        let pairs: Vec<_> = plan
            .copies
            .iter()
            .map(|c| (c.from.as_str(), c.to.as_str(), c.expect.is_some()))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    "stage.example/s/nvidia/gpu-operator:v26.7.0",
                    "m.example:5000/gpu/nvidia/gpu-operator:v26.7.0",
                    true
                ),
                (
                    &*format!("stage.example/s/busybox@{d}"),
                    &*format!("m.example:5000/gpu/busybox@{d}"),
                    true
                ),
                (
                    "stage.example/s/charts/nvidia/gpu-operator:v26.7.0",
                    "m.example:5000/gpu/charts/nvidia/gpu-operator:v26.7.0",
                    false
                ),
                // The classic chart, converted by an earlier mirror into the stage.
                (
                    "stage.example/s/charts/nvidia/gpu-operator:v26.7.0",
                    "m.example:5000/gpu/charts/nvidia/gpu-operator:v26.7.0",
                    false
                ),
            ]
        );
        assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
        assert!(plan.skipped[0].contains("per node"));
        // Without a stage the classic chart is fetched from its repository.
        let direct = mirror_plan(&inv, [("b", &classic)], "m.example:5000/gpu", None);
        let c = direct.copies.last().unwrap();
        assert_eq!(c.from, "https://helm.ngc.nvidia.com/nvidia");
        assert_eq!(
            c.to,
            "m.example:5000/gpu/charts/nvidia/gpu-operator:v26.7.0"
        );
        assert_eq!(
            c.helm_repository.as_ref().map(|h| h.chart.as_str()),
            Some("gpu-operator")
        );
        // A repository without a path: the chart lands under the prefix itself.
        assert_eq!(
            mirrored_chart("https://charts.jetstack.io", "cert-manager", "m/p"),
            "m/p/charts/cert-manager"
        );
        assert_eq!(
            mirrored_chart("oci://ghcr.io/nvidia/", "nvsentinel", "m/p"),
            "m/p/charts/nvidia/nvsentinel"
        );
    }
}
