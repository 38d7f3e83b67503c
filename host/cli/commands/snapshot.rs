//! `cnsctl snapshot`: collect the node's readings here, or deploy the agent Job that does it
//! on a GPU node (`--deploy-agent`), and write the snapshot to a file, stdout or `cm://`.

use crate::opts::Format;
use crate::outcome::Outcome;
use anyhow::{Context, Result};
use clap::Args;
use cns_kube::agent::{AgentFlags, AgentOptions};
use cns_kube::cm::Document;
use cns_kube::location::{Documents, Location};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `snapshot`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// Write the snapshot to FILE or cm://NAMESPACE/NAME instead of stdout (with
    /// --deploy-agent the default is cm://NAMESPACE/cns-snapshot).
    #[arg(short, long, value_name = "FILE|cm://NS/NAME", value_parser = Location::parse)]
    output: Option<Location>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
    /// Where the node's root filesystem is mounted (its /etc/os-release and /run/systemd are
    /// read there); the agent Job mounts them under /host.
    #[arg(long, value_name = "DIR")]
    host_root: Option<PathBuf>,
    /// The Kubernetes node this runs on (default: NODE_NAME, else the host name).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Do not collect the K8s measurement even when a cluster is configured.
    #[arg(long, conflicts_with = "deploy_agent")]
    no_kubernetes: bool,

    /// Run the snapshot on a cluster node instead: create a Job (and its RBAC) that writes
    /// the snapshot to a ConfigMap, wait for it, and read the result.
    #[arg(long)]
    deploy_agent: bool,
    /// Namespace of the agent Job, its RBAC and the ConfigMap.
    #[arg(
        long,
        value_name = "NS",
        default_value = "gpu-operator",
        requires = "deploy_agent"
    )]
    namespace: String,
    /// The agent image (cnsctl at /usr/local/bin/cnsctl; see the README for building it).
    #[arg(
        long,
        value_name = "IMAGE",
        env = "CNS_AGENT_IMAGE",
        requires = "deploy_agent"
    )]
    image: Option<String>,
    /// Node selector for the agent pod: key=value. Repeatable. Default:
    /// nvidia.com/gpu.present=true (with a warning).
    #[arg(long, value_name = "KEY=VALUE", requires = "deploy_agent")]
    node_selector: Vec<String>,
    /// Toleration for the agent pod: key=value:Effect, key:Effect, key=value or *.
    /// Repeatable. Default: tolerate every taint.
    #[arg(long, value_name = "TOLERATION", requires = "deploy_agent")]
    toleration: Vec<String>,
    /// Delete the Job and its RBAC afterwards (the ConfigMap stays).
    #[arg(long, requires = "deploy_agent")]
    cleanup: bool,
    /// How long to wait for the Job: a Go duration such as 5m, 90s or 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = cns_kube::parse_go_duration, requires = "deploy_agent")]
    timeout: Duration,
    /// RuntimeClass for the agent pod (e.g. nvidia, where the NVIDIA runtime is not default).
    #[arg(long, value_name = "NAME", requires = "deploy_agent")]
    runtime_class: Option<String>,
    /// Image pull policy of the agent pod.
    #[arg(long, value_name = "POLICY", default_value = "IfNotPresent", value_parser = ["Always", "IfNotPresent", "Never"], requires = "deploy_agent")]
    image_pull_policy: String,
    /// The CPU architectures the agent image has (comma-separated: amd64, arm64): the Job
    /// runs only on nodes of these (kubernetes.io/arch). An image built with
    /// `scripts/agent-image.sh --binary-arm64` has both; GB200/GB300 nodes are arm64.
    #[arg(long, value_name = "ARCH,…", value_delimiter = ',', default_value = "amd64", value_parser = ["amd64", "arm64"], requires = "deploy_agent")]
    image_arch: Vec<String>,
    /// Run the agent as this existing ServiceAccount exactly as it is (for IRSA or workload
    /// identity): no ServiceAccount or RBAC is created or removed. `--write-rbac` writes
    /// the RBAC it needs.
    #[arg(long, value_name = "NAME", requires = "deploy_agent")]
    service_account_name: Option<String>,
    /// Write the agent's ServiceAccount and RBAC manifests (for --service-account-name, else
    /// `cnsctl-snapshot-agent`) to DIR/snapshot-agent-rbac.yaml and stop; no cluster is
    /// contacted.
    #[arg(long, value_name = "DIR", requires = "deploy_agent", conflicts_with_all = ["dry_run", "cleanup"])]
    write_rbac: Option<PathBuf>,
    /// An image pull Secret for the agent pod (in --namespace). Repeatable.
    #[arg(long, value_name = "NAME", requires = "deploy_agent")]
    image_pull_secret: Vec<String>,
    /// The agent container's resource requests, RESOURCE=QUANTITY comma-separated or
    /// repeated, over the defaults cpu=100m,memory=128Mi.
    #[arg(long, value_name = "RESOURCE=QTY,…", requires = "deploy_agent")]
    requests: Vec<String>,
    /// The agent container's resource limits, over the defaults cpu=1,memory=512Mi.
    #[arg(long, value_name = "RESOURCE=QTY,…", requires = "deploy_agent")]
    limits: Vec<String>,
    /// Request one nvidia.com/gpu for the agent pod: it then runs only on a node with a free
    /// GPU (needed where the runtime hands devices only to pods that ask, as with CDI).
    #[arg(long, requires = "deploy_agent")]
    require_gpu: bool,
    /// Run the agent privileged with host PID/IPC (default). --privileged=false drops that
    /// (for namespaces that refuse privileged pods); what it then cannot read is said.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, requires = "deploy_agent")]
    privileged: bool,
    /// Print every object the agent needs (YAML) instead of creating them.
    #[arg(long, requires = "deploy_agent")]
    dry_run: bool,
}

pub(crate) fn run(args: SnapshotArgs, kube: &Documents) -> Result<Outcome> {
    if args.deploy_agent {
        return agent(args, kube);
    }
    let start = Instant::now();
    let got = cns_kube::collect::snapshot(cns_kube::collect::Here {
        paths: cns_snapshot::Paths::host(args.host_root.as_deref()),
        node: args.node.clone().or_else(cns_kube::collect::node_name),
        kubeconfig: kube.kubeconfig(),
        kubernetes: !args.no_kubernetes,
        version: env!("CARGO_PKG_VERSION"),
    });
    for (kind, e) in &got.errors {
        crate::ui::warn(&format!("{kind} collector: {e}"));
    }
    for (kind, d) in &got.durations {
        crate::ui::debug(&format!("{kind} collector took {} ms", d.as_millis()));
    }
    let (text, fmt) = render(&got.snapshot, args.format)?;
    match &args.output {
        Some(loc) => {
            kube.write(loc, Document::Snapshot, &text, fmt)?;
            crate::ui::status(&format!(
                "snapshot saved to {}: {} measurements in {} ms{}",
                loc,
                got.snapshot.measurements.len(),
                start.elapsed().as_millis(),
                if got.errors.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} collector(s) failed: {})",
                        got.errors.len(),
                        got.errors.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ));
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}

fn render(s: &cns_snapshot::document::Snapshot, format: Format) -> Result<(String, &'static str)> {
    s.to_text(matches!(format, Format::Json))
        .map_err(|e| anyhow::anyhow!("cannot write the snapshot: {e}"))
}

fn agent(args: SnapshotArgs, kube: &Documents) -> Result<Outcome> {
    if let Some(dir) = &args.write_rbac {
        return write_rbac(&args, dir);
    }
    let opts = AgentOptions::from_flags(
        AgentFlags {
            namespace: args.namespace.clone(),
            image: args.image.clone(),
            output: match &args.output {
                Some(Location::ConfigMap(u)) => Some(u.clone()),
                _ => None,
            },
            node_selector: args.node_selector.clone(),
            toleration: args.toleration.clone(),
            timeout: args.timeout,
            runtime_class: args.runtime_class.clone(),
            image_pull_policy: args.image_pull_policy.clone(),
            image_arch: args.image_arch.clone(),
            service_account: args.service_account_name.clone(),
            image_pull_secrets: args.image_pull_secret.clone(),
            requests: args.requests.clone(),
            limits: args.limits.clone(),
            require_gpu: args.require_gpu,
            unprivileged: !args.privileged,
            dry_run: args.dry_run,
        },
        crate::ui::warn,
    )?;
    let cm = opts.output.clone();
    if args.dry_run {
        for o in cns_kube::agent::objects(&opts).to_values() {
            print!("---\n{}", serde_norway::to_string(&o)?);
        }
        return Ok(Outcome::Success);
    }
    let cluster = kube.cluster()?;
    let progress = |l: &str| crate::ui::status(l);
    let ran = cluster.run_agent(&opts, &progress);
    let cleaned = if args.cleanup {
        let r = cluster.cleanup_agent(&opts);
        match &r {
            Ok(kept) if kept.is_empty() => {
                progress("agent resources removed (the ConfigMap is kept)");
            }
            Ok(kept) => {
                let line = format!(
                    "agent resources removed except {} (the ConfigMap is kept)",
                    kept.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if kept
                    .iter()
                    .any(|k| k.why == cns_kube::agent::Why::HeldElsewhere)
                {
                    crate::ui::warn(&line)
                } else {
                    progress(&line)
                }
            }
            Err(_) => {}
        }
        Some(r)
    } else {
        None
    };
    let written = ran.context("the snapshot agent did not complete")?;
    if let Some(r) = cleaned {
        r.context("failed to clean up the agent's Job and RBAC")?;
    }
    progress(&format!("snapshot saved to ConfigMap: uri={cm}"));
    if let Some(Location::File(p)) = &args.output {
        // Read back once by the run; again here only to say why it cannot be.
        let snap = match written {
            Some(s) => s,
            None => {
                let text = cluster.read_document(&cm, Document::Snapshot)?;
                cns_snapshot::document::Snapshot::from_yaml(&cm.to_string(), &text)?
            }
        };
        let (text, fmt) = render(&snap, args.format)?;
        kube.write(&Location::File(p.clone()), Document::Snapshot, &text, fmt)?;
        progress(&format!("snapshot written to {}", p.display()));
    }
    Ok(Outcome::Success)
}

/// `--write-rbac DIR`: the RBAC of an agent running as an account made outside cnsctl.
fn write_rbac(args: &SnapshotArgs, dir: &Path) -> Result<Outcome> {
    let ns = &args.namespace;
    if !cns_recipe::fields::is_dns_label(ns) {
        anyhow::bail!(
            "invalid --namespace `{}`: not a valid namespace name",
            ns.escape_debug()
        );
    }
    let account = args
        .service_account_name
        .clone()
        .unwrap_or_else(|| "cnsctl-snapshot-agent".into());
    if !cns_recipe::fields::is_dns_subdomain(&account) {
        anyhow::bail!(
            "invalid --service-account-name `{}`: expected an object name",
            account.escape_debug()
        );
    }
    let output = match &args.output {
        Some(Location::ConfigMap(u)) => u.clone(),
        _ => cns_kube::cm::CmUri::parse(&format!("cm://{ns}/cns-snapshot"))?,
    };
    let mut text = String::new();
    for o in cns_kube::agent::rbac(ns, &account, &output, None).to_values() {
        text.push_str(&format!("---\n{}", serde_norway::to_string(&o)?));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("snapshot-agent-rbac.yaml");
    cns_files::write::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    crate::ui::status(&format!(
        "wrote {}: ServiceAccount {ns}/{account} and its RBAC; apply it, then run with --service-account-name {account}",
        path.display()
    ));
    Ok(Outcome::Success)
}
