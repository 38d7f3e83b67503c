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
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .memory_init_cow(false);
    // For `perf`: name the plugins' compiled functions in /tmp/perf-<pid>.map (a profiling
    // aid only; it does not change the compiled code, so embedded code still loads).
    if std::env::var_os("CNSCTL_PERF_MAP").is_some() {
        cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    #[cfg(target_os = "linux")]
    cfg.with_custom_code_memory(Some(std::sync::Arc::new(code_memory::PageProtect)));
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

/// Whether compiled code can run where it lies (`Component::deserialize_raw` on
/// page-aligned bytes, e.g. code embedded in the binary) instead of being copied first.
pub const RUNS_IN_PLACE: bool = cfg!(target_os = "linux");

/// Whether `bytes` start on a page boundary of this machine, as code run in place must
/// (its text section is made executable page by page; pages may be larger than 4 KiB).
pub fn page_aligned(bytes: &[u8]) -> bool {
    #[cfg(target_os = "linux")]
    {
        (bytes.as_ptr() as usize).is_multiple_of(code_memory::page_size())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = bytes;
        false
    }
}

#[cfg(target_os = "linux")]
#[allow(
    unsafe_code,
    reason = "changing page protections of code memory is what this module is for"
)]
mod code_memory {
    //! How compiled code becomes executable: `mprotect` of its text pages, as wasmtime does
    //! itself, but through its custom code-memory hook, which (unlike the built-in path)
    //! also serves code that wasmtime did not map: the page-aligned compiled plugins
    //! embedded in the binary, run where they lie instead of being copied into fresh memory
    //! on every start (that copy was ~10 % of a `cnsctl bundle` process).

    /// Text pages: read + execute while published, read-only after.
    #[derive(Debug)]
    pub(crate) struct PageProtect;

    fn protect(ptr: *const u8, len: usize, prot: libc::c_int) -> wasmtime::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: wasmtime passes the text section of a code image it holds (page-aligned
        // start and end, see `required_alignment`); changing its protection touches no other
        // memory, and nothing writes to code memory once it is published.
        let rc = unsafe { libc::mprotect(ptr.cast_mut().cast(), len, prot) };
        if rc == 0 {
            Ok(())
        } else {
            Err(wasmtime::format_err!(
                "mprotect of {len} bytes of code memory failed: {}",
                std::io::Error::last_os_error()
            ))
        }
    }

    /// This machine's page size.
    pub(crate) fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page).unwrap_or(4096)
    }

    impl wasmtime::CustomCodeMemory for PageProtect {
        fn required_alignment(&self) -> usize {
            page_size()
        }

        fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
            protect(ptr, len, libc::PROT_READ | libc::PROT_EXEC)
        }

        fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
            protect(ptr, len, libc::PROT_READ)
        }
    }
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
