//! `cnsctl snapshot`: collect the node's readings here, or deploy the agent Job that does it
//! on a GPU node (`--deploy-agent`), and write the snapshot to a file, stdout or `cm://`.

use crate::opts::Format;
use crate::outcome::Outcome;
use anyhow::{Context, Result, bail};
use clap::Args;
use cns_bundle::options::{parse_selectors, parse_tolerations};
use cns_kube::agent::AgentOptions;
use cns_kube::cm::{CmUri, Document};
use cns_kube::location::{Documents, Location};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
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
    /// Print every object the agent needs (YAML) instead of creating them.
    #[arg(long, requires = "deploy_agent")]
    dry_run: bool,
}

pub(crate) fn run(args: SnapshotArgs, kube: &Documents) -> Result<Outcome> {
    if args.deploy_agent {
        return agent(args, kube);
    }
    let start = Instant::now();
    let paths = cns_snapshot::Paths::host(args.host_root.as_deref());
    let node = args.node.clone().or_else(cns_kube::collect::node_name);
    let mut collectors = cns_snapshot::local_collectors(&paths);
    if !args.no_kubernetes && cns_kube::config_source(kube.kubeconfig()).is_some() {
        let (kc, node) = (kube.kubeconfig().map(PathBuf::from), node.clone());
        collectors.push(cns_snapshot::Collector::new(
            "K8s",
            Duration::from_secs(60),
            move || {
                let c = cns_kube::Cluster::connect(kc.as_deref()).map_err(|e| e.to_string())?;
                c.collect_k8s(node.as_deref()).map_err(|e| e.to_string())
            },
        ));
    }
    let mut meta = BTreeMap::new();
    meta.insert("version".to_string(), json!(env!("CARGO_PKG_VERSION")));
    meta.insert(
        "timestamp".to_string(),
        json!(cns_snapshot::rfc3339_utc(std::time::SystemTime::now())),
    );
    if let Some(n) = &node {
        meta.insert("source-node".to_string(), Value::String(n.clone()));
    }
    let got = cns_snapshot::collect(collectors, meta);
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
    Ok(match format {
        Format::Yaml => (serde_norway::to_string(s)?, "yaml"),
        Format::Json => (serde_json::to_string_pretty(s)? + "\n", "json"),
    })
}

fn agent(args: SnapshotArgs, kube: &Documents) -> Result<Outcome> {
    let Some(image) = args.image.clone() else {
        bail!("--deploy-agent needs --image IMAGE (the cnsctl agent image; see the README)");
    };
    let ns = args.namespace.clone();
    if !cns_recipe::fields::is_dns_label(&ns) {
        bail!("--namespace `{ns}` is not a valid namespace name");
    }
    let cm = match &args.output {
        Some(Location::ConfigMap(u)) if u.namespace != ns => bail!(
            "--output {u}: the agent can only write ConfigMaps in its own namespace (--namespace {ns})"
        ),
        Some(Location::ConfigMap(u)) => u.clone(),
        _ => CmUri::parse(&format!("cm://{ns}/cns-snapshot"))?,
    };
    let node_selector = parse_selectors("--node-selector", &args.node_selector)?;
    if node_selector.is_empty() {
        crate::ui::warn(&format!(
            "no --node-selector: the agent runs on a node labelled {}={} (set by GPU Feature Discovery)",
            cns_kube::agent::DEFAULT_NODE_SELECTOR.0,
            cns_kube::agent::DEFAULT_NODE_SELECTOR.1
        ));
    }
    let tolerations = parse_tolerations("--toleration", &args.toleration)?
        .into_iter()
        .map(|t| k8s_openapi::api::core::v1::Toleration {
            key: t.key,
            operator: Some(t.operator),
            value: t.value,
            effect: t.effect,
            ..Default::default()
        })
        .collect();
    let opts = AgentOptions {
        namespace: ns,
        name: "cns".into(),
        image,
        node_selector,
        tolerations,
        output: cm.clone(),
        timeout: args.timeout,
        runtime_class: args.runtime_class.clone(),
        image_pull_policy: args.image_pull_policy.clone(),
        // Dry-run output stays the same from run to run: no run label.
        run_id: (!args.dry_run).then(cns_kube::agent::new_run_id),
    };
    opts.validate()?;
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
            Ok(kept) => crate::ui::warn(&format!(
                "agent resources removed except {}: another run or owner holds them now (the ConfigMap is kept)",
                kept.join(", ")
            )),
            Err(_) => {}
        }
        Some(r)
    } else {
        None
    };
    ran.context("the snapshot agent did not complete")?;
    if let Some(r) = cleaned {
        r.context("failed to clean up the agent's Job and RBAC")?;
    }
    progress(&format!("snapshot saved to ConfigMap: uri={cm}"));
    if let Some(Location::File(p)) = &args.output {
        let text = cluster.read_document(&cm, Document::Snapshot)?;
        let snap = cns_snapshot::document::Snapshot::from_yaml(&cm.to_string(), &text)?;
        let (text, fmt) = render(&snap, args.format)?;
        kube.write(&Location::File(p.clone()), Document::Snapshot, &text, fmt)?;
        progress(&format!("snapshot written to {}", p.display()));
    }
    Ok(Outcome::Success)
}
