//! `cnsctl plugin`: `list` and `inspect` (the loaded plugins with their kind, versions,
//! size and digest), `push` (a plugin as a signed OCI artifact), and dispatch to `new`,
//! `build` and `componentize`, each in a module of its own.

mod build;
mod componentize;
mod new;

use crate::opts::PluginOpts;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use cns_plugins::report::Description;

/// Plugin commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// List the built-in plugins and any given with --plugin.
    List(ListArgs),
    /// Show one plugin (file or oci://): name, kind, versions, WIT version, imports, size,
    /// digest.
    Inspect(InspectArgs),
    /// Publish a plugin component as an OCI artifact (artifactType
    /// application/vnd.cnsctl.plugin.v1, one application/wasm layer), optionally signed.
    Push(PluginPushArgs),
    /// Create a plugin crate (outside this repository) that builds to a component and
    /// passes its own tests: `cargo test`, then `cnsctl plugin build`.
    New(new::NewArgs),
    /// Build a plugin crate into a component: cargo build --release for
    /// wasm32-unknown-unknown (rustup target, or Debian's rustc-web with -Zbuild-std), then
    /// componentize and check that it loads.
    Build(build::BuildArgs),
    /// Turn a plugin crate's core module (cargo build --target wasm32-unknown-unknown) into
    /// the component cnsctl loads, and check that it loads.
    Componentize(ComponentizeArgs),
}

/// Arguments of `plugin componentize`.
#[derive(Debug, Args)]
pub(crate) struct ComponentizeArgs {
    /// The core module, e.g. target/wasm32-unknown-unknown/release/my_plugin.wasm.
    #[arg(value_name = "CORE.wasm")]
    core: std::path::PathBuf,

    /// Where to write the component.
    #[arg(short, long, value_name = "PLUGIN.wasm")]
    output: std::path::PathBuf,
}

/// Arguments of `plugin inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The plugin: PATH.wasm or oci://REGISTRY/REPO[:TAG|@DIGEST].
    #[arg(value_name = "PATH|REF")]
    source: String,

    #[command(flatten)]
    plugins: PluginOpts,

    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `plugin push`.
#[derive(Debug, Args)]
pub(crate) struct PluginPushArgs {
    /// The component file.
    #[arg(value_name = "PATH.wasm")]
    path: std::path::PathBuf,

    /// Destination: oci://REGISTRY/REPOSITORY:TAG.
    #[arg(value_name = "REF")]
    reference: String,

    #[command(flatten)]
    push: crate::opts::PushArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    plugins: PluginOpts,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: PluginCommand) -> Result<Outcome> {
    let args = match cmd {
        PluginCommand::List(args) => args,
        PluginCommand::Inspect(args) => return inspect(args),
        PluginCommand::Push(args) => return push(args),
        PluginCommand::Componentize(args) => {
            componentize::file(&args.core, &args.output)?;
            return Ok(Outcome::Success);
        }
        PluginCommand::New(args) => return new::run(args),
        PluginCommand::Build(args) => return build::run(args),
    };
    let plugins = args.plugins.options();
    let runtime = cns_plugins::runtime(&plugins)?;
    let catalog = cns_plugins::catalog(&plugins, &runtime, cns_plugin_artifacts::require())?;
    let plugins = catalog.plugins();
    if args.json {
        let list: Vec<_> = plugins.iter().map(|p| Description::of(p)).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", cns_plugins::report::table(plugins));
    }
    Ok(Outcome::Success)
}

fn inspect(args: InspectArgs) -> Result<Outcome> {
    let plugins = args.plugins.options();
    let runtime = cns_plugins::runtime(&plugins)?;
    let p = cns_plugins::load(&plugins, &runtime, &args.source)?;
    let d = Description::of(&p);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", d.text());
    }
    Ok(Outcome::Success)
}

fn push(args: PluginPushArgs) -> Result<Outcome> {
    let publish = super::oci::prepare_push(&args.reference, &args.push)?;
    let bytes = std::fs::read(&args.path)
        .with_context(|| format!("failed to read plugin `{}`", args.path.display()))?;
    // Publish only what loads: a valid component exporting a cnsctl world.
    let runtime =
        cns_runtime::Runtime::new(Default::default(), None, crate::ui::plugin_log_sink())?;
    let runtime = std::sync::Arc::new(runtime);
    let label = args.path.display().to_string();
    let p = runtime
        .load(&label, cns_runtime::Origin::File(args.path.clone()), &bytes)
        .with_context(|| format!("`{label}` is not a loadable cnsctl plugin"))?;
    let meta = cns_oci::artifact::plugin::PluginMeta {
        name: p.name.clone(),
        kind: p.kind.as_str().to_string(),
        version: p.version.clone(),
        wit: p.wit_version.clone(),
    };
    let progress = |l: &str| crate::ui::status(l);
    let pushed = super::oci::push_with(publish, &args.push.registry, |pb, reg| {
        pb.plugin(reg, &bytes, &meta, &progress)
    })?;
    println!("{}", pushed.digest);
    Ok(Outcome::Success)
}
