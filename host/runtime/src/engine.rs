//! The one wasmtime [`Engine`] and the linkers: component model on, epoch deadlines,
//! nothing linked but the `host` interface (no WASI).

use crate::bindings::{bundler::BundlerPlugin, deployer::DeployerPlugin, v0_1};
use crate::cache::Cache;
use crate::error::boxed;
use crate::host_impl::{HostState, LogFilter, LogSink};
use crate::{Error, Limits, Result};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

/// How often the deadline clock ticks.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// The plugin host: engine, linkers, limits, compile cache and log sink. Cheap to share
/// behind an `Arc`; calls may run on several threads at once.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) bundler_linker: Linker<HostState>,
    pub(crate) deployer_linker: Linker<HostState>,
    pub(crate) limits: Limits,
    pub(crate) cache: Option<Cache>,
    pub(crate) sink: LogSink,
    pub(crate) filter: LogFilter,
    ticker: OnceLock<()>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The engine configuration every plugin is compiled and run with. The compile cache is
/// keyed by it, so any change here invalidates cached components.
fn engine_config() -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(1 << 20)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    cfg
}

impl Runtime {
    /// Create the host with the given limits, optional compile cache and log sink.
    pub fn new(limits: Limits, cache: Option<Cache>, sink: LogSink) -> Result<Self> {
        let engine = Engine::new(&engine_config()).map_err(|e| Error::Engine(boxed(e)))?;
        let engine_err = |e: wasmtime::Error| Error::Engine(boxed(e));
        let mut bundler_linker = Linker::new(&engine);
        BundlerPlugin::add_to_linker::<_, HasSelf<_>>(&mut bundler_linker, |s| s)
            .map_err(engine_err)?;
        let mut deployer_linker = Linker::new(&engine);
        DeployerPlugin::add_to_linker::<_, HasSelf<_>>(&mut deployer_linker, |s| s)
            .map_err(engine_err)?;
        // The previous minor (0.1.x): its `host` interface, and its `types` instance (types
        // only, nothing to define; the records are checked structurally at instantiation).
        for linker in [&mut bundler_linker, &mut deployer_linker] {
            v0_1::bundler::cns::plugin::host::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
                .map_err(engine_err)?;
            linker
                .instance("cns:plugin/types@0.1.0")
                .map_err(engine_err)?;
        }
        Ok(Runtime {
            engine,
            bundler_linker,
            deployer_linker,
            limits,
            cache,
            sink,
            filter: Arc::new(|_| true),
            ticker: OnceLock::new(),
        })
    }

    /// Tell plugins which log levels the sink shows (their `enabled` call); all by default.
    pub fn with_log_filter(mut self, filter: LogFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The limits applied to every call.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The compile cache, if enabled.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// A stable fingerprint of the engine configuration and wasmtime version (hex).
    pub fn engine_fingerprint(&self) -> String {
        use sha2::Digest;
        use std::hash::{Hash, Hasher};
        struct Sha(sha2::Sha256);
        impl Hasher for Sha {
            fn finish(&self) -> u64 {
                0
            }
            fn write(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
        }
        let mut h = Sha(sha2::Sha256::new());
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.0.update(env!("CARGO_PKG_VERSION").as_bytes());
        hex::encode(&h.0.finalize()[..12])
    }

    /// Deadline ticks for the configured timeout; starts the clock thread on first use.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        self.ticker.get_or_init(|| {
            let engine = self.engine.clone();
            std::thread::Builder::new()
                .name("cns-plugin-clock".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .expect("spawn the plugin deadline clock");
        });
        (self.limits.timeout.as_millis() / TICK.as_millis()).max(1) as u64 + 1
    }
}
