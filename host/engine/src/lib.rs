//! The one wasmtime engine configuration cnsctl plugins are compiled and run with, shared by
//! the runtime (`cns-runtime`) and the build script that precompiles the built-in plugins
//! (`cns-plugin-artifacts`), so embedded compiled code matches the engine that loads it.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Plugin calls that may run at once: slots of the pooling instance allocator. Each slot
/// reserves 4 GiB + guard of address space (nothing is committed until used).
pub const POOL_SLOTS: u32 = 64;

/// Bytes of each linear memory kept mapped between calls (reset with `memset` rather than
/// `madvise`), so the next instance in the slot takes no page faults for them.
const KEEP_RESIDENT: usize = 8 << 20;

/// The engine configuration. Compiled code (the on-disk cache, the precompiled built-ins)
/// is only valid for the same configuration and wasmtime version; wasmtime checks both when
/// loading it. `pooled`: instances come from a pool of pre-reserved slots (memories kept
/// resident, copy-on-write images kept mapped per module) instead of fresh mappings per call.
pub fn config(pooled: bool) -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(1 << 20)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    if pooled {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 8)
            .total_memories(POOL_SLOTS * 2)
            .total_tables(POOL_SLOTS * 8)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            .max_core_instances_per_component(16)
            .table_elements(100_000)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            // Linux ≥ 6.7: reset only the pages a call dirtied (else the first
            // KEEP_RESIDENT bytes are memset whole).
            .pagemap_scan(wasmtime::Enabled::Auto)
            .table_keep_resident(64 << 10);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    cfg
}

/// The engine, pooled when the pool's address space can be reserved (a tight `ulimit -v`
/// refuses it), else mapping memory per call. Returns whether it is pooled.
pub fn engine() -> wasmtime::Result<(Engine, bool)> {
    match Engine::new(&config(true)) {
        Ok(e) => Ok((e, true)),
        Err(_) => Ok((Engine::new(&config(false))?, false)),
    }
}
