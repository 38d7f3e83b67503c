//! The built-in cnsctl plugins as WebAssembly component bytes, compiled by `build.rs`.
//!
//! Knows nothing about loading or running them; that is `cns-runtime`'s job.

/// One compiled plugin component.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    /// Plugin name (e.g. `cert-manager`).
    pub name: &'static str,
    /// The component bytes.
    pub bytes: &'static [u8],
    /// sha256 of `bytes` (hex), computed at build time so loading need not hash them.
    pub sha256: &'static str,
    /// The component compiled at build time by `cns-engine`'s configuration (wasmtime's
    /// `.cwasm` format), page-aligned; empty if that failed.
    pub precompiled: &'static [u8],
}

/// Page alignment for the embedded compiled code: the runtime runs it in place (its text
/// section made executable where it lies in the binary) instead of copying it.
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);

include!(concat!(env!("OUT_DIR"), "/gen.rs"));

/// The built-in plugins; panics with the reason if the build skipped them.
pub fn require() -> &'static [Artifact] {
    if let Some(reason) = SKIPPED {
        panic!("built-in plugins are not available: {reason}");
    }
    BUILTIN
}

/// A test-only plugin by name; panics if the build skipped plugins or the name is unknown.
pub fn test_plugin(name: &str) -> &'static [u8] {
    require();
    TEST_ONLY
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no test plugin `{name}`"))
        .bytes
}
