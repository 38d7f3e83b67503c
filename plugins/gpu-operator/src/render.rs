//! Pure rendering of the GPU Operator component: values.yaml, the driver's
//! kernel-module-params ConfigMap when the values name one, recipe manifests, README.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::values::{self, Value};
use cns_plugin_sdk::{BundleFile, ComponentInput, PluginError, file};

/// Driver module options GB200 (Grace-Blackwell) nodes need: GPUDirect RDMA over the
/// Grace PCIe topology is rejected by the driver's default topology check.
pub const GB200_MODULE_OPTIONS: &str = "options nvidia NVreg_GrdmaPciTopoCheckOverride=1\n";

/// The ConfigMap the ClusterPolicy's `driver.kernelModuleConfig.name` points at.
pub fn kernel_module_params(name: &str, namespace: &str, options: &str) -> String {
    let mut data = values::Map::new();
    data.insert("nvidia.conf".into(), Value::String(options.into()));
    let cm = values::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "cnsctl"}},
        "data": data,
    });
    values::yaml(&cm).expect("a ConfigMap always serialises")
}

/// Render the GPU Operator's files.
pub fn render(input: &ComponentInput) -> Result<Vec<BundleFile>, PluginError> {
    let vals = component::scheduled_values(input)?;
    let mut out = vec![component::values_file(input, &vals)?];
    out.extend(component::manifest_files(input));
    let mut notes = Vec::new();
    if let Some(name) =
        values::get_path(&vals, "driver.kernelModuleConfig.name").and_then(Value::as_str)
        && !name.is_empty()
    {
        let path = format!("manifests/{name}.yaml");
        if !out.iter().any(|f| f.path == path) {
            if input.criteria.accelerator != "gb200" {
                return Err(PluginError::InvalidInput(format!(
                    "driver.kernelModuleConfig.name is `{name}`, but cnsctl knows no kernel module parameters for accelerator `{}`: ship `{path}` with the recipe",
                    input.criteria.accelerator
                )));
            }
            out.push(file(
                path.clone(),
                kernel_module_params(name, &input.namespace, GB200_MODULE_OPTIONS),
            ));
        }
        notes.push(format!(
            "`{path}`: driver module parameters (ConfigMap `{name}`) the ClusterPolicy refers to."
        ));
    }
    let verify = vec![
        format!(
            "kubectl -n {} rollout status deployment/gpu-operator --timeout=5m",
            input.namespace
        ),
        "kubectl get clusterpolicy cluster-policy -o jsonpath='{.status.state}'   # ready".into(),
        "kubectl get nodes -L nvidia.com/gpu.present -L nvidia.com/gpu.product".into(),
    ];
    let info = ReadmeInfo {
        title: "NVIDIA GPU Operator",
        about: "Installs and manages the NVIDIA driver, container toolkit, device plugin, GPU feature discovery and DCGM exporter on GPU nodes through a ClusterPolicy.",
        verify,
        notes,
    };
    out.push(component::readme(input, &out, &info));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cns_plugin_sdk::values::json;
    use cns_plugin_sdk::{ChartSource, Criteria, Scheduling};

    fn input(accelerator: &str, values: Value) -> ComponentInput {
        let none = Scheduling {
            node_selector: vec![],
            tolerations: vec![],
            node_selector_paths: vec![],
            toleration_paths: vec![],
        };
        ComponentInput {
            name: "gpu-operator".into(),
            namespace: "gpu-operator".into(),
            chart: ChartSource {
                repository: "https://helm.ngc.nvidia.com/nvidia".into(),
                chart: "gpu-operator".into(),
                version: "v26.7.0".into(),
            },
            values_json: values.to_string(),
            system: none.clone(),
            accelerated: none,
            criteria: Criteria {
                service: "eks".into(),
                accelerator: accelerator.into(),
                os: "ubuntu".into(),
                intent: "training".into(),
            },
            manifests: vec![],
            dependencies: vec![],
        }
    }

    #[test]
    fn gb200_gets_the_kernel_module_params_configmap() {
        let files = render(&input(
            "gb200",
            json!({"driver": {"kernelModuleConfig": {"name": "kernel-module-params"}}}),
        ))
        .unwrap();
        let cm = files
            .iter()
            .find(|f| f.path == "manifests/kernel-module-params.yaml")
            .expect("configmap");
        let doc = values::from_yaml(std::str::from_utf8(&cm.content).unwrap()).unwrap();
        assert_eq!(doc["metadata"]["namespace"], "gpu-operator");
        assert_eq!(doc["data"]["nvidia.conf"], GB200_MODULE_OPTIONS);
    }

    #[test]
    fn no_module_config_no_manifest() {
        let files = render(&input("h100", json!({"driver": {"enabled": true}}))).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["values.yaml", "README.md"]);
    }

    #[test]
    fn unknown_module_config_for_other_accelerators_is_an_error() {
        let err = render(&input(
            "h100",
            json!({"driver": {"kernelModuleConfig": {"name": "x"}}}),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("`h100`")),
            "{err:?}"
        );
    }
}
