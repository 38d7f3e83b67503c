//! The built-in cnsctl plugins as WebAssembly component bytes, compiled by `build.rs`.
//!
//! Knows nothing about loading or running them; that is `cns-runtime`'s job, which gets
//! this list from the binary (`Catalog::builtin(runtime, cns_plugin_artifacts::require())`).

/// One compiled plugin component (the runtime's type for plugins shipped in a binary).
pub use cns_runtime::Embedded as Artifact;

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
