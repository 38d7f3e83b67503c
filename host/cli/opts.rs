//! Flag groups shared by several commands.

use anyhow::{Context, Result};
use clap::Args;
use cns_recipe::Store;
use cns_runtime::{Cache, Catalog, Limits, Origin, Runtime};
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
    /// Load an extra plugin component (.wasm); repeatable. It replaces a built-in plugin
    /// of the same kind and name.
    #[arg(long = "plugin", value_name = "PATH")]
    pub(crate) plugins: Vec<PathBuf>,

    /// Do not read or write the compiled-plugin cache (compile every plugin afresh).
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Deadline for one plugin call, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(crate) plugin_timeout: u64,

    /// Memory cap for one plugin call, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub(crate) plugin_memory: usize,
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
        Ok(Arc::new(Runtime::new(
            limits,
            cache,
            crate::ui::plugin_log_sink(),
        )?))
    }

    /// The built-in plugins plus those given with `--plugin`.
    pub(crate) fn catalog(&self, runtime: &Arc<Runtime>) -> Result<Catalog> {
        let mut catalog =
            Catalog::builtin(runtime).context("failed to load the built-in plugins")?;
        for path in &self.plugins {
            let bytes = std::fs::read(path)
                .with_context(|| format!("failed to read plugin `{}`", path.display()))?;
            let label = path.display().to_string();
            let plugin = runtime
                .load(&label, Origin::File(path.clone()), &bytes)
                .with_context(|| format!("failed to load plugin `{}`", path.display()))?;
            if let Some(old) = catalog.replace(plugin) {
                crate::ui::status(&format!(
                    "plugin `{}` from {} replaces the {} one",
                    old.name,
                    path.display(),
                    old.origin
                ));
            }
        }
        Ok(catalog)
    }
}
