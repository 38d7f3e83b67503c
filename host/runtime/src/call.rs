//! Calling a loaded plugin: a fresh store per call with the memory cap and deadline, the
//! typed `render`/`generate` calls (older WIT versions given and taking what they know),
//! and every way a call can fail mapped to an [`Error`] naming the plugin.

use crate::bindings::types::{self, ComponentInput, Deployment, PluginError};
use crate::error::{Refusal, boxed};
use crate::host_impl::HostState;
use crate::output::{OutputFile, VALUES_FILE, validate, values_file};
use crate::plugin::Pre;
use crate::{Error, Plugin, PluginKind, Result};
use std::sync::Arc;
use wasmtime::{Store, Trap};

/// What a bundler returned, its files checked.
#[derive(Debug, Clone)]
pub struct RenderOutput {
    /// Its files, `values.yaml` first (written by the host for a WIT 0.3 bundler).
    pub files: Vec<OutputFile>,
    /// Its final values, when it returned them (WIT 0.3); older bundlers only wrote
    /// `values.yaml`.
    pub values: Option<serde_json::Value>,
}

fn refusal(e: PluginError) -> (Refusal, String) {
    match e {
        PluginError::InvalidInput(m) => (Refusal::InvalidInput, m),
        PluginError::Unsupported(m) => (Refusal::Unsupported, m),
        PluginError::Internal(m) => (Refusal::Internal, m),
    }
}

impl Plugin {
    fn store(&self) -> Store<HostState> {
        let rt = &self.runtime;
        let mut store = Store::new(
            &rt.engine,
            HostState {
                plugin: self.name.clone(),
                sink: Arc::clone(&rt.sink),
                filter: Arc::clone(&rt.filter),
                memory_cap: rt.limits.memory_bytes,
                memory_denied: false,
                max_logs: rt.limits.max_log_messages,
                logs_kept: 0,
                last_error_log: None,
            },
        );
        store.limiter(|s| s);
        store.set_epoch_deadline(rt.deadline_ticks());
        store.epoch_deadline_trap();
        store
    }

    fn trap(&self, store: &Store<HostState>, e: wasmtime::Error) -> Error {
        let state = store.data();
        if state.memory_denied {
            return Error::MemoryLimit {
                plugin: self.name.clone(),
                limit_mib: self.runtime.limits.memory_bytes >> 20,
            };
        }
        if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return Error::Timeout {
                plugin: self.name.clone(),
                timeout: self.runtime.limits.timeout,
            };
        }
        Error::PluginTrapped {
            plugin: self.name.clone(),
            last_log: state.last_error_log.clone(),
            source: boxed(e),
        }
    }

    /// Ask the plugin for its `info`, in a fresh instance as every call: the least a call
    /// costs (instantiation, one call returning a small record, the instance's teardown),
    /// which the bundle benchmark measures as the sandbox's fixed cost.
    pub fn info(&self) -> Result<types::PluginInfo> {
        let _slot = self.runtime.permit();
        let mut store = self.store();
        let r = match &self.pre {
            Pre::Bundler(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_info(&mut store)),
            Pre::Deployer(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_info(&mut store)),
            Pre::BundlerV0_2(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_info(&mut store)),
            Pre::DeployerV0_2(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_info(&mut store)),
            Pre::BundlerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_info(&mut store)),
            Pre::DeployerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_info(&mut store)),
        };
        r.map_err(|e| self.trap(&store, e))
    }

    /// Render one component (bundlers only). A bundler built for WIT 0.3 returns its files
    /// and its final values, from which the host writes `values.yaml` (first, as bundlers
    /// did); one built for 0.1 or 0.2 wrote `values.yaml` itself and returns no values.
    pub fn render(&self, input: &ComponentInput) -> Result<RenderOutput> {
        let _slot = self.runtime.permit();
        let mut store = self.store();
        let r = match &self.pre {
            Pre::Bundler(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_render(&mut store, input)),
            Pre::BundlerV0_2(pre) => {
                let files = pre
                    .instantiate(&mut store)
                    .and_then(|i| i.cns_plugin_bundler().call_render(&mut store, input));
                return self.finish_files(&store, files).map(|files| RenderOutput {
                    files,
                    values: None,
                });
            }
            Pre::BundlerV0_1(pre) => {
                let files = pre
                    .instantiate(&mut store)
                    .and_then(|i| i.cns_plugin_bundler().call_render(&mut store, input));
                return self.finish_files(&store, files).map(|files| RenderOutput {
                    files,
                    values: None,
                });
            }
            Pre::Deployer(_) | Pre::DeployerV0_2(_) | Pre::DeployerV0_1(_) => {
                return Err(self.wrong_kind(PluginKind::Bundler));
            }
        };
        let rendered = self.returned(&store, r)?;
        self.rendered(input, rendered)
    }

    /// A 0.3 bundler's result: files checked (no `values.yaml` of its own), the values
    /// checked to be a tree within the output limit, and `values.yaml` written from them.
    fn rendered(&self, input: &ComponentInput, r: types::Rendered) -> Result<RenderOutput> {
        let bad = |problem: String| Error::BadOutput {
            plugin: self.name.clone(),
            problem,
        };
        let limits = &self.runtime.limits;
        let values_size = crate::values::size(&r.values);
        let files_size: usize = r.files.iter().map(|f| f.content.len()).sum();
        if values_size + files_size > limits.max_output_bytes {
            return Err(bad(format!(
                "{} bytes of output (values included), more than the limit of {} bytes",
                values_size + files_size,
                limits.max_output_bytes
            )));
        }
        if r.files.iter().any(|f| f.path == VALUES_FILE) {
            return Err(bad(format!(
                "`{VALUES_FILE}` among its files: the host writes it from the values a WIT 0.3 bundler returns"
            )));
        }
        let values = crate::values::from_wit(r.values)
            .map_err(|e| bad(format!("its values are not a values tree: {e}")))?;
        if !values.is_object() {
            return Err(bad("its values are not a mapping".into()));
        }
        let mut files = validate(&self.name, r.files, limits)?;
        files.insert(0, values_file(input, &values).map_err(bad)?);
        Ok(RenderOutput {
            files,
            values: Some(values),
        })
    }

    /// Generate deployment files (deployers only); a deployer built for WIT 0.1 or 0.2 gets
    /// the deployment as its version's `deployer-input`.
    pub fn generate(&self, input: &Deployment) -> Result<Vec<OutputFile>> {
        let _slot = self.runtime.permit();
        let mut store = self.store();
        let r = match &self.pre {
            Pre::Deployer(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_generate(&mut store, input)),
            Pre::DeployerV0_2(pre) => {
                let old = crate::compat::deployer_input(input);
                pre.instantiate(&mut store)
                    .and_then(|i| i.cns_plugin_deployer().call_generate(&mut store, &old))
            }
            Pre::DeployerV0_1(pre) => {
                let old = crate::compat::deployer_input(input);
                pre.instantiate(&mut store)
                    .and_then(|i| i.cns_plugin_deployer().call_generate(&mut store, &old))
            }
            Pre::Bundler(_) | Pre::BundlerV0_2(_) | Pre::BundlerV0_1(_) => {
                return Err(self.wrong_kind(PluginKind::Deployer));
            }
        };
        self.finish_files(&store, r)
    }

    /// What a call returned: a trap or a plugin error mapped to an [`Error`].
    fn returned<T>(
        &self,
        store: &Store<HostState>,
        r: wasmtime::Result<std::result::Result<T, PluginError>>,
    ) -> Result<T> {
        match r {
            Err(e) => Err(self.trap(store, e)),
            Ok(Err(pe)) => {
                let (kind, message) = refusal(pe);
                Err(Error::PluginReturned {
                    plugin: self.name.clone(),
                    kind,
                    message,
                })
            }
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn finish_files(
        &self,
        store: &Store<HostState>,
        r: wasmtime::Result<std::result::Result<Vec<types::BundleFile>, PluginError>>,
    ) -> Result<Vec<OutputFile>> {
        let files = self.returned(store, r)?;
        validate(&self.name, files, &self.runtime.limits)
    }

    fn wrong_kind(&self, wanted: PluginKind) -> Error {
        Error::WrongKind {
            plugin: self.name.clone(),
            wanted: wanted.as_str(),
            actual: self.kind.as_str(),
        }
    }
}
