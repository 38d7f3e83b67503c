//! Loading a plugin: compile the component (or take code precompiled into the binary, or
//! authenticated code from the user's cache), check its imports, exports and WIT version,
//! prepare its instance and ask it for its `info`.

use crate::bindings::bundler::BundlerPluginPre;
use crate::bindings::deployer::DeployerPluginPre;
use crate::bindings::types;
use crate::bindings::{v0_1, v0_2};
use crate::error::boxed;
use crate::plugin::{Pre, is_plugin_name};
use crate::wit_version::{ACCEPTED, Binding, wit_binding};
use crate::{Error, Origin, Plugin, PluginKind, Result, Runtime, WIT_VERSION};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use wasmtime::component::Component;

impl Runtime {
    /// Compile (or load from cache) and check a plugin component, then ask it for its info.
    pub fn load(self: &Arc<Self>, label: &str, origin: Origin, bytes: &[u8]) -> Result<Plugin> {
        self.load_with_code(label, origin, bytes, None, &[])
    }

    /// [`Runtime::load`] for a built-in plugin whose compiled code was embedded at build time
    /// (`precompiled`, from `cns-plugin-artifacts`), with the sha256 of `bytes` computed then
    /// (`known_sha256`; hashed here when `None`); if wasmtime refuses that code (another
    /// engine configuration), the component is compiled as usual.
    pub fn load_with_code(
        self: &Arc<Self>,
        label: &str,
        origin: Origin,
        bytes: &[u8],
        known_sha256: Option<&str>,
        precompiled: &'static [u8],
    ) -> Result<Plugin> {
        let sha256 = match known_sha256 {
            Some(s) => s.to_string(),
            None => hex::encode(Sha256::digest(bytes)),
        };
        let embedded = (!precompiled.is_empty())
            .then(|| load_embedded(&self.engine, precompiled).ok())
            .flatten();
        let (component, from_cache, precompiled) = match embedded {
            Some(c) => (c, false, true),
            None => {
                let (c, cached) = self.compile(label, &sha256, bytes)?;
                (c, cached, false)
            }
        };

        let ty = component.component_type();
        let mut imports = Vec::new();
        for (name, _) in ty.imports(&self.engine) {
            let allowed = ["cns:plugin/host@", "cns:plugin/types@"]
                .iter()
                .any(|p| name.starts_with(p));
            if !allowed {
                return Err(Error::ForbiddenImport {
                    plugin: label.to_string(),
                    import: name.to_string(),
                });
            }
            imports.push(name.to_string());
        }
        imports.sort();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let (kind, wit_version) = exports
            .iter()
            .find_map(|e| {
                if let Some(v) = e.strip_prefix("cns:plugin/bundler@") {
                    Some((PluginKind::Bundler, v.to_string()))
                } else {
                    e.strip_prefix("cns:plugin/deployer@")
                        .map(|v| (PluginKind::Deployer, v.to_string()))
                }
            })
            .ok_or_else(|| Error::NotAPlugin {
                plugin: label.to_string(),
                exports: if exports.is_empty() {
                    "none".into()
                } else {
                    exports.join(", ")
                },
            })?;
        let Some(binding) = wit_binding(&wit_version) else {
            return Err(Error::IncompatibleWit {
                plugin: label.to_string(),
                plugin_version: wit_version,
                host_version: WIT_VERSION,
                accepted: &ACCEPTED,
            });
        };
        let inst_err = |e: wasmtime::Error| Error::Instantiate {
            plugin: label.to_string(),
            source: boxed(e),
        };
        let linker = match kind {
            PluginKind::Bundler => &self.bundler_linker,
            PluginKind::Deployer => &self.deployer_linker,
        };
        let p = linker.instantiate_pre(&component).map_err(inst_err)?;
        let pre = match (kind, binding) {
            (PluginKind::Bundler, Binding::Current) => {
                Pre::Bundler(BundlerPluginPre::new(p).map_err(inst_err)?)
            }
            (PluginKind::Deployer, Binding::Current) => {
                Pre::Deployer(DeployerPluginPre::new(p).map_err(inst_err)?)
            }
            (PluginKind::Bundler, Binding::V0_2) => {
                Pre::BundlerV0_2(v0_2::bundler::BundlerPluginPre::new(p).map_err(inst_err)?)
            }
            (PluginKind::Deployer, Binding::V0_2) => {
                Pre::DeployerV0_2(v0_2::deployer::DeployerPluginPre::new(p).map_err(inst_err)?)
            }
            (PluginKind::Bundler, Binding::V0_1) => {
                Pre::BundlerV0_1(v0_1::bundler::BundlerPluginPre::new(p).map_err(inst_err)?)
            }
            (PluginKind::Deployer, Binding::V0_1) => {
                Pre::DeployerV0_1(v0_1::deployer::DeployerPluginPre::new(p).map_err(inst_err)?)
            }
        };
        let mut plugin = Plugin {
            name: label.to_string(),
            version: String::new(),
            description: String::new(),
            serves: Vec::new(),
            kind,
            wit_version,
            sha256,
            size: bytes.len(),
            origin,
            imports,
            from_cache,
            precompiled,
            pre,
            runtime: Arc::clone(self),
        };
        let info = plugin.info()?;
        let declared = match info.kind {
            types::PluginKind::Bundler => PluginKind::Bundler,
            types::PluginKind::Deployer => PluginKind::Deployer,
        };
        if declared != kind {
            return Err(Error::WrongKind {
                plugin: info.name,
                wanted: kind.as_str(),
                actual: declared.as_str(),
            });
        }
        if !is_plugin_name(&info.name) {
            return Err(Error::BadOutput {
                plugin: label.to_string(),
                problem: format!(
                    "info names the plugin `{}`; names must match [a-z0-9][a-z0-9-]*",
                    info.name.escape_debug()
                ),
            });
        }
        plugin.name = info.name;
        plugin.version = info.version;
        plugin.description = info.description;
        plugin.serves = info.serves;
        plugin.serves.sort();
        plugin.serves.dedup();
        Ok(plugin)
    }

    fn compile(&self, label: &str, sha256: &str, bytes: &[u8]) -> Result<(Component, bool)> {
        let invalid = |e: wasmtime::Error| Error::InvalidComponent {
            plugin: label.to_string(),
            source: boxed(e),
        };
        let Some(cache) = &self.cache else {
            return Ok((Component::new(&self.engine, bytes).map_err(invalid)?, false));
        };
        cache.check().map_err(|e| Error::UnsafeCache {
            dir: cache.dir().display().to_string(),
            reason: e.0,
        })?;
        let engine = self.engine_fingerprint();
        if let Some(code) = cache.load(sha256, &engine)
            && let Ok(c) = load_cached(&self.engine, &code)
        {
            return Ok((c, true));
        }
        let compiled = self.engine.precompile_component(bytes).map_err(invalid)?;
        if let Err(e) = cache.store(sha256, &engine, &compiled) {
            (self.sink)(
                label,
                types::Level::Warn,
                &format!(
                    "cannot write the compile cache {}: {e}",
                    cache.dir().display()
                ),
            );
        }
        Ok((
            load_precompiled_bytes(&self.engine, &compiled).map_err(invalid)?,
            false,
        ))
    }
}

#[allow(
    unsafe_code,
    reason = "loading compiled code is unsafe by nature; see SAFETY"
)]
fn load_cached(engine: &wasmtime::Engine, code: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Cache::load` returned these bytes only after checking that the cache
    // directory and entry belong to this user and nobody else may write them, and that the
    // entry's HMAC (keyed by a user-only file, over the component's sha256, the engine
    // fingerprint and the code) verifies: this host wrote them with
    // `Engine::precompile_component` for this very component and engine. wasmtime also
    // refuses code from another version or configuration.
    unsafe { Component::deserialize(engine, code) }
}

#[allow(
    unsafe_code,
    reason = "loading compiled code is unsafe by nature; see SAFETY"
)]
fn load_embedded(engine: &wasmtime::Engine, bytes: &'static [u8]) -> wasmtime::Result<Component> {
    if cns_engine::RUNS_IN_PLACE && cns_engine::page_aligned(bytes) {
        // SAFETY: as below; in addition the bytes are a `'static` part of this binary that
        // nothing writes to, so they outlive the component and never change under it, and
        // they start on a page boundary (`cns-plugin-artifacts` aligns them to 4 KiB; on a
        // machine with larger pages this path is not taken), so making their text section
        // executable (`cns-engine`'s code memory) touches only their own pages.
        return unsafe { Component::deserialize_raw(engine, std::ptr::NonNull::from(bytes)) };
    }
    // SAFETY: the bytes are part of this binary: `cns-plugin-artifacts`' build script wrote
    // them with `Engine::precompile_component` under `cns-engine`'s configuration (the one
    // this engine uses), and wasmtime refuses code from another version or configuration.
    unsafe { Component::deserialize(engine, bytes) }
}

#[allow(
    unsafe_code,
    reason = "loading compiled code is unsafe by nature; see SAFETY"
)]
fn load_precompiled_bytes(engine: &wasmtime::Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: the bytes were produced a moment ago by `engine.precompile_component`.
    unsafe { Component::deserialize(engine, bytes) }
}
