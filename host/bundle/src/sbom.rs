//! The bundle's software bill of materials (`sbom.cdx.json`): CycloneDX 1.6 JSON listing each
//! Helm chart the bundle installs and each image its components run (from
//! `images.lock.yaml`), with versions, and digests where they are pinned or resolved, the
//! charts depending on their images. Deterministic: no timestamp, the serial number derived
//! from the content.

use crate::images::{LockedImage, ResolvedChart};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub use cns_files::SBOM_FILE;

/// A chart the bundle installs.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// The recipe component.
    pub component: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// The chart repository (`https://…` or `oci://…`).
    pub repository: &'a str,
    /// The chart's name.
    pub chart: &'a str,
    /// The chart's version.
    pub version: &'a str,
    /// Its digest, when resolved.
    pub digest: Option<&'a ResolvedChart>,
}

/// What the bundle is: its recipe's version and criteria.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The recipe data version.
    pub recipe_version: &'a str,
    /// The criteria, e.g. `service=eks accelerator=h100 os=ubuntu intent=training`.
    pub criteria: &'a str,
    /// The deployer that wrote the bundle.
    pub deployer: &'a str,
}

fn property(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// Percent-encode what a purl qualifier or version may not hold raw.
fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An image's package URL (`pkg:oci/NAME@DIGEST?repository_url=…&tag=…`): only for an image
/// with a digest, as the purl `oci` type's version is the digest.
fn image_purl(i: &LockedImage) -> Option<String> {
    let digest = i.digest.as_deref()?;
    let name = i.repository.rsplit('/').next().unwrap_or(&i.repository);
    let mut purl = format!(
        "pkg:oci/{}@{}?repository_url={}",
        purl_escape(&name.to_ascii_lowercase()),
        purl_escape(digest),
        purl_escape(&i.repository)
    );
    if let Some(t) = &i.tag {
        purl.push_str(&format!("&tag={}", purl_escape(t)));
    }
    Some(purl)
}

fn image_component(i: &LockedImage, bom_ref: &str) -> Value {
    let mut c = json!({
        "type": "container",
        "bom-ref": bom_ref,
        "name": i.repository,
    });
    if let Some(v) = i.tag.as_deref().or(i.digest.as_deref()) {
        c["version"] = json!(v);
    }
    if let Some(hex) = i.digest.as_deref().and_then(|d| d.strip_prefix("sha256:")) {
        c["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
    }
    if let Some(p) = image_purl(i) {
        c["purl"] = json!(p);
    }
    let mut props = vec![
        property("cns:component", &i.component),
        property("cns:image", &i.name),
        property("cns:source", &i.source),
    ];
    if let Some(s) = &i.unresolved_suffix {
        props.push(property("cns:unresolved-tag-suffix", s));
    }
    if i.per_cluster {
        props.push(property("cns:per-cluster", "true"));
    }
    c["properties"] = Value::Array(props);
    c
}

/// The SBOM as CycloneDX 1.6 JSON (pretty, with a final newline).
pub fn sbom(subject: Subject<'_>, charts: &[Chart<'_>], images: &[LockedImage]) -> String {
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut used = BTreeSet::new();
    let mut chart_refs = Vec::new();
    for c in charts {
        let chart_ref = format!("chart:{}", c.component);
        chart_refs.push(chart_ref.clone());
        let mut chart = json!({
            "type": "application",
            "bom-ref": chart_ref,
            "name": c.chart,
            "version": c.version,
            "externalReferences": [{"type": "distribution", "url": c.repository}],
            "properties": [
                property("cns:component", c.component),
                property("cns:namespace", c.namespace),
                property("cns:kind", "helm-chart"),
            ],
        });
        if let Some(d) = c.digest {
            if let Some(hex) = d.digest.strip_prefix("sha256:") {
                chart["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
            }
            chart["properties"]
                .as_array_mut()
                .expect("properties")
                .push(property("cns:digest-of", &d.of));
        }
        components.push(chart);
        let mut image_refs = Vec::new();
        for i in images.iter().filter(|i| i.component == c.component) {
            // One ref per image of a component; a repeated name gets the next number.
            let base = format!("image:{}/{}", i.component, i.name);
            let mut r = base.clone();
            let mut n = 1;
            while !used.insert(r.clone()) {
                n += 1;
                r = format!("{base}#{n}");
            }
            components.push(image_component(i, &r));
            image_refs.push(r);
        }
        dependencies.push(json!({"ref": chart_ref, "dependsOn": image_refs}));
    }
    dependencies.insert(0, json!({"ref": "bundle", "dependsOn": chart_refs}));
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": "cnsctl",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "application",
                "bom-ref": "bundle",
                "name": "cnsctl-bundle",
                "version": subject.recipe_version,
                "description": format!("{} ({} deployer)", subject.criteria, subject.deployer),
            },
        },
        "components": components,
        "dependencies": dependencies,
    });
    doc["serialNumber"] = json!(serial(&doc));
    serde_json::to_string_pretty(&doc).expect("JSON") + "\n"
}

/// A UUID (version 5 and RFC 4122 variant bits, as the schema's pattern asks) from the
/// SHA-256 of the document: the same content always has the same serial number.
fn serial(doc: &Value) -> String {
    let h = Sha256::digest(doc.to_string().as_bytes());
    let mut b: [u8; 16] = h[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(component: &str, name: &str, tag: &str, digest: Option<&str>) -> LockedImage {
        LockedImage {
            component: component.into(),
            name: name.into(),
            repository: format!("nvcr.io/nvidia/{name}"),
            tag: Some(tag.into()),
            digest: digest.map(str::to_string),
            source: format!("values:{name}.image"),
            ..Default::default()
        }
    }

    #[test]
    fn charts_images_digests_and_a_stable_serial() {
        let subject = Subject {
            recipe_version: "v0.1.0",
            criteria: "service=eks accelerator=h100 os=ubuntu intent=training",
            deployer: "argocd",
        };
        let charts = [Chart {
            component: "gpu-operator",
            namespace: "gpu-operator",
            repository: "https://helm.ngc.nvidia.com/nvidia",
            chart: "gpu-operator",
            version: "v25.10.1",
            digest: None,
        }];
        let digest = format!("sha256:{}", "ab".repeat(32));
        let images = [
            image("gpu-operator", "gpu-operator", "v25.10.1", Some(&digest)),
            image("gpu-operator", "driver", "580.95.05", None),
        ];
        let text = sbom(subject, &charts, &images);
        assert_eq!(text, sbom(subject, &charts, &images), "deterministic");
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["specVersion"], "1.6");
        let serial = doc["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "5", "{serial}");
        let c = doc["components"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0]["name"], "gpu-operator");
        assert_eq!(c[0]["version"], "v25.10.1");
        assert_eq!(c[1]["hashes"][0]["content"], "ab".repeat(32));
        assert_eq!(
            c[1]["purl"],
            format!(
                "pkg:oci/gpu-operator@sha256%3A{}?repository_url=nvcr.io%2Fnvidia%2Fgpu-operator&tag=v25.10.1",
                "ab".repeat(32)
            )
        );
        assert!(c[2].get("purl").is_none() && c[2].get("hashes").is_none());
        assert_eq!(
            doc["dependencies"],
            json!([
                {"ref": "bundle", "dependsOn": ["chart:gpu-operator"]},
                {"ref": "chart:gpu-operator", "dependsOn": ["image:gpu-operator/gpu-operator", "image:gpu-operator/driver"]},
            ])
        );
        // Another content, another serial.
        let other = sbom(subject, &charts, &images[..1]);
        let other: Value = serde_json::from_str(&other).unwrap();
        assert_ne!(other["serialNumber"], doc["serialNumber"]);
    }
}
