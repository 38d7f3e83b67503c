//! `cnsctl plugin new`: the flags mapped to `cns_scaffold`, which writes a plugin crate from
//! a template, outside this repository, that builds to a component and passes its own tests.

use crate::outcome::Outcome;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use cns_scaffold::Sdk;
use std::path::PathBuf;

/// Which world the new plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Renders one recipe component (values, manifests, README).
    Bundler,
    /// Turns the rendered components into deployment files (`--deployer NAME`).
    Deployer,
}

/// Arguments of `plugin new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// Plugin name: the component it renders (bundler) or the --deployer name (deployer);
    /// lowercase letters, digits and `-`.
    #[arg(value_name = "NAME")]
    name: String,

    /// What the plugin is.
    #[arg(long, value_enum)]
    kind: Kind,

    /// Directory to create (must not exist or be empty). Default: ./NAME.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,

    /// The cns-plugin-sdk crate to depend on: plugins/sdk of a cnsctl checkout of this
    /// version (or the checkout itself). Default: the SDK this cnsctl was built with, written
    /// into the new crate's vendor/ (so the crate is self-contained).
    #[arg(long, value_name = "PATH", conflicts_with = "sdk_git")]
    sdk: Option<PathBuf>,

    /// Depend on the SDK from a Git repository of cnsctl instead of a path.
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,

    /// Tag, branch or commit of --sdk-git. Default: v<this cnsctl's version>.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    sdk_rev: Option<String>,
}

pub(super) fn run(args: NewArgs) -> Result<Outcome> {
    if !cns_runtime::is_plugin_name(&args.name) {
        bail!(
            "invalid plugin name `{}`: use lowercase letters, digits and `-` (at most 63), not starting with `-`",
            args.name
        );
    }
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let (kind, word) = match args.kind {
        Kind::Bundler => (cns_scaffold::Kind::Bundler, "bundler"),
        Kind::Deployer => (cns_scaffold::Kind::Deployer, "deployer"),
    };
    let sdk = match (args.sdk, args.sdk_git) {
        (_, Some(url)) => Sdk::Git {
            url,
            rev: args
                .sdk_rev
                .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION"))),
        },
        (Some(path), None) => Sdk::Path(path),
        (None, None) => Sdk::Vendored,
    };
    // The target is refused before the SDK is looked for.
    cns_scaffold::check_target(&dir)?;
    let files = cns_scaffold::files(&args.name, kind, &sdk)?;
    cns_scaffold::create(&dir, &files)?;
    crate::ui::status(&format!(
        "created {word} plugin `{}` in {}\n  next: cd {} && cargo test && cnsctl plugin build",
        args.name,
        dir.display(),
        dir.display()
    ));
    Ok(Outcome::Success)
}
