//! The set of loaded plugins and the lookup of a bundler per component and a deployer by name.

use crate::{Error, Origin, Plugin, PluginKind, Result, Runtime};
use std::sync::Arc;

/// A plugin shipped inside the binary (what `cns-plugin-artifacts` holds for cnsctl): the
/// component's bytes, their sha256, and its code compiled at build time under
/// `cns-engine`'s configuration. The runtime builds and embeds no plugin itself; the
/// binary that links one passes the list in.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// Plugin name (e.g. `cert-manager`).
    pub name: &'static str,
    /// The component bytes.
    pub bytes: &'static [u8],
    /// sha256 of `bytes` (hex), computed at build time so loading need not hash them.
    pub sha256: &'static str,
    /// The component compiled at build time by `cns-engine`'s configuration (wasmtime's
    /// `.cwasm` format), page-aligned; empty if that failed. Only a build script of this
    /// workspace may produce it: see [`Runtime::load_with_code`].
    pub precompiled: &'static [u8],
}

/// Loaded plugins, sorted by (kind, name). Later additions replace earlier ones of the same
/// name only through [`Catalog::replace`]; [`Catalog::add`] refuses a clash.
#[derive(Debug, Default)]
pub struct Catalog {
    plugins: Vec<Arc<Plugin>>,
}

impl Catalog {
    /// Load every plugin of `embedded` (on every core; compiling them when not cached).
    pub fn builtin(runtime: &Arc<Runtime>, embedded: &[Embedded]) -> Result<Self> {
        Self::builtin_named(runtime, embedded, |_| true)
    }

    /// Load the plugins of `embedded` whose name `wanted` accepts. A built-in plugin serves
    /// exactly its own name (`helm`: any component without a bundler of its own), so a
    /// caller that knows the components and the deployer can skip compiling the rest.
    pub fn builtin_named(
        runtime: &Arc<Runtime>,
        embedded: &[Embedded],
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        let wanted: Vec<_> = embedded.iter().filter(|a| wanted(a.name)).collect();
        let loaded = crate::par_map(&wanted, |a| {
            runtime.load_with_code(
                a.name,
                Origin::Builtin,
                a.bytes,
                Some(a.sha256),
                a.precompiled,
            )
        });
        let mut cat = Catalog::default();
        for p in loaded {
            cat.add(p?)?;
        }
        Ok(cat)
    }

    /// Add a plugin; a plugin of the same kind and name already present is an error.
    pub fn add(&mut self, plugin: Plugin) -> Result<()> {
        if let Some(existing) = self.get(plugin.kind, &plugin.name) {
            return Err(Error::NameClash {
                name: plugin.name.clone(),
                first: existing.origin.to_string(),
                second: plugin.origin.to_string(),
            });
        }
        self.insert(plugin);
        Ok(())
    }

    /// Add a plugin, replacing one of the same kind and name (returns the replaced one).
    pub fn replace(&mut self, plugin: Plugin) -> Option<Arc<Plugin>> {
        let old = self
            .plugins
            .iter()
            .position(|p| p.kind == plugin.kind && p.name == plugin.name)
            .map(|i| self.plugins.remove(i));
        self.insert(plugin);
        old
    }

    /// Add each plugin of `other` that has no plugin of its kind and name here.
    pub fn add_missing(&mut self, other: Catalog) {
        for p in other.plugins {
            if self.get(p.kind, &p.name).is_none() {
                self.plugins.push(p);
            }
        }
        self.plugins
            .sort_by(|a, b| (a.kind, a.name.as_str()).cmp(&(b.kind, b.name.as_str())));
    }

    fn insert(&mut self, plugin: Plugin) {
        self.plugins.push(Arc::new(plugin));
        self.plugins
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    }

    /// All plugins, sorted by kind then name.
    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// The plugin of this kind and name.
    pub fn get(&self, kind: PluginKind, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins
            .iter()
            .find(|p| p.kind == kind && p.name == name)
    }

    /// The bundler for a component: one that names it in `serves`, else one serving `*`.
    pub fn bundler_for(&self, component: &str) -> Option<&Arc<Plugin>> {
        let bundlers = || {
            self.plugins
                .iter()
                .filter(|p| p.kind == PluginKind::Bundler)
        };
        bundlers()
            .find(|p| p.serves.iter().any(|s| s == component))
            .or_else(|| bundlers().find(|p| p.serves.iter().any(|s| s == "*")))
    }

    /// The deployer answering to `name`.
    pub fn deployer(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins
            .iter()
            .filter(|p| p.kind == PluginKind::Deployer)
            .find(|p| p.name == name || p.serves.iter().any(|s| s == name))
    }

    /// Names of the deployers, sorted.
    pub fn deployer_names(&self) -> Vec<&str> {
        self.plugins
            .iter()
            .filter(|p| p.kind == PluginKind::Deployer)
            .map(|p| p.name.as_str())
            .collect()
    }
}
