//! Flag groups shared by several commands.

use crate::trust::Trust;
use anyhow::{Context, Result};
use clap::Args;
use cns_recipe::Store;
use cns_runtime::{Cache, Catalog, Limits, Origin, Plugin, Runtime};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where recipe data comes from.
#[derive(Debug, Args)]
pub(crate) struct RecipeDataOpts {
    /// Read recipe data (registry.yaml, overlays/, components/) from DIR instead of the
    /// data embedded in cnsctl.
    #[arg(long, value_name = "DIR", global = true)]
    pub(crate) recipes_dir: Option<PathBuf>,
}

impl RecipeDataOpts {
    pub(crate) fn store(&self) -> Result<Store> {
        match &self.recipes_dir {
            Some(d) => Store::from_dir(d)
                .with_context(|| format!("failed to read recipe data from `{}`", d.display())),
            None => Ok(Store::embedded()),
        }
    }
}

/// Plugin loading and sandbox limits.
#[derive(Debug, Args)]
pub(crate) struct PluginOpts {
    /// Load an extra plugin: a component file (.wasm) or oci://REGISTRY/REPO[:TAG|@DIGEST]
    /// (pulled, signature-checked against --plugin-key). Repeatable. It replaces a built-in
    /// plugin of the same kind and name; two external plugins with one name are an error.
    #[arg(long = "plugin", value_name = "PATH|REF")]
    pub(crate) plugins: Vec<String>,

    /// Directory whose *.wasm files are loaded like --plugin (default: the cnsctl/plugins
    /// folder in the user's config directory, if it exists).
    #[arg(long, value_name = "DIR")]
    pub(crate) plugin_dir: Option<PathBuf>,

    /// Public key (cosign.pub) trusted to sign oci:// plugins from any repository; repeatable.
    /// Any one trusted key must verify a plugin.
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) plugin_key: Vec<PathBuf>,

    /// Trust policy for oci:// plugins (YAML: `trustedKeys` with optional `repositories`
    /// globs, `allowUnsigned` globs; see PLUGINS.md). Default: cnsctl/plugin-policy.yaml in
    /// the user's config directory, if it exists.
    #[arg(long, value_name = "FILE")]
    pub(crate) plugin_policy: Option<PathBuf>,

    /// Load oci:// plugins even without a valid signature from a trusted key.
    #[arg(long)]
    pub(crate) allow_unsigned: bool,

    /// Talk plain HTTP to the registry of oci:// plugins.
    #[arg(long)]
    pub(crate) plugin_plain_http: bool,

    /// Do not read or write the compiled-plugin cache (external plugins are compiled afresh;
    /// built-ins use the code compiled into cnsctl).
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Deadline for one plugin call, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(crate) plugin_timeout: u64,

    /// Memory cap for one plugin call, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub(crate) plugin_memory: usize,
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
pub(crate) fn default_plugin_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("plugins"))
}

/// The default plugin trust policy: `plugin-policy.yaml` in cnsctl's config folder.
pub(crate) fn default_plugin_policy() -> Option<PathBuf> {
    config_dir().map(|d| d.join("plugin-policy.yaml"))
}

impl PluginOpts {
    pub(crate) fn runtime(&self) -> Result<Arc<Runtime>> {
        let limits = Limits {
            timeout: Duration::from_secs(self.plugin_timeout.max(1)),
            memory_bytes: self.plugin_memory.max(1) << 20,
            ..Limits::default()
        };
        let cache = if self.no_cache {
            None
        } else {
            Cache::default_dir().map(Cache::new)
        };
        Ok(Arc::new(
            Runtime::new(limits, cache, crate::ui::plugin_log_sink())?
                .with_log_filter(crate::ui::plugin_log_filter()),
        ))
    }

    /// The keys and rules `oci://` plugins are checked against.
    pub(crate) fn trust(&self) -> Result<Trust> {
        let policy = self
            .plugin_policy
            .clone()
            .or_else(|| default_plugin_policy().filter(|p| p.is_file()));
        Trust::new(&self.plugin_key, policy.as_deref(), self.allow_unsigned)
    }

    /// Load one external plugin from a file or an OCI reference.
    pub(crate) fn load(&self, runtime: &Arc<Runtime>, source: &str) -> Result<Plugin> {
        if source.starts_with("oci://") {
            let (bytes, digest) =
                crate::commands::pull_plugin(source, &self.trust()?, self.plugin_plain_http)?;
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
    pub(crate) fn catalog(&self, runtime: &Arc<Runtime>) -> Result<Catalog> {
        self.catalog_for(runtime, |_| true)
    }

    /// The catalog with only the built-in plugins `wanted` accepts (by name), plus every
    /// external plugin.
    pub(crate) fn catalog_for(
        &self,
        runtime: &Arc<Runtime>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Catalog> {
        let mut catalog = Catalog::builtin_named(runtime, wanted)
            .context("failed to load the built-in plugins")?;
        let mut sources: Vec<String> = Vec::new();
        let dir = self
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
        sources.extend(self.plugins.iter().cloned());
        let mut external: Vec<(cns_runtime::PluginKind, String, String)> = Vec::new();
        for source in &sources {
            let plugin = self.load(runtime, source)?;
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
}
