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

/// Address space the pool reserves: per memory 4 GiB plus wasmtime's default 32 MiB guard,
/// two memories per slot, with headroom for tables and code.
pub const POOL_ADDRESS_SPACE: u64 = POOL_SLOTS as u64 * 2 * ((4 << 30) + (32 << 20)) + (8 << 30);

/// How plugin instances get their memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// From the pre-reserved pool: the fast path, no bounds checks, resident memories.
    Pooled,
    /// Mapped per call, sized to what the plugin uses, with bounds checks: for processes
    /// whose address space is limited (`ulimit -v`). The reason says which limit was hit.
    OnDemand(String),
}

/// The engine configuration. Compiled code (the on-disk cache, the precompiled built-ins)
/// is only valid for the same configuration and wasmtime version; wasmtime checks both when
/// loading it. `pooled`: instances come from a pool of pre-reserved slots (memories kept
/// resident, copy-on-write images kept mapped per module); otherwise memories are mapped per
/// call at the size the plugin needs (no 4 GiB reservation per memory).
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
    } else {
        // Reserve nothing beyond what a memory holds (plus a little room to grow in place):
        // each call then needs address space only for the memory it really uses.
        cfg.memory_reservation(0)
            .memory_guard_size(0)
            .memory_reservation_for_growth(1 << 20);
    }
    cfg
}

/// The soft address-space limit of this process (`ulimit -v`), if any. Linux only.
pub fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The engine: pooled unless the address space is limited below what the pool reserves (or
/// reserving it fails), then with memories mapped per call; [`Allocation`] says which and why.
pub fn engine() -> wasmtime::Result<(Engine, Allocation)> {
    let reason = match address_space_limit() {
        Some(limit) if limit < POOL_ADDRESS_SPACE => format!(
            "the address-space limit (ulimit -v) is {} MiB, below the {} GiB the instance pool reserves",
            limit >> 20,
            POOL_ADDRESS_SPACE >> 30
        ),
        _ => match Engine::new(&config(true)) {
            Ok(e) => return Ok((e, Allocation::Pooled)),
            Err(e) => format!("reserving the instance pool failed ({e})"),
        },
    };
    Ok((Engine::new(&config(false))?, Allocation::OnDemand(reason)))
}
