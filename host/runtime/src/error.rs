//! Errors of the plugin host. Every variant that concerns a plugin names it.

use std::time::Duration;

/// A boxed error from wasmtime (compile, link or call failure).
pub(crate) type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The case of a `plugin-error` a plugin returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid-input`: the plugin refuses the user's values (a failed check).
    InvalidInput,
    /// `unsupported`: the plugin does not handle what it was asked for.
    Unsupported,
    /// `internal`: a bug in the plugin.
    Internal,
}

impl Refusal {
    fn verb(self) -> &'static str {
        match self {
            Refusal::InvalidInput => "refused the input",
            Refusal::Unsupported => "does not support this",
            Refusal::Internal => "failed with an internal error",
        }
    }
}

/// Errors of the plugin host.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The wasmtime engine could not be created.
    #[error("cannot create the WebAssembly engine")]
    Engine(#[source] Source),
    /// The compiled-code cache is not this user's alone, so nothing is loaded from it.
    #[error(
        "refusing the compiled-plugin cache `{dir}`: {reason}; fix its ownership and permissions (chmod 700), point CNS_CACHE_DIR elsewhere, or pass --no-cache"
    )]
    UnsafeCache {
        /// The cache directory.
        dir: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bytes are not a valid WebAssembly component.
    #[error("plugin `{plugin}` is not a valid WebAssembly component")]
    InvalidComponent {
        /// Plugin name or file.
        plugin: String,
        /// Why.
        #[source]
        source: Source,
    },
    /// The component exports neither the bundler nor the deployer interface.
    #[error(
        "plugin `{plugin}` exports no `cns:plugin/bundler` or `cns:plugin/deployer` interface (exports: {exports})"
    )]
    NotAPlugin {
        /// Plugin name or file.
        plugin: String,
        /// What it does export.
        exports: String,
    },
    /// The component was built against an incompatible WIT version.
    #[error(
        "plugin `{plugin}` was built for WIT cns:plugin@{plugin_version}, but this host implements cns:plugin@{host_version} and loads plugins built for {accepted}"
    )]
    IncompatibleWit {
        /// Plugin name or file.
        plugin: String,
        /// WIT version the plugin declares.
        plugin_version: String,
        /// WIT version of this host.
        host_version: &'static str,
        /// The version lines it loads, e.g. `0.2.x or 0.1.x`.
        accepted: &'static str,
    },
    /// The component imports something the host does not grant (e.g. WASI).
    #[error("plugin `{plugin}` imports `{import}`, but plugins may import only cns:plugin/host")]
    ForbiddenImport {
        /// Plugin name or file.
        plugin: String,
        /// The import.
        import: String,
    },
    /// Linking or instantiating failed.
    #[error("plugin `{plugin}` cannot be instantiated")]
    Instantiate {
        /// Plugin name.
        plugin: String,
        /// Why.
        #[source]
        source: Source,
    },
    /// The plugin ran past its deadline.
    #[error("plugin `{plugin}` did not finish within {timeout:?} and was stopped")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The plugin tried to use more memory than allowed.
    #[error(
        "plugin `{plugin}` tried to grow its memory past the {limit_mib} MiB limit and was stopped"
    )]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// The cap in MiB.
        limit_mib: usize,
    },
    /// The plugin trapped (panic, stack overflow, invalid string, …).
    #[error("plugin `{plugin}` crashed{}", last_log.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    PluginTrapped {
        /// Plugin name.
        plugin: String,
        /// The last error-level message the plugin logged, usually its panic message.
        last_log: Option<String>,
        /// The trap.
        #[source]
        source: Source,
    },
    /// The plugin returned a typed error.
    #[error("plugin `{plugin}` {}: {message}", kind.verb())]
    PluginReturned {
        /// Plugin name.
        plugin: String,
        /// Which `plugin-error` case it returned.
        kind: Refusal,
        /// The plugin's message.
        message: String,
    },
    /// The plugin's output broke a rule (path, size, count).
    #[error("plugin `{plugin}` returned invalid output: {problem}")]
    BadOutput {
        /// Plugin name.
        plugin: String,
        /// What is wrong.
        problem: String,
    },
    /// A plugin of the wrong kind was called.
    #[error("plugin `{plugin}` is a {actual}, not a {wanted}")]
    WrongKind {
        /// Plugin name.
        plugin: String,
        /// The kind the caller needed.
        wanted: &'static str,
        /// The plugin's kind.
        actual: &'static str,
    },
    /// Two plugins claim the same name.
    #[error("plugin name `{name}` is claimed by both {first} and {second}")]
    NameClash {
        /// The name.
        name: String,
        /// Where the first came from.
        first: String,
        /// Where the second came from.
        second: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn boxed(e: wasmtime::Error) -> Source {
    e.into()
}

impl Error {
    /// Whether a plugin refused the user's input (`invalid-input`): a check that failed,
    /// not a failure of cnsctl or the plugin.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::PluginReturned {
                kind: Refusal::InvalidInput,
                ..
            }
        )
    }

    /// The plugin this error is about, if any.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Error::Engine(_) | Error::UnsafeCache { .. } => None,
            Error::PluginReturned { plugin, .. }
            | Error::BadOutput { plugin, .. }
            | Error::InvalidComponent { plugin, .. }
            | Error::NotAPlugin { plugin, .. }
            | Error::IncompatibleWit { plugin, .. }
            | Error::PluginTrapped { plugin, .. }
            | Error::MemoryLimit { plugin, .. }
            | Error::Timeout { plugin, .. } => Some(plugin),
            _ => None,
        }
    }
}
