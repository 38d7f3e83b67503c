//! The agent's flags as given, checked into [`AgentOptions`] before anything reaches the
//! cluster: the image reference, names, resources, the timeout and pull policy.

use super::{AgentOptions, DEFAULT_NODE_SELECTOR, new_run_id};
use crate::cm::CmUri;
use crate::{Error, Result};
use k8s_openapi::api::core::v1::Toleration;
use std::collections::BTreeMap;
use std::time::Duration;

/// The agent's flags as given (`snapshot --deploy-agent`), before they are checked.
#[derive(Debug, Clone, Default)]
pub struct AgentFlags {
    /// `--namespace`.
    pub namespace: String,
    /// `--image`.
    pub image: Option<String>,
    /// `--output` when it is a ConfigMap.
    pub output: Option<CmUri>,
    /// `--node-selector`, each `key=value`.
    pub node_selector: Vec<String>,
    /// `--toleration`, each `key=value:Effect` or a shorter form.
    pub toleration: Vec<String>,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--runtime-class`.
    pub runtime_class: Option<String>,
    /// `--image-pull-policy`.
    pub image_pull_policy: String,
    /// `--image-arch`: the architectures the image has (empty: amd64).
    pub image_arch: Vec<String>,
    /// `--service-account-name`: run as this existing account, create no RBAC.
    pub service_account: Option<String>,
    /// `--image-pull-secret`, each a Secret name.
    pub image_pull_secrets: Vec<String>,
    /// `--requests`, each `RESOURCE=QUANTITY` (over [`DEFAULT_REQUESTS`]).
    pub requests: Vec<String>,
    /// `--limits`, each `RESOURCE=QUANTITY` (over [`DEFAULT_LIMITS`]).
    pub limits: Vec<String>,
    /// `--require-gpu`.
    pub require_gpu: bool,
    /// `--privileged=false`.
    pub unprivileged: bool,
    /// `--dry-run`: the objects are printed, not created (no run label and the plain name
    /// `cns`, so the output is the same from run to run).
    pub dry_run: bool,
}

/// The agent container's resource requests unless `--requests` says otherwise.
pub const DEFAULT_REQUESTS: &[(&str, &str)] = &[("cpu", "100m"), ("memory", "128Mi")];

/// The agent container's resource limits unless `--limits` says otherwise.
pub const DEFAULT_LIMITS: &[(&str, &str)] = &[("cpu", "1"), ("memory", "512Mi")];

/// What the agent does not read without `--privileged` (said when it is off).
pub const UNPRIVILEGED_LOSES: &str = "without --privileged the agent runs without host PID/IPC \
     and device access: nvidia-smi cannot open the GPUs, so the GPU.smi readings (driver, \
     CUDA, GPU model and count as the driver reports them) are missing unless --require-gpu \
     gives the pod a GPU (it then sees that one only) or the NVIDIA runtime hands \
     unprivileged containers the GPUs named in NVIDIA_VISIBLE_DEVICES; GPU.hardware (PCI \
     sysfs), GPU.driver, OS and SystemD (over the system bus) are read as before";

/// Whether `s` is a Kubernetes quantity (`100m`, `1.5Gi`, `2e3`).
pub fn is_quantity(s: &str) -> bool {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.len() <= 32;
    let exponent = |e: &str| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.len() <= 3 && e.bytes().all(|b| b.is_ascii_digit())
    };
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix.strip_prefix(['e', 'E']).is_some_and(exponent);
    number_ok && suffix_ok
}

/// `RESOURCE=QUANTITY` flags over `defaults`: the resource names a container may request
/// (cpu, memory, ephemeral-storage, hugepages-SIZE) and valid quantities.
fn resources(
    flag: &'static str,
    defaults: &[(&str, &str)],
    given: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for g in given.iter().flat_map(|g| g.split(',')) {
        let bad = |reason: &str| Error::InvalidOption {
            flag,
            value: g.escape_debug().to_string(),
            reason: reason.to_string(),
        };
        let (k, v) = g
            .split_once('=')
            .ok_or_else(|| bad("expected RESOURCE=QUANTITY, e.g. cpu=200m,memory=256Mi"))?;
        let known = ["cpu", "memory", "ephemeral-storage"].contains(&k)
            || k.strip_prefix("hugepages-").is_some_and(is_quantity);
        if !known {
            return Err(bad(
                "expected a resource of cpu, memory, ephemeral-storage or hugepages-SIZE (GPUs: --require-gpu)",
            ));
        }
        if !is_quantity(v) {
            return Err(bad("expected a quantity such as 250m, 1, 512Mi or 1.5Gi"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

impl AgentOptions {
    /// Check the flags and build the options: the ConfigMap defaults to
    /// `cm://NAMESPACE/cns-snapshot`, the node selector to [`DEFAULT_NODE_SELECTOR`] (with
    /// `warn` told why), every toleration from its flag form.
    pub fn from_flags(f: AgentFlags, warn: impl Fn(&str)) -> Result<Self> {
        let bad = |flag: &'static str, value: &str, reason: &str| Error::InvalidOption {
            flag,
            value: value.escape_debug().to_string(),
            reason: reason.to_string(),
        };
        let Some(image) = f.image else {
            return Err(Error::MissingOption {
                flag: "--image",
                reason: "--deploy-agent runs the cnsctl agent image IMAGE (see the README)",
            });
        };
        let ns = f.namespace;
        if !cns_recipe::fields::is_dns_label(&ns) {
            return Err(bad("--namespace", &ns, "not a valid namespace name"));
        }
        let output = match f.output {
            Some(u) if u.namespace != ns => {
                return Err(bad(
                    "--output",
                    &u.to_string(),
                    &format!(
                        "the agent can only write ConfigMaps in its own namespace (--namespace {ns})"
                    ),
                ));
            }
            Some(u) => u,
            None => CmUri::parse(&format!("cm://{ns}/cns-snapshot"))?,
        };
        let node_selector =
            cns_recipe::scheduling::parse_selectors("--node-selector", &f.node_selector)?;
        if node_selector.is_empty() {
            warn(&format!(
                "no --node-selector: the agent runs on a node labelled {}={} (set by GPU Feature Discovery)",
                DEFAULT_NODE_SELECTOR.0, DEFAULT_NODE_SELECTOR.1
            ));
        }
        let tolerations = cns_recipe::scheduling::parse_tolerations("--toleration", &f.toleration)?
            .into_iter()
            .map(|t| Toleration {
                key: t.key,
                operator: Some(t.operator),
                value: t.value,
                effect: t.effect,
                ..Default::default()
            })
            .collect();
        for (flag, name) in f
            .service_account
            .iter()
            .map(|n| ("--service-account-name", n))
            .chain(
                f.image_pull_secrets
                    .iter()
                    .map(|n| ("--image-pull-secret", n)),
            )
        {
            if !cns_recipe::fields::is_dns_subdomain(name) {
                return Err(bad(
                    flag,
                    name,
                    "expected an object name: lowercase letters, digits, `-` and `.`, at most 253",
                ));
            }
        }
        if f.unprivileged {
            warn(UNPRIVILEGED_LOSES);
        }
        let run_id = (!f.dry_run).then(new_run_id);
        let opts = AgentOptions {
            namespace: ns,
            // Each run's objects have names of their own, so two runs never collide.
            name: match &run_id {
                Some(r) => format!("cns-{}", &r[..8]),
                None => "cns".into(),
            },
            image,
            node_selector,
            tolerations,
            output,
            timeout: f.timeout,
            runtime_class: f.runtime_class,
            image_pull_policy: f.image_pull_policy,
            image_arch: if f.image_arch.is_empty() {
                vec!["amd64".into()]
            } else {
                let mut a = f.image_arch;
                a.sort();
                a.dedup();
                a
            },
            service_account: f.service_account,
            image_pull_secrets: f.image_pull_secrets,
            requests: resources("--requests", DEFAULT_REQUESTS, &f.requests)?,
            limits: resources("--limits", DEFAULT_LIMITS, &f.limits)?,
            require_gpu: f.require_gpu,
            privileged: !f.unprivileged,
            run_id,
        };
        opts.validate()?;
        Ok(opts)
    }
}

/// Longest wait for the agent (`--timeout`): a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Whether `s` is a container image reference as runtimes read it:
/// `[HOST[:PORT]/]PATH[:TAG][@ALGORITHM:HEX]` with the distribution spec's grammar (path
/// components of lowercase letters and digits joined by `.`, `_`, `__` or dashes; a tag of
/// word characters, `.` and `-`, at most 128; no spaces, quotes or control characters).
pub fn is_image_reference(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else {
            return false;
        };
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return false;
        }
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let host = (parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost"))
        .then(|| parts.remove(0));
    if let Some(h) = host {
        let (domain, port) = match h.rsplit_once(':') {
            Some((d, p)) => (d, Some(p)),
            None => (h, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !domain.split('.').all(label_ok)
            || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
    }
    parts.iter().all(|c| {
        let mut prev_sep = true;
        let mut run = 0;
        for b in c.bytes() {
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                prev_sep = false;
                run = 0;
            } else if b"._-".contains(&b) {
                if prev_sep && b != b'-' && b != b'_' {
                    return false;
                }
                run += 1;
                // `.` once, `_` once or twice (`__`), dashes any number.
                if (b == b'.' && run > 1) || (b == b'_' && run > 2) {
                    return false;
                }
                prev_sep = true;
            } else {
                return false;
            }
        }
        !c.is_empty() && !prev_sep && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
    })
}

impl AgentOptions {
    /// Check what the flags gave before anything reaches the cluster: the image reference,
    /// the RuntimeClass name (a DNS-1123 label), the timeout (1 s to [`MAX_TIMEOUT`]), the pull
    /// policy.
    pub fn validate(&self) -> Result<()> {
        let bad = |flag: &'static str, value: String, reason: &str| Error::InvalidOption {
            flag,
            value,
            reason: reason.to_string(),
        };
        if !is_image_reference(&self.image) {
            return Err(bad(
                "--image",
                self.image.escape_debug().to_string(),
                "expected an image reference such as registry.example.com/cnsctl-agent:0.1.0",
            ));
        }
        if let Some(rc) = &self.runtime_class
            && !cns_recipe::fields::is_dns_label(rc)
        {
            return Err(bad(
                "--runtime-class",
                rc.escape_debug().to_string(),
                "expected a RuntimeClass name: lowercase letters, digits and `-`, at most 63",
            ));
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > MAX_TIMEOUT {
            return Err(bad(
                "--timeout",
                format!("{}s", self.timeout.as_secs()),
                "expected 1s to 24h",
            ));
        }
        if let Some(a) = self
            .image_arch
            .iter()
            .find(|a| !["amd64", "arm64"].contains(&a.as_str()))
        {
            return Err(bad(
                "--image-arch",
                a.escape_debug().to_string(),
                "expected amd64 or arm64",
            ));
        }
        if !["Always", "IfNotPresent", "Never"].contains(&self.image_pull_policy.as_str()) {
            return Err(bad(
                "--image-pull-policy",
                self.image_pull_policy.escape_debug().to_string(),
                "expected Always, IfNotPresent or Never",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::objects;
    use super::*;

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for ok in [
            "cnsctl",
            "library/cnsctl:1",
            "127.0.0.1:5000/dev/cnsctl-agent:0.1.0",
            "localhost/a__b/c.d-e:v1.2_3",
            "registry.example.com/cnsctl-agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "r.example/a/b:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_image_reference(ok), "{ok}");
        }
        for bad in [
            "",
            "Registry/UPPER",
            "r.example/a b",
            "r.example/a\nb",
            "r.example/a:",
            "r.example/a:-tag",
            "r.example/a..b",
            "r.example/a___b",
            "r.example//a",
            "r.example/a/",
            "-r.example/a",
            "r.example:port/a",
            "r.example/a@sha256:xyz",
            "r.example/a\"; rm -rf /",
        ] {
            assert!(!is_image_reference(bad), "{bad:?}");
        }
    }

    #[test]
    fn quantities_and_resource_flags() {
        for ok in ["100m", "1", "0.5", "512Mi", "1.5Gi", "2e3", "1E-2", "10k"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in [
            "", "m", ".", "1..2", "12 Mi", "1mi", "1Gb", "-1", "1e", "1e1234",
        ] {
            assert!(!is_quantity(bad), "{bad:?}");
        }
        let r = resources(
            "--limits",
            DEFAULT_LIMITS,
            &[
                "memory=1Gi,ephemeral-storage=2Gi".into(),
                "hugepages-2Mi=64Mi".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            r.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            [
                "cpu=1",
                "ephemeral-storage=2Gi",
                "hugepages-2Mi=64Mi",
                "memory=1Gi"
            ]
        );
        for (bad, why) in [
            ("cpu", "expected RESOURCE=QUANTITY"),
            ("nvidia.com/gpu=1", "--require-gpu"),
            ("cpu=lots", "expected a quantity"),
        ] {
            let e = resources("--requests", DEFAULT_REQUESTS, &[bad.into()])
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("invalid --requests ") && e.contains(why),
                "{e}"
            );
        }
    }

    fn flags() -> AgentFlags {
        AgentFlags {
            namespace: "gpu-operator".into(),
            image: Some("registry.example.com/cnsctl-agent:0.1.0".into()),
            timeout: Duration::from_secs(300),
            image_pull_policy: "IfNotPresent".into(),
            ..Default::default()
        }
    }

    /// Each run names its objects after itself; a dry run prints the plain name.
    #[test]
    fn runs_have_names_of_their_own() {
        let a = AgentOptions::from_flags(flags(), |_| {}).unwrap();
        let b = AgentOptions::from_flags(flags(), |_| {}).unwrap();
        assert!(
            a.name.starts_with("cns-") && a.name.len() == 12,
            "{}",
            a.name
        );
        assert_ne!(a.name, b.name);
        let dry = AgentOptions::from_flags(
            AgentFlags {
                dry_run: true,
                ..flags()
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(dry.name, "cns");
    }

    /// An existing account gets no RBAC; unprivileged drops host PID/IPC and capabilities
    /// and says what it loses; --require-gpu asks for one GPU; pull secrets reach the pod.
    #[test]
    fn agent_options_reach_the_job() {
        let warned = std::cell::RefCell::new(Vec::new());
        let o = AgentOptions::from_flags(
            AgentFlags {
                service_account: Some("irsa-agent".into()),
                image_pull_secrets: vec!["regcred".into()],
                requests: vec!["cpu=250m".into()],
                require_gpu: true,
                unprivileged: true,
                ..flags()
            },
            |w| warned.borrow_mut().push(w.to_string()),
        )
        .unwrap();
        assert!(
            warned.borrow().iter().any(|w| w.contains("GPU.smi")),
            "{warned:?}"
        );
        let objs = objects(&o);
        assert!(objs.rbac.is_none());
        let job = serde_json::to_value(&objs.job).unwrap();
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "irsa-agent");
        assert_eq!(
            pod["imagePullSecrets"],
            serde_json::json!([{"name": "regcred"}])
        );
        assert_eq!(pod["hostPID"], false);
        assert_eq!(pod["hostIPC"], false);
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["privileged"], false);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], "1");
        assert_eq!(c["resources"]["requests"]["cpu"], "250m");
        assert_eq!(c["resources"]["requests"]["memory"], "128Mi");
        for (f, flag) in [
            (
                AgentFlags {
                    service_account: Some("Bad_Name".into()),
                    ..flags()
                },
                "--service-account-name",
            ),
            (
                AgentFlags {
                    image_pull_secrets: vec!["a b".into()],
                    ..flags()
                },
                "--image-pull-secret",
            ),
        ] {
            let e = AgentOptions::from_flags(f, |_| {}).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid {flag} ")), "{e}");
        }
    }
}
