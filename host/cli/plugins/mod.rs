//! Loading plugins for a command: the plugin host with the user's limits and cache, the
//! built-ins a command needs, and external plugins from files, the plugin directory and
//! `oci://` references (pulled and admitted by the trust policy in the `trust` module).

mod trust;

use crate::opts::{PluginOpts, RegistryArgs};
use anyhow::{Context, Result};
use cns_oci::OciRef;
use cns_oci::artifact::plugin::{self as oci_plugin, Admission, TrustedKey};
use cns_runtime::{Cache, Catalog, Limits, Origin, Plugin, Runtime};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub(crate) use trust::Trust;

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
pub(crate) fn runtime(opts: &PluginOpts) -> Result<Arc<Runtime>> {
    let limits = Limits {
        timeout: Duration::from_secs(opts.plugin_timeout),
        memory_bytes: (opts.plugin_memory as usize) << 20,
        ..Limits::default()
    };
    let cache = if opts.no_cache {
        None
    } else {
        Cache::default_dir().map(Cache::new)
    };
    let runtime = Runtime::new(limits, cache, crate::ui::plugin_log_sink())?
        .with_log_filter(crate::ui::plugin_log_filter());
    if let Some(why) = runtime.on_demand_reason() {
        crate::ui::status(&format!(
            "warning: plugins run with memory mapped per call (slower, bounds-checked): {why}"
        ));
    }
    Ok(Arc::new(runtime))
}

/// The keys and rules `oci://` plugins are checked against.
fn trust(opts: &PluginOpts) -> Result<Trust> {
    let policy = opts
        .plugin_policy
        .clone()
        .or_else(|| default_plugin_policy().filter(|p| p.is_file()));
    Trust::new(&opts.plugin_key, policy.as_deref(), opts.allow_unsigned)
}

/// Pull an `oci://` plugin admitted by the trust policy; returns its bytes and digest.
fn pull(opts: &PluginOpts, reference: &str) -> Result<(Vec<u8>, String)> {
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
    let registry = RegistryArgs {
        plain_http: opts.plugin_plain_http,
        registry_timeout: opts.plugin_registry_timeout,
    }
    .registry()?;
    let pulled = oci_plugin::pull(
        &registry,
        &r,
        &keys,
        decision.unsigned_ok,
        &trust.hint(&repository),
    )
    .with_context(|| format!("failed to pull plugin {r}"))?;
    crate::ui::status(&match &pulled.admission {
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
pub(crate) fn load(opts: &PluginOpts, runtime: &Arc<Runtime>, source: &str) -> Result<Plugin> {
    if source.starts_with("oci://") {
        let (bytes, digest) = pull(opts, source)?;
        return runtime
            .load(source, Origin::Memory(format!("{source}@{digest}")), &bytes)
            .with_context(|| format!("failed to load plugin `{source}`"));
    }
    let path = PathBuf::from(source);
    let bytes = std::fs::read(&path)
        .with_context(|| format!("failed to read plugin `{}`", path.display()))?;
    runtime
        .load(source, Origin::File(path.clone()), &bytes)
        .with_context(|| format!("failed to load plugin `{}`", path.display()))
}

/// The built-in plugins plus those from the plugin directory and `--plugin`.
pub(crate) fn catalog(opts: &PluginOpts, runtime: &Arc<Runtime>) -> Result<Catalog> {
    catalog_for(opts, runtime, |_| true)
}

/// A runtime and the catalog a bundle of `recipe` with `deployer` needs: the built-ins its
/// components and deployer use, plus every external plugin.
pub(crate) fn catalog_for_bundle(
    opts: &PluginOpts,
    recipe: &cns_recipe::RecipeResult,
    deployer: &str,
) -> Result<Catalog> {
    let runtime = runtime(opts)?;
    let builtin: Vec<&str> = cns_plugin_artifacts::BUILTIN
        .iter()
        .map(|a| a.name)
        .collect();
    catalog_for(
        opts,
        &runtime,
        cns_bundle::builtins_needed(recipe, deployer, &builtin),
    )
}

/// The catalog with only the built-in plugins `wanted` accepts (by name), plus every
/// external plugin; an external plugin replaces a built-in of its kind and name.
pub(crate) fn catalog_for(
    opts: &PluginOpts,
    runtime: &Arc<Runtime>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Catalog> {
    let mut catalog = Catalog::builtin_named(runtime, cns_plugin_artifacts::require(), wanted)
        .context("failed to load the built-in plugins")?;
    let mut sources: Vec<String> = Vec::new();
    let dir = opts
        .plugin_dir
        .clone()
        .or_else(|| default_plugin_dir().filter(|d| d.is_dir()));
    if let Some(dir) = dir {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("failed to read plugin directory `{}`", dir.display()))?
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
            anyhow::bail!(
                "two plugins are named `{}` ({}): `{first}` and `{source}`",
                plugin.name,
                plugin.kind.as_str()
            );
        }
        external.push((plugin.kind, plugin.name.clone(), source.clone()));
        if let Some(old) = catalog.replace(plugin) {
            crate::ui::status(&format!(
                "plugin `{}` from {source} replaces the {} one",
                old.name, old.origin
            ));
        }
    }
    Ok(catalog)
}
