//! Pure rendering for any Helm chart: values with scheduling applied at the paths the
//! component registry names, manifests passed through, and a README.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::{ComponentInput, PluginError, Rendered};

/// Render a component's files.
pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
    let vals = component::scheduled_values(input)?;
    let mut out = Vec::new();
    out.extend(component::manifest_files(input));
    let about = format!(
        "Helm chart `{}`, rendered by cnsctl's generic Helm bundler from the component registry.",
        input.chart.chart
    );
    let info = ReadmeInfo {
        title: &input.name,
        about: &about,
        verify: vec![
            format!(
                "helm status {} --namespace {}",
                cns_plugin_sdk::quote::shell_word(&input.name),
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
            format!(
                "kubectl get pods --namespace {}",
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
        ],
        notes: vec![],
    };
    out.push(component::readme(input, &out, &info));
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
    use cns_plugin_sdk::values::json;
    use cns_plugin_sdk::values::{self, Value};
    use cns_plugin_sdk::{ChartSource, Criteria, InputFile, Label, Scheduling, Toleration};

    fn input() -> ComponentInput {
        ComponentInput {
            name: "network-operator".into(),
            namespace: "nvidia-network-operator".into(),
            chart: ChartSource {
                repository: "https://helm.ngc.nvidia.com/nvidia".into(),
                chart: "network-operator".into(),
                version: "26.4.1".into(),
            },
            values_json: json!({"deployCR": true}).to_string(),
            system: Scheduling {
                node_selector: vec![Label {
                    key: "pool".into(),
                    value: "sys".into(),
                }],
                tolerations: vec![],
                node_selector_paths: vec!["operator.nodeSelector".into()],
                toleration_paths: vec!["operator.tolerations".into()],
            },
            accelerated: Scheduling {
                node_selector: vec![Label {
                    key: "pool".into(),
                    value: "gpu".into(),
                }],
                tolerations: vec![Toleration {
                    key: None,
                    operator: "Exists".into(),
                    value: None,
                    effect: None,
                }],
                node_selector_paths: vec![],
                toleration_paths: vec!["tolerations".into()],
            },
            criteria: Criteria {
                service: "eks".into(),
                accelerator: "h100".into(),
                os: "ubuntu".into(),
                intent: "training".into(),
            },
            manifests: vec![InputFile {
                path: "manifests/nic.yaml".into(),
                content: b"kind: X\n".to_vec(),
            }],
            dependencies: vec!["cert-manager".into()],
        }
    }

    #[test]
    fn values_follow_registry_paths() {
        let files = render(&input()).unwrap();
        let v: Value = values::from_yaml(std::str::from_utf8(&files[0].content).unwrap()).unwrap();
        assert_eq!(v["operator"]["nodeSelector"], json!({"pool": "sys"}));
        assert!(
            v["operator"].get("tolerations").is_none(),
            "no system tolerations were given"
        );
        assert_eq!(v["tolerations"], json!([{"operator": "Exists"}]));
        assert_eq!(v["deployCR"], json!(true));
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["values.yaml", "manifests/nic.yaml", "README.md"]);
        let readme = std::str::from_utf8(&files[2].content).unwrap();
        assert!(
            readme.contains("| Namespace | `nvidia-network-operator` |"),
            "{readme}"
        );
        assert!(
            readme.contains("| Deployed after | cert-manager |"),
            "{readme}"
        );
    }
}
