//! Pure rendering of the NVIDIA Network Operator component.
//!
//! The predecessor installed into one namespace while its values and scripts named another;
//! here the namespace is the input's, and values that would place operator objects elsewhere
//! are refused. Every cnsctl recipe deploys the GPU Operator, which runs Node Feature
//! Discovery: a second NFD from the Network Operator (`nfd.enabled`) is refused.

use cns_plugin_sdk::component::{self, ReadmeInfo};
use cns_plugin_sdk::values::{self, Value};
use cns_plugin_sdk::{ComponentInput, PluginError, Rendered};

/// Values paths that would move operator objects to another namespace.
pub const NAMESPACE_PATHS: &[&str] = &["namespaceOverride", "operator.namespace"];

/// Check namespace and NFD settings.
pub fn check(vals: &Value, input: &ComponentInput) -> Result<(), PluginError> {
    for path in NAMESPACE_PATHS {
        if let Some(ns) = values::get_path(vals, path).and_then(Value::as_str)
            && ns != input.namespace
        {
            return Err(PluginError::InvalidInput(format!(
                "{path} is `{ns}` but the component installs into namespace `{}`; drop the value or change the component's namespace",
                input.namespace
            )));
        }
    }
    let nfd = values::get_path(vals, "nfd.enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if nfd {
        return Err(PluginError::InvalidInput(
            "nfd.enabled is true, but the GPU Operator already runs Node Feature Discovery and two NFD masters conflict; set network-operator:nfd.enabled=false".into(),
        ));
    }
    Ok(())
}

/// Render the Network Operator component's files.
pub fn render(input: &ComponentInput) -> Result<Rendered, PluginError> {
    let vals = component::scheduled_values(input)?;
    check(&vals, input)?;
    let mut out = Vec::new();
    out.extend(component::manifest_files(input));
    let info = ReadmeInfo {
        title: "NVIDIA Network Operator",
        about: "Deploys the networking stack for GPUDirect RDMA and secondary networks (DOCA driver, RDMA device plugins, IPAM, Multus) through a NicClusterPolicy.",
        verify: vec![
            format!(
                "kubectl -n {} rollout status deployment --timeout=5m",
                cns_plugin_sdk::quote::shell_word(&input.namespace)
            ),
            "kubectl get nicclusterpolicies".into(),
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
    use cns_plugin_sdk::testing::component_input;

    fn input(values: &str, deps: &[&str]) -> ComponentInput {
        let mut i = component_input("network-operator", values);
        i.namespace = "nvidia-network-operator".into();
        i.dependencies = deps.iter().map(|s| s.to_string()).collect();
        i
    }

    #[test]
    fn values_pass_through() {
        let files = render(&input(r#"{"nfd":{"enabled":false}}"#, &["gpu-operator"])).unwrap();
        let v = files.iter().find(|f| f.path == "values.yaml").unwrap();
        assert!(
            std::str::from_utf8(&v.content)
                .unwrap()
                .contains("enabled: false")
        );
    }

    #[test]
    fn namespace_drift_is_refused() {
        let e = render(&input(
            r#"{"operator":{"namespace":"network-operator"}}"#,
            &[],
        ))
        .unwrap_err();
        assert!(
            matches!(&e, PluginError::InvalidInput(m) if m.contains("operator.namespace") && m.contains("nvidia-network-operator"))
        );
        render(&input(
            r#"{"operator":{"namespace":"nvidia-network-operator"}}"#,
            &[],
        ))
        .unwrap();
    }

    #[test]
    fn second_nfd_is_refused() {
        let e = render(&input(r#"{"nfd":{"enabled":true}}"#, &[])).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("nfd.enabled")));
    }
}
