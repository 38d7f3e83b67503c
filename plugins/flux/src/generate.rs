//! Pure generation of the Flux deployment.
//!
//! - `sources/helmrepository-<name>.yaml`: one `HelmRepository` per chart repository
//!   (`type: oci` for `oci://` registries).
//! - `<component>/flux/helmrelease.yaml`: a `helm.toolkit.fluxcd.io/v2` `HelmRelease` whose
//!   `values` are the component's final values (the same tree as its `values.yaml`), with
//!   `dependsOn` from the recipe's dependency graph (a chain in deployment order with the
//!   `serial` option).
//! - `<component>/flux/manifests.yaml` for a component with `manifests/`: a Flux
//!   `Kustomization` that applies that folder from the bundle source.
//! - `kustomization.yaml`: the plain kustomize list of all of the above.
//! - `flux-system/bundle-source.yaml` + `flux-system/bundle-sync.yaml`: the source the bundle
//!   is read from (`GitRepository`, or `OCIRepository` for `--repo oci://…`) and the Flux
//!   `Kustomization` that applies the bundle root. Applied once by the user.
//! - `namespaces/<namespace>.yaml` for components whose namespace needs a Pod Security level
//!   (`pod-security/<name>` options): the Namespace with its `pod-security.kubernetes.io/*`
//!   labels, applied before the HelmReleases.
//!
//! Options: `source-secret` (the bundle source's `secretRef`), `sign-pubkey` (with an OCI
//! source: `verify` with cosign against that public key, shipped as a Secret),
//! `flux-drift` (`driftDetection.mode` of every HelmRelease: enabled, warn or disabled),
//! `clusters` and `cluster-values/<name>` (`--cluster-values`: each release also reads
//! `valuesFrom` a ConfigMap applied per cluster from `clusters/<cluster>/cluster-values.yaml`).

use cns_plugin_sdk::deploy::{
    BundleSource, cluster_values, clusters, dns_label, flag, has_manifests, option, ordered,
    origin_labels, placeholder_help, pod_security, pod_security_labels, readme_head, yaml_doc,
};
use cns_plugin_sdk::values::{Value, json};
use cns_plugin_sdk::{BundleFile, Component, Deployment, PluginError, file};
use std::collections::BTreeMap;

/// Namespace the Flux objects live in.
pub const FLUX_NAMESPACE: &str = "flux-system";
/// Name of the bundle's source and root Kustomization.
pub const BUNDLE_NAME: &str = "cns-bundle";
/// ConfigMap (in flux-system, on each cluster) with the cluster's values, one key per
/// component (`<component>.yaml`), read by the HelmReleases through `valuesFrom`.
pub const CLUSTER_VALUES_CONFIGMAP: &str = "cns-cluster-values";
/// Secret holding the public key the bundle's OCIRepository verifies signatures with.
pub const COSIGN_SECRET: &str = "cns-bundle-cosign";
/// Media type of the bundle layer `cnsctl push` writes.
pub const BUNDLE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A Kubernetes name for a chart repository URL: `https://helm.ngc.nvidia.com/nvidia` →
/// `helm-ngc-nvidia-com-nvidia`.
pub fn repo_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let name = dns_label(rest, 63);
    if name.is_empty() {
        "charts".to_string()
    } else {
        name
    }
}

/// The `HelmRepository` for a chart repository URL.
pub fn helm_repository(url: &str) -> Value {
    let url = url.trim_end_matches('/');
    let mut spec = json!({"url": url, "interval": "1h"});
    if url.starts_with("oci://") {
        spec["type"] = json!("oci");
    }
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": repo_name(url), "namespace": FLUX_NAMESPACE},
        "spec": spec,
    })
}

/// The `HelmRelease` for one component; `drift` is its `driftDetection.mode`.
/// With `per_cluster`, the release also reads the cluster's values from
/// [`CLUSTER_VALUES_CONFIGMAP`] (Flux merges `valuesFrom` first, then `values`; the shared
/// values no longer set what the cluster's do).
pub fn helm_release(
    c: &Component,
    depends_on: &[String],
    drift: &str,
    per_cluster: bool,
) -> Result<Value, PluginError> {
    let mut spec = json!({
        "interval": "10m",
        "releaseName": c.name,
        "targetNamespace": c.namespace,
        "storageNamespace": c.namespace,
        "timeout": "10m",
        "install": {"createNamespace": true, "remediation": {"retries": 3}},
        "upgrade": {"remediation": {"retries": 3}},
        "chart": {"spec": {
            "chart": c.chart.chart,
            "version": c.chart.version,
            "sourceRef": {
                "kind": "HelmRepository",
                "name": repo_name(&c.chart.repository),
                "namespace": FLUX_NAMESPACE,
            },
            "interval": "1h",
        }},
        "values": c.values.clone(),
        // Corrects (or, with `warn`, reports) changes made to the release's objects in the
        // cluster, as a GitOps controller should.
        "driftDetection": {"mode": drift},
    });
    if per_cluster {
        spec["valuesFrom"] = json!([{
            "kind": "ConfigMap",
            "name": CLUSTER_VALUES_CONFIGMAP,
            "valuesKey": format!("{}.yaml", c.name),
        }]);
    }
    if !depends_on.is_empty() {
        spec["dependsOn"] = Value::Array(depends_on.iter().map(|d| json!({"name": d})).collect());
    }
    Ok(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": c.name, "namespace": FLUX_NAMESPACE, "labels": origin_labels(c)},
        "spec": spec,
    }))
}

fn source_kind(src: &BundleSource) -> &'static str {
    match src {
        BundleSource::Git { .. } => "GitRepository",
        BundleSource::Oci { .. } => "OCIRepository",
    }
}

/// The Flux `Kustomization` that applies a component's `manifests/` from the bundle source.
pub fn manifests_kustomization(c: &Component, src: &BundleSource) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": format!("{}-manifests", c.name), "namespace": FLUX_NAMESPACE},
        "spec": {
            "interval": "10m",
            // The manifests may be custom resources of the chart's CRDs: retry until the
            // HelmRelease has installed them.
            "retryInterval": "1m",
            "timeout": "5m",
            "path": format!("./{}/manifests", c.name),
            // No targetNamespace: kustomize would also stamp it on cluster-scoped custom
            // resources (Skyhook, NicClusterPolicy); namespaced manifests name their namespace.
            "prune": true,
            "wait": true,
            "sourceRef": {"kind": source_kind(src), "name": BUNDLE_NAME},
        },
    })
}

/// How the bundle source authenticates and verifies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAccess {
    /// Secret with Git or registry credentials.
    pub secret: Option<String>,
    /// Whether an OCI source verifies the cosign signature (key in [`COSIGN_SECRET`]).
    pub verify: bool,
    /// Whether the OCI registry speaks plain HTTP (`--plain-http`): `insecure: true`.
    pub insecure: bool,
}

/// The source the bundle is read from.
pub fn bundle_source(src: &BundleSource, access: &SourceAccess) -> Value {
    let mut spec = match src {
        BundleSource::Git { url, revision, .. } => json!({
            "url": url,
            "interval": "5m",
            "ref": {"branch": revision},
        }),
        BundleSource::Oci { url, reference } => {
            let r = if reference.starts_with("sha256:") {
                json!({"digest": reference})
            } else {
                json!({"tag": reference})
            };
            json!({
                "url": url,
                "interval": "5m",
                "ref": r,
                "layerSelector": {"mediaType": BUNDLE_LAYER, "operation": "extract"},
            })
        }
    };
    if let Some(secret) = &access.secret {
        spec["secretRef"] = json!({"name": secret});
    }
    if access.verify && matches!(src, BundleSource::Oci { .. }) {
        spec["verify"] = json!({"provider": "cosign", "secretRef": {"name": COSIGN_SECRET}});
    }
    if access.insecure && matches!(src, BundleSource::Oci { .. }) {
        spec["insecure"] = json!(true);
    }
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": source_kind(src),
        "metadata": {"name": BUNDLE_NAME, "namespace": FLUX_NAMESPACE},
        "spec": spec,
    })
}

/// The root Flux `Kustomization`: applies the bundle's `kustomization.yaml`.
pub fn bundle_sync(src: &BundleSource) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": BUNDLE_NAME, "namespace": FLUX_NAMESPACE},
        "spec": {
            "interval": "10m",
            "path": "./",
            "prune": true,
            "sourceRef": {"kind": source_kind(src), "name": BUNDLE_NAME},
            // Ready only when every object it applied is (each HelmRelease installed and
            // healthy), so a failed component shows on the root, not just on its release.
            "wait": true,
            "retryInterval": "2m",
            "timeout": "30m",
        },
    })
}

/// The Secret with the cosign public key (`cosign.pub`) the OCIRepository verifies with.
pub fn cosign_secret(pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": COSIGN_SECRET, "namespace": FLUX_NAMESPACE},
        "stringData": {"cosign.pub": pem},
    })
}

/// A Namespace labelled for a Pod Security level.
pub fn namespace(name: &str, level: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": pod_security_labels(level)},
    })
}

/// `dependsOn` per component: the recipe's dependencies, or with `serial` the previous
/// component in deployment order.
fn dependencies(ordered: &[&Component], serial: bool) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (i, c) in ordered.iter().enumerate() {
        let mut deps: Vec<String> = if serial {
            i.checked_sub(1)
                .map(|p| vec![ordered[p].name.clone()])
                .unwrap_or_default()
        } else {
            c.dependencies.clone()
        };
        deps.sort();
        deps.dedup();
        out.insert(c.name.clone(), deps);
    }
    out
}

fn readme(
    input: &Deployment,
    ordered: &[&Component],
    src: &BundleSource,
    access: &SourceAccess,
    clusters: &[String],
) -> String {
    let mut s = readme_head(input, ordered);
    s.push_str("\n## Deploy with Flux\n\n");
    if let Some(secret) = &access.secret {
        s.push_str(&format!(
            "The bundle source reads its credentials from the Secret `{FLUX_NAMESPACE}/{secret}`; create it\n\
             first (`flux create secret git` or `flux create secret oci`).\n\n"
        ));
    }
    if access.verify {
        s.push_str(
            "The `OCIRepository` verifies the bundle's cosign signature against the public key in\n\
             `flux-system/cosign-public-key.yaml`: apply that file with the two below; an unsigned or\n\
             re-signed artifact is refused.\n\n",
        );
    }
    match src {
        BundleSource::Git {
            url,
            revision,
            placeholder,
        } => {
            if *placeholder {
                s.push_str(&placeholder_help("flux"));
            }
            s.push_str(&format!(
                "1. Commit this folder to the root of `{url}` on branch `{revision}`.\n\
                 2. `kubectl apply -f flux-system/`\n"
            ));
        }
        BundleSource::Oci { url, reference } => {
            // A source that verifies refuses an unsigned push: the step signs.
            let flags = format!(
                "{}{}",
                if access.verify {
                    " --sign-key cosign.key"
                } else {
                    ""
                },
                if access.insecure { " --plain-http" } else { "" }
            );
            s.push_str(&format!(
                "1. `cnsctl push . {url}:{reference}{flags}` (or `cnsctl bundle --output oci://…{flags}`).\n\
                 2. `kubectl apply -f flux-system/`\n\n\
                 The `OCIRepository` extracts the bundle's single tar+gzip layer.\n"
            ));
        }
    }
    if !clusters.is_empty() {
        s.push_str(&format!(
            "\n## One bundle, {n} clusters\n\n\
             Every cluster's Flux reads this same bundle. The shared values (each HelmRelease's\n\
             `values`, each `values.yaml`) hold no scheduling and no driver version; each release\n\
             reads those from the ConfigMap `{FLUX_NAMESPACE}/{CLUSTER_VALUES_CONFIGMAP}` on its own cluster\n\
             (`valuesFrom`). Before step 2 on each cluster, apply that cluster's file:\n\n",
            n = clusters.len()
        ));
        for c in clusters {
            s.push_str(&format!(
                "- on `{c}`: `kubectl apply -f clusters/{c}/cluster-values.yaml`\n"
            ));
        }
        s.push_str(
            "\nThe files under `clusters/` are not in `kustomization.yaml`: Flux does not apply them,\n\
             so one cluster's values never reach another. Edit a cluster's file to give it other\n\
             nodes or another driver.\n",
        );
    }
    s.push_str(
        "\nFlux then applies `kustomization.yaml`: a `HelmRepository` per chart repository\n\
         (`sources/`), a `HelmRelease` per component (`<component>/flux/helmrelease.yaml`,\n\
         values inline and identical to the component's `values.yaml`, `dependsOn` following\n\
         the recipe's dependencies) and, for components with `manifests/`, a `Kustomization`\n\
         applying them. Namespaces that need a Pod Security level (`namespaces/`) are applied\n\
         first. HelmReleases correct drift (`driftDetection`), and the root Kustomization waits\n\
         for all of them to be ready (30 minutes). Without Flux's source objects,\n\
         `kubectl apply -k .` installs the same HelmRepositories and HelmReleases directly.\n",
    );
    s
}

/// Generate all Flux files for the bundle.
pub fn generate(input: &Deployment) -> Result<Vec<BundleFile>, PluginError> {
    let ordered = ordered(input)?;
    let src = BundleSource::from_input(input)?;
    let serial = matches!(option(input, "serial"), Some("true"));
    let drift = option(input, "flux-drift").unwrap_or("enabled");
    if !["enabled", "warn", "disabled"].contains(&drift) {
        return Err(PluginError::InvalidInput(format!(
            "--flux-drift `{drift}`: expected enabled, warn or disabled"
        )));
    }
    let pubkey = option(input, "sign-pubkey");
    let access = SourceAccess {
        secret: option(input, "source-secret").map(str::to_string),
        verify: pubkey.is_some() && matches!(src, BundleSource::Oci { .. }),
        insecure: flag(input, "plain-http")?,
    };
    let deps = dependencies(&ordered, serial);
    let clusters = clusters(input).to_vec();
    let mut out = Vec::new();
    let mut resources = Vec::new();

    let mut repos: Vec<&str> = ordered
        .iter()
        .map(|c| c.chart.repository.trim_end_matches('/'))
        .collect();
    repos.sort_unstable();
    repos.dedup();
    let mut seen = BTreeMap::new();
    for url in repos {
        let name = repo_name(url);
        if let Some(other) = seen.insert(name.clone(), url) {
            return Err(PluginError::InvalidInput(format!(
                "chart repositories `{other}` and `{url}` map to the same HelmRepository name `{name}`"
            )));
        }
        let path = format!("sources/helmrepository-{name}.yaml");
        out.push(file(
            &path,
            yaml_doc(
                &format!("Flux HelmRepository for {url}, generated by cnsctl."),
                &helm_repository(url),
            )?,
        ));
        resources.push(path);
    }
    for c in &ordered {
        let path = format!("{}/flux/helmrelease.yaml", c.name);
        let doc = helm_release(c, &deps[&c.name], drift, !clusters.is_empty())?;
        out.push(file(
            &path,
            yaml_doc(
                &format!(
                    "Flux HelmRelease for {} (chart {} {}), generated by cnsctl.\nvalues are the same tree as ../values.yaml.",
                    c.name, c.chart.chart, c.chart.version
                ),
                &doc,
            )?,
        ));
        resources.push(path);
        if has_manifests(c) {
            let path = format!("{}/flux/manifests.yaml", c.name);
            out.push(file(
                &path,
                yaml_doc(
                    &format!(
                        "Flux Kustomization applying {}/manifests, generated by cnsctl.",
                        c.name
                    ),
                    &manifests_kustomization(c, &src),
                )?,
            ));
            resources.push(path);
        }
    }
    let mut namespaces = BTreeMap::new();
    for c in &ordered {
        if let Some(level) = pod_security(c)
            && let Some(other) = namespaces.insert(c.namespace.clone(), level)
            && other != level
        {
            return Err(PluginError::InvalidInput(format!(
                "namespace `{}` is asked to be both `{other}` and `{level}`",
                c.namespace
            )));
        }
    }
    for (ns, level) in &namespaces {
        let path = format!("namespaces/{ns}.yaml");
        out.push(file(
            &path,
            yaml_doc(
                &format!("Namespace {ns}, Pod Security level {level}. Generated by cnsctl."),
                &namespace(ns, level),
            )?,
        ));
        resources.push(path);
    }
    resources.sort();
    out.push(file(
        "kustomization.yaml",
        yaml_doc(
            "Everything Flux applies for this bundle. Generated by cnsctl.",
            &json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }),
        )?,
    ));
    out.push(file(
        "flux-system/bundle-source.yaml",
        yaml_doc(
            "Where Flux reads this bundle from. Apply once. Generated by cnsctl.",
            &bundle_source(&src, &access),
        )?,
    ));
    if access.verify {
        out.push(file(
            "flux-system/cosign-public-key.yaml",
            yaml_doc(
                "Public key the bundle's OCIRepository verifies its cosign signature with. Apply once.\nGenerated by cnsctl.",
                &cosign_secret(pubkey.unwrap_or_default()),
            )?,
        ));
    }
    out.push(file(
        "flux-system/bundle-sync.yaml",
        yaml_doc(
            "Applies the bundle's kustomization.yaml. Apply once. Generated by cnsctl.",
            &bundle_sync(&src),
        )?,
    ));
    for name in &clusters {
        let mut data = cns_plugin_sdk::values::Map::new();
        for c in &ordered {
            let tree = cluster_values(c);
            data.insert(
                format!("{}.yaml", c.name),
                Value::String(cns_plugin_sdk::values::yaml(&tree)?),
            );
        }
        out.push(file(
            format!("clusters/{name}/cluster-values.yaml"),
            yaml_doc(
                &format!(
                    "Values for cluster {name} (scheduling, driver version), read by every HelmRelease\nthrough valuesFrom. Apply on that cluster only, before the bundle. Generated by cnsctl."
                ),
                &json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": CLUSTER_VALUES_CONFIGMAP, "namespace": FLUX_NAMESPACE},
                    "data": data,
                }),
            )?,
        ));
    }
    out.push(file(
        "README.md",
        readme(input, &ordered, &src, &access, &clusters),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cns_plugin_sdk::testing::{deployment, rendered};

    fn comp(name: &str, order: u32, repo: &str, deps: &[&str], files: &[&str]) -> Component {
        let mut c = rendered(name, order, repo, files);
        c.dependencies = deps.iter().map(|s| s.to_string()).collect();
        c.values = cns_plugin_sdk::values::parse(r#"{"driver":{"enabled":true}}"#).unwrap();
        c
    }

    fn input(components: Vec<Component>, opts: &[(&str, &str)]) -> Deployment {
        deployment(components, opts)
    }

    fn doc(files: &[BundleFile], path: &str) -> Value {
        let f = files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path}"));
        cns_plugin_sdk::values::from_yaml(std::str::from_utf8(&f.content).unwrap()).unwrap()
    }

    fn three() -> Vec<Component> {
        vec![
            comp(
                "cert-manager",
                0,
                "https://charts.jetstack.io",
                &[],
                &["values.yaml"],
            ),
            comp(
                "nvsentinel",
                2,
                "oci://ghcr.io/nvidia/",
                &["cert-manager"],
                &["values.yaml"],
            ),
            comp(
                "gpu-operator",
                1,
                "https://helm.ngc.nvidia.com/nvidia",
                &["cert-manager"],
                &["values.yaml", "manifests/cm.yaml"],
            ),
        ]
    }

    #[test]
    fn repo_names_are_kubernetes_names() {
        assert_eq!(
            repo_name("https://helm.ngc.nvidia.com/nvidia"),
            "helm-ngc-nvidia-com-nvidia"
        );
        assert_eq!(repo_name("oci://ghcr.io/nvidia/"), "ghcr-io-nvidia");
        assert_eq!(
            repo_name("oci://127.0.0.1:5000/Charts"),
            "127-0-0-1-5000-charts"
        );
        assert!(repo_name(&format!("https://{}", "a".repeat(100))).len() <= 63);
    }

    #[test]
    fn values_are_inline_never_empty_and_oci_repos_are_typed() {
        let files = generate(&input(three(), &[])).unwrap();
        let hr = doc(&files, "gpu-operator/flux/helmrelease.yaml");
        assert_eq!(hr["apiVersion"], "helm.toolkit.fluxcd.io/v2");
        assert_eq!(hr["spec"]["values"], json!({"driver": {"enabled": true}}));
        assert_eq!(hr["spec"]["targetNamespace"], "gpu-operator-ns");
        assert_eq!(
            hr["spec"]["chart"]["spec"]["sourceRef"]["name"],
            "helm-ngc-nvidia-com-nvidia"
        );
        let oci = doc(&files, "sources/helmrepository-ghcr-io-nvidia.yaml");
        assert_eq!(oci["spec"]["type"], "oci");
        assert_eq!(oci["spec"]["url"], "oci://ghcr.io/nvidia");
        let http = doc(&files, "sources/helmrepository-charts-jetstack-io.yaml");
        assert!(http["spec"].get("type").is_none());
    }

    #[test]
    fn depends_on_follows_the_recipe_graph_or_a_chain_when_serial() {
        let files = generate(&input(three(), &[])).unwrap();
        let deps = |files: &[BundleFile], n: &str| {
            doc(files, &format!("{n}/flux/helmrelease.yaml"))["spec"]["dependsOn"].clone()
        };
        assert_eq!(deps(&files, "cert-manager"), Value::Null);
        assert_eq!(
            deps(&files, "nvsentinel"),
            json!([{"name": "cert-manager"}])
        );
        let files = generate(&input(three(), &[("serial", "true")])).unwrap();
        assert_eq!(
            deps(&files, "nvsentinel"),
            json!([{"name": "gpu-operator"}])
        );
    }

    #[test]
    fn kustomization_lists_every_resource_and_manifests_get_a_kustomization() {
        let files = generate(&input(three(), &[("repo", "oci://reg/b/gpu:v3")])).unwrap();
        let k = doc(&files, "kustomization.yaml");
        assert_eq!(
            k["resources"],
            json!([
                "cert-manager/flux/helmrelease.yaml",
                "gpu-operator/flux/helmrelease.yaml",
                "gpu-operator/flux/manifests.yaml",
                "nvsentinel/flux/helmrelease.yaml",
                "sources/helmrepository-charts-jetstack-io.yaml",
                "sources/helmrepository-ghcr-io-nvidia.yaml",
                "sources/helmrepository-helm-ngc-nvidia-com-nvidia.yaml",
            ])
        );
        let m = doc(&files, "gpu-operator/flux/manifests.yaml");
        assert_eq!(m["spec"]["path"], "./gpu-operator/manifests");
        assert_eq!(m["spec"]["sourceRef"]["kind"], "OCIRepository");
        let s = doc(&files, "flux-system/bundle-source.yaml");
        assert_eq!(s["kind"], "OCIRepository");
        assert_eq!(s["spec"]["ref"]["tag"], "v3");
        assert_eq!(s["spec"]["url"], "oci://reg/b/gpu");
    }

    #[test]
    fn git_source_by_default() {
        let files = generate(&input(three(), &[("repo", "https://git/x.git")])).unwrap();
        let s = doc(&files, "flux-system/bundle-source.yaml");
        assert_eq!(s["kind"], "GitRepository");
        assert_eq!(s["spec"]["ref"]["branch"], "main");
    }

    #[test]
    fn verify_secret_ref_drift_wait_and_namespaces() {
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        let mut comps = three();
        for c in &mut comps {
            if c.name == "gpu-operator" || c.name == "nvsentinel" {
                c.pod_security = Some("privileged".into());
            }
        }
        let files = generate(&input(
            comps,
            &[
                ("repo", "oci://reg/b/gpu:v1"),
                ("sign-pubkey", pem),
                ("source-secret", "bundle-pull"),
                ("flux-drift", "warn"),
            ],
        ))
        .unwrap();
        let src = doc(&files, "flux-system/bundle-source.yaml");
        assert_eq!(
            src["spec"]["verify"],
            json!({"provider": "cosign", "secretRef": {"name": COSIGN_SECRET}})
        );
        assert_eq!(src["spec"]["secretRef"]["name"], "bundle-pull");
        let key = doc(&files, "flux-system/cosign-public-key.yaml");
        assert_eq!(key["stringData"]["cosign.pub"], pem);
        let sync = doc(&files, "flux-system/bundle-sync.yaml");
        assert_eq!(
            (
                sync["spec"]["wait"].as_bool(),
                sync["spec"]["timeout"].as_str()
            ),
            (Some(true), Some("30m"))
        );
        let hr = doc(&files, "gpu-operator/flux/helmrelease.yaml");
        assert_eq!(hr["spec"]["driftDetection"]["mode"], "warn");
        let ns = doc(&files, "namespaces/gpu-operator-ns.yaml");
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );
        let k = doc(&files, "kustomization.yaml");
        assert!(
            k["resources"]
                .as_array()
                .unwrap()
                .contains(&json!("namespaces/nvsentinel-ns.yaml"))
        );
        assert!(
            !files
                .iter()
                .any(|f| f.path == "namespaces/cert-manager-ns.yaml")
        );
        // A Git source has nothing to verify; a bad drift mode is refused.
        let files = generate(&input(three(), &[("sign-pubkey", pem)])).unwrap();
        assert!(
            doc(&files, "flux-system/bundle-source.yaml")["spec"]
                .get("verify")
                .is_none()
        );
        assert!(
            !files
                .iter()
                .any(|f| f.path == "flux-system/cosign-public-key.yaml")
        );
        assert!(generate(&input(three(), &[("flux-drift", "on")])).is_err());
    }

    /// Issue 34, item 8: a source that verifies gets a README whose push step signs; a
    /// plain-HTTP registry gets `insecure: true`.
    #[test]
    fn a_verifying_source_signs_its_push_step_and_plain_http_is_insecure() {
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        let files = generate(&input(
            three(),
            &[
                ("repo", "oci://reg/b/gpu:v1"),
                ("sign-pubkey", pem),
                ("plain-http", "true"),
            ],
        ))
        .unwrap();
        let src = doc(&files, "flux-system/bundle-source.yaml");
        assert_eq!(src["spec"]["insecure"], json!(true));
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        let readme = std::str::from_utf8(&readme.content).unwrap();
        assert!(
            readme
                .contains("`cnsctl push . oci://reg/b/gpu:v1 --sign-key cosign.key --plain-http`"),
            "{readme}"
        );
        let files = generate(&input(three(), &[("repo", "oci://reg/b/gpu:v1")])).unwrap();
        let src = doc(&files, "flux-system/bundle-source.yaml");
        assert!(src["spec"].get("insecure").is_none());
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("`cnsctl push . oci://reg/b/gpu:v1` (or")
        );
    }
}
