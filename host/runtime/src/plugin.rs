//! A loaded plugin: what it is ([`PluginKind`]), where it came from ([`Origin`]), its
//! `info`, and the prepared instance it is called through. Loading is in `load`, the calls
//! in `call`, the WIT version rules in `wit_version`.

use crate::Runtime;
use crate::bindings::bundler::BundlerPluginPre;
use crate::bindings::deployer::DeployerPluginPre;
use crate::bindings::{v0_1, v0_2};
use crate::host_impl::HostState;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

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

pub(crate) enum Pre {
    Bundler(BundlerPluginPre<HostState>),
    Deployer(DeployerPluginPre<HostState>),
    BundlerV0_2(v0_2::bundler::BundlerPluginPre<HostState>),
    DeployerV0_2(v0_2::deployer::DeployerPluginPre<HostState>),
    BundlerV0_1(v0_1::bundler::BundlerPluginPre<HostState>),
    DeployerV0_1(v0_1::deployer::DeployerPluginPre<HostState>),
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
    pub(crate) pre: Pre,
    pub(crate) runtime: Arc<Runtime>,
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

/// Plugin and component names: lowercase letters, digits and `-`, not starting with `-`.
pub fn is_plugin_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

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
