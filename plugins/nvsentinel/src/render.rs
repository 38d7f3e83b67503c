//! Pure rendering of the NVSentinel component. Its values are the chart's real values
//! (the predecessor's install script ignored them): system pods are placed through
//! `global.systemNodeSelector`/`global.systemNodeTolerations`, node agents through
//! `global.nodeSelector`/`global.tolerations`. The GPU health monitor reads DCGM from the GPU
//! Operator's `nvidia-dcgm` service in `operator-service` mode, which needs the GPU Operator
//! in the recipe; the configured mode and endpoint are checked.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::values::{self, Value};
use cns_plugin_sdk::{ComponentInput, Level, PluginError, Rendered, log};

/// DCGM source modes the chart supports (`global.dcgm.mode`).
pub const DCGM_MODES: &[&str] = &["operator-service", "external-hostengine", "embedded-mode"];

/// Check the DCGM settings; returns a note for the README.
pub fn check_dcgm(vals: &Value, input: &ComponentInput) -> Result<Option<String>, PluginError> {
    let enabled = values::get_path(vals, "global.dcgm.enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !enabled {
        return Ok(None);
    }
    let mode = match values::get_path(vals, "global.dcgm.mode") {
        None => "operator-service",
        Some(Value::String(m)) if DCGM_MODES.contains(&m.as_str()) => m.as_str(),
        Some(other) => {
            return Err(PluginError::InvalidInput(format!(
                "global.dcgm.mode is `{other}`; expected one of: {}",
                DCGM_MODES.join(", ")
            )));
        }
    };
    if mode != "operator-service" {
        return Ok(Some(format!("DCGM source: `{mode}`.")));
    }
    if !input.dependencies.iter().any(|d| d == "gpu-operator") {
        log(
            Level::Warn,
            "global.dcgm.mode is operator-service but nvsentinel does not depend on gpu-operator in this recipe",
        );
    }
    let endpoint = values::get_path(vals, "global.dcgm.service.endpoint")
        .and_then(Value::as_str)
        .unwrap_or("nvidia-dcgm.gpu-operator.svc");
    if !endpoint.starts_with("nvidia-dcgm.") {
        return Err(PluginError::InvalidInput(format!(
            "global.dcgm.service.endpoint is `{endpoint}`; in operator-service mode it must be the GPU Operator's service, nvidia-dcgm.<gpu-operator namespace>.svc"
        )));
    }
    Ok(Some(format!(
        "DCGM source: the GPU Operator's `{endpoint}` service (operator-service mode)."
    )))
}

/// Render the NVSentinel component's files.
pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
    let vals = component::scheduled_values(input)?;
    let notes: Vec<String> = check_dcgm(&vals, input)?.into_iter().collect();
    let mut out = Vec::new();
    out.extend(component::manifest_files(input));
    let info = ReadmeInfo {
        title: "NVSentinel",
        about: "Detects GPU and node faults (DCGM, syslog, metadata), records health events and can quarantine, drain and remediate nodes.",
        verify: vec![
            format!(
                "kubectl -n {} get pods",
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
            format!(
                "kubectl -n {} get daemonsets",
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
        ],
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

    fn input(values: &str) -> ComponentInput {
        let mut i = component_input("nvsentinel", values);
        i.dependencies = vec!["cert-manager".into(), "gpu-operator".into()];
        i
    }

    #[test]
    fn default_dcgm_source_is_the_gpu_operator_service() {
        let files = render(&input(r#"{"global":{"dryRun":false}}"#)).unwrap();
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            std::str::from_utf8(&readme.content)
                .unwrap()
                .contains("nvidia-dcgm.gpu-operator.svc")
        );
        let v = files.iter().find(|f| f.path == "values.yaml").unwrap();
        assert!(
            std::str::from_utf8(&v.content)
                .unwrap()
                .contains("dryRun: false")
        );
    }

    #[test]
    fn bad_dcgm_settings_are_named() {
        let e = render(&input(r#"{"global":{"dcgm":{"mode":"magic"}}}"#)).unwrap_err();
        assert!(
            matches!(&e, PluginError::InvalidInput(m) if m.contains("global.dcgm.mode") && m.contains("magic"))
        );
        let e = render(&input(
            r#"{"global":{"dcgm":{"service":{"endpoint":"dcgm.example"}}}}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(&e, PluginError::InvalidInput(m) if m.contains("global.dcgm.service.endpoint"))
        );
        render(&input(
            r#"{"global":{"dcgm":{"enabled":false,"mode":"magic"}}}"#,
        ))
        .unwrap();
    }
}
