//! Flag groups shared by several commands, and their mapping to library options. Knows
//! nothing about commands; loading plugins is `cns_plugins`.

use anyhow::{Context, Result};
use clap::Args;
use cns_oci::{Registry, RegistryOptions};
use cns_recipe::Store;
use std::path::PathBuf;

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

    /// Give up on a registry operation for an oci:// plugin (retries included) after SECONDS.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "CNS_REGISTRY_TIMEOUT",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub(crate) plugin_registry_timeout: u64,

    /// Do not read or write the compiled-plugin cache (external plugins are compiled afresh;
    /// built-ins use the code compiled into cnsctl).
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Deadline for one plugin call, in seconds (1 to 3600).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub(crate) plugin_timeout: u64,

    /// Memory cap for one plugin call, in MiB (1 to 4096: a plugin's memory is 32-bit).
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 256,
        value_parser = clap::value_parser!(u64).range(1..=4096)
    )]
    pub(crate) plugin_memory: u64,
}

/// How to reach a registry.
#[derive(Debug, Args, Clone)]
pub(crate) struct RegistryArgs {
    /// Talk plain HTTP to the registry instead of HTTPS (e.g. a local registry).
    #[arg(long, visible_alias = "insecure")]
    pub(crate) plain_http: bool,

    /// Give up on a registry operation (retries included) after SECONDS.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "CNS_REGISTRY_TIMEOUT",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub(crate) registry_timeout: u64,
}

impl RegistryArgs {
    /// A registry client with these settings; progress lines go to stderr.
    pub(crate) fn registry(&self) -> Result<Registry> {
        Ok(Registry::new(
            RegistryOptions {
                plain_http: self.plain_http,
                timeout: std::time::Duration::from_secs(self.registry_timeout),
                ..Default::default()
            },
            Box::new(crate::ui::status),
        )?)
    }
}

impl PluginOpts {
    /// The flags as the plugin loader's options, with cnsctl's log and status output.
    pub(crate) fn options(&self) -> cns_plugins::Options {
        cns_plugins::Options {
            plugins: self.plugins.clone(),
            plugin_dir: self.plugin_dir.clone(),
            keys: self.plugin_key.clone(),
            policy: self.plugin_policy.clone(),
            allow_unsigned: self.allow_unsigned,
            plain_http: self.plugin_plain_http,
            registry_timeout: std::time::Duration::from_secs(self.plugin_registry_timeout),
            timeout: std::time::Duration::from_secs(self.plugin_timeout),
            memory_bytes: (self.plugin_memory as usize) << 20,
            cache: !self.no_cache,
            log: (crate::ui::plugin_log_sink(), crate::ui::plugin_log_filter()),
            notify: crate::ui::status,
        }
    }
}

/// Push options shared by `push`, `plugin push` and `bundle --output oci://…`.
#[derive(Debug, Args, Clone)]
pub(crate) struct PushArgs {
    /// Sign the pushed artifact with this private key (cosign.key, or a PKCS#8 PEM); the
    /// password comes from CNS_SIGN_PASSWORD or COSIGN_PASSWORD.
    #[arg(long, value_name = "KEY")]
    pub(crate) sign_key: Option<PathBuf>,

    /// Also write the pushed manifest digest (sha256:…) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) digest_file: Option<PathBuf>,

    /// Read --sign-key even if other users may read it (refused by default).
    #[arg(long)]
    pub(crate) insecure_key_permissions: bool,

    /// How the signature and the attestations are stored: bundle (Sigstore bundles attached
    /// as OCI referrers, found through the referrers API or the referrers tag, as cosign 3
    /// writes them and Flux 2.8+ reads them) or legacy (cosign 2's `.sig`/`.att` tags).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t)]
    pub(crate) signature_format: SignatureFormatArg,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// `--signature-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SignatureFormatArg {
    /// Sigstore bundles (v0.3) as OCI referrers.
    #[default]
    Bundle,
    /// cosign 2's `sha256-<hex>.sig` and `.att` tags.
    Legacy,
}

impl From<SignatureFormatArg> for cns_oci::sign::SignatureFormat {
    fn from(f: SignatureFormatArg) -> Self {
        match f {
            SignatureFormatArg::Bundle => cns_oci::sign::SignatureFormat::Bundle,
            SignatureFormatArg::Legacy => cns_oci::sign::SignatureFormat::Legacy,
        }
    }
}

/// Output format of a document (recipe, snapshot, validation result).
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum Format {
    /// YAML (default).
    #[default]
    Yaml,
    /// JSON.
    Json,
}

/// Output of a command that reports what it did (version, push, pull, verify, mirror).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Lines for people (default): the result on stdout, progress on stderr.
    #[default]
    Text,
    /// One JSON document on stdout, its shape in schemas/output/ (progress stays on stderr).
    Json,
}

/// Print `doc` as one line of JSON on stdout.
pub(crate) fn print_json(doc: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(doc)?);
    Ok(())
}

/// Values overrides, in Helm's `--set` syntax after `COMPONENT:` (the component's name or
/// alias). Applied as Helm applies its flags: every `--set-json`, then `--set`,
/// `--set-string`, `--set-file`; `null` removes a key.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SetArgs {
    /// Override values: COMPONENT:NAME=VALUE[,NAME=VALUE…], names dotted (a.b), indexed
    /// (a[0].b) or escaped (a\.b), lists as {x,y}; typed as Helm types them (true/false,
    /// null, integers; 1.50, v1.0 and 0123 stay strings). COMPONENT:enabled=false drops a
    /// component. Repeatable.
    #[arg(long = "set", value_name = "COMPONENT:NAME=VALUE")]
    pub(crate) sets: Vec<String>,
    /// As --set, every value a string. Repeatable.
    #[arg(long = "set-string", value_name = "COMPONENT:NAME=VALUE")]
    pub(crate) set_strings: Vec<String>,
    /// As --set, every value JSON (e.g. gpuoperator:daemonsets.tolerations=[{"operator":"Exists"}]).
    /// Repeatable.
    #[arg(long = "set-json", value_name = "COMPONENT:NAME=JSON")]
    pub(crate) set_jsons: Vec<String>,
    /// As --set, every value the content of the file it names. Repeatable.
    #[arg(long = "set-file", value_name = "COMPONENT:NAME=FILE")]
    pub(crate) set_files: Vec<String>,
}
