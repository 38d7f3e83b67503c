//! The routes: `/v1/recipe`, `/v1/query`, `/v1/bundle` (the predecessor's paths and
//! parameters), `/`, `/health`, `/ready`, `/metrics` and `/openapi.json`.

use super::error::{self, ApiError};
use super::{Shared, archive};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cns_bundle::BundleRequest;
use cns_recipe::{Criteria, RecipeResult};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The OpenAPI 3.1 document of this API.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// Recipe and query answers are cached by clients and proxies this long (the predecessor's).
const RECIPE_CACHE_CONTROL: &str = "public, max-age=600";

/// Deadline of a recipe or query request (the predecessor's `RecipeHandlerTimeout`).
const RECIPE_TIMEOUT: Duration = Duration::from_secs(30);

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
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            super::observe,
        ))
        .with_state(shared)
}

/// A JSON answer with 200.
pub(crate) fn json_ok(v: &Value) -> Response {
    super::json_response(StatusCode::OK, v)
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
    fn catalog(&self) -> Result<&Arc<cns_runtime::Catalog>, ApiError> {
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

// ---------------------------------------------------------------------------------------
// Parameters and bodies

/// The query string's parameters, in order, decoded.
fn params(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Content types a body may have: JSON, YAML, or none/plain text/form (what `curl -d`
/// sends), read as JSON or YAML.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let ok = matches!(
        essence,
        "application/json"
            | "application/yaml"
            | "application/x-yaml"
            | "text/yaml"
            | "text/x-yaml"
            | "text/plain"
            | "application/x-www-form-urlencoded"
            | ""
    ) || essence.ends_with("+json")
        || essence.ends_with("+yaml");
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type `{}` is not supported; send application/json or application/yaml",
                essence.escape_debug()
            ),
        )
        .with_details(json!({ "contentType": essence, "supported": ["application/json", "application/yaml"] })))
    }
}

/// The body, at most `limit` bytes (413 beyond).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            error::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        )
        .with_details(json!({ "limitBytes": limit }))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if c.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                cause = c.source();
            }
            Err(ApiError::invalid(format!(
                "cannot read the request body: {e}"
            )))
        }
    }
}

/// A JSON or YAML document (JSON is read as YAML, its superset).
fn document(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::invalid(format!("the request body is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("the request body is empty"));
    }
    serde_norway::from_str::<Value>(text)
        .map_err(|e| ApiError::invalid(format!("the request body is not valid JSON or YAML: {e}")))
}

/// Criteria fields and their query/body names (`gpu` is the predecessor's alias).
fn criteria(pairs: &[(String, String)], also: &[&str], source: &str) -> Result<Criteria, ApiError> {
    let mut got: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in pairs {
        let key = match k.as_str() {
            "gpu" => "accelerator",
            k @ ("service" | "accelerator" | "os" | "intent") => k,
            k if also.contains(&k) => continue,
            other => {
                let mut known = vec!["service", "accelerator", "gpu", "os", "intent"];
                known.extend_from_slice(also);
                return Err(ApiError::field(
                    other,
                    format!(
                        "unknown {source} `{}`; known: {}",
                        other.escape_debug(),
                        known.join(", ")
                    ),
                ));
            }
        };
        if let Some(prev) = got.insert(key, v.as_str())
            && prev != v
        {
            return Err(ApiError::field(
                key,
                format!(
                    "{source} `{key}` is given twice (`{}` and `{}`)",
                    prev.escape_debug(),
                    v.escape_debug()
                ),
            ));
        }
    }
    let opt = |k: &str| got.get(k).copied().filter(|v| !v.is_empty());
    Criteria::new(opt("service"), opt("accelerator"), opt("os"), opt("intent"))
        .map_err(recipe_error)
}

/// Criteria (and extra fields such as `selector`) from a body: flat, or the successor's
/// `RecipeCriteria` document with the fields under `spec`.
fn body_pairs(doc: Value) -> Result<Vec<(String, String)>, ApiError> {
    let Value::Object(mut map) = doc else {
        return Err(ApiError::invalid(
            "the request body must be an object of criteria (service, accelerator, os, intent)",
        ));
    };
    if let Some(spec) = map.remove("spec") {
        map.remove("kind");
        map.remove("apiVersion");
        map.remove("metadata");
        if !map.is_empty() {
            let extra: Vec<&String> = map.keys().collect();
            return Err(ApiError::field(
                extra[0],
                format!("unknown field `{}` beside `spec`", extra[0].escape_debug()),
            ));
        }
        return body_pairs(spec);
    }
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Null => Ok((k, String::new())),
            other => Err(ApiError::field(
                &k,
                format!("`{}` must be a string, not {other}", k.escape_debug()),
            )),
        })
        .collect()
}

/// A recipe-library error as an answer: unknown criteria are 400 naming the field and the
/// valid values; criteria the data has nothing for are 404 `NO_MATCHING_RULE`.
fn recipe_error(e: cns_recipe::Error) -> ApiError {
    use cns_recipe::Error as E;
    match &e {
        E::UnknownCriteria {
            field,
            value,
            valid,
        } => ApiError::field(field, e.to_string()).with_details(json!({
            "field": field, "value": value,
            "valid": valid.split(", ").collect::<Vec<_>>(),
        })),
        E::NoMatch { criteria } => ApiError::new(
            StatusCode::NOT_FOUND,
            error::NO_MATCHING_RULE,
            e.to_string(),
        )
        .with_details(json!({ "criteria": criteria })),
        E::Unspecialised {
            criterion,
            criteria,
            closest,
        } => ApiError::new(
            StatusCode::NOT_FOUND,
            error::NO_MATCHING_RULE,
            e.to_string(),
        )
        .with_details(json!({
            "criterion": criterion, "criteria": criteria,
            "closest": closest.split("; ").collect::<Vec<_>>(),
        })),
        _ => ApiError::internal(format!("recipe data: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// Recipes and queries

/// A resolved recipe, its JSON answer and (built on first query) its query view.
pub(crate) struct Resolved {
    recipe: RecipeResult,
    json: Bytes,
    view: OnceLock<Result<Value, String>>,
}

/// Resolved recipes by criteria: the data never changes while the server runs, and there
/// are few valid criteria, so the cache is bounded by the data.
pub(crate) type RecipeCache = Mutex<BTreeMap<Criteria, Arc<Resolved>>>;

async fn resolved(s: &Arc<Shared>, c: Criteria) -> Result<Arc<Resolved>, ApiError> {
    if let Some(r) = s.recipes.lock().unwrap_or_else(|p| p.into_inner()).get(&c) {
        return Ok(r.clone());
    }
    let shared = s.clone();
    let key = c.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<Arc<Resolved>, ApiError> {
        let recipe = cns_recipe::resolve(&shared.store, &c).map_err(recipe_error)?;
        let json = recipe.to_json();
        Ok(Arc::new(Resolved {
            recipe,
            json: Bytes::from(json),
            view: OnceLock::new(),
        }))
    });
    let r = tokio::time::timeout(RECIPE_TIMEOUT.min(s.cfg.request_timeout), work)
        .await
        .map_err(|_| timeout("resolving the recipe"))?
        .map_err(|e| ApiError::internal(format!("recipe resolution failed: {e}")))??;
    s.recipes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, r.clone());
    Ok(r)
}

fn timeout(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        error::TIMEOUT,
        format!("{what} took longer than the request deadline"),
    )
    .retryable()
}

fn recipe_response(r: &Resolved) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, RECIPE_CACHE_CONTROL),
        ],
        r.json.clone(),
    )
        .into_response()
}

async fn recipe_get(State(s): State<Arc<Shared>>, uri: Uri) -> Result<Response, ApiError> {
    let c = criteria(&params(&uri), &[], "query parameter")?;
    Ok(recipe_response(&*resolved(&s, c).await?))
}

async fn recipe_post(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = read_body(&headers, body, s.cfg.max_body).await?;
    let c = criteria(&body_pairs(document(&body)?)?, &[], "field")?;
    Ok(recipe_response(&*resolved(&s, c).await?))
}

/// The recipe as `/v1/query` sees it: the recipe's JSON plus `components`, a map from
/// component name to its reference with `values`, the merged values it is bundled with.
fn view(s: &Shared, r: &Resolved) -> Result<Value, String> {
    let mut v = serde_json::to_value(&r.recipe).map_err(|e| e.to_string())?;
    let mut components = Map::new();
    for c in &r.recipe.component_refs {
        let mut cv = serde_json::to_value(c).map_err(|e| e.to_string())?;
        cv["values"] = s.store.component_values(c).map_err(|e| e.to_string())?;
        components.insert(c.name.clone(), cv);
    }
    v["components"] = Value::Object(components);
    Ok(v)
}

/// The value at a dotted `selector` (numbers index lists), or 404 naming the first step
/// that is missing and what exists there.
fn select<'v>(root: &'v Value, selector: &str) -> Result<&'v Value, ApiError> {
    let mut at = root;
    let mut walked: Vec<&str> = Vec::new();
    for step in selector
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
    {
        let next = match at {
            Value::Object(m) => m.get(step),
            Value::Array(a) => step.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        let Some(next) = next else {
            // Under components.NAME.values, a key the recipe does not set is the chart's.
            let chart_default = match walked.as_slice() {
                ["components", name, "values", ..] => root["components"][name]
                    .get("version")
                    .and_then(Value::as_str)
                    .map(|v| format!("; the recipe leaves it to the default of chart {name} {v}")),
                _ => None,
            }
            .unwrap_or_default();
            let available: Vec<String> = match at {
                Value::Object(m) => m.keys().take(100).cloned().collect(),
                Value::Array(a) => (0..a.len().min(100)).map(|i| i.to_string()).collect(),
                _ => Vec::new(),
            };
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                error::NOT_FOUND,
                format!(
                    "selector `{}`: no `{}` at `{}`{chart_default}",
                    selector.escape_debug(),
                    step.escape_debug(),
                    if walked.is_empty() {
                        ".".to_string()
                    } else {
                        walked.join(".")
                    }
                ),
            )
            .with_details(json!({
                "selector": selector, "missing": step, "at": walked.join("."),
                "available": available,
            })));
        };
        walked.push(step);
        at = next;
    }
    Ok(at)
}

async fn query(s: Arc<Shared>, pairs: Vec<(String, String)>) -> Result<Response, ApiError> {
    let selector = pairs
        .iter()
        .find(|(k, _)| k == "selector")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            ApiError::field(
                "selector",
                "`selector` is required: a dotted path into the recipe, e.g. components.gpu-operator.values.driver.version",
            )
        })?;
    let c = criteria(&pairs, &["selector"], "parameter")?;
    let r = resolved(&s, c).await?;
    let view = r
        .view
        .get_or_init(|| view(&s, &r))
        .as_ref()
        .map_err(|e| ApiError::internal(format!("recipe data: {e}")))?;
    let value = select(view, &selector)?;
    let mut r = json_ok(value);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(RECIPE_CACHE_CONTROL),
    );
    Ok(r)
}

async fn query_get(State(s): State<Arc<Shared>>, uri: Uri) -> Result<Response, ApiError> {
    query(s, params(&uri)).await
}

async fn query_post(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = read_body(&headers, body, s.cfg.max_body).await?;
    let mut pairs = body_pairs(document(&body)?)?;
    // The selector may also come in the query string.
    pairs.extend(params(&uri).into_iter().filter(|(k, _)| k == "selector"));
    query(s, pairs).await
}

// ---------------------------------------------------------------------------------------
// Bundles

/// The bundle parameters: each is the `cnsctl bundle` flag of the same name. Only the
/// GitOps and scheduling flags are here; nothing that names a file on the server.
const BUNDLE_PARAMS: &[&str] = &[
    "deployer",
    "repo",
    "revision",
    "set",
    "system-node-selector",
    "system-node-toleration",
    "accelerated-node-selector",
    "accelerated-node-toleration",
    "bundlers",
    "argocd-namespace",
    "argocd-project",
    "argocd-create-project",
    "destination-server",
    "destination-name",
    "app-name",
    "source-secret",
    "cluster-values",
    "flux-drift",
    "registry-mirror",
];

/// A request's parameters (and the body's `bundlers`) as the bundle request `cnsctl bundle`
/// builds from the same flags; `cns_bundle` validates both alike.
fn bundle_request(
    pairs: &[(String, String)],
    bundlers: &[String],
) -> Result<BundleRequest, ApiError> {
    let mut r = BundleRequest::default();
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in pairs {
        let Some(name) = BUNDLE_PARAMS.iter().copied().find(|p| p == k) else {
            return Err(ApiError::field(
                k,
                format!(
                    "unknown query parameter `{}`; known: {}",
                    k.escape_debug(),
                    BUNDLE_PARAMS.join(", ")
                ),
            ));
        };
        let value = || Some(v.clone());
        let once = |seen: &mut Vec<&'static str>| {
            if seen.contains(&name) {
                return Err(ApiError::field(
                    name,
                    format!("`{name}` is given twice; it takes one value"),
                ));
            }
            seen.push(name);
            Ok(())
        };
        match name {
            "set" => r.sets.push(v.clone()),
            "system-node-selector" => r.system_node_selector.push(v.clone()),
            "system-node-toleration" => r.system_node_toleration.push(v.clone()),
            "accelerated-node-selector" => r.accelerated_node_selector.push(v.clone()),
            "accelerated-node-toleration" => r.accelerated_node_toleration.push(v.clone()),
            "cluster-values" => r.cluster_values.push(v.clone()),
            "bundlers" => r.bundlers.extend(v.split(',').map(str::to_string)),
            "argocd-create-project" => {
                once(&mut seen)?;
                r.argocd_create_project = match v.as_str() {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::field(
                            name,
                            format!("`{name}` is true or false, not `{}`", v.escape_debug()),
                        ));
                    }
                };
            }
            _ => {
                once(&mut seen)?;
                match name {
                    "deployer" => r.deployer = v.clone(),
                    "repo" => r.repo = value(),
                    "revision" => r.revision = value(),
                    "argocd-namespace" => r.argocd_namespace = value(),
                    "argocd-project" => r.argocd_project = value(),
                    "destination-server" => r.destination_server = value(),
                    "destination-name" => r.destination_name = value(),
                    "app-name" => r.app_name = value(),
                    "source-secret" => r.source_secret = value(),
                    "flux-drift" => r.flux_drift = v.clone(),
                    "registry-mirror" => r.registry_mirror = value(),
                    _ => unreachable!("every parameter of BUNDLE_PARAMS is mapped"),
                }
            }
        }
    }
    r.bundlers.extend(bundlers.iter().cloned());
    Ok(r)
}

/// A refused bundle request: 400 naming the field when the error is about one.
fn request_error(e: &cns_bundle::Error) -> ApiError {
    match e.field() {
        Some(field) => ApiError::field(field, e.to_string()),
        None => ApiError::invalid(e.to_string()),
    }
}

/// The recipe in a bundle request's body: the recipe itself, or `{recipe, bundlers}` as
/// the predecessor's Python client sends it.
fn bundle_body(body: &[u8]) -> Result<(RecipeResult, Vec<String>), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::invalid(format!("the request body is not UTF-8: {e}")))?;
    let bad = |e: cns_recipe::Error| ApiError::field("recipe", e.to_string());
    // The usual body is the recipe itself: read it once. Only a body that is not a recipe is
    // read again, as a document, to see whether it wraps one (a wrapper has no `kind`, and a
    // recipe allows no unknown fields, so a wrapper never reads as a recipe).
    let direct = match RecipeResult::from_yaml("request body", text) {
        Ok(recipe) => return Ok((recipe, Vec::new())),
        Err(e) => e,
    };
    match document(body)? {
        Value::Object(mut map) if map.contains_key("recipe") => {
            let recipe = map.remove("recipe").unwrap_or_default();
            let bundlers = match map.remove("bundlers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_string()).collect(),
                Some(Value::Array(a)) => a
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        other => Err(ApiError::field(
                            "bundlers",
                            format!("`bundlers` lists component names, not {other}"),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(ApiError::field(
                        "bundlers",
                        format!("`bundlers` is a list of component names, not {other}"),
                    ));
                }
            };
            if let Some(k) = map.keys().next() {
                return Err(ApiError::field(
                    k,
                    format!(
                        "unknown field `{}` beside `recipe` (known: recipe, bundlers)",
                        k.escape_debug()
                    ),
                ));
            }
            let text = serde_norway::to_string(&recipe)
                .map_err(|e| ApiError::invalid(format!("the recipe cannot be read: {e}")))?;
            Ok((
                RecipeResult::from_yaml("request body: recipe", &text).map_err(bad)?,
                bundlers,
            ))
        }
        _ => Err(bad(direct)),
    }
}

/// Whether the client asked for a `.tar.gz` rather than a zip.
fn wants_tar_gz(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .find(|v| {
            matches!(
                *v,
                "application/zip"
                    | "application/gzip"
                    | "application/x-gzip"
                    | "application/x-tar+gzip"
            )
        })
        .is_some_and(|v| v != "application/zip")
}

/// Whether the client accepts a gzip-encoded body (`Accept-Encoding`, RFC 9110 §12.5.3):
/// `gzip` (or `x-gzip`) with a weight above 0, or `*` above 0 when gzip is not named.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut named = None;
    let mut any = false;
    for item in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
        let accepted = weight.is_some_and(|q| q > 0.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => named = Some(named.unwrap_or(false) || accepted),
            "*" => any |= accepted,
            _ => {}
        }
    }
    named.unwrap_or(any)
}

/// A render slot, waiting in the queue if all are busy (503 if the queue is full or the
/// wait too long).
async fn render_slot(s: &Shared) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    let busy = |why: String| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error::SERVER_BUSY, why)
            .retryable()
            .with_header(header::RETRY_AFTER, 1)
    };
    if let Ok(p) = s.renders.clone().try_acquire_owned() {
        return Ok(p);
    }
    if s.queued.fetch_add(1, Ordering::SeqCst) >= s.cfg.max_queued {
        s.queued.fetch_sub(1, Ordering::SeqCst);
        return Err(busy(format!(
            "all {} render slots are busy and {} requests are queued",
            s.cfg.max_renders, s.cfg.max_queued
        )));
    }
    s.metrics.renders_queued.inc();
    let got = tokio::time::timeout(s.cfg.queue_timeout, s.renders.clone().acquire_owned()).await;
    s.metrics.renders_queued.dec();
    s.queued.fetch_sub(1, Ordering::SeqCst);
    match got {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(busy("the server is shutting down".into())),
        Err(_) => Err(busy(format!(
            "no render slot came free within {:?}",
            s.cfg.queue_timeout
        ))),
    }
}

async fn bundle(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let catalog = s.catalog()?.clone();
    check_content_type(&headers)?;
    let pairs = params(&uri);
    let body = read_body(&headers, body, s.cfg.max_body).await?;
    let (recipe, bundlers) = bundle_body(&body)?;
    let request = bundle_request(&pairs, &bundlers)?;
    let (mut opts, _) = request.validate(&recipe).map_err(|e| request_error(&e))?;
    let tar_gz = wants_tar_gz(&headers);
    // A zip is sent gzip-encoded to clients that take it (a .tar.gz is compressed already).
    let gzip = !tar_gz && accepts_gzip(&headers);

    let permit = render_slot(&s).await?;
    // Alone on the machine, a bundle renders its components on threads; with others
    // rendering, one thread per bundle keeps the cores for them.
    opts.parallel = s.renders.available_permits() + 1 >= s.cfg.max_renders;
    let shared = s.clone();
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        shared.metrics.renders_in_flight.inc();
        let tree = cns_bundle::generate(&recipe, &shared.store, catalog.as_ref(), &opts);
        shared.metrics.renders_in_flight.dec();
        let tree = tree.map_err(anyhow::Error::from)?;
        let bytes = if tar_gz {
            archive::tar_gz(&tree)?
        } else if gzip {
            archive::gzip(&archive::zip(&tree)?)?
        } else {
            archive::zip(&tree)?
        };
        anyhow::Ok((tree.files().len(), tree.size(), bytes))
    });
    let done = tokio::time::timeout(s.cfg.request_timeout, work)
        .await
        .map_err(|_| timeout("rendering the bundle"))?
        .map_err(|e| ApiError::internal(format!("the render task failed: {e}")))?;
    let (files, size, bytes) = done.map_err(|e| {
        let err = error::classify(&e);
        if let Some(r) = error::plugin_error(&e) {
            s.metrics
                .plugin_errors
                .get_or_create(&super::metrics::PluginLabels {
                    plugin: r.plugin().unwrap_or("unknown").to_string(),
                    kind: error::plugin_error_kind(r).to_string(),
                })
                .inc();
        }
        err
    })?;
    s.metrics.bundles.inc();
    let (content_type, name) = if tar_gz {
        ("application/gzip", "bundles.tar.gz")
    } else {
        ("application/zip", "bundles.zip")
    };
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    for (k, v) in [
        ("x-bundle-files", files.to_string()),
        ("x-bundle-size", size.to_string()),
        ("x-bundle-duration", format!("{:?}", start.elapsed())),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn criteria_from_query() {
        let c = criteria(&pairs("gpu=h100&service=eks"), &[], "query parameter").unwrap();
        assert_eq!(
            (c.service.as_str(), c.accelerator.as_str()),
            ("eks", "h100")
        );
        let e = criteria(&pairs("gpu=h100&accelerator=a100"), &[], "query parameter").unwrap_err();
        assert_eq!(e.code, error::INVALID_REQUEST);
        assert!(e.message.contains("given twice"), "{}", e.message);
        let e = criteria(&pairs("accelrator=h100"), &[], "query parameter").unwrap_err();
        assert!(
            e.message.contains("unknown query parameter `accelrator`"),
            "{}",
            e.message
        );
        let e = criteria(&pairs("service=foo"), &[], "query parameter").unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "service");
    }

    #[test]
    fn bundle_parameters_are_the_bundle_flags() {
        let r = bundle_request(
            &pairs("deployer=argocd&set=gpu-operator:driver.version=1&set=a:b=c&argocd-create-project=true&bundlers=a,b"),
            &["cert-manager".into()],
        )
        .unwrap();
        assert_eq!(
            r,
            BundleRequest {
                deployer: "argocd".into(),
                sets: vec!["gpu-operator:driver.version=1".into(), "a:b=c".into()],
                argocd_create_project: true,
                bundlers: vec!["a".into(), "b".into(), "cert-manager".into()],
                ..Default::default()
            }
        );
        let e = bundle_request(&pairs("repo=a&repo=b"), &[]).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "repo");
        let e = bundle_request(&pairs("argocd-create-project=yes"), &[]).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "argocd-create-project");
        // Flags that name server files are not parameters.
        for p in [
            "output",
            "sign-key",
            "plugin",
            "verify-key",
            "recipes-dir",
            "force",
        ] {
            let e = bundle_request(&pairs(&format!("{p}=/etc/passwd")), &[]).unwrap_err();
            assert_eq!(e.details.unwrap()["field"], p);
        }
        // A value that looks like a flag stays a value: the repo, never an output path.
        let r = bundle_request(&pairs("repo=--output=/tmp/x"), &[]).unwrap();
        assert_eq!(r.repo.as_deref(), Some("--output=/tmp/x"));
        let opts = r.options().unwrap();
        assert_eq!(opts.deployer_options["repo"], "--output=/tmp/x");
        // Errors from validation name their field.
        let r = bundle_request(&pairs("destination-server=http://x"), &[]).unwrap();
        let e = request_error(&r.options().unwrap_err());
        assert_eq!(e.details.unwrap()["field"], "destination-server");
    }

    #[test]
    fn selectors_walk_maps_and_lists() {
        let v = json!({"components": {"a": {"values": {"x": [1, {"y": true}]}}}});
        assert_eq!(
            select(&v, "components.a.values.x.1.y").unwrap(),
            &json!(true)
        );
        assert_eq!(select(&v, ".components.a").unwrap(), &v["components"]["a"]);
        let e = select(&v, "components.b.values").unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.details.unwrap()["available"], json!(["a"]));
    }

    #[test]
    fn body_criteria_flat_or_spec() {
        let p = body_pairs(json!({"service": "eks", "gpu": "h100"})).unwrap();
        assert_eq!(p.len(), 2);
        let p = body_pairs(
            json!({"kind": "RecipeCriteria", "apiVersion": "aicr.run/v1alpha2",
            "spec": {"service": "gke"}}),
        )
        .unwrap();
        assert_eq!(p, [("service".to_string(), "gke".to_string())]);
        assert!(body_pairs(json!({"service": 1})).is_err());
        assert!(body_pairs(json!(["eks"])).is_err());
    }

    #[test]
    fn accept_picks_the_archive() {
        let mut h = HeaderMap::new();
        assert!(!wants_tar_gz(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/gzip"));
        assert!(wants_tar_gz(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/zip, application/gzip;q=0.5"),
        );
        assert!(!wants_tar_gz(&h));
    }

    #[test]
    fn accept_encoding_decides_gzip() {
        let with = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            }
            accepts_gzip(&h)
        };
        assert!(!with(&[]));
        assert!(with(&["gzip"]));
        assert!(with(&["GZIP"]));
        assert!(with(&["x-gzip"]));
        assert!(with(&["gzip, deflate, br"]));
        assert!(with(&["br;q=1.0, gzip;q=0.8"]));
        assert!(with(&["br", "gzip"]));
        assert!(with(&["*"]));
        assert!(with(&["identity, *;q=0.1"]));
        assert!(!with(&["gzip;q=0"]));
        assert!(!with(&["gzip; q=0.000"]));
        assert!(!with(&["identity"]));
        assert!(!with(&["br, deflate"]));
        assert!(!with(&["*, gzip;q=0"]));
        assert!(!with(&["*;q=0"]));
        assert!(!with(&["gzip;q=abc"]));
        assert!(with(&["gzip;q=0, x-gzip"]));
    }
}
