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
//! Sync waves are the deployment order (`"0"`, `"1"`, … as strings).

use cns_plugin_sdk::deploy::{
    BundleSource, component_values, has_manifests, ordered, readme_head, yaml_doc,
};
use cns_plugin_sdk::values::{Value, json};
use cns_plugin_sdk::{BundleFile, DeployerInput, PluginError, RenderedComponent, file};

/// Namespace Argo CD runs in and where the Applications live.
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// Name of the root Application.
pub const ROOT_APP: &str = "cns-bundle";
/// The in-cluster API server.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// The chart as an Argo CD source: HTTP repositories as they are; OCI registries without
/// the `oci://` scheme (Argo CD's Helm-over-OCI form, `enableOCI` on the repository).
fn chart_source(c: &RenderedComponent) -> Value {
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

/// The Application for one component.
pub fn application(c: &RenderedComponent, src: &BundleSource) -> Result<Value, PluginError> {
    let mut chart = chart_source(c);
    let (repo, rev) = bundle_ref(src);
    let mut sources = Vec::new();
    match src {
        BundleSource::Git { .. } => {
            chart["helm"] = json!({
                "releaseName": c.name,
                "valueFiles": [format!("$values/{}/values.yaml", c.name)],
            });
            sources.push(chart);
            sources.push(json!({"repoURL": repo, "targetRevision": rev, "ref": "values"}));
        }
        BundleSource::Oci { .. } => {
            chart["helm"] = json!({
                "releaseName": c.name,
                "valuesObject": component_values(c)?,
            });
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
    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": c.name,
            "namespace": ARGOCD_NAMESPACE,
            "annotations": {"argocd.argoproj.io/sync-wave": c.order.to_string()},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "sources": sources,
            "destination": {"server": IN_CLUSTER, "namespace": c.namespace},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": sync_options,
                "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
            },
        },
    }))
}

/// The root Application that syncs every `*/argocd/application.yaml` of the bundle.
pub fn app_of_apps(src: &BundleSource) -> Value {
    let (repo, rev) = bundle_ref(src);
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": ROOT_APP,
            "namespace": ARGOCD_NAMESPACE,
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo,
                "targetRevision": rev,
                "path": ".",
                "directory": {"recurse": true, "include": "*/argocd/application.yaml"},
            },
            "destination": {"server": IN_CLUSTER, "namespace": ARGOCD_NAMESPACE},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    })
}

fn readme(input: &DeployerInput, ordered: &[&RenderedComponent], src: &BundleSource) -> String {
    let mut s = readme_head(input, ordered);
    s.push_str("\n## Deploy with Argo CD\n\n");
    match src {
        BundleSource::Git {
            url,
            revision,
            placeholder,
        } => {
            if *placeholder {
                s.push_str(&format!(
                    "**Set the repository first.** This bundle was generated without `--repo`, so\n\
                     the Applications point at the placeholder `{url}`. Regenerate with\n\
                     `cnsctl bundle --deployer argocd --repo <git-url> [--revision <branch>]`.\n\n"
                ));
            }
            s.push_str(&format!(
                "1. Commit this folder to the root of `{url}` at `{revision}`.\n\
                 2. Register the chart repositories with Argo CD if they are private; an\n   \
                    `oci://` chart needs a Helm repository with `enableOCI: true`.\n\
                 3. `kubectl apply -n argocd -f app-of-apps.yaml`\n\n\
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
                 kubectl apply -n argocd -f app-of-apps.yaml\n\
                 ```\n\n\
                 Each Application carries its values inline (`helm.valuesObject`, identical to the\n\
                 component's `values.yaml`); `manifests/` folders are read from the artifact.\n"
            ));
        }
    }
    s.push_str(
        "\nApplications sync in waves that follow the deployment order (annotation\n\
         `argocd.argoproj.io/sync-wave`), with automated prune and self-heal, `CreateNamespace`\n\
         and server-side apply.\n",
    );
    s
}

/// Generate all Argo CD files for the bundle.
pub fn generate(input: &DeployerInput) -> Result<Vec<BundleFile>, PluginError> {
    let ordered = ordered(input)?;
    let src = BundleSource::from_input(input)?;
    let mut out = Vec::new();
    for c in &ordered {
        let doc = application(c, &src)?;
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
            &app_of_apps(&src),
        )?,
    ));
    out.push(file("README.md", readme(input, &ordered, &src)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cns_plugin_sdk::deploy::REPO_PLACEHOLDER;
    use cns_plugin_sdk::testing::{deployer_input, rendered};

    fn comp(name: &str, order: u32, repo: &str, files: &[&str]) -> RenderedComponent {
        let mut c = rendered(name, order, repo, files);
        c.values_json = r#"{"a":{"b":1}}"#.into();
        c
    }

    fn input(components: Vec<RenderedComponent>, opts: &[(&str, &str)]) -> DeployerInput {
        deployer_input(components, opts)
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
        let a = application(&c, &git(Some("https://git/x.git"))).unwrap();
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
        let a = application(&c, &src).unwrap();
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
                "README.md"
            ]
        );
        let b = std::str::from_utf8(&files[1].content).unwrap();
        assert!(b.contains("argocd.argoproj.io/sync-wave: '1'"), "{b}");
    }
}
