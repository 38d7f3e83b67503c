//! Pure rendering of the cert-manager component: values.yaml, manifests and README.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::values;
use cns_plugin_sdk::{ComponentInput, PluginError, Rendered};

/// Chart paths of the four cert-manager pods, used when the registry names no paths.
pub const POD_PREFIXES: [&str; 4] = ["", "webhook.", "cainjector.", "startupapicheck."];

/// Render cert-manager's files.
pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
    let mut input = input.clone();
    if input.system.node_selector_paths.is_empty() {
        input.system.node_selector_paths = POD_PREFIXES
            .iter()
            .map(|p| format!("{p}nodeSelector"))
            .collect();
    }
    if input.system.toleration_paths.is_empty() {
        input.system.toleration_paths = POD_PREFIXES
            .iter()
            .map(|p| format!("{p}tolerations"))
            .collect();
    }
    let vals = component::scheduled_values(&input)?;
    // The chart's values.schema.json forbids unknown top-level keys; `installCRDs` was
    // replaced by `crds.enabled` and would make `helm template` fail on the current chart.
    if values::get_path(&vals, "installCRDs").is_some() {
        return Err(PluginError::InvalidInput(
            "cert-manager value `installCRDs` was removed from the chart: use `crds.enabled`"
                .into(),
        ));
    }
    let mut out = Vec::new();
    out.extend(component::manifest_files(&input));
    let crds = values::get_path(&vals, "crds.enabled")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let info = ReadmeInfo {
        title: "cert-manager",
        about: "Issues and renews X.509 certificates in the cluster; the GPU Operator and NVSentinel use it for their webhooks.",
        verify: vec![
            format!(
                "kubectl -n {} rollout status deployment/cert-manager-webhook --timeout=5m",
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
            "kubectl get crd certificates.cert-manager.io".into(),
        ],
        notes: vec![format!(
            "CRDs are {} by the chart (`crds.enabled`).",
            if crds { "installed" } else { "not installed" }
        )],
    };
    out.push(component::readme(&input, &out, &info));
    Ok(Rendered {
        files: out,
        values: vals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cns_plugin_sdk::BundleFile;

    /// The files as the host writes them: values.yaml from the returned values, first.
    fn render(input: &ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
        super::render(input).map(|r| cns_plugin_sdk::testing::written(input, r))
    }
    use cns_plugin_sdk::values::Value;
    use cns_plugin_sdk::values::json;
    use cns_plugin_sdk::{ChartSource, Criteria, Label, Scheduling, Toleration};

    fn sched(sel: &[(&str, &str)], tol: Vec<Toleration>) -> Scheduling {
        Scheduling {
            node_selector: sel
                .iter()
                .map(|(k, v)| Label {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            tolerations: tol,
            node_selector_paths: vec![],
            toleration_paths: vec![],
        }
    }

    fn input(values: Value, system: Scheduling) -> ComponentInput {
        ComponentInput {
            name: "cert-manager".into(),
            namespace: "cert-manager".into(),
            chart: ChartSource {
                repository: "https://charts.jetstack.io".into(),
                chart: "cert-manager".into(),
                version: "v1.21.1".into(),
            },
            values_json: values.to_string(),
            system,
            accelerated: sched(&[], vec![]),
            criteria: Criteria {
                service: "eks".into(),
                accelerator: "h100".into(),
                os: "ubuntu".into(),
                intent: "training".into(),
            },
            manifests: vec![],
            dependencies: vec![],
        }
    }

    fn values_of(files: &[BundleFile]) -> Value {
        let f = files.iter().find(|f| f.path == "values.yaml").unwrap();
        values::from_yaml(std::str::from_utf8(&f.content).unwrap()).unwrap()
    }

    #[test]
    fn system_scheduling_lands_on_all_four_pods() {
        let tol = Toleration {
            key: Some("dedicated".into()),
            operator: "Equal".into(),
            value: Some("system".into()),
            effect: Some("NoSchedule".into()),
        };
        let files = render(&input(
            json!({"crds": {"enabled": true}}),
            sched(&[("nodeGroup", "system-pool")], vec![tol]),
        ))
        .unwrap();
        let v = values_of(&files);
        for p in [
            "nodeSelector",
            "webhook.nodeSelector",
            "cainjector.nodeSelector",
            "startupapicheck.nodeSelector",
        ] {
            assert_eq!(
                values::get_path(&v, p),
                Some(&json!({"nodeGroup": "system-pool"})),
                "{p}"
            );
        }
        for p in [
            "tolerations",
            "webhook.tolerations",
            "cainjector.tolerations",
            "startupapicheck.tolerations",
        ] {
            assert_eq!(
                values::get_path(&v, p).unwrap()[0]["key"],
                json!("dedicated"),
                "{p}"
            );
        }
        assert_eq!(v["crds"]["enabled"], json!(true));
    }

    #[test]
    fn no_flags_no_scheduling_keys() {
        let files = render(&input(json!({"replicaCount": 1}), sched(&[], vec![]))).unwrap();
        assert_eq!(values_of(&files), json!({"replicaCount": 1}));
        let names: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["values.yaml", "README.md"]);
    }

    #[test]
    fn removed_install_crds_is_refused() {
        let err = render(&input(json!({"installCRDs": true}), sched(&[], vec![]))).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("installCRDs")),
            "{err:?}"
        );
    }

    #[test]
    fn output_is_deterministic() {
        let i = input(
            json!({"b": 1, "a": {"z": 1, "y": 2}}),
            sched(&[("k", "v")], vec![]),
        );
        assert_eq!(render(&i).unwrap(), render(&i).unwrap());
    }
}
