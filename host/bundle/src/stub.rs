//! A plugin backend without wasmtime for the pipeline's unit tests: every bundler writes its
//! input values back as `values.yaml` (or what a test gives it), the deployer lists the
//! components it was given; it records each call.

use crate::Backend;
use cns_recipe::{RecipeResult, Store};
use cns_runtime::types::{ComponentInput, Deployment};
use cns_runtime::{OutputFile, Refusal, RenderOutput};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub(crate) struct Stub {
    /// Components that have a bundler (`*`: every one).
    pub(crate) bundlers: Vec<&'static str>,
    /// Deployer names.
    pub(crate) deployers: Vec<&'static str>,
    /// What a bundler returns for a component, instead of its values echoed back.
    pub(crate) files: BTreeMap<&'static str, Vec<OutputFile>>,
    /// A component whose bundler refuses its input.
    pub(crate) refuse: Option<&'static str>,
    /// Extra files the deployer writes.
    pub(crate) deployer_files: Vec<OutputFile>,
    /// Components rendered, in call order.
    pub(crate) rendered: Mutex<Vec<String>>,
    /// The deployer's input, once generated.
    pub(crate) deployed: Mutex<Option<Deployment>>,
}

impl Default for Stub {
    fn default() -> Self {
        Stub {
            bundlers: vec!["*"],
            deployers: vec!["script", "flux"],
            files: BTreeMap::new(),
            refuse: None,
            deployer_files: Vec::new(),
            rendered: Mutex::new(Vec::new()),
            deployed: Mutex::new(None),
        }
    }
}

pub(crate) fn file(path: &str, content: &str) -> OutputFile {
    OutputFile {
        path: path.into(),
        content: content.into(),
        executable: false,
    }
}

impl Backend for Stub {
    fn bundler_name(&self, component: &str) -> Option<String> {
        (self.bundlers.contains(&"*") || self.bundlers.contains(&component))
            .then(|| format!("stub-{component}"))
    }
    fn has_deployer(&self, name: &str) -> bool {
        self.deployers.contains(&name)
    }
    fn deployer_names(&self) -> Vec<String> {
        self.deployers.iter().map(|d| d.to_string()).collect()
    }
    fn render(&self, input: &ComponentInput) -> cns_runtime::Result<RenderOutput> {
        self.rendered.lock().unwrap().push(input.name.clone());
        if self.refuse == Some(input.name.as_str()) {
            return Err(cns_runtime::Error::PluginReturned {
                plugin: format!("stub-{}", input.name),
                kind: Refusal::InvalidInput,
                message: "no".into(),
            });
        }
        if let Some(f) = self.files.get(input.name.as_str()) {
            return Ok(RenderOutput {
                files: f.clone(),
                values: None,
            });
        }
        let values = cns_values::from_json(&input.values_json).unwrap();
        Ok(RenderOutput {
            files: vec![file(
                "values.yaml",
                &cns_values::to_yaml_ordered(&values).unwrap(),
            )],
            values: Some(values),
        })
    }
    fn generate(&self, _name: &str, input: &Deployment) -> cns_runtime::Result<Vec<OutputFile>> {
        *self.deployed.lock().unwrap() = Some(input.clone());
        let mut out = vec![OutputFile {
            path: "deploy.sh".into(),
            content: input
                .components
                .iter()
                .map(|c| format!("{} {}\n", c.order, c.name))
                .collect::<String>()
                .into_bytes(),
            executable: true,
        }];
        out.extend(self.deployer_files.iter().cloned());
        Ok(out)
    }
}

/// The embedded example recipe and recipe data.
pub(crate) fn example() -> (RecipeResult, Store) {
    (Store::default_recipe().unwrap(), Store::embedded())
}
