//! Errors of the Kubernetes edge: each names the object or URI and the API's reason.

/// What went wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No kubeconfig and not in a cluster.
    #[error(
        "no Kubernetes cluster configured (no --kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster service account)"
    )]
    NoCluster,
    /// An agent option is malformed.
    #[error("invalid {flag} `{value}`: {reason}")]
    InvalidOption {
        /// The flag.
        flag: &'static str,
        /// The value, escaped.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// A node selector or toleration flag that does not parse (the bundle's flags read alike).
    #[error(transparent)]
    Flag(#[from] cns_recipe::scheduling::FlagError),
    /// A flag the agent cannot run without is missing.
    #[error("{flag} is needed: {reason}")]
    MissingOption {
        /// The flag.
        flag: &'static str,
        /// What it is for.
        reason: &'static str,
    },
    /// The configuration could not be loaded.
    #[error("cannot use the cluster configuration from {source_name}: {message}")]
    Config {
        /// Where it came from.
        source_name: String,
        /// Why.
        message: String,
    },
    /// The API server answered with an error status.
    #[error("{what}: {reason} ({code}): {message}")]
    Api {
        /// The object or URI (`cm://ns/name`, `Job gpu-operator/cns`).
        what: String,
        /// HTTP status.
        code: u16,
        /// The API's reason (`Forbidden`, `NotFound`, `AlreadyExists`, …).
        reason: String,
        /// The API's message.
        message: String,
    },
    /// The API server could not be reached or answered something unreadable.
    #[error("{what}: {message}")]
    Transport {
        /// The object or URI.
        what: String,
        /// Why.
        message: String,
    },
    /// A `cm://` URI that is not `cm://NAMESPACE/NAME` with valid names.
    #[error("invalid ConfigMap URI `{uri}`: {reason} (expected cm://NAMESPACE/NAME)")]
    BadUri {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The ConfigMap lacks the document.
    #[error("{uri}: the ConfigMap has no `{key}` data key (it has: {keys})")]
    MissingKey {
        /// The URI.
        uri: String,
        /// The key looked for.
        key: String,
        /// The keys it has.
        keys: String,
    },
    /// An object of a name cnsctl uses exists and cnsctl did not make it.
    #[error(
        "{what} exists and was not made by cnsctl (it lacks the app.kubernetes.io/managed-by=cnsctl label); it is left as it is: remove it, or choose another name or namespace"
    )]
    NotOurs {
        /// `Kind namespace/name`, or the `cm://` URI.
        what: String,
    },
    /// The agent Job failed.
    #[error("snapshot agent Job {job} failed: {reason}{logs}")]
    JobFailed {
        /// `namespace/name`.
        job: String,
        /// The Job's or pod's reason.
        reason: String,
        /// The pod's log tail, prefixed with a newline, or empty.
        logs: String,
    },
    /// The agent Job did not finish in time.
    #[error("timed out after {timeout} waiting for snapshot agent Job {job}{state}")]
    Timeout {
        /// `namespace/name`.
        job: String,
        /// Go-style duration.
        timeout: String,
        /// The pod's state when given up, prefixed with `: `, or empty.
        state: String,
    },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Map a kube error for `what`.
    pub(crate) fn kube(what: impl Into<String>, e: kube::Error) -> Self {
        let what = what.into();
        match e {
            kube::Error::Api(s) => Error::Api {
                what,
                code: s.code,
                reason: if s.reason.is_empty() {
                    format!("HTTP {}", s.code)
                } else {
                    s.reason.clone()
                },
                message: s.message.clone(),
            },
            other => Error::Transport {
                what,
                message: crate::error_chain(&other),
            },
        }
    }

    /// The HTTP status of an API error.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}
