//! What `cnsctl version`, `plugin list` and `plugin inspect` report about the plugin host and
//! the plugins it loaded, as typed records (their JSON) and as the text a person reads.

use cns_runtime::{Plugin, Runtime};
use serde::Serialize;

/// The versions a bug report needs (`cnsctl version`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    /// cnsctl's own version.
    pub cnsctl: String,
    /// The WIT package version the host implements.
    pub wit: &'static str,
    /// The wasmtime the host embeds.
    pub wasmtime: &'static str,
    /// The version of the embedded recipe data.
    pub recipe_data: &'static str,
    /// The built-in plugins.
    pub builtin_plugins: BuiltinPlugins,
    /// How plugin instances get their memory.
    pub plugin_instances: PluginInstances,
}

/// The built-in plugins of this build.
#[derive(Debug, Serialize)]
pub struct BuiltinPlugins {
    /// How many.
    pub count: usize,
    /// Where they come from (embedded at build time, or why not).
    pub source: &'static str,
}

/// The instance allocator the host runs with.
#[derive(Debug, Serialize)]
pub struct PluginInstances {
    /// `pooling` or `mapped`.
    pub allocator: &'static str,
    /// Pool slots, when pooling.
    pub slots: Option<u32>,
}

impl Versions {
    /// The versions of this process: `cnsctl` is the binary's version, `builtin` the count
    /// and source of its built-in plugins; the allocator is what a fresh host gets.
    pub fn current(
        cnsctl: &str,
        builtin: (usize, &'static str),
    ) -> Result<Self, cns_runtime::Error> {
        let runtime = Runtime::new(
            Default::default(),
            None,
            std::sync::Arc::new(|_: &str, _, _: &str| {}),
        )?;
        let pooled = runtime.pooled();
        Ok(Versions {
            cnsctl: cnsctl.to_string(),
            wit: cns_runtime::WIT_VERSION,
            wasmtime: cns_runtime::WASMTIME_VERSION,
            recipe_data: cns_recipe::resolve::DATA_VERSION,
            builtin_plugins: BuiltinPlugins {
                count: builtin.0,
                source: builtin.1,
            },
            plugin_instances: PluginInstances {
                allocator: if pooled { "pooling" } else { "mapped" },
                slots: pooled.then_some(cns_runtime::POOL_SLOTS),
            },
        })
    }

    /// The report as text, a line per fact.
    pub fn text(&self) -> String {
        let instances = match self.plugin_instances.slots {
            Some(slots) => format!("pooling allocator, {slots} slots"),
            None => "mapped per call (the instance pool could not be reserved)".to_string(),
        };
        format!(
            "cnsctl {}\nwit cns:plugin@{}\nwasmtime {}\nrecipe data {}\nbuilt-in plugins: {} ({})\nplugin instances: {instances}\n",
            self.cnsctl,
            self.wit,
            self.wasmtime,
            self.recipe_data,
            self.builtin_plugins.count,
            self.builtin_plugins.source
        )
    }
}

/// One loaded plugin as `plugin list --json` and `plugin inspect --json` show it (fields in
/// alphabetical order, as the JSON has always had them).
#[derive(Debug, Serialize)]
pub struct Description<'a> {
    /// Where its machine code came from: `embedded`, `cache` or `compiled`.
    pub code: &'static str,
    /// What it says it does.
    pub description: &'a str,
    /// The host interfaces it imports.
    pub imports: &'a [String],
    /// `bundler` or `deployer`.
    pub kind: &'static str,
    /// Its name.
    pub name: &'a str,
    /// Where it was loaded from.
    pub origin: String,
    /// The components (or deployer names) it serves.
    pub serves: &'a [String],
    /// The SHA-256 of its bytes.
    pub sha256: &'a str,
    /// Its size in bytes.
    pub size: usize,
    /// Its own version.
    pub version: &'a str,
    /// The WIT version it was built against.
    pub wit: &'a str,
}

impl<'a> Description<'a> {
    /// Describe `p`.
    pub fn of(p: &'a Plugin) -> Self {
        Description {
            code: if p.precompiled {
                "embedded"
            } else if p.from_cache {
                "cache"
            } else {
                "compiled"
            },
            description: &p.description,
            imports: &p.imports,
            kind: p.kind.as_str(),
            name: &p.name,
            origin: p.origin.to_string(),
            serves: &p.serves,
            sha256: &p.sha256,
            size: p.size,
            version: &p.version,
            wit: &p.wit_version,
        }
    }

    /// `plugin inspect`'s text: a labelled line per field.
    pub fn text(&self) -> String {
        format!(
            "name:        {}\nkind:        {}\nversion:     {}\nwit:         cns:plugin@{}\nserves:      {}\ndescription: {}\nimports:     {}\nsize:        {} bytes\nsha256:      {}\norigin:      {}\n",
            self.name,
            self.kind,
            self.version,
            self.wit,
            self.serves.join(", "),
            self.description,
            self.imports.join(", "),
            self.size,
            self.sha256,
            self.origin
        )
    }
}

/// `plugin list`'s table: a header and a row per plugin, the name column as wide as the
/// longest name.
pub fn table(plugins: &[std::sync::Arc<Plugin>]) -> String {
    let w = plugins
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<w$} {:<9} {:<8} {:<6} {:>9}  {:<64}  SERVES\n",
        "NAME", "KIND", "VERSION", "WIT", "SIZE", "SHA256"
    );
    for p in plugins {
        out.push_str(&format!(
            "{:<w$} {:<9} {:<8} {:<6} {:>9}  {:<64}  {}\n",
            p.name,
            p.kind.as_str(),
            p.version,
            p.wit_version,
            p.size,
            p.sha256,
            p.serves.join(",")
        ));
    }
    out
}
