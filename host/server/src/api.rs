//! The routes: `/v1/recipe` and `/v1/query` ([`crate::recipe`]), `/v1/bundle`
//! ([`crate::bundle`]) with the predecessor's paths and parameters, and `/`, `/health`,
//! `/ready`, `/metrics` and `/openapi.json` here.

use crate::Shared;
use crate::bundle::bundle;
use crate::error::{self, ApiError};
use crate::http::json_ok;
use crate::recipe::{query_get, query_post, recipe_get, recipe_post};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The OpenAPI 3.1 document of this API.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// Every route: method, path, what it answers.
pub(crate) const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/", "service, version and routes"),
    ("GET", "/v1/recipe", "the recipe for criteria in the query"),
    (
        "POST",
        "/v1/recipe",
        "the recipe for criteria in the body (JSON or YAML)",
    ),
    (
        "GET",
        "/v1/query",
        "one value of the recipe (criteria and selector in the query)",
    ),
    (
        "POST",
        "/v1/query",
        "one value of the recipe (criteria and selector in the body)",
    ),
    (
        "POST",
        "/v1/bundle",
        "the bundle of a recipe, as a zip (or tar.gz)",
    ),
    (
        "POST",
        "/v1/upgrade-check",
        "whether a cluster can move from one recipe to another: a verdict per component",
    ),
    ("GET", "/health", "liveness"),
    (
        "GET",
        "/ready",
        "readiness: 503 while plugins load or the server drains",
    ),
    ("GET", "/metrics", "Prometheus metrics"),
    (
        "GET",
        "/openapi.json",
        "this API as an OpenAPI 3.1 document",
    ),
];

/// The router, with the request middleware around every route.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/v1/recipe", get(recipe_get).post(recipe_post))
        .route("/v1/query", get(query_get).post(query_post))
        .route("/v1/bundle", post(bundle))
        .route("/v1/upgrade-check", post(crate::upgrade::upgrade_check))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::observe,
        ))
        .with_state(shared)
}

async fn root() -> Response {
    let routes: Vec<Value> = ROUTES
        .iter()
        .map(|(m, p, d)| json!({ "method": m, "path": p, "description": d }))
        .collect();
    json_ok(&json!({
        "service": "cnsctl",
        "version": env!("CARGO_PKG_VERSION"),
        "wit": cns_runtime::WIT_VERSION,
        "routes": routes,
    }))
}

async fn health() -> Response {
    json_ok(&json!({ "status": "healthy" }))
}

async fn ready(State(s): State<Arc<Shared>>) -> Result<Response, ApiError> {
    s.ready()?;
    Ok(json_ok(&json!({ "status": "ready" })))
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        error::NOT_FOUND,
        format!("no route {}; GET / lists the routes", uri.path()),
    )
}

fn unavailable(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        error::SERVICE_UNAVAILABLE,
        why,
    )
    .retryable()
    .with_header(header::RETRY_AFTER, 1)
}

impl Shared {
    /// The plugins, or 503 while they load. Draining does not refuse requests: the server
    /// serves everything that reaches it until it stops accepting connections.
    pub(crate) fn catalog(&self) -> Result<&Arc<cns_runtime::Catalog>, ApiError> {
        self.catalog
            .get()
            .ok_or_else(|| unavailable("the plugins are still loading"))
    }

    /// `/ready`: 503 while the plugins load or the server drains (so load balancers stop
    /// sending it new requests).
    fn ready(&self) -> Result<(), ApiError> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(unavailable("the server is shutting down"));
        }
        self.catalog().map(|_| ())
    }
}
