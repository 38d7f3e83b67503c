//! API errors: the predecessor's JSON shape `{code, message, details, requestId, timestamp,
//! retryable}` with its codes, and the status each one answers with.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Malformed request: a bad parameter, criteria, recipe, flag or body.
pub(crate) const INVALID_REQUEST: &str = "INVALID_REQUEST";
/// The criteria are valid but no recipe data is specialised for them.
pub(crate) const NO_MATCHING_RULE: &str = "NO_MATCHING_RULE";
/// No such route, or no value at a query selector.
pub(crate) const NOT_FOUND: &str = "NOT_FOUND";
/// The route exists, the method does not.
pub(crate) const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// The client's token bucket is empty.
pub(crate) const RATE_LIMIT_EXCEEDED: &str = "RATE_LIMIT_EXCEEDED";
/// The body is larger than `--max-body-kib`.
pub(crate) const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
/// The body did not arrive in time (408).
pub(crate) const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
/// The body's Content-Type is not JSON or YAML.
pub(crate) const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
/// Plugins still loading, or the server is draining for shutdown.
pub(crate) const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
/// Every render slot busy and the queue full, or the wait for a slot too long.
pub(crate) const SERVER_BUSY: &str = "SERVER_BUSY";
/// The request ran past `--request-timeout`.
pub(crate) const TIMEOUT: &str = "TIMEOUT";
/// A plugin ran past its deadline.
pub(crate) const PLUGIN_TIMEOUT: &str = "PLUGIN_TIMEOUT";
/// A plugin crashed, ran out of memory or returned invalid output.
pub(crate) const PLUGIN_FAILED: &str = "PLUGIN_FAILED";
/// A fault of the server itself.
pub(crate) const INTERNAL_ERROR: &str = "INTERNAL_ERROR";

/// An error answer. The request id and timestamp are added by the request middleware
/// (`super::observe`), which finds this value in the response's extensions.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
    pub(crate) retryable: bool,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`; not retryable, no details.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retryable: false,
            headers: Vec::new(),
        }
    }

    /// 400 `INVALID_REQUEST` about one query parameter or body field (`body` for the body
    /// as a whole): every 400 names what it refuses in `details.field`.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        // A parameter or key whose name is empty is still named.
        let field = if field.is_empty() {
            "(empty name)"
        } else {
            field
        };
        Self::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, message)
            .with_details(json!({ "field": field }))
    }

    /// 500 `INTERNAL_ERROR`: never for anything a client sent.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR, message)
    }

    /// With `details` (an object).
    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Marked retryable (the same request may succeed later).
    pub(crate) fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// With a response header (e.g. `Retry-After`).
    pub(crate) fn with_header(mut self, name: HeaderName, value: impl ToString) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            self.headers.push((name, v));
        }
        self
    }

    /// The JSON body for request `id` at `timestamp`.
    pub(crate) fn body(&self, id: &str, timestamp: &str) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "details": self.details.clone().unwrap_or(Value::Null),
            "requestId": id,
            "timestamp": timestamp,
            "retryable": self.retryable,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        for (k, v) in &self.headers {
            r.headers_mut().insert(k.clone(), v.clone());
        }
        r.extensions_mut().insert(self);
        r
    }
}

/// Map an error of rendering a bundle to an answer: the client's mistakes are 400s (naming
/// the flag they are about, else `recipe`: what the bundle is made from), plugin deadlines
/// 504, plugin faults 502, anything else 500.
pub(crate) fn classify(err: &anyhow::Error) -> ApiError {
    let message = chain(err);
    if let Some(r) = plugin_error(err) {
        return runtime(r, message);
    }
    for e in err.chain() {
        if let Some(b) = e.downcast_ref::<cns_bundle::Error>() {
            use cns_bundle::Error as B;
            use cns_files::Error as F;
            match b {
                B::Files(F::BadPath { .. } | F::Conflict { .. }) | B::BadValues { .. } => {
                    return ApiError::new(StatusCode::BAD_GATEWAY, PLUGIN_FAILED, message);
                }
                B::Files(F::Write { .. } | F::OutputExists { .. }) => {
                    return ApiError::internal(message);
                }
                _ => return ApiError::field(b.field().unwrap_or("recipe"), message),
            }
        }
        if e.downcast_ref::<cns_recipe::Error>().is_some() {
            return ApiError::field("recipe", message);
        }
    }
    ApiError::field("recipe", message)
}

/// The plugin runtime's error in `err`'s chain: itself, or inside a bundle error about a
/// component's bundler or the deployer.
pub(crate) fn plugin_error(err: &anyhow::Error) -> Option<&cns_runtime::Error> {
    err.chain().find_map(|c| {
        c.downcast_ref::<cns_runtime::Error>().or_else(|| {
            c.downcast_ref::<cns_bundle::Error>().and_then(|b| match b {
                cns_bundle::Error::Component { error, .. }
                | cns_bundle::Error::Deployer { error, .. } => Some(error),
                _ => None,
            })
        })
    })
}

fn runtime(r: &cns_runtime::Error, message: String) -> ApiError {
    use cns_runtime::Error as R;
    let plugin = r.plugin().unwrap_or_default().to_string();
    match r {
        R::Timeout { .. } => ApiError::new(StatusCode::GATEWAY_TIMEOUT, PLUGIN_TIMEOUT, message)
            .with_details(json!({ "plugin": plugin }))
            .retryable(),
        R::PluginReturned {
            kind: cns_runtime::Refusal::InvalidInput | cns_runtime::Refusal::Unsupported,
            ..
        } => ApiError::field("recipe", message)
            .with_details(json!({ "field": "recipe", "plugin": plugin })),
        R::Engine(_) | R::UnsafeCache { .. } => ApiError::internal(message),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, PLUGIN_FAILED, message)
            .with_details(json!({ "plugin": plugin, "kind": plugin_error_kind(r) })),
    }
}

/// A short name for the metrics label of a plugin failure.
pub(crate) fn plugin_error_kind(r: &cns_runtime::Error) -> &'static str {
    use cns_runtime::Error as R;
    match r {
        R::Timeout { .. } => "timeout",
        R::MemoryLimit { .. } => "memory",
        R::PluginTrapped { .. } => "trap",
        R::PluginReturned { .. } if r.is_refusal() => "refused",
        R::PluginReturned { .. } => "error",
        R::BadOutput { .. } => "bad_output",
        _ => "load",
    }
}

/// The error and its causes on one line, `: `-separated, without repeats.
pub(crate) fn chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in err.chain() {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
