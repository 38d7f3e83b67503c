//! Calling a loaded plugin: a fresh store per call with the memory cap and deadline, the
//! typed `render`/`generate` calls, and every way a call can fail mapped to an [`Error`]
//! naming the plugin.

use crate::bindings::types::{self, ComponentInput, DeployerInput, PluginError};
use crate::error::{Refusal, boxed};
use crate::host_impl::HostState;
use crate::output::{OutputFile, validate};
use crate::plugin::Pre;
use crate::{Error, Plugin, PluginKind, Result};
use std::sync::Arc;
use wasmtime::{Store, Trap};

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
            Pre::BundlerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_info(&mut store)),
            Pre::DeployerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_info(&mut store)),
        };
        r.map_err(|e| self.trap(&store, e))
    }

    /// Render one component (bundlers only).
    pub fn render(&self, input: &ComponentInput) -> Result<Vec<OutputFile>> {
        let _slot = self.runtime.permit();
        let mut store = self.store();
        let r = match &self.pre {
            Pre::Bundler(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_render(&mut store, input)),
            Pre::BundlerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_bundler().call_render(&mut store, input)),
            Pre::Deployer(_) | Pre::DeployerV0_1(_) => {
                return Err(self.wrong_kind(PluginKind::Bundler));
            }
        };
        self.finish(&store, r)
    }

    /// Generate deployment files (deployers only).
    pub fn generate(&self, input: &DeployerInput) -> Result<Vec<OutputFile>> {
        let _slot = self.runtime.permit();
        let mut store = self.store();
        let r = match &self.pre {
            Pre::Deployer(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_generate(&mut store, input)),
            Pre::DeployerV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.cns_plugin_deployer().call_generate(&mut store, input)),
            Pre::Bundler(_) | Pre::BundlerV0_1(_) => {
                return Err(self.wrong_kind(PluginKind::Deployer));
            }
        };
        self.finish(&store, r)
    }

    fn finish(
        &self,
        store: &Store<HostState>,
        r: wasmtime::Result<std::result::Result<Vec<types::BundleFile>, PluginError>>,
    ) -> Result<Vec<OutputFile>> {
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
            Ok(Ok(files)) => validate(&self.name, files, &self.runtime.limits),
        }
    }

    fn wrong_kind(&self, wanted: PluginKind) -> Error {
        Error::WrongKind {
            plugin: self.name.clone(),
            wanted: wanted.as_str(),
            actual: self.kind.as_str(),
        }
    }
}
