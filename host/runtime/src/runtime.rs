//! [`Runtime`], the plugin host: the one wasmtime [`Engine`] and the linkers (component
//! model on, epoch deadlines, nothing linked but the `host` interface: no WASI), the limits,
//! the compile cache, the instance slots and the deadline clock.

use crate::bindings::{bundler::BundlerPlugin, deployer::DeployerPlugin, v0_1, v0_2};
use crate::cache::Cache;
use crate::error::boxed;
use crate::host_impl::{HostState, LogFilter, LogSink};
use crate::{Error, Limits, Result};
use cns_engine::POOL_SLOTS;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

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
    slots: Option<Slots>,
    allocation: cns_engine::Allocation,
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

/// A counting semaphore over the pool's slots: a call waits for a free slot instead of
/// failing when more calls than [`POOL_SLOTS`] run at once.
#[derive(Debug)]
pub(crate) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

/// One slot, given back on drop (after the call's store is dropped).
pub(crate) struct Permit<'a>(Option<&'a Slots>);

impl Slots {
    fn new(n: u32) -> Self {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(Some(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(slots) = self.0 {
            *slots.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            slots.freed.notify_one();
        }
    }
}

impl Runtime {
    /// Create the host with the given limits, optional compile cache and log sink.
    pub fn new(limits: Limits, cache: Option<Cache>, sink: LogSink) -> Result<Self> {
        let (engine, allocation) = cns_engine::engine().map_err(|e| Error::Engine(boxed(e)))?;
        let pooled = allocation == cns_engine::Allocation::Pooled;
        let engine_err = |e: wasmtime::Error| Error::Engine(boxed(e));
        let mut bundler_linker = Linker::new(&engine);
        BundlerPlugin::add_to_linker::<_, HasSelf<_>>(&mut bundler_linker, |s| s)
            .map_err(engine_err)?;
        let mut deployer_linker = Linker::new(&engine);
        DeployerPlugin::add_to_linker::<_, HasSelf<_>>(&mut deployer_linker, |s| s)
            .map_err(engine_err)?;
        // The older minors (0.2.x, 0.1.x): their `host` interfaces, and their `types`
        // instances (types only, nothing to define; the records are checked structurally at
        // instantiation).
        for linker in [&mut bundler_linker, &mut deployer_linker] {
            v0_2::bundler::cns::plugin::host::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
                .map_err(engine_err)?;
            v0_1::bundler::cns::plugin::host::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
                .map_err(engine_err)?;
            for types in ["cns:plugin/types@0.2.0", "cns:plugin/types@0.1.0"] {
                linker.instance(types).map_err(engine_err)?;
            }
        }
        Ok(Runtime {
            engine,
            bundler_linker,
            deployer_linker,
            limits,
            cache,
            sink,
            filter: Arc::new(|_| true),
            slots: pooled.then(|| Slots::new(POOL_SLOTS)),
            allocation,
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

    /// Whether instances come from the pooling allocator.
    pub fn pooled(&self) -> bool {
        self.slots.is_some()
    }

    /// Why instances are not pooled (e.g. the address-space limit that was hit), if they
    /// are not.
    pub fn on_demand_reason(&self) -> Option<&str> {
        match &self.allocation {
            cns_engine::Allocation::Pooled => None,
            cns_engine::Allocation::OnDemand(r) => Some(r),
        }
    }

    /// Wait for a free instance slot (pooling allocator); hold it for the whole call.
    pub(crate) fn permit(&self) -> Permit<'_> {
        match &self.slots {
            Some(s) => s.acquire(),
            None => Permit(None),
        }
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
