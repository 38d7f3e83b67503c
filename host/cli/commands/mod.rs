//! The `cnsctl` command tree (clap derive) and dispatch.

pub(crate) mod bundle;
mod completion;
mod diff;
pub(crate) mod images;
mod mirror;
mod oci;
mod plugin;
pub(crate) mod recipe;
pub(crate) mod serve;
mod snapshot;
mod upgrade;
mod validate;
mod version;

use crate::opts::RecipeDataOpts;
use anyhow::Result;
use clap::{Parser, Subcommand};

/// Turn a GPU cluster recipe into a GitOps bundle (Helm values, manifests, install scripts,
/// Argo CD / Flux manifests) through sandboxed WebAssembly plugins.
///
/// Exit codes: 0 success, 1 a check failed (e.g. `validate`), 2 error (bad input, bad
/// flags, plugin failure).
#[derive(Debug, Parser)]
#[command(
    name = "cnsctl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// More output: -v shows plugin info messages, -vv debug messages.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) data: RecipeDataOpts,

    /// Kubeconfig for cm:// locations and the K8s snapshot collector (default: KUBECONFIG,
    /// ~/.kube/config, or the in-cluster service account).
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) kubeconfig: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// A `cnsctl` command.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Collect a snapshot of this node (OS, SystemD, GPU, and K8s when a cluster is
    /// configured), or run the snapshot agent Job on a GPU node with --deploy-agent.
    #[command(
        after_help = "Exit codes: 0 the snapshot was written (or, with --deploy-agent, stored by the agent); 2 usage or input error, or the agent failed."
    )]
    Snapshot(Box<snapshot::SnapshotArgs>),
    /// Generate a bundle from a recipe: per-component values, manifests and READMEs, plus
    /// the chosen deployer's files, checksummed.
    #[command(
        after_help = "Exit codes: 0 the bundle was written or pushed; 1 a check failed: a plugin refused the values it was given, a plugin's signature did not verify, or a resolved digest did not match; 2 usage or input error."
    )]
    Bundle(Box<bundle::BundleArgs>),
    /// List the container images a recipe's bundle will run (its images.lock.yaml), as a
    /// list, JSON, the lock, or a Hauler or Zarf manifest for air-gapped mirroring.
    #[command(
        after_help = "Exit codes: 0 listed; 1 --strict and the list may be incomplete, or a resolved digest did not match; 2 usage or input error."
    )]
    Images(Box<images::ImagesArgs>),
    /// Copy every image (all platforms) and OCI chart of a recipe to another registry, for
    /// air-gapped clusters; blobs already there are skipped, so an interrupted copy resumes.
    #[command(
        after_help = "Exit codes: 0 everything was copied; 1 a source did not hold the digest the recipe pins; 2 usage or input error."
    )]
    Mirror(Box<mirror::MirrorArgs>),
    /// Resolve a recipe for the given criteria (or list the supported combinations).
    #[command(
        after_help = "Exit codes: 0 the recipe was written; 2 usage or input error (an unknown criterion; an open one with --criteria-strict)."
    )]
    Recipe(recipe::RecipeArgs),
    /// Compare a recipe's criteria and constraints with a cluster snapshot (exit 1 unless all
    /// pass), or check files against cnsctl's JSON Schemas.
    #[command(
        after_help = "Exit codes: 0 pass (or incomplete with --allow-skipped); 1 a check failed: a criterion the snapshot contradicts, a constraint that failed or could not be evaluated, or (--schema) a file that does not match its schema; 2 usage or input error."
    )]
    Validate(validate::ValidateArgs),
    /// Whether a cluster can move from what it runs to a recipe: a verdict per component
    /// (safe, manual with steps, blocked, unknown, identity-changed) from the recipe data's
    /// transition records.
    #[command(
        name = "upgrade-check",
        after_help = "Exit codes: 0 every component safe; 1 a component is manual, blocked, unknown or identity-changed; 2 usage or input error."
    )]
    UpgradeCheck(upgrade::UpgradeArgs),
    /// Compare two snapshots: every added, removed and modified reading (exit 1 on drift).
    #[command(after_help = "Exit codes: 0 no drift; 1 drift; 2 usage or input error.")]
    Diff(diff::DiffArgs),
    /// Push a bundle directory to an OCI registry as one signed-or-not artifact.
    #[command(
        after_help = "Exit codes: 0 pushed; 1 the bundle's checksums.txt is missing or does not match its files; 2 usage or input error."
    )]
    Push(oci::PushCmd),
    /// Pull a bundle from an OCI registry, check every digest (and the signature with
    /// --verify-key), and unpack it atomically.
    #[command(
        after_help = "Exit codes: 0 pulled; 1 a check failed: the signature or attestation did not verify, or a digest or checksum did not match (a tampered blob); 2 usage or input error."
    )]
    Pull(oci::PullCmd),
    /// Sign an artifact in a registry with a private key (cosign's key-based format).
    #[command(after_help = "Exit codes: 0 signed; 2 usage or input error.")]
    Sign(oci::SignCmd),
    /// Verify an artifact's signature with a public key (exit 1 if unsigned or invalid).
    #[command(
        after_help = "Exit codes: 0 verified; 1 unsigned, or the signature or attestation did not verify; 2 usage or input error."
    )]
    Verify(oci::VerifyCmd),
    /// Write a new ECDSA P-256 key pair in cosign's format (cosign.key encrypted, cosign.pub).
    #[command(after_help = "Exit codes: 0 the key pair was written; 2 usage or input error.")]
    GenerateKeyPair(oci::KeyPairCmd),
    /// Create, build, list, inspect and publish plugins.
    #[command(subcommand)]
    #[command(
        after_help = "Exit codes: 0 done; 1 an oci:// plugin's signature did not verify, or the trust policy refused it; 2 usage or input error."
    )]
    Plugin(plugin::PluginCommand),
    /// Serve the recipe and bundle HTTP API (the predecessor's `cnsd` routes: /v1/recipe,
    /// /v1/query, /v1/bundle, /health, /ready, /metrics, /openapi.json) until SIGTERM.
    #[command(
        after_help = "Exit codes: 0 stopped after SIGTERM or SIGINT; 2 usage error, or the plugins could not be loaded."
    )]
    Serve(Box<serve::ServeArgs>),
    /// Print the versions of cnsctl, its WIT interface and wasmtime.
    #[command(after_help = "Exit codes: 0 printed; 2 usage error.")]
    Version(version::VersionArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish), e.g.
    /// `source <(cnsctl completion bash)`.
    #[command(after_help = "Exit codes: 0 printed; 2 usage error.")]
    Completion(completion::CompletionArgs),
    /// Write man pages: cnsctl.1 and cnsctl-COMMAND.1 for each command.
    #[command(after_help = "Exit codes: 0 the pages were written; 2 usage or input error.")]
    Man(completion::ManArgs),
}

pub(crate) use crate::outcome::Outcome;

/// Run a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<Outcome> {
    let kube = cns_kube::location::Documents::new(cli.kubeconfig.as_deref());
    match cli.command {
        Command::Snapshot(args) => snapshot::run(*args, &kube),
        Command::Diff(args) => diff::run(args, &kube),
        Command::Bundle(args) => bundle::run(*args, &cli.data, &kube),
        Command::Images(args) => images::run(*args, &cli.data, &kube),
        Command::Mirror(args) => mirror::run(*args, &cli.data, &kube),
        Command::Recipe(args) => recipe::run(args, &cli.data, &kube),
        Command::Validate(args) => validate::run(args, &kube),
        Command::UpgradeCheck(args) => upgrade::run(args, &cli.data, &kube),
        Command::Push(cmd) => oci::push(cmd),
        Command::Pull(cmd) => oci::pull(cmd),
        Command::Sign(cmd) => oci::sign_cmd(cmd),
        Command::Verify(cmd) => oci::verify(cmd),
        Command::GenerateKeyPair(cmd) => oci::generate_key_pair(cmd),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Serve(args) => serve::run(*args, &cli.data),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::completion(args),
        Command::Man(args) => completion::man(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    // The predecessor's demo commands run verbatim in the integration tests
    // (recipes::predecessor_validate_command_runs_verbatim_and_passes, deployers, cluster).
    #[test]
    fn cli_is_well_formed_and_validate_takes_one_mode() {
        Cli::command().debug_assert();
        let parse = |args: &[&str]| Cli::try_parse_from([&["cnsctl", "validate"], args].concat());
        assert!(parse(&["--recipe", "r.yaml", "--snapshot", "s.yaml"]).is_ok());
        assert!(parse(&["--recipe", "r.yaml"]).is_err());
        assert!(parse(&["--schema", "a.yaml", "--recipe", "r", "--snapshot", "s"]).is_err());
    }
}
