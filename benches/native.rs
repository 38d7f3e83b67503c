//! The built-in plugin crates linked natively, as a [`Backend`]: the same code as the WASM
//! components, without the sandbox. The bundle benchmark measures the sandbox's cost with it;
//! the tests check that it lists exactly the built-in plugins.

use cns_bundle::Backend;
use cns_plugin_sdk as sdk;
use cns_runtime::types as host;
use cns_runtime::{OutputFile, RenderOutput};

fn to_sdk_sched(s: &host::Scheduling) -> sdk::Scheduling {
    sdk::Scheduling {
        node_selector: s
            .node_selector
            .iter()
            .map(|l| sdk::Label {
                key: l.key.clone(),
                value: l.value.clone(),
            })
            .collect(),
        tolerations: s
            .tolerations
            .iter()
            .map(|t| sdk::Toleration {
                key: t.key.clone(),
                operator: t.operator.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
            })
            .collect(),
        node_selector_paths: s.node_selector_paths.clone(),
        toleration_paths: s.toleration_paths.clone(),
    }
}

fn to_sdk_criteria(c: &host::Criteria) -> sdk::Criteria {
    sdk::Criteria {
        service: c.service.clone(),
        accelerator: c.accelerator.clone(),
        os: c.os.clone(),
        intent: c.intent.clone(),
    }
}

fn to_sdk_chart(c: &host::ChartSource) -> sdk::ChartSource {
    sdk::ChartSource {
        repository: c.repository.clone(),
        chart: c.chart.clone(),
        version: c.version.clone(),
    }
}

fn to_sdk_input(i: &host::ComponentInput) -> sdk::ComponentInput {
    sdk::ComponentInput {
        name: i.name.clone(),
        namespace: i.namespace.clone(),
        chart: to_sdk_chart(&i.chart),
        values_json: i.values_json.clone(),
        system: to_sdk_sched(&i.system),
        accelerated: to_sdk_sched(&i.accelerated),
        criteria: to_sdk_criteria(&i.criteria),
        manifests: i
            .manifests
            .iter()
            .map(|m| sdk::InputFile {
                path: m.path.clone(),
                content: m.content.clone(),
            })
            .collect(),
        dependencies: i.dependencies.clone(),
    }
}

fn values(v: &host::Values) -> sdk::values::Value {
    cns_runtime::values::from_wit(v.clone()).expect("the host's trees are trees")
}

fn to_sdk_deployment(i: &host::Deployment) -> sdk::Deployment {
    sdk::Deployment {
        components: i
            .components
            .iter()
            .map(|c| sdk::Component {
                name: c.name.clone(),
                namespace: c.namespace.clone(),
                chart: to_sdk_chart(&c.chart),
                order: c.order,
                dependencies: c.dependencies.clone(),
                values: values(&c.values),
                files: c.files.clone(),
                pod_security: c.pod_security.clone(),
                cluster_values: c.cluster_values.as_ref().map(values),
            })
            .collect(),
        criteria: to_sdk_criteria(&i.criteria),
        recipe_version: i.recipe_version.clone(),
        flags: i
            .options
            .flags
            .iter()
            .map(|o| sdk::OptionPair {
                key: o.key.clone(),
                value: o.value.clone(),
            })
            .collect(),
        clusters: i.options.clusters.clone(),
    }
}

fn refusal(plugin: &str, e: sdk::PluginError) -> cns_runtime::Error {
    let (kind, message) = match e {
        sdk::PluginError::InvalidInput(m) => (cns_runtime::Refusal::InvalidInput, m),
        sdk::PluginError::Unsupported(m) => (cns_runtime::Refusal::Unsupported, m),
        sdk::PluginError::Internal(m) => (cns_runtime::Refusal::Internal, m),
    };
    cns_runtime::Error::PluginReturned {
        plugin: plugin.into(),
        kind,
        message,
    }
}

fn back(plugin: &str, files: Vec<sdk::BundleFile>) -> cns_runtime::Result<Vec<OutputFile>> {
    files
        .into_iter()
        .map(|f| {
            cns_runtime::output::check_path(&f.path).map_err(|problem| {
                cns_runtime::Error::BadOutput {
                    plugin: plugin.into(),
                    problem,
                }
            })?;
            Ok(OutputFile {
                path: f.path,
                content: f.content,
                executable: f.executable,
            })
        })
        .collect()
}

type Render = fn(&sdk::ComponentInput) -> Result<sdk::Rendered, sdk::PluginError>;
type Generate = fn(&sdk::Deployment) -> Result<Vec<sdk::BundleFile>, sdk::PluginError>;

/// Every built-in bundler crate, linked natively, by plugin name (`helm` serves the rest).
/// A test (`tests/all/plugins.rs`) checks these names against the built-in list.
pub(crate) const BUNDLERS: &[(&str, Render)] = &[
    ("cert-manager", cns_plugin_cert_manager::render::render),
    ("gpu-operator", cns_plugin_gpu_operator::render::render),
    ("helm", cns_plugin_helm::render::render),
    (
        "network-operator",
        cns_plugin_network_operator::render::render,
    ),
    ("nvsentinel", cns_plugin_nvsentinel::render::render),
    ("skyhook", cns_plugin_skyhook::render::render),
];

/// Every built-in deployer crate, linked natively, by plugin name.
pub(crate) const DEPLOYERS: &[(&str, Generate)] = &[
    ("argocd", cns_plugin_argocd::generate::generate),
    ("flux", cns_plugin_flux::generate::generate),
    ("script", cns_plugin_script::generate::generate),
];

/// The plugin crates linked natively.
pub(crate) struct Native;

impl Backend for Native {
    fn bundler_name(&self, component: &str) -> Option<String> {
        let own = BUNDLERS
            .iter()
            .any(|(n, _)| *n == component && *n != "helm");
        Some(if own { component } else { "helm" }.to_string())
    }
    fn has_deployer(&self, name: &str) -> bool {
        DEPLOYERS.iter().any(|(n, _)| *n == name)
    }
    fn deployer_names(&self) -> Vec<String> {
        DEPLOYERS.iter().map(|(n, _)| n.to_string()).collect()
    }
    /// As the host does for a WIT 0.3 bundler: its files after the `values.yaml` the host
    /// writes from its values.
    fn render(&self, input: &host::ComponentInput) -> cns_runtime::Result<RenderOutput> {
        let name = self.bundler_name(&input.name).expect("always one");
        let render = BUNDLERS.iter().find(|(n, _)| *n == name).expect("listed").1;
        let r = render(&to_sdk_input(input)).map_err(|e| refusal(&name, e))?;
        let written = cns_runtime::output::values_file(input, &r.values).map_err(|problem| {
            cns_runtime::Error::BadOutput {
                plugin: name.clone(),
                problem,
            }
        })?;
        let mut files = vec![written];
        files.extend(back(&name, r.files)?);
        Ok(RenderOutput {
            files,
            values: Some(r.values),
        })
    }
    fn generate(
        &self,
        name: &str,
        input: &host::Deployment,
    ) -> cns_runtime::Result<Vec<OutputFile>> {
        let generate = DEPLOYERS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("checked by has_deployer")
            .1;
        back(
            name,
            generate(&to_sdk_deployment(input)).map_err(|e| refusal(name, e))?,
        )
    }
}
