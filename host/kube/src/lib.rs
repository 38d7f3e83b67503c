//! cnsctl's Kubernetes edge, on kube's client: finding the cluster (`--kubeconfig`,
//! `KUBECONFIG`, `~/.kube/config`, in-cluster), `cm://NAMESPACE/NAME` ConfigMap storage
//! ([`cm`]), documents at a file or `cm://` location ([`location`]), the K8s snapshot
//! collector ([`collect`]), the snapshot agent Job ([`agent`]) and what a cluster runs
//! ([`installed`]).
//!
//! The API is blocking: each [`Cluster`] owns a small Tokio runtime and runs kube's async
//! calls on it, so the CLI stays synchronous like the rest of cnsctl.

pub mod agent;
pub mod cm;
pub mod collect;
mod error;
pub mod installed;
pub mod location;

pub use error::{Error, Result};

use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A connection to one cluster's API server.
pub struct Cluster {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    /// Where the configuration came from (for messages): a kubeconfig path or `in-cluster`.
    pub source: String,
    /// The namespace of the kubeconfig's context (or the service account's).
    pub default_namespace: String,
}

/// Which configuration [`Cluster::connect`] would use, without reading it: the explicit
/// path, `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account. `None` when
/// there is none (no cluster configured).
pub fn config_source(explicit: Option<&Path>) -> Option<String> {
    if let Some(p) = explicit {
        return Some(p.display().to_string());
    }
    if let Some(k) = std::env::var_os("KUBECONFIG").filter(|k| !k.is_empty()) {
        return Some(k.to_string_lossy().into_owned());
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".kube/config");
        if p.is_file() {
            return Some(p.display().to_string());
        }
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Some("in-cluster".into());
    }
    None
}

impl Cluster {
    /// Connect using `explicit` (a kubeconfig file) or the usual search: `KUBECONFIG`,
    /// `~/.kube/config`, in-cluster. Nothing is sent to the server yet.
    pub fn connect(explicit: Option<&Path>) -> Result<Self> {
        let source = config_source(explicit).ok_or(Error::NoCluster)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config {
                source_name: source.clone(),
                message: format!("cannot start the I/O runtime: {e}"),
            })?;
        let bad = |message: String| Error::Config {
            source_name: source.clone(),
            message,
        };
        let mut config = rt.block_on(async {
            if let Some(p) = explicit {
                let kc = Kubeconfig::read_from(p).map_err(|e| bad(error_chain(&e)))?;
                Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| bad(error_chain(&e)))
            } else if source == "in-cluster" {
                Config::incluster().map_err(|e| bad(error_chain(&e)))
            } else {
                Config::from_kubeconfig(&KubeConfigOptions::default())
                    .await
                    .map_err(|e| bad(error_chain(&e)))
            }
        })?;
        config.connect_timeout = Some(Duration::from_secs(10));
        config.read_timeout = Some(Duration::from_secs(60));
        config.write_timeout = Some(Duration::from_secs(30));
        let default_namespace = config.default_namespace.clone();
        let client = {
            let _guard = rt.enter();
            kube::Client::try_from(config).map_err(|e| bad(error_chain(&e)))?
        };
        Ok(Cluster {
            rt,
            client,
            source,
            default_namespace,
        })
    }

    /// Run a kube future to completion.
    pub(crate) fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Create `obj` with `fieldValidation=Strict`: the API server refuses a field it does not
    /// know (kube's `PostParams` cannot ask for it; the query is added to kube's request).
    pub(crate) fn create_strict<K>(&self, obj: &K) -> std::result::Result<K, kube::Error>
    where
        K: kube::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned,
    {
        let url = K::url_path(&(), obj.meta().namespace.as_deref());
        let body = serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?;
        let req = kube::core::Request::new(url)
            .create(&kube::api::PostParams::default(), body)
            .map_err(kube::Error::BuildRequest)?;
        self.block(self.client.request::<K>(strict(req)?))
    }

    /// Replace `obj` (with its resourceVersion) with `fieldValidation=Strict`.
    pub(crate) fn replace_strict<K>(&self, obj: &K) -> std::result::Result<K, kube::Error>
    where
        K: kube::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned,
    {
        let url = K::url_path(&(), obj.meta().namespace.as_deref());
        let name = obj.meta().name.clone().unwrap_or_default();
        let body = serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?;
        let req = kube::core::Request::new(url)
            .replace(&name, &kube::api::PostParams::default(), body)
            .map_err(kube::Error::BuildRequest)?;
        self.block(self.client.request::<K>(strict(req)?))
    }

    /// The kube client (for callers with their own requests).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }
}

/// `req` with `fieldValidation=Strict` added to its query.
fn strict(
    mut req: http::Request<Vec<u8>>,
) -> std::result::Result<http::Request<Vec<u8>>, kube::Error> {
    let uri = req.uri().to_string();
    let sep = if uri.contains('?') { '&' } else { '?' };
    *req.uri_mut() = format!("{uri}{sep}fieldValidation=Strict")
        .parse()
        .map_err(|e: http::uri::InvalidUri| {
            kube::Error::BuildRequest(kube::core::request::Error::Validation(e.to_string()))
        })?;
    Ok(req)
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A duration as Go prints it (`5m0s`, `1h0m0s`, `30s`), as the predecessor's progress lines.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Parse a Go-style duration (`5m`, `90s`, `1h30m`, or plain seconds) of 1 s to 24 h, as
/// the predecessor's `--timeout` takes; the error says what is expected.
pub fn parse_go_duration(s: &str) -> std::result::Result<Duration, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => {
                return Err(format!(
                    "`{s}`: expected a duration such as 5m, 90s or 1h30m"
                ));
            }
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}`: expected a duration such as 5m, 90s or 1h30m"))?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    if !num.is_empty() || total == 0 || total > 24 * 3600 {
        return Err(format!(
            "`{s}`: expected a duration between 1s and 24h such as 5m, 90s or 1h30m"
        ));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(42)), "42s");
    }

    #[test]
    fn parsed_go_durations() {
        let parse = parse_go_duration;
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert!(parse("5x").is_err());
        assert!(parse("5").is_ok());
        assert!(parse("0s").is_err());
        assert!(parse("m").is_err());
        assert!(parse("25h").is_err());
    }
}
