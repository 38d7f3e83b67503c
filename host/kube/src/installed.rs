//! What a cluster runs, read through its API for `upgrade-check --from cluster`: Helm's
//! release Secrets (what `helm upgrade --install` and Flux's helm-controller record), and the
//! Argo CD `Application`s and Flux `HelmRelease`s a bundle generated, found by the
//! `cns.nvidia.com/component` label bundles put on them.

use crate::{Cluster, Error, Result};
use base64::Engine;
use cns_recipe::upgrade::Installed;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

/// The label bundles put on what installs a component (see the plugin SDK's `origin_labels`).
pub const COMPONENT_LABEL: &str = "cns.nvidia.com/component";

/// The largest decompressed Helm release cnsctl reads (Helm's own Secret limit is 1 MiB
/// compressed; a release's JSON is the rendered manifest and the values).
const MAX_RELEASE_BYTES: u64 = 64 << 20;

/// What [`Cluster::installed`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Each component found, by name.
    pub installed: Vec<Installed>,
    /// What the reader should know (a release whose last revision failed, a HelmRelease not
    /// yet at the version it asks for, a resource the cluster does not serve).
    pub notes: Vec<String>,
}

/// One Helm release as Helm stores it (the fields cnsctl reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRelease {
    /// Release name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Revision.
    pub revision: u64,
    /// `deployed`, `failed`, `pending-upgrade`, …
    pub status: String,
    /// The chart's name.
    pub chart: String,
    /// The chart's version.
    pub version: String,
}

/// Decode a release Secret's `release` data as Helm writes it: base64 text of gzipped JSON
/// (Helm also reads uncompressed JSON, and so does this). `what` names the Secret.
pub fn decode_release(what: &str, data: &[u8]) -> Result<HelmRelease> {
    let bad = |message: String| Error::Transport {
        what: what.to_string(),
        message,
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .map_err(|e| bad(format!("the release is not base64: {e}")))?;
    let json = if raw.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_RELEASE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("the release is not gzip: {e}")))?;
        if out.len() as u64 > MAX_RELEASE_BYTES {
            return Err(bad(format!(
                "the release is over {MAX_RELEASE_BYTES} bytes unpacked"
            )));
        }
        out
    } else {
        raw
    };
    let v: Value = serde_json::from_slice(&json)
        .map_err(|e| bad(format!("the release is not Helm's JSON: {e}")))?;
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let field = |p: &str| text(p).ok_or_else(|| bad(format!("the release has no {p}")));
    Ok(HelmRelease {
        name: field("/name")?,
        namespace: field("/namespace")?,
        revision: v.pointer("/version").and_then(Value::as_u64).unwrap_or(0),
        status: text("/info/status").unwrap_or_else(|| "unknown".into()),
        chart: field("/chart/metadata/name")?,
        version: field("/chart/metadata/version")?,
    })
}

fn dynamic(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// An OCI source as cnsctl writes it: Argo CD names OCI Helm repositories without a scheme.
fn argo_source(repo: &str) -> String {
    let repo = repo.trim_end_matches('/');
    if repo.contains("://") {
        repo.to_string()
    } else {
        format!("oci://{repo}")
    }
}

impl Cluster {
    /// The Helm releases of the cluster (each release's newest revision), from the Secrets
    /// labelled `owner=helm` in every namespace.
    pub fn helm_releases(&self) -> Result<Vec<HelmRelease>> {
        let secrets: Api<Secret> = Api::all(self.client());
        let list = self
            .block(secrets.list(&ListParams::default().labels("owner=helm")))
            .map_err(|e| Error::kube("Helm release Secrets (label owner=helm)", e))?;
        let mut newest: BTreeMap<(String, String), HelmRelease> = BTreeMap::new();
        for s in list.items {
            let what = format!(
                "Secret {}/{}",
                s.metadata.namespace.as_deref().unwrap_or(""),
                s.metadata.name.as_deref().unwrap_or("")
            );
            if s.type_.as_deref() != Some("helm.sh/release.v1") {
                continue;
            }
            let Some(data) = s.data.as_ref().and_then(|d| d.get("release")) else {
                continue;
            };
            let r = decode_release(&what, &data.0)?;
            let key = (r.namespace.clone(), r.name.clone());
            if newest.get(&key).is_none_or(|o| o.revision < r.revision) {
                newest.insert(key, r);
            }
        }
        Ok(newest.into_values().collect())
    }

    /// Objects of a custom resource labelled with [`COMPONENT_LABEL`]; none (and a note)
    /// when the cluster does not serve the resource.
    fn labelled(&self, ar: &ApiResource, notes: &mut Vec<String>) -> Result<Vec<DynamicObject>> {
        let api: Api<DynamicObject> = Api::all_with(self.client(), ar);
        match self.block(api.list(&ListParams::default().labels(COMPONENT_LABEL))) {
            Ok(l) => Ok(l.items),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                notes.push(format!(
                    "{} {}: not served by this cluster (not installed)",
                    ar.kind, ar.api_version
                ));
                Ok(Vec::new())
            }
            Err(e) => Err(Error::kube(format!("{} ({COMPONENT_LABEL})", ar.kind), e)),
        }
    }

    /// What the cluster runs of the components named in `known` (Helm releases of another
    /// name are not cnsctl's), and every Application and HelmRelease a bundle labelled. A
    /// component found both ways is one: the Helm release says what is deployed, the
    /// GitOps object where its chart comes from.
    pub fn installed(&self, known: &[String]) -> Result<Found> {
        let mut found: BTreeMap<String, Installed> = BTreeMap::new();
        let mut notes = Vec::new();
        for r in self.helm_releases()? {
            if !known.contains(&r.name) {
                continue;
            }
            if r.status != "deployed" {
                notes.push(format!(
                    "Helm release {}/{} revision {} is {}, not deployed",
                    r.namespace, r.name, r.revision, r.status
                ));
            }
            found.insert(
                r.name.clone(),
                Installed {
                    name: r.name.clone(),
                    version: r.version,
                    namespace: r.namespace,
                    chart: Some(r.chart),
                    source: None,
                    release: r.name,
                    manifests: None,
                },
            );
        }
        let apps = dynamic("argoproj.io", "v1alpha1", "Application", "applications");
        for o in self.labelled(&apps, &mut notes)? {
            if let Some(i) = from_application(&o.data, label(&o)) {
                merge(&mut found, i, "Argo CD Application", &mut notes);
            }
        }
        let releases = dynamic(
            "helm.toolkit.fluxcd.io",
            "v2",
            "HelmRelease",
            "helmreleases",
        );
        let repos = dynamic(
            "source.toolkit.fluxcd.io",
            "v1",
            "HelmRepository",
            "helmrepositories",
        );
        for o in self.labelled(&releases, &mut notes)? {
            let Some(mut i) = from_helm_release(&o.data, label(&o)) else {
                continue;
            };
            // The chart's source is the HelmRepository the release names.
            let spec = &o.data["spec"]["chart"]["spec"]["sourceRef"];
            if spec["kind"] == "HelmRepository"
                && let Some(name) = spec["name"].as_str()
            {
                let ns = spec["namespace"]
                    .as_str()
                    .or(o.metadata.namespace.as_deref())
                    .unwrap_or("flux-system");
                let api: Api<DynamicObject> = Api::namespaced_with(self.client(), ns, &repos);
                match self.block(api.get_opt(name)) {
                    Ok(Some(repo)) => {
                        i.source = repo.data["spec"]["url"]
                            .as_str()
                            .map(|u| u.trim_end_matches('/').to_string());
                    }
                    Ok(None) => notes.push(format!(
                        "HelmRelease {}: its HelmRepository {ns}/{name} does not exist",
                        i.name
                    )),
                    Err(e) => return Err(Error::kube(format!("HelmRepository {ns}/{name}"), e)),
                }
            }
            merge(&mut found, i, "Flux HelmRelease", &mut notes);
        }
        Ok(Found {
            installed: found.into_values().collect(),
            notes,
        })
    }
}

fn label(o: &DynamicObject) -> Option<&str> {
    o.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(COMPONENT_LABEL))
        .map(String::as_str)
}

/// A component from an Argo CD `Application` as the argocd deployer writes it: the chart
/// source is the one with a `chart` (of `sources`, or the single `source`).
pub fn from_application(app: &Value, component: Option<&str>) -> Option<Installed> {
    let name = component?.to_string();
    let spec = &app["spec"];
    let sources: Vec<&Value> = match spec["sources"].as_array() {
        Some(s) => s.iter().collect(),
        None => vec![&spec["source"]],
    };
    let chart = sources.into_iter().find(|s| s["chart"].is_string())?;
    Some(Installed {
        version: chart["targetRevision"].as_str()?.to_string(),
        namespace: spec["destination"]["namespace"].as_str()?.to_string(),
        chart: chart["chart"].as_str().map(str::to_string),
        source: chart["repoURL"].as_str().map(argo_source),
        release: chart["helm"]["releaseName"]
            .as_str()
            .unwrap_or(&name)
            .to_string(),
        manifests: None,
        name,
    })
}

/// A component from a Flux `HelmRelease` as the flux deployer writes it (the chart's
/// source is filled in by the caller from its `HelmRepository`).
pub fn from_helm_release(hr: &Value, component: Option<&str>) -> Option<Installed> {
    let name = component?.to_string();
    let spec = &hr["spec"];
    let chart = &spec["chart"]["spec"];
    Some(Installed {
        version: chart["version"].as_str()?.to_string(),
        namespace: spec["targetNamespace"]
            .as_str()
            .or(hr["metadata"]["namespace"].as_str())?
            .to_string(),
        chart: chart["chart"].as_str().map(str::to_string),
        source: None,
        release: spec["releaseName"].as_str().unwrap_or(&name).to_string(),
        manifests: None,
        name,
    })
}

/// Add `i` (from a GitOps object, `what`) to `found`: where Helm's record has the component,
/// the deployed version stays and the object adds its source; a difference is noted.
fn merge(
    found: &mut BTreeMap<String, Installed>,
    i: Installed,
    what: &str,
    notes: &mut Vec<String>,
) {
    match found.get_mut(&i.name) {
        Some(have) => {
            if have.version != i.version {
                notes.push(format!(
                    "{what} {} asks for {}, Helm's release is at {}: judged from what is deployed",
                    i.name, i.version, have.version
                ));
            }
            if have.source.is_none() {
                have.source = i.source;
            }
            if have.namespace != i.namespace {
                notes.push(format!(
                    "{what} {} installs into {}, Helm's release is in {}",
                    i.name, i.namespace, have.namespace
                ));
            }
        }
        None => {
            found.insert(i.name.clone(), i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A release as Helm stores it: gzipped JSON, base64.
    pub(crate) fn encode(release: &Value) -> String {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
    }

    #[test]
    fn helm_storage_format_reads_gzipped_and_plain() {
        let rel = serde_json::json!({"name": "cert-manager", "namespace": "cert-manager",
            "version": 3, "info": {"status": "deployed"},
            "chart": {"metadata": {"name": "cert-manager", "version": "v1.17.2"}}});
        let r = decode_release("Secret x", encode(&rel).as_bytes()).unwrap();
        assert_eq!((r.revision, r.version.as_str()), (3, "v1.17.2"));
        let plain = base64::engine::general_purpose::STANDARD.encode(rel.to_string());
        assert_eq!(decode_release("Secret x", plain.as_bytes()).unwrap(), r);
        let e = decode_release("Secret ns/sh.helm.release.v1.x.v1", b"!!").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Secret ns/sh.helm.release.v1.x.v1: the release is not base64"),
            "{e}"
        );
        let no_chart =
            base64::engine::general_purpose::STANDARD.encode(r#"{"name":"a","namespace":"b"}"#);
        let e = decode_release("Secret y", no_chart.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no /chart/metadata/name"), "{e}");
    }

    #[test]
    fn gitops_objects_as_the_deployers_write_them() {
        let app = serde_json::json!({"spec": {"destination": {"namespace": "nvsentinel"},
            "sources": [{"repoURL": "ghcr.io/nvidia", "chart": "nvsentinel", "targetRevision": "v1.14.0",
                         "helm": {"releaseName": "nvsentinel"}},
                        {"repoURL": "https://git.example/b", "ref": "values"}]}});
        let i = from_application(&app, Some("nvsentinel")).unwrap();
        assert_eq!(i.chart_ref(), "oci://ghcr.io/nvidia/nvsentinel");
        assert_eq!(
            (i.version.as_str(), i.namespace.as_str()),
            ("v1.14.0", "nvsentinel")
        );
        assert!(from_application(&app, None).is_none());
        let hr = serde_json::json!({"metadata": {"namespace": "flux-system"},
            "spec": {"releaseName": "gpu-operator", "targetNamespace": "gpu-operator",
                     "chart": {"spec": {"chart": "gpu-operator", "version": "v26.7.0"}}}});
        let i = from_helm_release(&hr, Some("gpu-operator")).unwrap();
        assert_eq!(
            (i.namespace.as_str(), i.chart.as_deref()),
            ("gpu-operator", Some("gpu-operator"))
        );
    }
}
