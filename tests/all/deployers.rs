//! The three deployers over every supported recipe: Argo CD and Flux manifests checked by
//! `check-jsonschema` against the strict CRD schemas in ../shared/reference/schemas-strict,
//! bundle manifests by `kubernetes-validate`/the CRD schemas, scripts by `shellcheck` and
//! by running `deploy.sh` twice against stub `kubectl`/`helm`; ordering (waves, dependsOn);
//! and the predecessor's demo `bundle --deployer argocd` command verbatim.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_test_support::{describe, list_files, require_tool, run, shared_reference};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FLAGS: &[&str] = &[
    "--system-node-selector",
    "nodeGroup=system-pool",
    "--accelerated-node-selector",
    "nodeGroup=customer-gpu",
    "--accelerated-node-toleration",
    "dedicated=user-workload:NoSchedule",
];

fn tools() -> PathBuf {
    repo_file("target/tools/bin")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every supported recipe written to `dir`, with its resolved form.
fn recipes(dir: &Path) -> Vec<(String, PathBuf, cns_recipe::RecipeResult)> {
    let store = cns_recipe::Store::embedded();
    cns_recipe::resolve::supported(&store)
        .unwrap()
        .iter()
        .map(|c| {
            let r = cns_recipe::resolve(&store, c).unwrap();
            let name = format!("{}-{}-{}-{}", c.accelerator, c.service, c.os, c.intent);
            let path = dir.join(format!("{name}.yaml"));
            std::fs::write(&path, r.to_yaml()).unwrap();
            (name, path, r)
        })
        .collect()
}

fn bundle(cache: &Path, recipe: &Path, out: &Path, deployer: &str, extra: &[&str]) {
    let o = run(cnsctl(cache)
        .arg("bundle")
        .arg("--recipe")
        .arg(recipe)
        .arg("--output")
        .arg(out)
        .args(["--deployer", deployer])
        .args(extra));
    assert!(
        o.status.success(),
        "{deployer} {}: {}",
        recipe.display(),
        describe(&o)
    );
}

/// The strict schema file for a custom resource kind.
fn schema_for(api_version: &str, kind: &str) -> Option<PathBuf> {
    let (group, version) = api_version.split_once('/')?;
    let file = format!("{}_{version}.json", kind.to_ascii_lowercase());
    let p = shared_reference()
        .join("schemas-strict")
        .join(group)
        .join(file);
    p.exists().then_some(p)
}

/// Validate YAML files: custom resources with check-jsonschema (one run per schema), built-in
/// kinds with kubernetes-validate --strict. Returns how many documents of each kind passed.
fn validate(files: &[PathBuf]) -> BTreeMap<String, usize> {
    let mut by_schema: BTreeMap<PathBuf, Vec<&PathBuf>> = BTreeMap::new();
    let mut builtin = Vec::new();
    let mut kinds = BTreeMap::new();
    for f in files {
        let doc = yaml(f);
        let (api, kind) = (
            doc["apiVersion"].as_str().unwrap_or_default(),
            doc["kind"].as_str().unwrap_or_default(),
        );
        *kinds.entry(kind.to_string()).or_default() += 1;
        if api == "kustomize.config.k8s.io/v1beta1" {
            // Plain kustomize file list: no CRD; checked by the Flux tests below.
            continue;
        }
        match schema_for(api, kind) {
            Some(s) => by_schema.entry(s).or_default().push(f),
            None if !api.contains('.') || api.starts_with("rbac.") || api.starts_with("apps/") => {
                builtin.push(f)
            }
            None => panic!("{}: no schema for {api} {kind}", f.display()),
        }
    }
    if let Some(cj) = require_tool("check-jsonschema", &[&tools()]) {
        for (schema, files) in &by_schema {
            let o = run(Command::new(&cj)
                .arg("--schemafile")
                .arg(schema)
                .args(files));
            assert!(
                o.status.success(),
                "check-jsonschema {}: {}",
                schema.display(),
                describe(&o)
            );
        }
    }
    if !builtin.is_empty()
        && let Some(kv) = require_tool("kubernetes-validate", &[&tools()])
    {
        let o = run(Command::new(kv)
            .args(["--strict", "--quiet", "-k", "1.32.0"])
            .args(&builtin));
        assert!(o.status.success(), "kubernetes-validate: {}", describe(&o));
    }
    kinds
}

fn yaml_files(root: &Path, filter: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    list_files(root)
        .into_iter()
        .filter(|f| f.ends_with(".yaml") && filter(f))
        .map(|f| root.join(f))
        .collect()
}

#[test]
fn gitops_manifests_of_every_recipe_pass_the_strict_crd_schemas() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let mut files = Vec::new();
    let modes: &[(&str, &[&str])] = &[
        (
            "argocd",
            &["--repo", "https://git.example.com/gpu/bundles.git"],
        ),
        ("argocd", &["--repo", "oci://127.0.0.1:5000/bundles/gpu:v1"]),
        (
            "argocd",
            &[
                "--repo",
                "https://git.example.com/gpu/bundles.git",
                "--argocd-namespace",
                "openshift-gitops",
                "--argocd-project",
                "gpu",
                "--argocd-create-project",
                "--destination-server",
                "https://east.example.com:6443",
                "--app-name",
                "east",
            ],
        ),
        (
            "flux",
            &[
                "--repo",
                "https://git.example.com/gpu/bundles.git",
                "--source-secret",
                "deploy-key",
                "--flux-drift",
                "warn",
            ],
        ),
        (
            "flux",
            &[
                "--repo",
                "https://git.example.com/gpu/bundles.git",
                "--revision",
                "release",
            ],
        ),
        (
            "flux",
            &[
                "--repo",
                "oci://127.0.0.1:5000/bundles/gpu@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ],
        ),
    ];
    for (i, (name, recipe, _)) in recipes(tmp.path()).iter().enumerate() {
        let (deployer, extra) = modes[i % modes.len()];
        let out = tmp.path().join(format!("{name}-{deployer}"));
        let mut args = extra.to_vec();
        args.extend_from_slice(FLAGS);
        bundle(&cache, recipe, &out, deployer, &args);
        files.extend(yaml_files(&out, |f| {
            f.contains("/argocd/")
                || f.contains("/flux/")
                || f.contains("/manifests/")
                || f.starts_with("sources/")
                || f.starts_with("flux-system/")
                || f.starts_with("argocd/")
                || f.starts_with("namespaces/")
                || f == "app-of-apps.yaml"
        }));
        if deployer == "flux" {
            // The kustomization lists exactly the Flux objects of the bundle.
            let k = yaml(&out.join("kustomization.yaml"));
            let listed: Vec<&str> = k["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let present: Vec<String> = list_files(&out)
                .into_iter()
                .filter(|f| {
                    f.contains("/flux/")
                        || f.starts_with("sources/")
                        || f.starts_with("namespaces/")
                })
                .collect();
            assert_eq!(listed, present, "{name}");
        }
    }
    let kinds = validate(&files);
    for k in [
        "Application",
        "HelmRelease",
        "HelmRepository",
        "GitRepository",
        "OCIRepository",
        "Kustomization",
        "Skyhook",
        "ConfigMap",
        "AppProject",
        "Secret",
        "Namespace",
    ] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) > 0,
            "no {k} validated: {kinds:?}"
        );
    }
}

#[test]
fn waves_and_depends_on_follow_the_recipe() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    for (name, recipe, r) in recipes(tmp.path()).iter().step_by(5) {
        let argo = tmp.path().join(format!("{name}-argocd"));
        bundle(&cache, recipe, &argo, "argocd", &[]);
        for (i, c) in r.deployment_order.iter().enumerate() {
            let app = yaml(&argo.join(c).join("argocd/application.yaml"));
            assert_eq!(
                app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
                Value::from(i.to_string()),
                "{name}: {c}"
            );
        }
        let flux = tmp.path().join(format!("{name}-flux"));
        bundle(&cache, recipe, &flux, "flux", &[]);
        let serial = tmp.path().join(format!("{name}-flux-serial"));
        bundle(&cache, recipe, &serial, "flux", &["--serial"]);
        for (i, c) in r.deployment_order.iter().enumerate() {
            let deps = |root: &Path| -> Vec<String> {
                let hr = yaml(&root.join(c).join("flux/helmrelease.yaml"));
                hr["spec"]["dependsOn"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|d| d["name"].as_str().unwrap().to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut want = r.component(c).unwrap().dependency_refs.clone();
            want.sort();
            assert_eq!(deps(&flux), want, "{name}: {c}");
            let chain: Vec<String> = i
                .checked_sub(1)
                .map(|p| vec![r.deployment_order[p].clone()])
                .unwrap_or_default();
            assert_eq!(deps(&serial), chain, "{name}: {c} --serial");
            // Values are the bundle's values, never empty.
            let hr = yaml(&flux.join(c).join("flux/helmrelease.yaml"));
            let values = yaml(&flux.join(c).join("values.yaml"));
            assert_eq!(hr["spec"]["values"], values, "{name}: {c}");
            assert!(
                values.as_object().is_some_and(|m| !m.is_empty()),
                "{name}: {c}"
            );
        }
    }
}

#[test]
fn predecessor_argocd_bundle_command_runs_verbatim() {
    let tmp = tempdir();
    let dir = tmp.path();
    let o = run(cnsctl(&dir.join("cache")).current_dir(dir).args([
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--output",
        "recipe.yaml",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let o = run(cnsctl(&dir.join("cache")).current_dir(dir).args([
        "bundle",
        "--recipe",
        "recipe.yaml",
        "--output",
        "./bundles",
        "--deployer",
        "argocd",
        "--system-node-selector",
        "nodeGroup=system-pool",
        "--accelerated-node-selector",
        "nodeGroup=customer-gpu",
        "--accelerated-node-toleration",
        "dedicated=user-workload:NoSchedule",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let out = dir.join("bundles");
    let recipe = cns_recipe::RecipeResult::from_yaml(
        "recipe.yaml",
        &std::fs::read_to_string(dir.join("recipe.yaml")).unwrap(),
    )
    .unwrap();
    let mut waves = Vec::new();
    for c in &recipe.deployment_order {
        let app = yaml(&out.join(c).join("argocd/application.yaml"));
        waves.push(
            app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                .as_str()
                .unwrap()
                .parse::<usize>()
                .unwrap(),
        );
        assert_eq!(
            app["spec"]["sources"][0]["helm"]["valueFiles"][0],
            Value::from(format!("$values/{c}/values.yaml"))
        );
    }
    assert_eq!(
        waves,
        (0..recipe.deployment_order.len()).collect::<Vec<_>>()
    );
    assert!(out.join("app-of-apps.yaml").exists());
    // The values the Applications read carry the flags.
    let gpu = yaml(&out.join("gpu-operator/values.yaml"));
    assert_eq!(gpu["operator"]["nodeSelector"]["nodeGroup"], "system-pool");
    assert_eq!(
        gpu["node-feature-discovery"]["worker"]["nodeSelector"]["nodeGroup"],
        "customer-gpu"
    );
    assert!(
        gpu["daemonsets"]["tolerations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "dedicated" && t["value"] == "user-workload")
    );
    let cm = yaml(&out.join("cert-manager/values.yaml"));
    assert_eq!(cm["webhook"]["nodeSelector"]["nodeGroup"], "system-pool");
}

pub(crate) const STUB: &str = r#"#!/usr/bin/env bash
# Records every call; prints a namespace document for `kubectl create namespace … -o yaml`.
# `apply -f -` drains its input before logging, so pipelines log in a stable order.
if [ "$(basename "$0")" = kubectl ] && [ "$1" = apply ] && [ "${3:-}" = - ]; then cat >/dev/null; fi
echo "$(basename "$0") $*" >> "${CNS_STUB_LOG}"
if [ "$(basename "$0")" = kubectl ] && [ "$1" = create ] && [ "$2" = namespace ]; then
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$3"
fi
"#;

#[test]
fn scripts_pass_shellcheck_and_deploy_twice_issues_the_same_idempotent_commands() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let all = recipes(tmp.path());
    let shellcheck = require_tool("shellcheck", &[]);
    for (name, recipe, r) in &all {
        let out = tmp.path().join(format!("{name}-script"));
        bundle(&cache, recipe, &out, "script", FLAGS);
        let scripts: Vec<String> = list_files(&out)
            .into_iter()
            .filter(|f| f.ends_with(".sh"))
            .collect();
        assert_eq!(scripts.len(), 2 + 2 * r.deployment_order.len(), "{name}");
        if let Some(sc) = &shellcheck {
            let o = run(Command::new(sc)
                .args(["-s", "bash"])
                .args(&scripts)
                .current_dir(&out));
            assert!(o.status.success(), "{name}: {}", describe(&o));
        }
    }

    // Run one bundle's deploy.sh twice against stubs.
    let (name, _, r) = all
        .iter()
        .find(|(n, _, _)| n == "gb200-eks-ubuntu-training")
        .expect("gb200 eks training is supported");
    let out = tmp.path().join(format!("{name}-script"));
    let bin = tmp.path().join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["kubectl", "helm"] {
        let p = bin.join(tool);
        std::fs::write(&p, STUB).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut logs = Vec::new();
    for i in 0..2 {
        let log = tmp.path().join(format!("calls{i}.log"));
        let o = run(Command::new("bash")
            .arg(out.join("deploy.sh"))
            .env("PATH", &path)
            .env("CNS_STUB_LOG", &log));
        assert!(o.status.success(), "deploy.sh run {i}: {}", describe(&o));
        logs.push(std::fs::read_to_string(&log).unwrap());
    }
    assert_eq!(
        logs[0], logs[1],
        "the second run must issue the same commands"
    );
    let log = &logs[0];
    assert!(!log.contains("repo add"), "{log}");
    assert!(!log.contains("helm install "), "{log}");
    let mut last = 0;
    for c in &r.deployment_order {
        let at = log
            .find(&format!("helm upgrade --install {c} "))
            .unwrap_or_else(|| panic!("{c} not installed:\n{log}"));
        assert!(at > last, "{c} out of order:\n{log}");
        last = at;
        let ns = r.component(c).unwrap().namespace.clone().unwrap();
        assert!(
            log.contains(&format!(
                "kubectl create namespace {ns} --dry-run=client -o yaml"
            )),
            "{log}"
        );
        let line = log[at..].lines().next().unwrap();
        assert!(
            line.contains(&format!("--values {}/{c}/values.yaml", out.display())),
            "{line}"
        );
        assert!(line.contains("--wait --timeout 10m"), "{line}");
    }
    assert!(log.contains("oci://ghcr.io/nvidia/nvsentinel"), "{log}");
    assert!(
        log.contains(&format!(
            "kubectl apply --namespace gpu-operator -f {}/gpu-operator/manifests/",
            out.display()
        )),
        "{log}"
    );
}

/// The `argocd-cm` health check for `argoproj.io/Application` as Argo CD's "Resource Health"
/// page documents it (section "Argocd App"), written out here independently of the plugin.
const ARGOCD_DOCUMENTED_APPLICATION_HEALTH: &str = "hs = {}
hs.status = \"Progressing\"
hs.message = \"\"
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
";

#[test]
fn argocd_waves_gate_through_the_documented_application_health_check() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("b");
    bundle(
        &cache,
        &repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"),
        &out,
        "argocd",
        &["--argocd-namespace", "openshift-gitops"],
    );
    let cm = yaml(&out.join("argocd/argocd-cm-application-health.yaml"));
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    assert_eq!(cm["metadata"]["namespace"], "openshift-gitops");
    assert_eq!(
        cm["data"]["resource.customizations.health.argoproj.io_Application"],
        ARGOCD_DOCUMENTED_APPLICATION_HEALTH
    );
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        readme.contains("kubectl -n openshift-gitops patch configmap argocd-cm --type merge --patch-file argocd/argocd-cm-application-health.yaml"),
        "{readme}"
    );
    assert!(readme.contains("stopped assessing Applications' health in 1.8"));
    // Privileged components' namespaces are labelled; cert-manager's is left to the cluster.
    let app = |c: &str| yaml(&out.join(c).join("argocd/application.yaml"));
    for c in ["gpu-operator", "nvsentinel", "skyhook"] {
        assert_eq!(
            app(c)["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged",
            "{c}"
        );
    }
    assert!(
        app("cert-manager")["spec"]["syncPolicy"]
            .get("managedNamespaceMetadata")
            .is_none()
    );
    // nvsentinel's chart is on an OCI registry: a repository Secret, without credentials.
    let repo = yaml(&out.join("argocd/repository-ghcr-io-nvidia.yaml"));
    assert_eq!(
        repo["stringData"],
        serde_json::json!({"name": "repo-ghcr-io-nvidia", "type": "helm", "url": "ghcr.io/nvidia", "enableOCI": "true"})
    );
}

#[test]
fn argocd_and_flux_option_flags_are_checked_before_any_plugin_runs() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("b");
    for (args, needle) in [
        (vec!["--argocd-namespace", "Argo CD"], "--argocd-namespace"),
        (vec!["--app-name", "x;rm"], "--app-name"),
        (vec!["--destination-server", "http://plain"], "https://"),
        (vec!["--argocd-create-project"], "--argocd-project"),
        (
            vec![
                "--destination-server",
                "https://a",
                "--destination-name",
                "b",
            ],
            "cannot be used with",
        ),
        (
            vec!["--argocd-project", "default", "--argocd-create-project"],
            "`default` project",
        ),
        (vec!["--flux-drift", "on"], "--flux-drift"),
        (
            vec!["--verify-key", "tests/fixtures/cosign-test.pub"],
            "--verify-key is for --deployer flux with --repo oci://",
        ),
    ] {
        let o = run(cnsctl(&cache)
            .args(["bundle", "-d", "argocd", "--output"])
            .arg(&out)
            .args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: want `{needle}` in {err}");
        assert!(!out.exists(), "{args:?} wrote output");
    }
}

/// Issue 16/19: without `--repo` the bundle names the predecessor's `<YOUR_GIT_REPO>`, and the
/// README's documented `sed` step, run verbatim, leaves a bundle whose checksums verify and
/// whose Applications pass the strict schema.
#[test]
fn the_documented_sed_step_for_the_placeholder_works() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("b");
    bundle(
        &cache,
        &repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"),
        &out,
        "argocd",
        &[],
    );
    let root = std::fs::read_to_string(out.join("app-of-apps.yaml")).unwrap();
    assert!(root.contains("repoURL: <YOUR_GIT_REPO>"), "{root}");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    let start = readme
        .find("```sh\ngrep -rl")
        .expect("the sed step in the README")
        + 6;
    let script = &readme[start..start + readme[start..].find("```").unwrap()];
    let o = run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(&out));
    assert!(o.status.success(), "{script}: {}", describe(&o));
    let o = run(Command::new("sha256sum")
        .args(["-c", "--quiet", "checksums.txt"])
        .current_dir(&out));
    assert!(o.status.success(), "{}", describe(&o));
    let files = yaml_files(&out, |f| f.contains("/argocd/") || f == "app-of-apps.yaml");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains("YOUR_GIT_REPO"), "{}", f.display());
    }
    validate(&files);
}

/// Issue 19 (6): `--cluster-values` splits each component's values into the shared file and a
/// per-cluster file whose merge is exactly the one-cluster bundle's values; Argo CD reads the
/// cluster file after the shared one, Flux reads it from a ConfigMap through `valuesFrom`.
#[test]
fn cluster_values_split_and_merge_back_to_the_one_cluster_values() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let recipe = repo_file("recipes/examples/eks-h100-ubuntu-training.yaml");
    let flags = [
        "--repo",
        "https://git.example.com/gpu/bundles.git",
        "--system-node-selector",
        "nodeGroup=system-pool",
        "--accelerated-node-selector",
        "nodeGroup=customer-gpu",
        "--accelerated-node-toleration",
        "dedicated=user-workload:NoSchedule",
        "--set",
        "gpuoperator:driver.version=580.95.05",
    ];
    let one = tmp.path().join("one");
    bundle(&cache, &recipe, &one, "argocd", &flags);
    let many = tmp.path().join("many");
    let mut args = flags.to_vec();
    args.extend_from_slice(&["--cluster-values", "east", "--cluster-values", "west"]);
    bundle(&cache, &recipe, &many, "argocd", &args);
    let fluxed = tmp.path().join("flux");
    bundle(&cache, &recipe, &fluxed, "flux", &args);
    let components = ["cert-manager", "gpu-operator", "nvsentinel", "skyhook"];
    let cm = yaml(&fluxed.join("clusters/east/cluster-values.yaml"));
    for c in components {
        let shared = yaml(&many.join(c).join("values.yaml"));
        let cluster = yaml(&many.join("clusters/east").join(format!("{c}.yaml")));
        let mut merged = shared.clone();
        cns_values::deep_merge(&mut merged, &cluster);
        assert_eq!(merged, yaml(&one.join(c).join("values.yaml")), "{c}");
        // Nothing the cluster file sets is left in the shared file.
        if let Some(m) = cluster.as_object() {
            for k in m.keys() {
                if let (Some(a), Some(b)) = (shared.get(k), cluster.get(k)) {
                    assert!(a.is_object() && b.is_object(), "{c}: `{k}` in both files");
                }
            }
        }
        let app = yaml(&many.join("clusters/west/argocd").join(format!("{c}.yaml")));
        assert_eq!(app["metadata"]["name"], format!("west-{c}"));
        assert_eq!(app["spec"]["destination"]["name"], "west");
        assert_eq!(
            app["spec"]["sources"][0]["helm"]["valueFiles"],
            serde_json::json!([
                format!("$values/{c}/values.yaml"),
                format!("$values/clusters/west/{c}.yaml")
            ])
        );
        // Flux: the same shared values inline, the cluster's from the ConfigMap.
        let hr = yaml(&fluxed.join(c).join("flux/helmrelease.yaml"));
        assert_eq!(hr["spec"]["values"], shared, "{c}");
        assert_eq!(
            hr["spec"]["valuesFrom"][0]["valuesKey"],
            format!("{c}.yaml")
        );
        let from_cm: Value =
            serde_norway::from_str(cm["data"][format!("{c}.yaml")].as_str().unwrap()).unwrap();
        assert_eq!(from_cm, cluster, "{c}");
    }
    assert_eq!(
        yaml(&many.join("clusters/east/gpu-operator.yaml"))["driver"]["version"],
        "580.95.05"
    );
    assert!(!many.join("app-of-apps.yaml").exists());
    let root = yaml(&many.join("clusters/east/app-of-apps.yaml"));
    assert_eq!(
        root["spec"]["source"]["directory"]["include"],
        "clusters/east/argocd/*.yaml"
    );
    // Flux never applies another cluster's values: clusters/ is not in the kustomization.
    let k = std::fs::read_to_string(fluxed.join("kustomization.yaml")).unwrap();
    assert!(!k.contains("clusters/"), "{k}");
    let files = yaml_files(&many, |f| {
        f.starts_with("clusters/") && f.contains("/argocd/") || f.ends_with("app-of-apps.yaml")
    });
    let mut all = files;
    all.extend(yaml_files(&fluxed, |f| {
        f.contains("/flux/") || f.starts_with("clusters/")
    }));
    validate(&all);
    // The script deployer installs one cluster: refused, naming the flag.
    let o = run(cnsctl(&cache)
        .args(["bundle", "--cluster-values", "east", "--output"])
        .arg(tmp.path().join("s")));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--cluster-values works with --deployer argocd or flux")
    );
}
