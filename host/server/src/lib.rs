//! The recipe and bundle HTTP API behind `cnsctl serve` (the predecessor's `cnsd`) on axum,
//! hyper and tokio. One process shares the recipe data and one plugin runtime across requests
//! (each plugin call still gets a fresh sandboxed instance); beyond caches of answers that
//! are pure functions of their requests (resolved recipes, rendered bundles) it
//! keeps no state between requests, so it scales as replicas behind a Kubernetes Service.

mod api;
mod archive;
mod bundle;
mod cache;
mod error;
mod http;
mod limit;
mod metrics;
mod recipe;
mod upgrade;

use anyhow::{Context, Result};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cns_runtime::Catalog;
use error::ApiError;
use serde_json::{Value, json};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// How the server runs (`cnsctl serve`'s flags, mapped by the CLI).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to listen on (see [`listen_address`]).
    pub listen: SocketAddr,
    /// Requests per second one client may send to `/v1/` routes; 0: no limit.
    pub rate_limit: u32,
    /// Each client's token bucket: requests it may send at once.
    pub rate_burst: u32,
    /// Bundles rendered at once; `None`: the number of CPUs.
    pub max_renders: Option<usize>,
    /// Bundle requests that may wait for a render slot (503 beyond).
    pub max_queued: usize,
    /// How long a bundle request may wait for a render slot.
    pub queue_timeout: Duration,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body: usize,
    /// Time a request's whole body has to arrive (408 and the connection closed beyond).
    pub body_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Deadline of a bundle request (recipe and query requests: 30 s at most).
    pub request_timeout: Duration,
    /// After SIGTERM or SIGINT, serve this long with `/ready` answering 503.
    pub drain_delay: Duration,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Then wait at most this long for requests in flight.
    pub shutdown_timeout: Duration,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// One JSON access-log line per request on stderr.
    pub access_log: bool,
    /// Bytes of rendered bundles kept for repeated requests; 0: none.
    pub cache_bytes: usize,
}

/// Loads the plugin catalog, once, in the background after the socket is bound (the
/// server is ready when it returns; an error stops the server).
pub type PluginLoader = Box<dyn FnOnce() -> Result<Catalog> + Send>;

/// Limits and timeouts, from the configuration.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) max_renders: usize,
    pub(crate) max_queued: usize,
    pub(crate) queue_timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) access_log: bool,
}

/// What every request shares.
pub(crate) struct Shared {
    pub(crate) store: cns_recipe::Store,
    /// Set once the plugins are loaded; the server is ready from then on.
    pub(crate) catalog: OnceLock<Arc<Catalog>>,
    pub(crate) draining: AtomicBool,
    pub(crate) limiter: Option<limit::Limiter>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) renders: Arc<tokio::sync::Semaphore>,
    pub(crate) queued: AtomicUsize,
    pub(crate) cfg: Config,
    pub(crate) recipes: recipe::RecipeCache,
    /// Rendered bundles by request (`--cache-mib`).
    pub(crate) bundles: cache::BundleCache,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub(crate) trusted: Vec<limit::Network>,
    ids: AtomicU64,
    id_prefix: String,
}

/// The address from `--listen`, else `0.0.0.0:$PORT`, else `0.0.0.0:8080`.
pub fn listen_address(flag: Option<&str>) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let (what, text) = match flag {
        Some(l) => ("--listen", l.to_string()),
        None => match std::env::var("PORT") {
            Ok(p) if !p.is_empty() => {
                let port: u16 = p.parse().map_err(|_| {
                    anyhow::anyhow!("PORT `{}`: expected a port number", p.escape_debug())
                })?;
                ("PORT", format!("0.0.0.0:{port}"))
            }
            _ => ("default", "0.0.0.0:8080".to_string()),
        },
    };
    text.to_socket_addrs()
        .with_context(|| format!("{what} `{}`: expected HOST:PORT", text.escape_debug()))?
        .next()
        .with_context(|| format!("{what} `{text}`: resolves to no address"))
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// One JSON log line on stderr.
pub(crate) fn log(level: &str, msg: &str, fields: Value) {
    let mut line = json!({
        "time": cns_snapshot::rfc3339_utc(SystemTime::now()),
        "level": level,
        "msg": msg,
    });
    if let (Some(l), Value::Object(f)) = (line.as_object_mut(), fields) {
        l.extend(f);
    }
    eprintln!("{line}");
}

/// Run the server on `store`'s recipe data until SIGTERM or SIGINT, then drain and exit.
pub fn run(args: ServeConfig, store: cns_recipe::Store, load_plugins: PluginLoader) -> Result<()> {
    // Parse the recipe data now: broken data fails at start, not per request.
    store.registry()?;
    store.overlays()?;
    let addr = args.listen;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let max_renders = args.max_renders.unwrap_or(cores);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let shared = Arc::new(Shared {
        store,
        catalog: OnceLock::new(),
        draining: AtomicBool::new(false),
        limiter: (args.rate_limit > 0)
            .then(|| limit::Limiter::new(args.rate_limit, args.rate_burst)),
        metrics: metrics::Metrics::new(),
        renders: Arc::new(tokio::sync::Semaphore::new(max_renders)),
        queued: AtomicUsize::new(0),
        cfg: Config {
            max_renders,
            max_queued: args.max_queued,
            queue_timeout: args.queue_timeout,
            max_body: args.max_body,
            body_timeout: args.body_timeout,
            request_timeout: args.request_timeout,
            access_log: args.access_log,
        },
        recipes: Default::default(),
        bundles: cache::BundleCache::new(args.cache_bytes),
        trusted: args
            .trusted_proxies
            .iter()
            .map(|t| {
                limit::Network::parse(t).map_err(|e| anyhow::anyhow!("--trusted-proxy `{t}`: {e}"))
            })
            .collect::<Result<_>>()?,
        ids: AtomicU64::new(0),
        id_prefix: format!("{:08x}", random as u32),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("cnsctl-serve")
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(serve(shared, addr, args, load_plugins))
}

async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    args: ServeConfig,
    load_plugins: PluginLoader,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    log(
        "info",
        "listening",
        json!({ "address": local.to_string(), "version": env!("CARGO_PKG_VERSION"),
                "maxRenders": shared.cfg.max_renders }),
    );

    // Plugins load in the background; /ready answers 503 until they are in.
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<anyhow::Error>(1);
    let loader = shared.clone();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        match load_plugins() {
            Ok(catalog) => {
                let n = catalog.plugins().len();
                let _ = loader.catalog.set(Arc::new(catalog));
                log(
                    "info",
                    "ready",
                    json!({ "plugins": n, "loadMs": start.elapsed().as_secs_f64() * 1e3 }),
                );
            }
            Err(e) => {
                let _ = fatal_tx.blocking_send(e);
            }
        }
    });

    let drain_delay = args.drain_delay;
    let draining = shared.clone();
    let fatal: Arc<std::sync::Mutex<Option<anyhow::Error>>> = Arc::default();
    let fatal_in = fatal.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    let signal = async move {
        let why = tokio::select! {
            _ = term.recv() => "SIGTERM".to_string(),
            _ = tokio::signal::ctrl_c() => "SIGINT".to_string(),
            // Only a failed load: the loader drops the sender when it succeeds.
            Some(e) = fatal_rx.recv() => {
                let why = format!("{e:#}");
                *fatal_in.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                why
            }
        };
        draining.draining.store(true, Ordering::SeqCst);
        log(
            "info",
            "draining",
            json!({ "reason": why, "drainDelaySeconds": drain_delay.as_secs(),
                    "inFlight": draining.metrics.in_flight.get() }),
        );
        if fatal_in.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            tokio::time::sleep(drain_delay).await;
        }
    };
    let app = api::router(shared.clone());
    // hyper's HTTP/1 connections, each watched for graceful shutdown; a client that does not
    // finish sending its request headers within --header-timeout is disconnected.
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let header_timeout = args.header_timeout;
    let mut signal = std::pin::pin!(signal);
    // At most --max-connections connections at once: the loop takes a slot before it
    // accepts, and a connection gives its slot back when it ends; further clients wait in
    // the listen backlog.
    let slots = Arc::new(tokio::sync::Semaphore::new(args.max_connections.max(1)));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = &mut signal => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        log("warn", "accept failed", json!({ "error": e.to_string() }));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = tower::ServiceExt::map_request(
                    app.clone(),
                    move |mut req: axum::http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        req
                    },
                );
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(svc),
                    );
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = watched.await;
                    drop(slot);
                });
            }
            _ = &mut signal => break,
        }
    }
    // Stop accepting; let the connections finish their requests in flight.
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(args.shutdown_timeout) => {
            log("warn", "shutdown timeout: requests still in flight were abandoned",
                json!({ "inFlight": shared.metrics.in_flight.get() }));
        }
    }
    if let Some(e) = fatal.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e.context("cannot load the plugins"));
    }
    log("info", "stopped", json!({}));
    Ok(())
}

/// An `X-Request-Id` the client sent, if it is a plain token; else a new one.
fn request_id(req: &Request, shared: &Shared) -> String {
    if let Some(v) = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
    {
        return v.to_string();
    }
    let n = shared.ids.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n:08}", shared.id_prefix)
}

/// Decrements the in-flight gauge however the request ends (answered, cancelled).
struct InFlight<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A request method as a metric label: one of the methods HTTP defines, else `other`, so a
/// client sending made-up methods cannot grow `/metrics` (labels come from a fixed set; the
/// route label is the matched route or `unmatched`).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ]
    .into_iter()
    .zip([
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ])
    .find_map(|(known, label)| (known == *m).then_some(label))
    .unwrap_or("other")
}

/// Every request: its id, the per-client rate limit on /v1/ routes, errors rendered as the
/// API's JSON, metrics, and one access-log line.
pub(crate) async fn observe(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let id = request_id(&req, &shared);
    let method = req.method().to_string();
    let method_label = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let path = req.uri().path().to_string();
    let client = limit::client_ip(peer.ip(), req.headers(), &shared.trusted);
    shared.metrics.in_flight.inc();
    let _in_flight = InFlight(&shared.metrics.in_flight);

    let mut limit_headers: Vec<(HeaderName, String)> = Vec::new();
    let mut response = None;
    if let Some(limiter) = shared
        .limiter
        .as_ref()
        .filter(|_| route.starts_with("/v1/"))
    {
        let limit = ("x-ratelimit-limit", format!("{}", limiter.rate));
        match limiter.check(client, Instant::now()) {
            limit::Decision::Allow { remaining, reset } => {
                limit_headers.push((HeaderName::from_static(limit.0), limit.1));
                limit_headers.push((
                    HeaderName::from_static("x-ratelimit-remaining"),
                    remaining.to_string(),
                ));
                limit_headers.push((
                    HeaderName::from_static("x-ratelimit-reset"),
                    reset.as_secs_f64().ceil().to_string(),
                ));
            }
            limit::Decision::Deny { retry_after } => {
                shared.metrics.rate_limit_rejects.inc();
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                response = Some(
                    ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        error::RATE_LIMIT_EXCEEDED,
                        format!(
                            "rate limit exceeded: {} requests per second per client, burst {}; retry after {secs} s",
                            limiter.rate, limiter.burst
                        ),
                    )
                    .with_details(json!({ "limit": limiter.rate, "burst": limiter.burst, "client": client.to_string() }))
                    .retryable()
                    .with_header(header::RETRY_AFTER, secs)
                    .with_header(HeaderName::from_static(limit.0), limit.1)
                    .with_header(HeaderName::from_static("x-ratelimit-remaining"), 0)
                    .with_header(HeaderName::from_static("x-ratelimit-reset"), secs)
                    .into_response(),
                );
            }
        }
    }
    let mut response = match response {
        Some(r) => r,
        None => next.run(req).await,
    };

    // Errors, ours or axum's own (405 from a route, 404 from no route), as the API's JSON.
    let err = response.extensions_mut().remove::<ApiError>().or_else(|| {
        (response.status() == StatusCode::METHOD_NOT_ALLOWED).then(|| {
            let allow: Vec<&str> = api::ROUTES
                .iter()
                .filter(|(_, p, _)| *p == route)
                .map(|(m, _, _)| *m)
                .collect();
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                error::METHOD_NOT_ALLOWED,
                format!(
                    "{method} is not allowed on {route}; allowed: {}",
                    allow.join(", ")
                ),
            )
            .with_details(json!({ "method": method, "allowed": allow }))
        })
    });
    if let Some(err) = &err {
        let body = err.body(&id, &cns_snapshot::rfc3339_utc(SystemTime::now()));
        let headers = std::mem::take(response.headers_mut());
        response = json_response(err.status, &body);
        for (k, v) in headers.iter() {
            if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                response.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    for (k, v) in limit_headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }

    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    shared
        .metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            method: method_label.to_string(),
            path: route.clone(),
            status: status.to_string(),
        })
        .inc();
    shared
        .metrics
        .duration
        .get_or_create(&metrics::RouteLabels {
            method: method_label.to_string(),
            path: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    if shared.cfg.access_log {
        let mut fields = json!({
            "requestId": id, "method": method, "route": route, "path": path,
            "status": status, "durationMs": (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            "client": client.to_string(),
        });
        if let Some(e) = &err {
            fields["code"] = json!(e.code);
            if e.status.is_server_error() {
                fields["error"] = json!(e.message);
            }
        }
        log("info", "request", fields);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn metric_methods_come_from_a_fixed_set() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        for odd in ["FOO", "get", "X-1", "PROPFIND"] {
            assert_eq!(
                method_label(&Method::from_bytes(odd.as_bytes()).unwrap()),
                "other"
            );
        }
    }
}
