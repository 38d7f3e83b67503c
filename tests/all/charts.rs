//! Every component of every supported recipe, rendered by its bundler, goes through the
//! real upstream chart with `helm template` (charts in ../shared/reference/charts), and the
//! scheduling flags land in the rendered pods.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_test_support::{describe, require_tool, run, shared_reference};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

pub(crate) fn chart_dir(component: &str) -> std::path::PathBuf {
    shared_reference().join("charts").join(component)
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| v.is_object())
        .collect()
}

/// Rendered documents and the raw `helm template` output, at Kubernetes 1.32.0.
pub(crate) fn helm_template(
    helm: &Path,
    component: &str,
    namespace: &str,
    values: &Path,
) -> (Vec<Value>, String) {
    helm_template_at(helm, component, namespace, values, "1.32.0")
}

/// The Kubernetes version a recipe requires (its `K8s.server.version` minimum, `X.Y.Z`), at
/// least 1.32.0, the oldest the charts are rendered and validated at.
fn kube_version(recipe: &cns_recipe::RecipeResult) -> String {
    let (major, minor, patch) = recipe
        .constraints
        .iter()
        .filter(|c| c.name == "K8s.server.version")
        .filter_map(|c| c.value.trim().strip_prefix(">="))
        .filter_map(|v| {
            let mut parts = v.trim().trim_start_matches('v').split('.');
            let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
            Some((next()?, next()?, next().unwrap_or(0)))
        })
        .chain([(1, 32, 0)])
        .max()
        .unwrap();
    format!("{major}.{minor}.{patch}")
}

/// [`helm_template`] at Kubernetes `kube_version`.
fn helm_template_at(
    helm: &Path,
    component: &str,
    namespace: &str,
    values: &Path,
    kube_version: &str,
) -> (Vec<Value>, String) {
    let o = run(std::process::Command::new(helm)
        .args(["template", component])
        .arg(chart_dir(component))
        .args([
            "--namespace",
            namespace,
            "--kube-version",
            kube_version,
            "--values",
        ])
        .arg(values));
    assert!(
        o.status.success(),
        "helm template {component} failed:\n{}",
        describe(&o)
    );
    let raw = String::from_utf8_lossy(&o.stdout).into_owned();
    (docs(&raw), raw)
}

fn pod_spec(doc: &Value) -> Option<&Value> {
    match doc["kind"].as_str()? {
        "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => doc.pointer("/spec/template/spec"),
        _ => None,
    }
}

#[test]
fn every_recipe_renders_through_the_real_charts_with_scheduling() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let store = cns_recipe::Store::embedded();
    let tmp = tempdir();
    // Every distinct rendered document, one per file, validated after the loop.
    let docs_dir = tmp.path().join("rendered");
    std::fs::create_dir_all(&docs_dir).unwrap();
    let mut distinct = std::collections::BTreeSet::new();
    let mut images_seen = 0;
    let registry = store.registry().unwrap();
    for (i, c) in cns_recipe::resolve::supported(&store)
        .unwrap()
        .iter()
        .enumerate()
    {
        let recipe = cns_recipe::resolve(&store, c).unwrap();
        let rpath = tmp.path().join(format!("r{i}.yaml"));
        std::fs::write(&rpath, recipe.to_yaml()).unwrap();
        let out = tmp.path().join(format!("b{i}"));
        let o = run(cnsctl(&tmp.path().join("cache"))
            .arg("bundle")
            .arg("--recipe")
            .arg(&rpath)
            .arg("--output")
            .arg(&out)
            .args(["--system-node-selector", "nodeGroup=system-pool"])
            .args(["--system-node-toleration", "dedicated=system:NoSchedule"])
            .args(["--accelerated-node-selector", "nodeGroup=customer-gpu"])
            .args([
                "--accelerated-node-toleration",
                "dedicated=user-workload:NoSchedule",
            ]));
        assert!(o.status.success(), "{c}: {}", describe(&o));
        // Rendered and validated at the Kubernetes version the recipe requires.
        let kube = kube_version(&recipe);
        for name in &recipe.deployment_order {
            let cref = recipe.component(name).unwrap();
            let ns = cref.namespace.as_deref().unwrap();
            let (rendered, raw) =
                helm_template_at(&helm, name, ns, &out.join(name).join("values.yaml"), &kube);
            // Raw output (kubernetes-validate reads YAML as the API server does: `0777` is
            // octal), each distinct one once, by the Kubernetes version to validate it at.
            if distinct.insert((kube.clone(), raw.clone())) {
                let dir = docs_dir.join(&kube);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("{:03}-{name}.yaml", distinct.len())), &raw)
                    .unwrap();
            }
            // A component with system workloads (an operator and its operands) renders many
            // documents; a node agent alone (the EFA device plugin) renders its DaemonSet.
            let has_system = registry
                .get(name)
                .is_some_and(|d| !d.node_scheduling.system.node_selector_paths.is_empty());
            assert!(
                rendered.len() > if has_system { 5 } else { 0 },
                "{c}: {name} rendered only {} documents",
                rendered.len()
            );
            // Every workload gets the system or the accelerated selector, and tolerates its taint.
            let mut system = 0;
            for d in &rendered {
                let Some(spec) = pod_spec(d) else { continue };
                let group = spec
                    .pointer("/nodeSelector/nodeGroup")
                    .and_then(Value::as_str);
                let tolerates = spec["tolerations"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["key"] == "dedicated"));
                let what = format!("{c}: {name} {} {}", d["kind"], d["metadata"]["name"]);
                if d["kind"] == "DaemonSet" && name == "nvsentinel" && group.is_none() {
                    continue; // platform-connectors runs on every node by design
                }
                assert!(
                    matches!(group, Some("system-pool") | Some("customer-gpu")),
                    "{what}: nodeSelector {group:?}"
                );
                assert!(tolerates, "{what}: no `dedicated` toleration");
                system += usize::from(group == Some("system-pool"));
            }
            assert_eq!(
                system > 0,
                has_system,
                "{c}: {name}: workloads on the system pool only where the registry places some"
            );
            let (locked, expected) = image_check(&recipe, name, &rendered, &out);
            assert_eq!(
                locked, expected,
                "{c}: {name}: images.lock.yaml (left) differs from what the chart and operator run (right)"
            );
            if name == "gpu-operator" && c.os == "ubuntu" && c.service != "gke" {
                let parts = [
                    "gpu-operator:",
                    "driver:",
                    "container-toolkit:",
                    "k8s-device-plugin:",
                    "dcgm-exporter:",
                    "node-feature-discovery:",
                    "k8s-mig-manager:",
                ];
                for part in parts {
                    assert!(
                        locked.iter().any(|r| r.contains(&format!("/{part}"))),
                        "{c}: no {part} in {locked:?}"
                    );
                }
            }
            images_seen += locked.len();
            if name == "gpu-operator" {
                // GB200's driver module parameters reach a driver the operator installs: Ubuntu
                // nodes outside GKE (GKE and the other OSes bring their own driver).
                let cm = out.join("gpu-operator/manifests/kernel-module-params.yaml");
                let operator_driver = c.os == "ubuntu" && c.service != "gke";
                assert_eq!(
                    cm.exists(),
                    c.accelerator == "gb200" && operator_driver,
                    "{c}: kernel-module-params manifest"
                );
                let cp = rendered
                    .iter()
                    .find(|d| d["kind"] == "ClusterPolicy")
                    .expect("ClusterPolicy");
                let tol = &cp["spec"]["daemonsets"]["tolerations"];
                assert!(
                    tol.as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["value"] == "user-workload"),
                    "{c}: {tol}"
                );
                // The DCGM exporter metrics ConfigMap is created by the chart from the values
                // and the ClusterPolicy points the exporter at it.
                let dcgm = rendered
                    .iter()
                    .find(|d| {
                        d["kind"] == "ConfigMap" && d["metadata"]["name"] == "dcgm-exporter-metrics"
                    })
                    .unwrap_or_else(|| panic!("{c}: no dcgm-exporter-metrics ConfigMap"));
                assert!(
                    dcgm["data"]["dcgm-metrics.csv"]
                        .as_str()
                        .unwrap()
                        .contains("DCGM_FI_DEV_GPU_UTIL, gauge"),
                    "{c}"
                );
                assert_eq!(
                    cp["spec"]["dcgmExporter"]["config"]["name"], "dcgm-exporter-metrics",
                    "{c}"
                );
                let nfd_worker = rendered
                    .iter()
                    .find(|d| {
                        d["kind"] == "DaemonSet"
                            && d["metadata"]["name"].as_str().unwrap().ends_with("worker")
                    })
                    .unwrap();
                assert_eq!(
                    nfd_worker.pointer("/spec/template/spec/nodeSelector/nodeGroup"),
                    Some(&Value::from("customer-gpu"))
                );
            }
        }
    }
    assert!(images_seen > 100, "only {images_seen} images checked");
    let kv = require_tool("kubernetes-validate", &[&repo_file("target/tools/bin")]);
    for kube in std::fs::read_dir(&docs_dir).unwrap() {
        let dir = kube.unwrap().path();
        let version = dir.file_name().unwrap().to_str().unwrap().to_string();
        let builtin: Vec<_> = cns_test_support::list_files(&dir)
            .into_iter()
            .map(|f| dir.join(f))
            .collect();
        if let Some(kv) = &kv {
            let o = run(std::process::Command::new(kv)
                .args(["--strict", "--quiet", "-k", &version])
                .args(&builtin));
            assert!(
                o.status.success(),
                "kubernetes-validate at {version} of {} rendered charts: {}",
                builtin.len(),
                describe(&o)
            );
        }
    }
}

/// Every image reference a rendered chart's workloads name: containers and init containers,
/// `*_IMAGE` environment variables and `--…-image=` arguments (images the operator starts
/// itself).
pub(crate) fn workload_images(doc: &Value, out: &mut std::collections::BTreeSet<String>) {
    let spec = match doc["kind"].as_str() {
        Some("CronJob") => doc.pointer("/spec/jobTemplate/spec/template/spec"),
        Some("Pod") => doc.get("spec"),
        _ => pod_spec(doc),
    };
    let Some(spec) = spec else { return };
    for list in ["containers", "initContainers"] {
        for ctr in spec[list].as_array().into_iter().flatten() {
            out.insert(ctr["image"].as_str().unwrap().to_string());
            for e in ctr["env"].as_array().into_iter().flatten() {
                let name = e["name"].as_str().unwrap_or_default();
                if let (true, Some(v)) = (name.ends_with("_IMAGE"), e["value"].as_str()) {
                    out.insert(v.to_string());
                }
            }
            for a in ctr["args"].as_array().into_iter().flatten() {
                if let Some((flag, v)) = a.as_str().and_then(|a| a.split_once('='))
                    && flag.starts_with("--")
                    && flag.ends_with("-image")
                {
                    out.insert(v.to_string());
                }
            }
        }
    }
}

/// `<repository>/<image>:<version>` (`@` for a sha256 version) of an operator operand.
fn operand(o: &Value, suffix: &str) -> String {
    let (repo, image, version) = (
        o["repository"].as_str().unwrap(),
        o["image"].as_str().unwrap(),
        o["version"].as_str().unwrap(),
    );
    if version.starts_with("sha256:") {
        format!("{repo}/{image}@{version}")
    } else {
        format!("{repo}/{image}:{version}{suffix}")
    }
}

/// The operand images the GPU Operator deploys for a ClusterPolicy: the validator always, the
/// driver (with its manager, and GDS and GDRCopy containers) when enabled, and each enabled
/// operand; the driver, GDS and GDRCopy tags get `-<os ID><VERSION_ID>` of the node.
pub(crate) fn cluster_policy_images(
    cp: &Value,
    node_os: &str,
    out: &mut std::collections::BTreeSet<String>,
) {
    let s = &cp["spec"];
    assert_ne!(
        s["sandboxWorkloads"]["enabled"], true,
        "sandbox workloads are not modelled"
    );
    let on = |k: &str| s[k]["enabled"].as_bool().unwrap_or(false);
    out.insert(operand(&s["validator"], ""));
    if on("driver") {
        out.insert(operand(&s["driver"], node_os));
        out.insert(operand(&s["driver"]["manager"], ""));
        for k in ["gds", "gdrcopy"] {
            if on(k) {
                out.insert(operand(&s[k], node_os));
            }
        }
    }
    for k in [
        "toolkit",
        "devicePlugin",
        "dcgm",
        "dcgmExporter",
        "gfd",
        "migManager",
        "nodeStatusExporter",
    ] {
        if on(k) {
            out.insert(operand(&s[k], ""));
        }
    }
}

/// The operands of NicClusterPolicy resources among a component's manifests; the DOCA
/// driver's tag gets `-<os ID><VERSION_ID>-<arch>`.
pub(crate) fn nic_cluster_policy_images(
    dir: &Path,
    node_os: &str,
    arch: &str,
    out: &mut std::collections::BTreeSet<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir.join("manifests")) else {
        return;
    };
    for e in entries {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for d in docs(&text)
            .iter()
            .filter(|d| d["kind"] == "NicClusterPolicy")
        {
            for (field, o) in d["spec"].as_object().unwrap() {
                if o.get("image").is_some() && o.get("version").is_some() {
                    let suffix = if field == "ofedDriver" {
                        format!("{node_os}{arch}")
                    } else {
                        String::new()
                    };
                    out.insert(operand(o, &suffix));
                }
            }
        }
    }
}

/// The component's references in the bundle's images.lock.yaml, and the references the
/// rendered chart and its operator run.
fn image_check(
    recipe: &cns_recipe::RecipeResult,
    name: &str,
    rendered: &[Value],
    bundle: &Path,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let lock: Value =
        serde_norway::from_str(&std::fs::read_to_string(bundle.join("images.lock.yaml")).unwrap())
            .unwrap();
    let constraint = |n: &str| {
        recipe
            .constraints
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.value.clone())
    };
    // Where the recipe does not pin the node OS, the lock must say that the operator's
    // per-node suffix is missing (and nothing else may be incomplete).
    let (node_os, pinned) = match (
        constraint("OS.release.ID"),
        constraint("OS.release.VERSION_ID"),
    ) {
        (Some(id), Some(v)) => (format!("-{id}{v}"), true),
        _ => (String::new(), false),
    };
    for note in lock["incomplete"].as_array().into_iter().flatten() {
        let note = note.as_str().unwrap();
        assert!(
            !pinned && note.contains("appends"),
            "{name}: incomplete: {note}"
        );
    }
    let locked = lock["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["component"] == name)
        .map(|i| i["image"].as_str().unwrap().to_string())
        .collect();
    let arch = if !pinned {
        ""
    } else if recipe.criteria.accelerator == "gb200" {
        "-arm64"
    } else {
        "-amd64"
    };
    let mut expected = std::collections::BTreeSet::new();
    for d in rendered {
        workload_images(d, &mut expected);
        if d["kind"] == "ClusterPolicy" {
            cluster_policy_images(d, &node_os, &mut expected);
        }
    }
    nic_cluster_policy_images(&bundle.join(name), &node_os, arch, &mut expected);
    (locked, expected)
}

/// A chart's default values with its subcharts' (each under its chart name, the parent's
/// section over it), read from the chart directory.
fn chart_defaults(dir: &Path) -> Value {
    let read = |p: &Path| -> Value {
        serde_norway::from_str(&std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or(Value::Null)
    };
    let mut parent = read(&dir.join("values.yaml"));
    if !parent.is_object() {
        parent = serde_json::json!({});
    }
    let mut subs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("charts")) {
        let mut dirs: Vec<_> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("Chart.yaml").is_file())
            .collect();
        dirs.sort();
        for d in dirs {
            let name = read(&d.join("Chart.yaml"))["name"]
                .as_str()
                .unwrap()
                .to_string();
            subs.push((name, chart_defaults(&d)));
        }
    }
    cns_values::chart_types::with_subcharts(&parent, &subs)
}

/// The chart records of the recipe data (`recipes/components/<name>/chart-types.yaml`: the
/// types of the chart's default values with its subcharts', and its `values.schema.json`
/// reduced, where the chart ships one) are what the real charts at the registry's versions
/// declare. `UPDATE_CHART_TYPES=1 cargo test --test integration chart_records` rewrites them.
#[test]
fn chart_records_are_what_the_charts_declare() {
    use cns_recipe::chart::{ChartRecord, types_path};
    let update = std::env::var("UPDATE_CHART_TYPES").is_ok_and(|v| v == "1");
    let data = repo_file("recipes");
    let store = cns_recipe::Store::from_dir(&data).unwrap();
    let mut recorded = Vec::new();
    let mut stale = Vec::new();
    for c in &store.registry().unwrap().components {
        let dir = chart_dir(&c.name);
        let types_file = data.join(types_path(&c.name));
        let Ok(chart_yaml) = std::fs::read_to_string(dir.join("Chart.yaml")) else {
            assert!(!types_file.exists(), "{}: no reference chart", c.name);
            continue;
        };
        let meta: Value = serde_norway::from_str(&chart_yaml).unwrap();
        if meta["version"].as_str() != Some(c.helm.version.as_str()) {
            // The reference is another version: nothing may be recorded for this one.
            assert!(
                !types_file.exists(),
                "{}: the reference chart is {}",
                c.name,
                meta["version"]
            );
            continue;
        }
        assert_eq!(
            meta["name"].as_str(),
            Some(c.helm.chart.as_str()),
            "{}",
            c.name
        );
        let schema = std::fs::read_to_string(dir.join("values.schema.json"))
            .ok()
            .map(|text| {
                let v: Value = serde_json::from_str(&text).unwrap();
                cns_values::chart_types::reduce(&v)
                    .unwrap_or_else(|e| panic!("{}: values.schema.json: {e}", c.name))
            });
        let record = ChartRecord {
            chart: c.helm.chart.clone(),
            version: c.helm.version.clone(),
            types: cns_values::chart_types::record(&chart_defaults(&dir)),
            schema,
        };
        let text = format!(
            "# Chart {} {}: the types of its default values (its subcharts' under their names){}, checked\n# against every bundle's values. Generated from the chart by\n#   UPDATE_CHART_TYPES=1 cargo test --test integration chart_records\n{}",
            c.helm.chart,
            c.helm.version,
            if record.schema.is_some() {
                " and its values.schema.json reduced to what cnsctl checks"
            } else {
                ""
            },
            serde_norway::to_string(&record.to_value()).unwrap()
        );
        if std::fs::read_to_string(&types_file).ok().as_deref() != Some(text.as_str()) {
            if update {
                std::fs::create_dir_all(types_file.parent().unwrap()).unwrap();
                std::fs::write(&types_file, &text).unwrap();
            } else {
                stale.push(types_file.display().to_string());
            }
        }
        recorded.push(c.name.clone());
    }
    assert!(
        stale.is_empty(),
        "chart records differ from the charts; read the charts' change, then regenerate with\n  UPDATE_CHART_TYPES=1 cargo test --test integration chart_records\n{}",
        stale.join("\n")
    );
    assert_eq!(
        recorded,
        [
            "aws-efa-k8s-device-plugin",
            "cert-manager",
            "gpu-operator",
            "network-operator",
            "nvidia-dra-driver-gpu",
            "skyhook"
        ],
        "every component whose reference chart is the registry's version has a record"
    );
}

/// The reduced schema cnsctl checks answers as the chart's full values.schema.json does,
/// under a real JSON Schema validator, on the chart's defaults, the values of every
/// supported recipe, and, at every property the schema names, a value of the wrong type and
/// (where the map is closed) a key it does not allow.
#[test]
fn a_reduced_chart_schema_answers_as_the_full_one() {
    use cns_values::chart_types::{Shape, check_shape, reduce};
    let dir = chart_dir("cert-manager");
    let full: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("values.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&full).unwrap();
    let shape = reduce(&full).unwrap();
    let full_says = |v: &Value| {
        validator.iter_errors(v).all(|e| {
            matches!(
                e.kind(),
                jsonschema::error::ValidationErrorKind::Required { .. }
            )
        })
    };
    let mut corpus: Vec<Value> = vec![chart_defaults(&dir), serde_json::json!({})];
    let store = cns_recipe::Store::embedded();
    for c in cns_recipe::resolve::supported(&store).unwrap() {
        let r = cns_recipe::resolve(&store, &c).unwrap();
        for cref in r.component_refs.iter().filter(|r| r.name == "cert-manager") {
            corpus.push(store.component_values(cref).unwrap());
        }
    }
    // Mutations at every named property, to the depth the schema names them.
    fn mutate(shape: &Shape, path: &mut Vec<String>, out: &mut Vec<Value>) {
        let at = |path: &[String], leaf: Value| {
            let mut v = leaf;
            for k in path.iter().rev() {
                v = serde_json::json!({ k.as_str(): v });
            }
            v
        };
        if shape.closed {
            path.push("notAKeyOfTheChart".into());
            out.push(at(path, serde_json::json!(1)));
            path.pop();
        }
        for (k, sub) in &shape.properties {
            path.push(k.clone());
            for wrong in [
                serde_json::json!("s"),
                serde_json::json!(true),
                serde_json::json!(7),
                serde_json::json!([1]),
                serde_json::json!({"x": 1}),
            ] {
                out.push(at(path, wrong));
            }
            mutate(sub, path, out);
            path.pop();
        }
    }
    mutate(&shape, &mut Vec::new(), &mut corpus);
    let (mut valid, mut invalid) = (0, 0);
    for v in &corpus {
        let ours = check_shape(v, &shape);
        assert_eq!(ours.is_empty(), full_says(v), "{v}: {ours:?}");
        if ours.is_empty() {
            valid += 1
        } else {
            invalid += 1
        }
    }
    assert!(
        valid > 100 && invalid > 300,
        "{valid} valid, {invalid} invalid"
    );
}

/// Values the chart cannot take are refused before anything is written (exit 2), naming
/// component, chart version, path, the chart's type and what was given; what the chart
/// takes (strings for strings, numbers where it has a string, anything where it has `{}`)
/// passes; a chart version the data has no record of is said, not checked.
#[test]
fn values_that_contradict_the_chart_are_refused_before_anything_is_written() {
    let tmp = tempdir();
    let t = tmp.path();
    let bundle = |args: &[&str]| {
        run(cnsctl(&t.join("cache"))
            .current_dir(t)
            .args(["bundle", "--output", "out"])
            .args(args))
    };
    for (set, want) in [
        (
            "gpuoperator:driver=5",
            "driver: the chart has a map there, given the number 5",
        ),
        (
            "gpuoperator:driver.enabled=yes",
            "driver.enabled: the chart has a bool there, given the string \"yes\"",
        ),
        (
            "gpuoperator:daemonsets.tolerations.a=b",
            "daemonsets.tolerations: the chart has a list there, given a map",
        ),
        (
            "certmanager:foo=1",
            "foo: values.schema.json: `foo` is not a key the chart allows here",
        ),
        (
            "certmanager:webhook.timeoutSeconds=x",
            "webhook.timeoutSeconds: values.schema.json: the string \"x\" is not of type number",
        ),
    ] {
        let o = bundle(&["--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        let component = if set.starts_with("gpu") {
            "the values of `gpu-operator` do not fit chart gpu-operator v26.7.0"
        } else {
            "the values of `cert-manager` do not fit chart cert-manager v1.21.1"
        };
        assert!(err.contains(component), "{set}: {err}");
        assert!(err.contains(want), "{set}: {err}");
        assert!(!t.join("out").exists(), "{set}: nothing written");
    }
    for ok in [
        "gpuoperator:driver.version=570",
        "gpuoperator:driver.version=1.50",
        "gpuoperator:daemonsets.labels.team=gpu",
        "gpuoperator:node-feature-discovery.worker.tolerations=null",
    ] {
        let o = bundle(&["--set", ok, "--force"]);
        assert!(o.status.success(), "{ok}: {}", describe(&o));
    }
    // Another chart version than the data records: said, and not checked.
    let recipe = t.join("old.yaml");
    std::fs::write(
        &recipe,
        "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: gpu-operator\n  version: v25.10.0\n",
    )
    .unwrap();
    let o = bundle(&[
        "--recipe",
        recipe.to_str().unwrap(),
        "--set",
        "gpuoperator:driver=5",
        "--force",
    ]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "the values of `gpu-operator` are not checked against its chart: the recipe data records chart gpu-operator v26.7.0, the recipe uses gpu-operator v25.10.0"
        ),
        "{}",
        describe(&o)
    );
}
