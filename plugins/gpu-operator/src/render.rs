//! Pure rendering of the GPU Operator component: values.yaml, recipe manifests (checked to
//! include the driver's kernel-module-params ConfigMap when the values name one), README.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::values::{self, Value};
use cns_plugin_sdk::{ComponentInput, PluginError, Rendered};

/// Prometheus metric types DCGM exporter accepts in its metrics CSV.
pub const DCGM_TYPES: &[&str] = &["gauge", "counter", "label"];

/// Check `dcgmExporter.config`; returns a README note. With `create: true` the chart makes
/// the ConfigMap from `data`, so `data` must be a well-formed metrics CSV: every line that is
/// not blank or a `#` comment is `DCGM_FI_<FIELD>, <gauge|counter|label>, <help>`.
pub fn check_dcgm_config(vals: &Value) -> Result<Option<String>, PluginError> {
    let enabled = values::get_path(vals, "dcgmExporter.enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let Some(config) = values::get_path(vals, "dcgmExporter.config").filter(|_| enabled) else {
        return Ok(None);
    };
    let name = config.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return Err(PluginError::InvalidInput(
            "dcgmExporter.config.name is required when dcgmExporter.config is set".into(),
        ));
    }
    if config.get("create").and_then(Value::as_bool) != Some(true) {
        return Ok(Some(format!(
            "DCGM exporter reads its metrics from ConfigMap `{name}`, which must exist in the namespace."
        )));
    }
    let data = match config.get("data") {
        Some(Value::String(d)) if !d.trim().is_empty() => d,
        _ => {
            return Err(PluginError::InvalidInput(format!(
                "dcgmExporter.config.create is true but dcgmExporter.config.data is empty: the chart would create no ConfigMap `{name}` and DCGM exporter would not start"
            )));
        }
    };
    let mut metrics = 0;
    for (i, line) in data.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, ',').map(str::trim).collect();
        let ok = fields.len() == 3
            && fields[0].starts_with("DCGM_")
            && fields[0][5..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && DCGM_TYPES.contains(&fields[1]);
        if !ok {
            return Err(PluginError::InvalidInput(format!(
                "dcgmExporter.config.data line {}: `{line}` is not `DCGM_FI_<FIELD>, <{}>, <help>`",
                i + 1,
                DCGM_TYPES.join("|")
            )));
        }
        metrics += 1;
    }
    Ok(Some(format!(
        "DCGM exporter publishes {metrics} metrics from ConfigMap `{name}`, created by the chart from `dcgmExporter.config.data`."
    )))
}

/// Render the GPU Operator's files.
pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
    let mut vals = component::scheduled_values(input)?;
    let mut notes: Vec<String> = Vec::new();
    // Driver module parameters only reach a driver the operator installs: where the node image
    // brings the driver (driver.enabled: false), the ConfigMap would be applied and never read.
    let driver_off =
        values::get_path(&vals, "driver.enabled").and_then(Value::as_bool) == Some(false);
    let mut unused = None;
    if driver_off
        && let Some(name) = values::get_path(&vals, "driver.kernelModuleConfig.name")
            .and_then(Value::as_str)
            .map(str::to_string)
    {
        values::remove_path(&mut vals, "driver.kernelModuleConfig");
        notes.push(format!(
            "The node image brings the GPU driver (`driver.enabled: false`), so the recipe's driver module parameters (ConfigMap `{name}`) are left out: set them on the nodes' driver instead."
        ));
        unused = Some(format!("manifests/{name}.yaml"));
    }
    let mut out = Vec::new();
    out.extend(
        component::manifest_files(input)
            .into_iter()
            .filter(|f| unused.as_deref() != Some(f.path.as_str())),
    );
    notes.extend(check_dcgm_config(&vals)?);
    if let Some(name) =
        values::get_path(&vals, "driver.kernelModuleConfig.name").and_then(Value::as_str)
        && !name.is_empty()
    {
        // The ConfigMap itself is recipe data (e.g. the GB200 overlay ships it).
        let path = format!("manifests/{name}.yaml");
        if !out.iter().any(|f| f.path == path) {
            return Err(PluginError::InvalidInput(format!(
                "driver.kernelModuleConfig.name is `{name}`, but the recipe ships no `{path}` for it: add the ConfigMap to the component's manifestFiles"
            )));
        }
        notes.push(format!(
            "`{path}`: driver module parameters (ConfigMap `{name}`) the ClusterPolicy refers to."
        ));
    }
    let verify = vec![
        format!(
            "kubectl -n {} rollout status deployment/gpu-operator --timeout=5m",
            cns_plugin_sdk::quote::shell_word(&input.namespace)
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
    use cns_plugin_sdk::testing::component_input;
    use cns_plugin_sdk::values::json;

    fn input(accelerator: &str, values: Value) -> ComponentInput {
        let mut i = component_input("gpu-operator", &values.to_string());
        i.chart.repository = "https://helm.ngc.nvidia.com/nvidia".into();
        i.chart.version = "v26.7.0".into();
        i.criteria.accelerator = accelerator.into();
        i
    }

    #[test]
    fn a_named_kernel_module_config_must_be_shipped() {
        let values = json!({"driver": {"kernelModuleConfig": {"name": "kernel-module-params"}}});
        let e = render(&input("gb200", values.clone())).unwrap_err();
        assert!(
            matches!(&e, PluginError::InvalidInput(m) if m.contains("ships no `manifests/kernel-module-params.yaml`")),
            "{e:?}"
        );
        let mut i = input("gb200", values);
        i.manifests.push(cns_plugin_sdk::InputFile {
            path: "manifests/kernel-module-params.yaml".into(),
            content: b"kind: ConfigMap\n".to_vec(),
        });
        let files = render(&i).unwrap();
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("ClusterPolicy refers to")
        );
    }

    #[test]
    fn a_driver_the_operator_does_not_install_gets_no_module_config() {
        let values = json!({"driver": {"enabled": false, "kernelModuleConfig": {"name": "kernel-module-params"}}});
        let mut i = input("gb200", values);
        i.manifests.push(cns_plugin_sdk::InputFile {
            path: "manifests/kernel-module-params.yaml".into(),
            content: "kind: ConfigMap\n".into(),
        });
        let files = render(&i).unwrap();
        assert!(
            !files
                .iter()
                .any(|f| f.path == "manifests/kernel-module-params.yaml")
        );
        let v = std::str::from_utf8(&files[0].content).unwrap();
        assert!(!v.contains("kernelModuleConfig"), "{v}");
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("left out")
        );
    }

    #[test]
    fn no_module_config_no_manifest() {
        let files = render(&input("h100", json!({"driver": {"enabled": true}}))).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["values.yaml", "README.md"]);
    }

    #[test]
    fn dcgm_config_is_checked_line_by_line() {
        let cfg = |data: &str| json!({"dcgmExporter": {"config": {"name": "m", "create": true, "data": data}}});
        let files = render(&input(
            "h100",
            cfg("# c\nDCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization.\n\nDCGM_FI_DRIVER_VERSION, label, v\n"),
        ))
        .unwrap();
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("publishes 2 metrics")
        );
        let err = render(&input(
            "h100",
            cfg("DCGM_FI_DEV_GPU_UTIL, gauge, ok\nDCGM_FI_X, histogram, no"),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("line 2")),
            "{err:?}"
        );
        let err = render(&input("h100", cfg(""))).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("data is empty")),
            "{err:?}"
        );
        let err = render(&input(
            "h100",
            json!({"dcgmExporter": {"config": {"create": true}}}),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("config.name")),
            "{err:?}"
        );
        render(&input(
            "h100",
            json!({"dcgmExporter": {"enabled": false, "config": {"create": true}}}),
        ))
        .unwrap();
    }

    #[test]
    fn a_module_config_without_its_configmap_is_an_error_on_any_accelerator() {
        let err = render(&input(
            "h100",
            json!({"driver": {"kernelModuleConfig": {"name": "x"}}}),
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("ships no `manifests/x.yaml`")),
            "{err:?}"
        );
    }
}
