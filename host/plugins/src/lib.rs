//! The plugins a command runs with: the plugin host with the user's limits and cache, the
//! built-ins a command needs, and external plugins from files, the plugin directory and
//! `oci://` references (pulled and admitted by the trust policy, [`trust`]). The CLI and the
//! server map their flags to [`Options`].

pub mod report;
pub mod trust;

use cns_oci::artifact::plugin::{self as oci_plugin, Admission, TrustedKey};
use cns_oci::{OciRef, Registry, RegistryOptions};
use cns_runtime::{Cache, Catalog, Embedded, Limits, LogFilter, LogSink, Origin, Plugin, Runtime};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub use trust::Trust;

/// Where plugins come from and how they run (the `--plugin*` flags).
#[derive(Clone)]
pub struct Options {
    /// `--plugin`: component files or `oci://` references, in order.
    pub plugins: Vec<String>,
    /// `--plugin-dir`; `None`: `plugins` in cnsctl's config folder, if it exists.
    pub plugin_dir: Option<PathBuf>,
    /// `--plugin-key`: public keys trusted for every `oci://` plugin.
    pub keys: Vec<PathBuf>,
    /// `--plugin-policy`; `None`: `plugin-policy.yaml` in cnsctl's config folder, if it exists.
    pub policy: Option<PathBuf>,
    /// `--allow-unsigned`.
    pub allow_unsigned: bool,
    /// `--plugin-plain-http`.
    pub plain_http: bool,
    /// `--plugin-registry-timeout`.
    pub registry_timeout: Duration,
    /// Deadline of one plugin call.
    pub timeout: Duration,
    /// Memory of one plugin instance, in bytes.
    pub memory_bytes: usize,
    /// Keep compiled components in the user's cache (`--no-cache` turns it off).
    pub cache: bool,
    /// Where plugins' log lines go, and which levels they send.
    pub log: (LogSink, LogFilter),
    /// What the user should know (a signature verified, a plugin replaced).
    pub notify: fn(&str),
}

/// Why plugins could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read.
    #[error("failed to read {what} `{path}`")]
    Read {
        /// What it is (`--plugin-key`, `plugin policy`, `plugin`, `plugin directory`).
        what: &'static str,
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The trust policy is malformed; the message names the file and field.
    #[error("{0}")]
    Policy(String),
    /// A key file the policy names cannot be read.
    #[error("{field}.key: failed to read `{path}`")]
    PolicyKey {
        /// `FILE: trustedKeys[N]`.
        field: String,
        /// The key file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A reference, key or registry problem.
    #[error(transparent)]
    Oci(#[from] cns_oci::Error),
    /// An `oci://` plugin could not be pulled or was not admitted.
    #[error("failed to pull plugin {reference}")]
    Pull {
        /// The reference.
        reference: String,
        /// Why.
        #[source]
        source: cns_oci::Error,
    },
    /// The plugin host could not start.
    #[error(transparent)]
    Runtime(#[from] cns_runtime::Error),
    /// A plugin is not a loadable plugin.
    #[error("failed to load plugin `{name}`")]
    Load {
        /// The source as given.
        name: String,
        /// Why.
        #[source]
        source: cns_runtime::Error,
    },
    /// A built-in plugin failed to load.
    #[error("failed to load the built-in plugins")]
    Builtin(#[source] cns_runtime::Error),
    /// Two external plugins of one kind share a name.
    #[error("two plugins are named `{name}` ({kind}): `{first}` and `{second}`")]
    Duplicate {
        /// The name.
        name: String,
        /// `bundler` or `deployer`.
        kind: &'static str,
        /// The first source.
        first: String,
        /// The second source.
        second: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes, `: `-separated (for tests and logs).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// cnsctl's folder in the user's config directory: `$XDG_CONFIG_HOME/cnsctl` or
/// `~/.config/cnsctl`.
fn config_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_CONFIG_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("cnsctl"))
}

/// The default plugin directory: `plugins` in cnsctl's config folder.
fn default_plugin_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("plugins"))
}

/// The default plugin trust policy: `plugin-policy.yaml` in cnsctl's config folder.
fn default_plugin_policy() -> Option<PathBuf> {
    config_dir().map(|d| d.join("plugin-policy.yaml"))
}

/// The plugin host with the limits and compile cache of `opts`.
pub fn runtime(opts: &Options) -> Result<Arc<Runtime>> {
    let limits = Limits {
        timeout: opts.timeout,
        memory_bytes: opts.memory_bytes,
        ..Limits::default()
    };
    let cache = if opts.cache {
        Cache::default_dir().map(Cache::new)
    } else {
        None
    };
    let runtime =
        Runtime::new(limits, cache, opts.log.0.clone())?.with_log_filter(opts.log.1.clone());
    if let Some(why) = runtime.on_demand_reason() {
        (opts.notify)(&format!(
            "warning: plugins run with memory mapped per call (slower, bounds-checked): {why}"
        ));
    }
    Ok(Arc::new(runtime))
}

/// The keys and rules `oci://` plugins are checked against.
fn trust(opts: &Options) -> Result<Trust> {
    let policy = opts
        .policy
        .clone()
        .or_else(|| default_plugin_policy().filter(|p| p.is_file()));
    Trust::new(&opts.keys, policy.as_deref(), opts.allow_unsigned)
}

/// Pull an `oci://` plugin admitted by the trust policy; returns its bytes and digest.
fn pull(opts: &Options, reference: &str) -> Result<(Vec<u8>, String)> {
    let r = OciRef::parse(reference)?;
    // Trust rules match the canonical repository (lower-case host, no `.`/`..`).
    let repository = r.repository_ref();
    let trust = trust(opts)?;
    let decision = trust.decide(&repository);
    let keys: Vec<TrustedKey<'_>> = decision
        .keys
        .iter()
        .map(|k| TrustedKey {
            label: &k.label,
            key: &k.key,
        })
        .collect();
    let registry = Registry::new(
        RegistryOptions {
            plain_http: opts.plain_http,
            timeout: opts.registry_timeout,
            ..Default::default()
        },
        Box::new(opts.notify),
    )?;
    let pulled = oci_plugin::pull(
        &registry,
        &r,
        &keys,
        decision.unsigned_ok,
        &trust.hint(&repository),
    )
    .map_err(|source| Error::Pull {
        reference: r.to_string(),
        source,
    })?;
    (opts.notify)(&match &pulled.admission {
        Admission::Verified(label) => format!(
            "plugin {r}: signature verified with {label} ({})",
            pulled.digest
        ),
        Admission::Unsigned(reasons) if reasons.is_empty() => {
            format!("plugin {r}: loaded without a signature check (allowed unsigned)")
        }
        Admission::Unsigned(reasons) => format!(
            "plugin {r}: no trusted signature, loaded because unsigned plugins are allowed ({})",
            reasons.join("; ")
        ),
    });
    Ok((pulled.bytes, pulled.digest))
}

/// Load one external plugin from a file or an `oci://` reference.
pub fn load(opts: &Options, runtime: &Arc<Runtime>, source: &str) -> Result<Plugin> {
    let failed = |e| Error::Load {
        name: source.to_string(),
        source: e,
    };
    if source.starts_with("oci://") {
        let (bytes, digest) = pull(opts, source)?;
        return runtime
            .load(source, Origin::Memory(format!("{source}@{digest}")), &bytes)
            .map_err(failed);
    }
    let path = PathBuf::from(source);
    let bytes = std::fs::read(&path).map_err(|e| Error::Read {
        what: "plugin",
        path: path.display().to_string(),
        source: e,
    })?;
    runtime
        .load(source, Origin::File(path.clone()), &bytes)
        .map_err(failed)
}

/// The plugins of `builtin` plus those from the plugin directory and `--plugin`.
pub fn catalog(opts: &Options, runtime: &Arc<Runtime>, builtin: &[Embedded]) -> Result<Catalog> {
    catalog_for(opts, runtime, builtin, |_| true)
}

/// A runtime and the catalog a bundle of `recipe` with `deployer` needs: the plugins of
/// `builtin` its components and deployer use, plus every external plugin.
pub fn catalog_for_bundle(
    opts: &Options,
    builtin: &[Embedded],
    recipe: &cns_recipe::RecipeResult,
    deployer: &str,
) -> Result<Catalog> {
    let runtime = runtime(opts)?;
    let names: Vec<&str> = builtin.iter().map(|a| a.name).collect();
    let needed = cns_bundle::builtins_needed(recipe, deployer, &names);
    let mut catalog = catalog_for(opts, &runtime, builtin, &needed)?;
    if catalog.deployer(deployer).is_none() {
        // No such deployer (`--deployer helm` names a bundler): load the other built-ins
        // too (each once: their code runs in place), so that the error lists every
        // deployer there is.
        let rest =
            Catalog::builtin_named(&runtime, builtin, |n| !needed(n)).map_err(Error::Builtin)?;
        catalog.add_missing(rest);
    }
    Ok(catalog)
}

/// The catalog with only the built-in plugins `wanted` accepts (by name), plus every
/// external plugin; an external plugin replaces a built-in of its kind and name.
pub fn catalog_for(
    opts: &Options,
    runtime: &Arc<Runtime>,
    builtin: &[Embedded],
    wanted: impl Fn(&str) -> bool,
) -> Result<Catalog> {
    let mut catalog = Catalog::builtin_named(runtime, builtin, wanted).map_err(Error::Builtin)?;
    let mut sources: Vec<String> = Vec::new();
    let dir = opts
        .plugin_dir
        .clone()
        .or_else(|| default_plugin_dir().filter(|d| d.is_dir()));
    if let Some(dir) = dir {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| Error::Read {
                what: "plugin directory",
                path: dir.display().to_string(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        found.sort();
        sources.extend(found.into_iter().map(|p| p.display().to_string()));
    }
    sources.extend(opts.plugins.iter().cloned());
    let mut external: Vec<(cns_runtime::PluginKind, String, String)> = Vec::new();
    for source in &sources {
        let plugin = load(opts, runtime, source)?;
        if let Some((_, _, first)) = external
            .iter()
            .find(|(k, n, _)| *k == plugin.kind && *n == plugin.name)
        {
            return Err(Error::Duplicate {
                name: plugin.name.clone(),
                kind: plugin.kind.as_str(),
                first: first.clone(),
                second: source.clone(),
            });
        }
        external.push((plugin.kind, plugin.name.clone(), source.clone()));
        if let Some(old) = catalog.replace(plugin) {
            (opts.notify)(&format!(
                "plugin `{}` from {source} replaces the {} one",
                old.name, old.origin
            ));
        }
    }
    Ok(catalog)
}
