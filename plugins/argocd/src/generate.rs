//! Pure generation of the Argo CD deployment: `<component>/argocd/application.yaml` per
//! component and a root `app-of-apps.yaml`.
//!
//! Two shapes, chosen by where the bundle lives (`--repo`):
//! - Git (default): each Application is multi-source: the chart, plus the bundle repository
//!   as a `$values` ref so the chart reads `<component>/values.yaml` from Git, plus the
//!   component's `manifests/` folder when it has one.
//! - OCI (`--repo oci://…`, Argo CD ≥ 3.1): `$values` refs only work with Git, so the values
//!   are inlined as `helm.valuesObject`; manifests and the app-of-apps read the bundle's OCI
//!   artifact (`path` inside the unpacked layer).
//!
//! Sync waves are the deployment order (`"0"`, `"1"`, … as strings). They gate only when Argo
//! CD assesses Applications' health, which it stopped doing by default in 1.8: the bundle ships
//! `argocd/argocd-cm-application-health.yaml`, the customization Argo CD documents for that.
//!
//! Options: `argocd-namespace`, `argocd-project`, `argocd-create-project` (an `AppProject`
//! limited to the bundle's sources and namespaces), `destination-server` /
//! `destination-name`, `app-name` (a prefix for every Application), and the per-component
//! `pod-security/<name>` levels (namespace labels through `managedNamespaceMetadata`).
//! OCI chart repositories get a repository `Secret` (`enableOCI`).

use cns_plugin_sdk::deploy::{
    BundleSource, cluster_values, clusters, dns_label, flag, has_manifests, option, ordered,
    origin_labels, placeholder_help, pod_security, pod_security_labels, readme_head, yaml_doc,
};
use cns_plugin_sdk::values::deep_merge;
use cns_plugin_sdk::values::{Value, json};
use cns_plugin_sdk::{BundleFile, Component, Deployment, PluginError, file};

/// Default namespace Argo CD runs in and where the Applications live.
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// Name of the root Application (after the `app-name` prefix).
pub const ROOT_APP: &str = "cns-bundle";
/// The in-cluster API server.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// The `argocd-cm` key and Lua health check Argo CD's "Resource Health" page documents for
/// `argoproj.io/Application` ("Argocd App": removed in 1.8, restore it for app-of-apps with
/// sync waves).
pub const APPLICATION_HEALTH_KEY: &str = "resource.customizations.health.argoproj.io_Application";
/// See [`APPLICATION_HEALTH_KEY`].
pub const APPLICATION_HEALTH_LUA: &str = r#"hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"#;

/// Where the child Applications deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A cluster by API server URL.
    Server(String),
    /// A cluster by its name in Argo CD.
    Name(String),
}

impl Destination {
    fn to_value(&self, namespace: &str) -> Value {
        match self {
            Destination::Server(s) => json!({"server": s, "namespace": namespace}),
            Destination::Name(n) => json!({"name": n, "namespace": namespace}),
        }
    }
}

/// The Argo CD options of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Namespace of Argo CD (Applications, AppProject, Secrets).
    pub namespace: String,
    /// AppProject of every Application.
    pub project: String,
    /// Whether the bundle includes that AppProject.
    pub create_project: bool,
    /// Where components deploy.
    pub destination: Destination,
    /// Prefix of every Application name (`PREFIX-gpu-operator`), empty for none.
    pub prefix: String,
}

impl Settings {
    /// Read the options.
    pub fn from_input(input: &Deployment) -> Result<Self, PluginError> {
        let project = option(input, "argocd-project")
            .unwrap_or("default")
            .to_string();
        let create_project = flag(input, "argocd-create-project")?;
        if create_project && project == "default" {
            return Err(PluginError::InvalidInput(
                "--argocd-create-project needs --argocd-project NAME: the `default` project exists in every Argo CD and is not replaced".into(),
            ));
        }
        let destination = match (
            option(input, "destination-server"),
            option(input, "destination-name"),
        ) {
            (Some(_), Some(_)) => {
                return Err(PluginError::InvalidInput(
                    "give --destination-server or --destination-name, not both".into(),
                ));
            }
            (Some(s), None) => Destination::Server(s.to_string()),
            (None, Some(n)) => Destination::Name(n.to_string()),
            (None, None) => Destination::Server(IN_CLUSTER.to_string()),
        };
        Ok(Settings {
            namespace: option(input, "argocd-namespace")
                .unwrap_or(ARGOCD_NAMESPACE)
                .to_string(),
            project,
            create_project,
            destination,
            prefix: option(input, "app-name").unwrap_or_default().to_string(),
        })
    }

    /// An Application's name with the prefix.
    pub fn app_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}-{name}", self.prefix)
        }
    }
}

/// The chart as an Argo CD source: HTTP repositories as they are; OCI registries without
/// the `oci://` scheme (Argo CD's Helm-over-OCI form, `enableOCI` on the repository).
fn chart_source(c: &Component) -> Value {
    let repo = c.chart.repository.trim_end_matches('/');
    let repo = repo.strip_prefix("oci://").unwrap_or(repo);
    json!({
        "repoURL": repo,
        "chart": c.chart.chart,
        "targetRevision": c.chart.version,
    })
}

fn bundle_ref(src: &BundleSource) -> (&str, &str) {
    match src {
        BundleSource::Git { url, revision, .. } => (url, revision),
        BundleSource::Oci { url, reference } => (url, reference),
    }
}

/// The Application for one component; `pod_security` labels its namespace.
/// `cluster`: with `--cluster-values`, the cluster's name and its values for `c`, read as a
/// second value file (Git) or merged into the inline values (OCI).
pub fn application(
    c: &Component,
    src: &BundleSource,
    set: &Settings,
    pod_security: Option<&str>,
    cluster: Option<(&str, &Value)>,
) -> Result<Value, PluginError> {
    let mut chart = chart_source(c);
    let (repo, rev) = bundle_ref(src);
    let mut sources = Vec::new();
    match src {
        BundleSource::Git { .. } => {
            let mut files = vec![format!("$values/{}/values.yaml", c.name)];
            if let Some((name, _)) = cluster {
                files.push(format!("$values/clusters/{name}/{}.yaml", c.name));
            }
            chart["helm"] = json!({"releaseName": c.name, "valueFiles": files});
            sources.push(chart);
            sources.push(json!({"repoURL": repo, "targetRevision": rev, "ref": "values"}));
        }
        BundleSource::Oci { .. } => {
            let mut values = c.values.clone();
            if let Some((_, extra)) = cluster {
                deep_merge(&mut values, extra);
            }
            chart["helm"] = json!({"releaseName": c.name, "valuesObject": values});
            sources.push(chart);
        }
    }
    let mut sync_options = vec!["CreateNamespace=true", "ServerSideApply=true"];
    if has_manifests(c) {
        sources.push(json!({
            "repoURL": repo,
            "targetRevision": rev,
            "path": format!("{}/manifests", c.name),
        }));
        // Manifests may be custom resources whose CRD the chart installs in the same sync.
        sync_options.push("SkipDryRunOnMissingResource=true");
    }
    let mut sync_policy = json!({
        "automated": {"prune": true, "selfHeal": true},
        "syncOptions": sync_options,
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    });
    if let Some(level) = pod_security {
        // Labels for the namespace CreateNamespace=true makes (Pod Security Admission).
        sync_policy["managedNamespaceMetadata"] = json!({"labels": pod_security_labels(level)});
    }
    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": set.app_name(&c.name),
            "namespace": set.namespace,
            "labels": origin_labels(c),
            "annotations": {"argocd.argoproj.io/sync-wave": c.order.to_string()},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": set.project,
            "sources": sources,
            "destination": set.destination.to_value(&c.namespace),
            "syncPolicy": sync_policy,
        },
    }))
}

/// The root Application that syncs every `*/argocd/application.yaml` of the bundle. It runs
/// where Argo CD runs (the child Applications are objects in Argo CD's namespace).
pub fn app_of_apps(src: &BundleSource, set: &Settings, include: &str) -> Value {
    let (repo, rev) = bundle_ref(src);
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": set.app_name(ROOT_APP),
            "namespace": set.namespace,
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": set.project,
            "source": {
                "repoURL": repo,
                "targetRevision": rev,
                "path": ".",
                "directory": {"recurse": true, "include": include},
            },
            "destination": {"server": IN_CLUSTER, "namespace": set.namespace},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    })
}

/// The AppProject limited to the bundle: its chart repositories and own repository as
/// sources; the components' namespaces on the destination, and Argo CD's namespace in-cluster
/// (for the root Application) as destinations. Operators install CRDs and cluster roles, so
/// cluster-scoped kinds are allowed.
pub fn app_project(
    ordered: &[&Component],
    src: &BundleSource,
    set: &Settings,
    clusters: &[String],
) -> Value {
    let mut repos: Vec<String> = ordered
        .iter()
        .map(|c| {
            chart_source(c)["repoURL"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    repos.push(bundle_ref(src).0.to_string());
    repos.sort();
    repos.dedup();
    let mut namespaces: Vec<&str> = ordered.iter().map(|c| c.namespace.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let targets: Vec<Destination> = if clusters.is_empty() {
        vec![set.destination.clone()]
    } else {
        clusters
            .iter()
            .map(|c| Destination::Name(c.clone()))
            .collect()
    };
    let mut destinations: Vec<Value> = targets
        .iter()
        .flat_map(|d| namespaces.iter().map(move |ns| d.to_value(ns)))
        .collect();
    let root = json!({"server": IN_CLUSTER, "namespace": set.namespace});
    if !destinations.contains(&root) {
        destinations.push(root);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": set.project, "namespace": set.namespace},
        "spec": {
            "description": "GPU cluster components of a cnsctl bundle",
            "sourceRepos": repos,
            "destinations": destinations,
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    })
}

/// The `argocd-cm` settings that make Argo CD assess Applications' health again, so that a
/// sync wave waits for the previous wave's Applications to be healthy.
pub fn application_health(set: &Settings) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-cm",
            "namespace": set.namespace,
            "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
        },
        "data": {APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA},
    })
}

/// Argo CD repository Secrets for the OCI chart registries (`type: helm`, `enableOCI`), no
/// credentials, by name.
pub fn oci_repositories(ordered: &[&Component], set: &Settings) -> Vec<(String, Value)> {
    let mut urls: Vec<&str> = ordered
        .iter()
        .filter_map(|c| c.chart.repository.strip_prefix("oci://"))
        .map(|u| u.trim_end_matches('/'))
        .collect();
    urls.sort_unstable();
    urls.dedup();
    urls.into_iter()
        .map(|url| {
            // At most 58 characters, so that `repo-` fits in a 63-character name.
            let name = format!("repo-{}", dns_label(url, 58));
            let doc = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": set.namespace,
                    "labels": {"argocd.argoproj.io/secret-type": "repository"},
                },
                "stringData": {"name": name, "type": "helm", "url": url, "enableOCI": "true"},
            });
            (name, doc)
        })
        .collect()
}

fn readme(
    input: &Deployment,
    ordered: &[&Component],
    src: &BundleSource,
    set: &Settings,
    repositories: &[(String, Value)],
    clusters: &[String],
) -> String {
    let ns = &set.namespace;
    let root = set.app_name(ROOT_APP);
    let mut s = readme_head(input, ordered);
    s.push_str("\n## Deploy with Argo CD\n\n");
    s.push_str(&format!(
        "**First, once per Argo CD:** `kubectl -n {ns} patch configmap argocd-cm --type merge --patch-file argocd/argocd-cm-application-health.yaml`.\n\
         Argo CD stopped assessing Applications' health in 1.8; without this documented health\n\
         check, the sync waves below order the Applications but do not wait for them.\n\n"
    ));
    if set.create_project {
        s.push_str(&format!(
            "`kubectl apply -f argocd/appproject.yaml` creates the AppProject `{}`, limited to this\n\
             bundle's repositories and namespaces.\n\n",
            set.project
        ));
    }
    if !repositories.is_empty() {
        s.push_str(
            "`kubectl apply -f argocd/` also registers the OCI chart registries (`argocd/repository-*.yaml`:\n\
             `type: helm`, `enableOCI: \"true\"`). They carry no credentials: for a private registry add\n\
             `username` and `password` to the Secret's `stringData` (or create it with\n\
             `argocd repo add --type helm --enable-oci`), never in this bundle.\n\n",
        );
    }
    match src {
        BundleSource::Git {
            url,
            revision,
            placeholder,
        } => {
            if *placeholder {
                s.push_str(&placeholder_help("argocd"));
            }
            s.push_str(&format!(
                "1. Commit this folder to the root of `{url}` at `{revision}`.\n\
                 2. Register the chart repositories with Argo CD if they are private; an\n   \
                    `oci://` chart needs a Helm repository with `enableOCI: true`.\n\
                 3. `kubectl apply -n {ns} -f argocd/ -f app-of-apps.yaml` (root Application `{root}`)\n\n\
                 Each component's Application takes its chart from the chart repository and its\n\
                 `values.yaml` from this repository (`$values` ref); a component with `manifests/`\n\
                 also syncs that folder.\n"
            ));
        }
        BundleSource::Oci { url, reference } => {
            s.push_str(&format!(
                "This bundle is meant to be pushed as an OCI artifact (Argo CD 3.1 or later reads\n\
                 OCI sources):\n\n\
                 ```sh\n\
                 cnsctl push . {url}:{reference}\n\
                 kubectl apply -n {ns} -f argocd/ -f app-of-apps.yaml\n\
                 ```\n\n\
                 Each Application carries its values inline (`helm.valuesObject`, identical to the\n\
                 component's `values.yaml`); `manifests/` folders are read from the artifact.\n"
            ));
        }
    }
    if !clusters.is_empty() {
        s.push_str(&format!(
            "\n## One bundle, {n} clusters\n\n\
             The component folders are shared: their `values.yaml` hold no scheduling and no driver\n\
             version. What differs per cluster is in `clusters/<cluster>/<component>.yaml`, which each\n\
             Application reads after the shared file (a later value file wins). Each cluster has its\n\
             own Applications (`clusters/<cluster>/argocd/`, named `<cluster>-<component>`, deploying\n\
             to the cluster registered in Argo CD under that name) and root Application:\n\n",
            n = clusters.len()
        ));
        for c in clusters {
            s.push_str(&format!(
                "- `kubectl apply -n {ns} -f clusters/{c}/app-of-apps.yaml`\n"
            ));
        }
        s.push_str(
            "\nInstead of the root `app-of-apps.yaml` of a one-cluster bundle, apply one of these per\n\
             cluster. To give a cluster other nodes or another driver, edit its files and refresh\n\
             `checksums.txt` (`find . -type f ! -name checksums.txt -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum > checksums.txt`).\n",
        );
    }
    s.push_str(
        "\nApplications sync in waves that follow the deployment order (annotation\n\
         `argocd.argoproj.io/sync-wave`), with automated prune and self-heal, `CreateNamespace`\n\
         and server-side apply.\n",
    );
    s
}

/// Generate all Argo CD files for the bundle.
pub fn generate(input: &Deployment) -> Result<Vec<BundleFile>, PluginError> {
    let ordered = ordered(input)?;
    let src = BundleSource::from_input(input)?;
    let set = Settings::from_input(input)?;
    let clusters = clusters(input).to_vec();
    let mut out = Vec::new();
    if clusters.is_empty() {
        for c in &ordered {
            let doc = application(c, &src, &set, pod_security(c), None)?;
            out.push(file(
                format!("{}/argocd/application.yaml", c.name),
                yaml_doc(
                    &format!(
                        "Argo CD Application for {} (sync wave {}), generated by cnsctl.",
                        c.name, c.order
                    ),
                    &doc,
                )?,
            ));
        }
        out.push(file(
            "app-of-apps.yaml",
            yaml_doc(
                "Root Argo CD Application: syncs every */argocd/application.yaml of this bundle.\nGenerated by cnsctl.",
                &app_of_apps(&src, &set, "*/argocd/application.yaml"),
            )?,
        ));
    }
    for name in &clusters {
        // One set of Applications per cluster, to the cluster of that name in Argo CD.
        let cset = Settings {
            destination: Destination::Name(name.clone()),
            prefix: if set.prefix.is_empty() {
                name.clone()
            } else {
                format!("{}-{name}", set.prefix)
            },
            ..set.clone()
        };
        for c in &ordered {
            let values = cluster_values(c);
            out.push(file(
                format!("clusters/{name}/{}.yaml", c.name),
                yaml_doc(
                    &format!(
                        "Values of {} for cluster {name}: what differs per cluster (scheduling, driver\nversion). Argo CD reads them after ../../{}/values.yaml. Generated by cnsctl.",
                        c.name, c.name
                    ),
                    &values,
                )?,
            ));
            let doc = application(c, &src, &cset, pod_security(c), Some((name, &values)))?;
            out.push(file(
                format!("clusters/{name}/argocd/{}.yaml", c.name),
                yaml_doc(
                    &format!(
                        "Argo CD Application for {} on cluster {name} (sync wave {}), generated by cnsctl.",
                        c.name, c.order
                    ),
                    &doc,
                )?,
            ));
        }
        out.push(file(
            format!("clusters/{name}/app-of-apps.yaml"),
            yaml_doc(
                &format!(
                    "Root Argo CD Application for cluster {name}: syncs clusters/{name}/argocd/.\nGenerated by cnsctl."
                ),
                &app_of_apps(&src, &cset, &format!("clusters/{name}/argocd/*.yaml")),
            )?,
        ));
    }
    out.push(file(
        "argocd/argocd-cm-application-health.yaml",
        yaml_doc(
            "Argo CD's documented health check for argoproj.io/Application, so that sync waves\nwait for the previous wave to be healthy. Merge into argocd-cm (see README.md).\nGenerated by cnsctl.",
            &application_health(&set),
        )?,
    ));
    if set.create_project {
        out.push(file(
            "argocd/appproject.yaml",
            yaml_doc(
                "AppProject limited to this bundle's repositories and namespaces. Generated by cnsctl.",
                &app_project(&ordered, &src, &set, &clusters),
            )?,
        ));
    }
    let repositories = oci_repositories(&ordered, &set);
    for (name, doc) in &repositories {
        out.push(file(
            format!("argocd/repository-{}.yaml", name.trim_start_matches("repo-")),
            yaml_doc(
                "Argo CD repository for an OCI Helm registry (no credentials). Generated by cnsctl.",
                doc,
            )?,
        ));
    }
    out.push(file(
        "README.md",
        readme(input, &ordered, &src, &set, &repositories, &clusters),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cns_plugin_sdk::deploy::REPO_PLACEHOLDER;
    use cns_plugin_sdk::testing::{deployment, rendered};

    fn comp(name: &str, order: u32, repo: &str, files: &[&str]) -> Component {
        let mut c = rendered(name, order, repo, files);
        c.values = cns_plugin_sdk::values::parse(r#"{"a":{"b":1}}"#).unwrap();
        c
    }

    fn input(components: Vec<Component>, opts: &[(&str, &str)]) -> Deployment {
        deployment(components, opts)
    }

    fn defaults() -> Settings {
        Settings::from_input(&input(vec![], &[])).unwrap()
    }

    fn git(repo: Option<&str>) -> BundleSource {
        let opts: Vec<(&str, &str)> = repo.map(|r| ("repo", r)).into_iter().collect();
        BundleSource::from_input(&input(vec![], &opts)).unwrap()
    }

    #[test]
    fn git_mode_reads_values_through_a_values_ref() {
        let c = comp(
            "cert-manager",
            0,
            "https://charts.jetstack.io",
            &["values.yaml"],
        );
        let a = application(&c, &git(Some("https://git/x.git")), &defaults(), None, None).unwrap();
        let sources = a["spec"]["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0]["chart"], "cert-manager");
        assert_eq!(sources[0]["repoURL"], "https://charts.jetstack.io");
        assert_eq!(
            sources[0]["helm"]["valueFiles"][0],
            "$values/cert-manager/values.yaml"
        );
        assert_eq!(sources[1]["ref"], "values");
        assert_eq!(sources[1]["repoURL"], "https://git/x.git");
        assert_eq!(sources[1]["targetRevision"], "main");
        assert_eq!(
            a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
            "0"
        );
        assert_eq!(a["spec"]["destination"]["namespace"], "cert-manager-ns");
    }

    #[test]
    fn oci_mode_inlines_values_and_reads_manifests_from_the_artifact() {
        let c = comp(
            "skyhook",
            3,
            "oci://ghcr.io/nvidia/",
            &["values.yaml", "manifests/tuning.yaml"],
        );
        let src =
            BundleSource::from_input(&input(vec![], &[("repo", "oci://reg/b/gpu:v1")])).unwrap();
        let a = application(&c, &src, &defaults(), None, None).unwrap();
        let sources = a["spec"]["sources"].as_array().unwrap();
        assert_eq!(sources[0]["repoURL"], "ghcr.io/nvidia");
        assert_eq!(sources[0]["helm"]["valuesObject"], json!({"a": {"b": 1}}));
        assert_eq!(sources[1]["repoURL"], "oci://reg/b/gpu");
        assert_eq!(sources[1]["targetRevision"], "v1");
        assert_eq!(sources[1]["path"], "skyhook/manifests");
        assert!(
            a["spec"]["syncPolicy"]["syncOptions"]
                .as_array()
                .unwrap()
                .contains(&json!("SkipDryRunOnMissingResource=true"))
        );
        assert_eq!(
            a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
            "3"
        );
    }

    #[test]
    fn placeholder_only_without_repo_and_readme_says_so() {
        let files = generate(&input(
            vec![comp("a", 0, "https://x", &["values.yaml"])],
            &[],
        ))
        .unwrap();
        let root = files.iter().find(|f| f.path == "app-of-apps.yaml").unwrap();
        let root = std::str::from_utf8(&root.content).unwrap();
        assert!(root.contains(REPO_PLACEHOLDER), "{root}");
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("Set the repository first")
        );
        let files = generate(&input(
            vec![comp("a", 0, "https://x", &["values.yaml"])],
            &[("repo", "https://git/x.git")],
        ))
        .unwrap();
        assert!(files.iter().all(|f| {
            !std::str::from_utf8(&f.content)
                .unwrap()
                .contains(REPO_PLACEHOLDER)
        }));
    }

    #[test]
    fn one_application_per_component_with_waves_in_order() {
        let files = generate(&input(
            vec![
                comp("b", 1, "https://x", &[]),
                comp("a", 0, "https://x", &[]),
            ],
            &[],
        ))
        .unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a/argocd/application.yaml",
                "b/argocd/application.yaml",
                "app-of-apps.yaml",
                "argocd/argocd-cm-application-health.yaml",
                "README.md"
            ]
        );
        let b = std::str::from_utf8(&files[1].content).unwrap();
        assert!(b.contains("argocd.argoproj.io/sync-wave: '1'"), "{b}");
    }

    #[test]
    fn options_name_namespace_project_destination_and_prefix() {
        let opts = [
            ("argocd-namespace", "openshift-gitops"),
            ("argocd-project", "gpu"),
            ("argocd-create-project", "true"),
            ("destination-name", "prod-east"),
            ("app-name", "east"),
            ("repo", "https://git/x.git"),
        ];
        let mut gpu = comp("gpu-operator", 1, "https://helm.ngc.nvidia.com/nvidia", &[]);
        gpu.pod_security = Some("privileged".into());
        let comps = vec![gpu, comp("nvsentinel", 2, "oci://ghcr.io/nvidia", &[])];
        let files = generate(&input(comps, &opts)).unwrap();
        let doc = |p: &str| -> Value {
            let f = files
                .iter()
                .find(|f| f.path == p)
                .unwrap_or_else(|| panic!("{p}"));
            cns_plugin_sdk::values::from_yaml(std::str::from_utf8(&f.content).unwrap()).unwrap()
        };
        let a = doc("gpu-operator/argocd/application.yaml");
        assert_eq!(a["metadata"]["name"], "east-gpu-operator");
        assert_eq!(a["metadata"]["namespace"], "openshift-gitops");
        assert_eq!(a["spec"]["project"], "gpu");
        assert_eq!(
            a["spec"]["destination"],
            json!({"name": "prod-east", "namespace": "gpu-operator-ns"})
        );
        assert_eq!(
            a["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );
        let n = doc("nvsentinel/argocd/application.yaml");
        assert!(
            n["spec"]["syncPolicy"]
                .get("managedNamespaceMetadata")
                .is_none()
        );
        let root = doc("app-of-apps.yaml");
        assert_eq!(root["metadata"]["name"], "east-cns-bundle");
        assert_eq!(root["spec"]["destination"]["server"], IN_CLUSTER);
        let p = doc("argocd/appproject.yaml");
        assert_eq!(
            p["spec"]["sourceRepos"],
            json!([
                "ghcr.io/nvidia",
                "https://git/x.git",
                "https://helm.ngc.nvidia.com/nvidia"
            ])
        );
        assert_eq!(p["spec"]["destinations"].as_array().unwrap().len(), 3);
        let r = doc("argocd/repository-ghcr-io-nvidia.yaml");
        assert_eq!(r["stringData"]["enableOCI"], "true");
        assert_eq!(r["stringData"]["url"], "ghcr.io/nvidia");
        assert_eq!(
            r["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
            "repository"
        );
        let h = doc("argocd/argocd-cm-application-health.yaml");
        assert_eq!(h["data"][APPLICATION_HEALTH_KEY], APPLICATION_HEALTH_LUA);

        for bad in [
            vec![("argocd-create-project", "true")],
            vec![
                ("destination-name", "a"),
                ("destination-server", "https://b"),
            ],
            vec![("argocd-create-project", "yes")],
        ] {
            let comps = vec![comp("a", 0, "https://x", &[])];
            assert!(matches!(
                generate(&input(comps, &bad)),
                Err(PluginError::InvalidInput(_))
            ));
        }
    }
}
