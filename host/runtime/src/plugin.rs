//! A loaded plugin: compiled component, checked imports and WIT version, its `info`, and
//! sandboxed typed calls (`render` for bundlers, `generate` for deployers).

use crate::bindings::bundler::BundlerPluginPre;
use crate::bindings::deployer::DeployerPluginPre;
use crate::bindings::types::{self, ComponentInput, DeployerInput, PluginError};
use crate::bindings::v0_1;
use crate::error::boxed;
use crate::host_impl::HostState;
use crate::output::{OutputFile, validate};
use crate::{Error, Result, Runtime, WIT_COMPAT, WIT_VERSION};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::Component;
use wasmtime::{Store, Trap};

/// What a plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PluginKind {
    /// Renders one component.
    Bundler,
    /// Produces deployment files.
    Deployer,
}

impl PluginKind {
    /// `bundler` or `deployer`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Bundler => "bundler",
            PluginKind::Deployer => "deployer",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a plugin was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the `cnsctl` binary.
    Builtin,
    /// A `.wasm` file.
    File(PathBuf),
    /// Bytes supplied by the caller (tests, benchmarks), with a label.
    Memory(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Memory(l) => write!(f, "memory:{l}"),
        }
    }
}

enum Pre {
    Bundler(BundlerPluginPre<HostState>),
    Deployer(DeployerPluginPre<HostState>),
    BundlerV0_1(v0_1::bundler::BundlerPluginPre<HostState>),
    DeployerV0_1(v0_1::deployer::DeployerPluginPre<HostState>),
}

/// Which generated bindings call a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// Built for this host's WIT major.minor.
    Current,
    /// Built for `cns:plugin@0.1.x`.
    V0_1,
}

/// A loaded, ready-to-call plugin.
pub struct Plugin {
    /// Name from the plugin's `info`.
    pub name: String,
    /// Plugin version from its `info`.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Components (bundler) or deployer names (deployer) it serves; `*` = any component.
    pub serves: Vec<String>,
    /// Bundler or deployer.
    pub kind: PluginKind,
    /// WIT package version the component was built against.
    pub wit_version: String,
    /// sha256 of the component bytes (hex).
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: usize,
    /// Where it came from.
    pub origin: Origin,
    /// Component-level imports (all `cns:plugin/*`).
    pub imports: Vec<String>,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// Whether the compiled code was embedded at build time (built-ins).
    pub precompiled: bool,
    pre: Pre,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// `major.minor` of a WIT version (`0.1.3` → `0.1`).
fn wit_line(v: &str) -> Option<String> {
    let mut it = v.split('.');
    let (major, minor, patch) = (it.next()?, it.next()?, it.next().unwrap_or("0"));
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (num(major) && num(minor) && num(patch) && it.next().is_none())
        .then(|| format!("{major}.{minor}"))
}

/// The bindings for a plugin built for WIT `plugin`: this host's major.minor (any patch), or
/// one of the older minors it keeps bindings for ([`WIT_COMPAT`]). Anything else (a newer
/// minor, another major) is refused.
fn wit_binding(plugin: &str) -> Option<Binding> {
    let line = wit_line(plugin)?;
    if Some(&line) == wit_line(WIT_VERSION).as_ref() {
        return Some(Binding::Current);
    }
    match line.as_str() {
        "0.1" if WIT_COMPAT.contains(&"0.1") => Some(Binding::V0_1),
        _ => None,
    }
}

/// The version lines this host loads, for error messages: `0.2.x or 0.1.x`.
static ACCEPTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(accepted_lines);

fn accepted_lines() -> String {
    let current = wit_line(WIT_VERSION).unwrap_or_default();
    std::iter::once(current.as_str())
        .chain(WIT_COMPAT.iter().copied())
        .map(|l| format!("{l}.x"))
        .collect::<Vec<_>>()
        .join(" or ")
}

impl Runtime {
    /// Compile (or load from cache) and check a plugin component, then ask it for its info.
    pub fn load(self: &Arc<Self>, label: &str, origin: Origin, bytes: &[u8]) -> Result<Plugin> {
        self.load_with_code(label, origin, bytes, &[])
    }

    /// [`Runtime::load`] for a built-in plugin whose compiled code was embedded at build time
    /// (`precompiled`, from `cns-plugin-artifacts`); if wasmtime refuses that code (another
    /// engine configuration), the component is compiled as usual.
    pub fn load_with_code(
        self: &Arc<Self>,
        label: &str,
        origin: Origin,
        bytes: &[u8],
        precompiled: &[u8],
    ) -> Result<Plugin> {
        let sha256 = hex::encode(Sha256::digest(bytes));
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
        let path = cache.path_for(sha256, &self.engine_fingerprint());
        if path.exists()
            && let Ok(c) = load_precompiled(&self.engine, &path)
        {
            return Ok((c, true));
        }
        let compiled = self.engine.precompile_component(bytes).map_err(invalid)?;
        if let Err(e) = cache.store(&path, &compiled) {
            (self.sink)(
                label,
                types::Level::Warn,
                &format!("cannot write the compile cache {}: {e}", path.display()),
            );
        }
        Ok((
            load_precompiled_bytes(&self.engine, &compiled).map_err(invalid)?,
            false,
        ))
    }
}

/// Plugin and component names: lowercase letters, digits and `-`, not starting with `-`.
pub fn is_plugin_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[allow(
    unsafe_code,
    reason = "loading compiled code is unsafe by nature; see SAFETY"
)]
fn load_precompiled(
    engine: &wasmtime::Engine,
    path: &std::path::Path,
) -> wasmtime::Result<Component> {
    // SAFETY: the file lives in this user's private cache directory and was written by this
    // host (`Cache::store`) from `Engine::precompile_component`; its name carries the sha256
    // of the source component and the engine fingerprint, and wasmtime refuses a file made
    // by another wasmtime version or engine configuration.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(
    unsafe_code,
    reason = "loading compiled code is unsafe by nature; see SAFETY"
)]
fn load_embedded(engine: &wasmtime::Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
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

fn describe(e: &PluginError) -> String {
    match e {
        PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        PluginError::Unsupported(m) => format!("unsupported: {m}"),
        PluginError::Internal(m) => format!("internal error: {m}"),
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

    fn info(&self) -> Result<types::PluginInfo> {
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
            Ok(Err(pe)) => Err(Error::PluginReturned {
                plugin: self.name.clone(),
                message: describe(&pe),
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_version_rules() {
        assert_eq!(
            WIT_VERSION, "0.2.0",
            "update this table with the WIT version"
        );
        let cases = [
            ("0.2.0", Some(Binding::Current)),
            ("0.2.7", Some(Binding::Current)),
            ("0.1.0", Some(Binding::V0_1)),
            ("0.1.4", Some(Binding::V0_1)),
            ("0.3.0", None),
            ("0.0.9", None),
            ("1.0.0", None),
            ("2.2.0", None),
            ("0.2", Some(Binding::Current)),
            ("0.2.0.1", None),
            ("0.2.x", None),
            ("junk", None),
            ("", None),
        ];
        for (v, want) in cases {
            assert_eq!(wit_binding(v), want, "{v}");
        }
        assert_eq!(accepted_lines(), "0.2.x or 0.1.x");
    }

    #[test]
    fn plugin_names() {
        for ok in ["a", "cert-manager", "x1"] {
            assert!(is_plugin_name(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a/b", "a.b"] {
            assert!(!is_plugin_name(bad), "{bad}");
        }
    }
}
