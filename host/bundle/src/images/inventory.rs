//! The inventory itself: each component's images from its final values over the chart
//! defaults (`images:` of its registry entry) and from the operator resources among its
//! manifests, with node tag suffixes resolved from the recipe's constraints, and the
//! `images.lock.yaml` it is written as.

use cns_recipe::registry::{ImageData, ImageSpec};
use cns_recipe::{Constraint, RecipeResult};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The lock file's name at the bundle root.
pub const LOCK_FILE: &str = "images.lock.yaml";
/// The lock document's kind.
pub const LOCK_KIND: &str = "ImagesLock";

/// One image a component runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedImage {
    /// The component.
    pub component: String,
    /// The image's name within the component (`driver`, `webhook`).
    pub name: String,
    /// Repository, registry host included.
    pub repository: String,
    /// Tag as nodes pull it (an operator's node suffix applied when it is known).
    pub tag: Option<String>,
    /// Digest pinned by the values, or resolved by `--resolve-digests`.
    pub digest: Option<String>,
    /// Where it comes from: `values:PATH` or `manifest:FILE#KIND.FIELD`.
    pub source: String,
    /// What an operator appends to the tag per node when the recipe does not say which
    /// (e.g. `-{os}{osVersion}`): the tag above is then the prefix.
    pub unresolved_suffix: Option<String>,
    /// With `--cluster-values`: the image comes from the per-cluster values.
    pub per_cluster: bool,
}

impl LockedImage {
    /// The reference a node pulls: `repository[:tag][@digest]`.
    pub fn reference(&self) -> String {
        let mut s = self.repository.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("component".into(), self.component.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("image".into(), self.reference().into());
        m.insert("repository".into(), self.repository.clone().into());
        if let Some(t) = &self.tag {
            m.insert("tag".into(), t.clone().into());
        }
        if let Some(d) = &self.digest {
            m.insert("digest".into(), d.clone().into());
        }
        m.insert("source".into(), self.source.clone().into());
        if let Some(s) = &self.unresolved_suffix {
            m.insert("nodeTagSuffix".into(), s.clone().into());
        }
        if self.per_cluster {
            m.insert("perCluster".into(), true.into());
        }
        Value::Object(m)
    }
}

/// The inventory of a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Sorted by component, then name.
    pub images: Vec<LockedImage>,
    /// Why the list may be incomplete (a component without image data, a chart version the
    /// data was not recorded for, a switched-on part the data does not cover, a node suffix
    /// the recipe does not determine). Empty when the list is complete.
    pub incomplete: Vec<String>,
    /// Each component's chart digest, by component, when `--resolve-chart-digests` looked
    /// them up (not in `images.lock.yaml`: the SBOM and the provenance carry them).
    pub charts: BTreeMap<String, ResolvedChart>,
    /// Each component's chart archive, by component, with `--vendor-charts`: assembled as
    /// `<component>/chart/<chart>-<version>.tgz` (see [`Inventory::vendor`]).
    pub vendored: BTreeMap<String, VendoredChart>,
}

/// A chart archive carried in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendoredChart {
    /// Its path in the component's folder: `chart/<chart>-<version>.tgz`.
    pub path: String,
    /// The archive.
    pub archive: Vec<u8>,
}

/// The folder of a component that holds its vendored chart archive.
pub const VENDORED_CHART_DIR: &str = "chart";

/// A chart's digest as its source serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedChart {
    /// `sha256:<hex>`.
    pub digest: String,
    /// What it is the digest of: `archive` (a classic repository's `.tgz`) or
    /// `oci-manifest`.
    pub of: String,
    /// Taken from the archive `--vendor-charts` put in the bundle, not looked up by
    /// `--resolve-chart-digests`.
    pub vendored: bool,
}

impl Inventory {
    /// Carry `archive`, the chart `chart` at `version` of `component`, in the bundle
    /// (`--vendor-charts`); its digest becomes the chart's digest in the SBOM and the
    /// provenance unless `--resolve-chart-digests` recorded the source's already. The chart
    /// name and version become the file name, so they must be plain file-name parts.
    pub fn vendor(
        &mut self,
        component: &str,
        chart: &str,
        version: &str,
        archive: Vec<u8>,
    ) -> Result<(), String> {
        let file = format!("{chart}-{version}.tgz");
        if file.starts_with('.')
            || !file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        {
            return Err(format!(
                "chart `{}` version `{}` of `{component}` does not make a file name",
                chart.escape_debug(),
                version.escape_debug()
            ));
        }
        use sha2::Digest;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&archive)));
        self.charts
            .entry(component.to_string())
            .or_insert(ResolvedChart {
                digest,
                of: "archive".into(),
                vendored: true,
            });
        self.vendored.insert(
            component.to_string(),
            VendoredChart {
                path: format!("{VENDORED_CHART_DIR}/{file}"),
                archive,
            },
        );
        Ok(())
    }

    /// Pin a digest on every image that has none (`--resolve-digests`): `resolve` is asked
    /// once per distinct reference (`REPOSITORY:TAG`, the image named as runtimes pull it)
    /// and its error is returned with the image and component it was for. Images whose tag
    /// ends in a node suffix the recipe does not determine are left as they are. Returns how
    /// many references were resolved.
    pub fn resolve_digests<E>(
        &mut self,
        mut resolve: impl FnMut(&LockedImage) -> Result<String, E>,
    ) -> Result<usize, (String, String, E)> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for img in self.images.iter_mut().filter(|i| i.digest.is_none()) {
            if img.unresolved_suffix.is_some() {
                continue;
            }
            let key = img.reference();
            let digest = match seen.get(&key) {
                Some(d) => d.clone(),
                None => {
                    let d = resolve(img).map_err(|e| (key.clone(), img.component.clone(), e))?;
                    seen.insert(key, d.clone());
                    d
                }
            };
            img.digest = Some(digest);
        }
        Ok(seen.len())
    }

    /// Distinct references, sorted.
    pub fn references(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<String> =
            self.images.iter().map(LockedImage::reference).collect();
        set.into_iter().collect()
    }

    /// The lock document as a JSON value (the YAML file's content).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("apiVersion".into(), cns_recipe::API_VERSION.into());
        m.insert("kind".into(), LOCK_KIND.into());
        m.insert(
            "images".into(),
            Value::Array(self.images.iter().map(LockedImage::to_value).collect()),
        );
        if !self.incomplete.is_empty() {
            m.insert(
                "incomplete".into(),
                Value::Array(self.incomplete.iter().cloned().map(Value::from).collect()),
            );
        }
        Value::Object(m)
    }

    /// `images.lock.yaml`.
    pub fn to_yaml(&self) -> String {
        let head =
            "# The container images this bundle's charts and operators run (`cnsctl images`).\n";
        let body = cns_values::to_yaml(&self.to_value()).expect("lock values serialise");
        format!("{head}{body}")
    }
}

/// The node facts an operator's tag suffix uses, from the recipe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// `OS.release.ID` when the recipe pins it (`ubuntu`).
    pub os: Option<String>,
    /// `OS.release.VERSION_ID` when pinned (`24.04`).
    pub os_version: Option<String>,
    /// CPU architecture of the GPU nodes (`arm64` for Grace-based accelerators, else `amd64`).
    pub arch: Option<String>,
}

/// An equality constraint's value (`ubuntu`, `== 24.04`), or none for a comparison.
fn pinned(constraints: &[Constraint], name: &str) -> Option<String> {
    let c = constraints.iter().find(|c| c.name == name)?;
    let v = c.value.trim();
    let v = v.strip_prefix("==").map(str::trim).unwrap_or(v);
    let comparison = ["<", ">", "!", "~", "="].iter().any(|p| v.starts_with(p));
    (!comparison && !v.is_empty()).then(|| v.to_string())
}

impl NodeFacts {
    /// From the recipe's criteria and constraints.
    pub fn of(recipe: &RecipeResult) -> Self {
        let arch = match recipe.criteria.accelerator.as_str() {
            "gb200" => Some("arm64".to_string()),
            "any" | "" => None,
            _ => Some("amd64".to_string()),
        };
        NodeFacts {
            os: pinned(&recipe.constraints, "OS.release.ID"),
            os_version: pinned(&recipe.constraints, "OS.release.VERSION_ID"),
            arch,
        }
    }

    /// `pattern` with `{os}`, `{osVersion}`, `{arch}` filled, or none if one is unknown.
    fn suffix(&self, pattern: &str) -> Option<String> {
        let mut out = pattern.to_string();
        for (k, v) in [
            ("{os}", &self.os),
            ("{osVersion}", &self.os_version),
            ("{arch}", &self.arch),
        ] {
            if out.contains(k) {
                out = out.replace(k, v.as_deref()?);
            }
        }
        Some(out)
    }
}

/// A values leaf as template text: non-empty strings and numbers; anything else is unset.
pub(super) fn leaf(values: &Value, path: &str) -> Option<String> {
    match cns_values::get_path(values, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Helm's truthiness: false, 0, "", null, empty list or map are false.
fn truthy(values: &Value, path: &str) -> bool {
    match cns_values::get_path(values, path) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// A template with every `{path}` placeholder filled, or none if one is unset.
pub fn fill(template: &str, values: &Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        out.push_str(&leaf(values, &rest[open + 1..close])?);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The first template that fills, with the first placeholder's path of it.
pub(super) fn first(templates: &[String], values: &Value) -> Option<(String, Option<String>)> {
    templates.iter().find_map(|t| {
        let v = fill(t, values)?;
        let path = t
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map(|(p, _)| p.to_string());
        Some((v, path))
    })
}

/// Split `repo[:tag][@digest]` (a `:` after the last `/` is the tag's).
pub fn split_reference(r: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match r.split_once('@') {
        Some((a, d)) => (a, Some(d.to_string())),
        None => (r, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_string(),
            Some(rest[slash + i + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

fn when_holds(spec: &ImageSpec, values: &Value) -> bool {
    spec.when.iter().all(|w| match w.strip_prefix('!') {
        Some(p) => !truthy(values, p),
        None => truthy(values, w),
    })
}

/// One image of a values-driven spec, or why it cannot be told.
fn spec_image(
    component: &str,
    spec: &ImageSpec,
    values: &Value,
    node: &NodeFacts,
) -> Result<LockedImage, String> {
    let what = format!("image `{}` of `{component}`", spec.name);
    let (repository, tag, digest, path) = if !spec.r#ref.is_empty() {
        let (r, path) = first(&spec.r#ref, values)
            .ok_or_else(|| format!("{what}: none of {:?} is set", spec.r#ref))?;
        let (repo, tag, digest) = split_reference(&r);
        (repo, tag, digest, path)
    } else {
        let (repo, path) = first(&spec.repository, values)
            .ok_or_else(|| format!("{what}: none of {:?} is set", spec.repository))?;
        let tag = first(&spec.tag, values).map(|t| t.0);
        let digest = first(&spec.digest, values).map(|d| d.0);
        (repo, tag, digest, path)
    };
    // A `version: sha256:…` is a digest (the NVIDIA operators pull it as `@sha256:…`).
    let (tag, digest) = match tag {
        Some(t) if t.starts_with("sha256:") && digest.is_none() => (None, Some(t)),
        t => (t, digest),
    };
    if tag.is_none() && digest.is_none() {
        return Err(format!("{what}: neither a tag nor a digest is set"));
    }
    let source = format!(
        "values:{}",
        spec.mirror.clone().or(path).unwrap_or_default()
    );
    let mut img = LockedImage {
        component: component.to_string(),
        name: spec.name.clone(),
        repository,
        tag,
        digest,
        source,
        unresolved_suffix: None,
        per_cluster: false,
    };
    if let Some(pattern) = &spec.node_tag_suffix {
        apply_suffix(&mut img, pattern, node);
    }
    Ok(img)
}

fn apply_suffix(img: &mut LockedImage, pattern: &str, node: &NodeFacts) {
    // An operator appends nothing to a digest (the GPU Operator pulls `@sha256:` as is).
    let Some(tag) = &mut img.tag else { return };
    if tag.starts_with("sha256:") {
        return;
    }
    match node.suffix(pattern) {
        Some(s) => tag.push_str(&s),
        None => img.unresolved_suffix = Some(pattern.to_string()),
    }
}

/// Operand images of the operator custom resources among `manifests` (only files that name
/// one of the data's kinds are parsed; a file that is not UTF-8 has none).
fn manifest_images(
    component: &str,
    data: &ImageData,
    manifests: &[cns_runtime::types::InputFile],
    node: &NodeFacts,
) -> Vec<LockedImage> {
    let mut out = Vec::new();
    for file in manifests {
        let (path, Ok(text)) = (&file.path, std::str::from_utf8(&file.content)) else {
            continue;
        };
        use serde::Deserialize;
        if !data
            .manifest_operands
            .iter()
            .any(|m| text.contains(m.kind.as_str()))
        {
            continue;
        }
        if cns_files::nesting::check(text).is_err() {
            continue;
        }
        for doc in
            serde_norway::Deserializer::from_str(text).filter_map(|d| Value::deserialize(d).ok())
        {
            let Some(kind) = doc.get("kind").and_then(Value::as_str) else {
                continue;
            };
            let Some(rule) = data.manifest_operands.iter().find(|m| m.kind == kind) else {
                continue;
            };
            let Some(spec) = doc.get("spec").and_then(Value::as_object) else {
                continue;
            };
            for (field, v) in spec {
                let (Some(repo), Some(image), Some(version)) = (
                    v.get("repository").and_then(Value::as_str),
                    v.get("image").and_then(Value::as_str),
                    v.get("version").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let (tag, digest) = match version.strip_prefix("sha256:") {
                    Some(_) => (None, Some(version.to_string())),
                    None => (Some(version.to_string()), None),
                };
                let mut img = LockedImage {
                    component: component.to_string(),
                    name: field.clone(),
                    repository: format!("{repo}/{image}"),
                    tag,
                    digest,
                    source: format!("manifest:{path}#{kind}.spec.{field}"),
                    unresolved_suffix: None,
                    per_cluster: false,
                };
                if let Some(pattern) = rule.node_tag_suffix.get(field) {
                    apply_suffix(&mut img, pattern, node);
                }
                out.push(img);
            }
        }
    }
    out
}

/// What one component contributes to the inventory.
pub struct ComponentImages<'a> {
    /// Component name.
    pub component: &'a str,
    /// Chart version the recipe uses.
    pub chart_version: &'a str,
    /// The registry's image data for the component and the chart version it describes.
    pub data: Option<(&'a ImageData, &'a str)>,
    /// The final values (what the bundle gives the chart).
    pub values: &'a Value,
    /// With `--cluster-values`: the per-cluster values tree, merged over `values`.
    pub cluster_values: Option<&'a Value>,
    /// The component's manifests.
    pub manifests: &'a [cns_runtime::types::InputFile],
}

/// Add one component's images to `inv`.
pub fn add_component(inv: &mut Inventory, c: &ComponentImages<'_>, node: &NodeFacts) {
    let Some((data, recorded)) = c.data else {
        inv.incomplete.push(format!(
            "`{}`: the registry records no images for this component",
            c.component
        ));
        return;
    };
    if recorded != c.chart_version {
        inv.incomplete.push(format!(
            "`{}`: image defaults are recorded for chart version {recorded}, the recipe uses {}",
            c.component, c.chart_version
        ));
    }
    let mut merged = data.chart_defaults.clone();
    cns_values::deep_merge(&mut merged, c.values);
    let with_cluster = c.cluster_values.map(|cv| {
        let mut m = merged.clone();
        cns_values::deep_merge(&mut m, cv);
        m
    });
    let values = with_cluster.as_ref().unwrap_or(&merged);
    for p in &data.not_covered {
        if truthy(values, p) {
            inv.incomplete.push(format!(
                "`{}`: `{p}` is on and its images are not in the registry's data",
                c.component
            ));
        }
    }
    for spec in data.refs.iter().filter(|s| when_holds(s, values)) {
        match spec_image(c.component, spec, values, node) {
            Ok(mut img) => {
                if with_cluster.is_some() {
                    img.per_cluster =
                        spec_image(c.component, spec, &merged, node).ok() != Some(img.clone());
                }
                inv.images.push(img);
            }
            Err(e) => inv.incomplete.push(e),
        }
    }
    inv.images
        .extend(manifest_images(c.component, data, c.manifests, node));
    for img in &inv.images {
        if let Some(s) = &img.unresolved_suffix
            && img.component == c.component
        {
            let note = format!(
                "`{}`: the operator appends `{s}` to the tag of `{}` on each node, and the recipe pins no OS.release.ID/VERSION_ID to tell which",
                c.component, img.name
            );
            if !inv.incomplete.contains(&note) {
                inv.incomplete.push(note);
            }
        }
    }
}

/// Sort and finish an inventory.
pub fn finish(mut inv: Inventory) -> Inventory {
    inv.images.sort();
    inv.images.dedup();
    inv
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fill_takes_every_placeholder_or_nothing() {
        let v = json!({"a": {"b": "x"}, "n": 3, "e": ""});
        assert_eq!(fill("{a.b}/y:{n}", &v).as_deref(), Some("x/y:3"));
        assert_eq!(fill("{a.b}/{e}", &v), None);
        assert_eq!(fill("{missing}", &v), None);
        assert_eq!(fill("literal", &v).as_deref(), Some("literal"));
    }

    #[test]
    fn references_split_at_the_last_path_segment() {
        assert_eq!(
            split_reference("localhost:5000/a/b:v1@sha256:ab"),
            (
                "localhost:5000/a/b".into(),
                Some("v1".into()),
                Some("sha256:ab".into())
            )
        );
        assert_eq!(
            split_reference("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), None, None)
        );
        assert_eq!(
            split_reference("registry.k8s.io/pause:3.10"),
            ("registry.k8s.io/pause".into(), Some("3.10".into()), None)
        );
    }

    fn spec(y: &str) -> ImageSpec {
        serde_json::from_value(cns_values::from_yaml(y).unwrap()).unwrap()
    }

    #[test]
    fn specs_follow_default_chains_conditions_and_node_suffixes() {
        let s = spec(
            "name: driver\nwhen: [driver.enabled, '!sandbox.enabled']\nrepository: ['{driver.repository}/{driver.image}']\ntag: ['{driver.version}']\nnodeTagSuffix: '-{os}{osVersion}'\nmirror: driver.repository\n",
        );
        let v = json!({"driver": {"enabled": true, "repository": "nvcr.io/nvidia", "image": "driver", "version": "595.1"}});
        let node = NodeFacts {
            os: Some("ubuntu".into()),
            os_version: Some("24.04".into()),
            arch: None,
        };
        assert!(when_holds(&s, &v));
        let img = spec_image("gpu-operator", &s, &v, &node).unwrap();
        assert_eq!(img.reference(), "nvcr.io/nvidia/driver:595.1-ubuntu24.04");
        assert_eq!(img.source, "values:driver.repository");
        let unknown = spec_image("gpu-operator", &s, &v, &NodeFacts::default()).unwrap();
        assert_eq!(unknown.reference(), "nvcr.io/nvidia/driver:595.1");
        assert_eq!(
            unknown.unresolved_suffix.as_deref(),
            Some("-{os}{osVersion}")
        );
        let off = json!({"driver": {"enabled": true}, "sandbox": {"enabled": true}});
        assert!(!when_holds(&s, &off));
        let no_repo = json!({"driver": {"version": "1"}});
        assert!(
            spec_image("gpu-operator", &s, &no_repo, &node)
                .unwrap_err()
                .contains("image `driver` of `gpu-operator`")
        );
    }

    #[test]
    fn pinned_constraints_only() {
        let c = |n: &str, v: &str| Constraint {
            name: n.into(),
            value: v.into(),
            remediation: None,
        };
        let cs = vec![
            c("OS.release.ID", "ubuntu"),
            c("OS.release.VERSION_ID", ">= 22.04"),
        ];
        assert_eq!(pinned(&cs, "OS.release.ID").as_deref(), Some("ubuntu"));
        assert_eq!(pinned(&cs, "OS.release.VERSION_ID"), None);
        assert_eq!(
            pinned(
                &[c("OS.release.VERSION_ID", "== 24.04")],
                "OS.release.VERSION_ID"
            )
            .as_deref(),
            Some("24.04")
        );
    }
}
