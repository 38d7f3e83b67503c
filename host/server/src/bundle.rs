//! `/v1/bundle`: the request's parameters and body as a `cns_bundle::BundleRequest`, a
//! render slot, the render on the blocking pool within the deadline, and the bundle as a
//! zip (gzip-encoded when the client takes it) or a `.tar.gz`.

use crate::cache::{self, Answer, Form};
use crate::error::{self, ApiError};
use crate::http::{check_content_type, off_loop, params, parse_document, read_body, timeout};
use crate::{Shared, archive};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use cns_bundle::BundleRequest;
use cns_recipe::RecipeResult;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The bundle parameters: each is the `cnsctl bundle` flag of the same name. Only the
/// GitOps and scheduling flags are here; nothing that names a file on the server.
const BUNDLE_PARAMS: &[&str] = &[
    "deployer",
    "repo",
    "revision",
    "set",
    "set-string",
    "set-json",
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
    "plain-http",
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
            "set-string" => r.set_strings.push(v.clone()),
            "set-json" => r.set_jsons.push(v.clone()),
            "system-node-selector" => r.system_node_selector.push(v.clone()),
            "system-node-toleration" => r.system_node_toleration.push(v.clone()),
            "accelerated-node-selector" => r.accelerated_node_selector.push(v.clone()),
            "accelerated-node-toleration" => r.accelerated_node_toleration.push(v.clone()),
            "cluster-values" => r.cluster_values.push(v.clone()),
            "bundlers" => r.bundlers.extend(v.split(',').map(str::to_string)),
            "argocd-create-project" | "plain-http" => {
                once(&mut seen)?;
                let on = match v.as_str() {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::field(
                            name,
                            format!("`{name}` is true or false, not `{}`", v.escape_debug()),
                        ));
                    }
                };
                if name == "plain-http" {
                    r.plain_http = on;
                } else {
                    r.argocd_create_project = on;
                }
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
        None => ApiError::field("query", e.to_string()),
    }
}

/// The recipe in a bundle request's body: the recipe itself, or `{recipe, bundlers}` as
/// the predecessor's Python client sends it.
fn bundle_body(body: &[u8]) -> Result<(RecipeResult, Vec<String>), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::field("body", format!("the request body is not UTF-8: {e}")))?;
    let bad = |e: cns_recipe::Error| ApiError::field("recipe", e.to_string());
    // The usual body is the recipe itself: read it once. Only a body that is not a recipe is
    // read again, as a document, to see whether it wraps one (a wrapper has no `kind`, and a
    // recipe allows no unknown fields, so a wrapper never reads as a recipe).
    let direct = match RecipeResult::from_yaml("request body", text) {
        Ok(recipe) => return Ok((recipe, Vec::new())),
        Err(e) => e,
    };
    match parse_document(body)? {
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
            let text = serde_norway::to_string(&recipe).map_err(|e| {
                ApiError::field("recipe", format!("the recipe cannot be read: {e}"))
            })?;
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

pub(crate) async fn bundle(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let catalog = s.catalog()?.clone();
    check_content_type(&headers)?;
    let pairs = params(&uri);
    let body = read_body(&headers, body, s.cfg.max_body, s.cfg.body_timeout).await?;
    let tar_gz = wants_tar_gz(&headers);
    // A zip is sent gzip-encoded to clients that take it (a .tar.gz is compressed already).
    let form = match (tar_gz, accepts_gzip(&headers)) {
        (true, _) => Form::TarGz,
        (false, true) => Form::ZipGzip,
        (false, false) => Form::Zip,
    };
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // With the cache on, the same bytes asked before: the answer without parsing anything.
    // With it off, no key is computed at all.
    let cached = s.bundles.enabled();
    let raw = cached.then(|| raw_key(&uri, &headers, &body, form, &catalog));
    if let Some(hit) = raw.as_ref().and_then(|raw| s.bundles.get_raw(raw)) {
        s.metrics.cache_hits.inc();
        return Ok(respond(&hit, form, if_none_match.as_deref(), start));
    }
    let (recipe, bundlers) = off_loop(
        s.cfg.request_timeout,
        "reading the request body",
        move || bundle_body(&body),
    )
    .await?;
    let request = bundle_request(&pairs, &bundlers)?;
    let (mut opts, _) = request.validate(&recipe).map_err(|e| request_error(&e))?;
    let keys = raw.map(|raw| (raw, request_key(&recipe, &opts, &catalog, form)));
    if let Some((raw, key)) = keys {
        if let Some(hit) = s.bundles.get(&key) {
            s.metrics.cache_hits.inc();
            s.bundles.alias(raw, key);
            return Ok(respond(&hit, form, if_none_match.as_deref(), start));
        }
        s.metrics.cache_misses.inc();
    }

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
        let bytes = match form {
            Form::TarGz => archive::tar_gz(&tree)?,
            Form::ZipGzip => archive::gzip(&archive::zip(&tree)?)?,
            Form::Zip => archive::zip(&tree)?,
        };
        anyhow::Ok(Answer {
            body: bytes.into(),
            etag: form.etag(&tree.digest()),
            files: tree.files().len(),
            size: tree.size(),
        })
    });
    let done = tokio::time::timeout(s.cfg.request_timeout, work)
        .await
        .map_err(|_| timeout("rendering the bundle"))?
        .map_err(|e| ApiError::internal(format!("the render task failed: {e}")))?;
    let answer = done.map_err(|e| {
        let err = error::classify(&e);
        if let Some(r) = error::plugin_error(&e) {
            s.metrics
                .plugin_errors
                .get_or_create(&crate::metrics::PluginLabels {
                    plugin: r.plugin().unwrap_or("unknown").to_string(),
                    kind: error::plugin_error_kind(r).to_string(),
                })
                .inc();
        }
        err
    })?;
    s.metrics.bundles.inc();
    let answer = Arc::new(answer);
    if let Some((raw, key)) = keys {
        let kept = s.bundles.insert(key, answer.clone());
        s.metrics.cache_evictions.inc_by(kept.evicted as u64);
        s.metrics.cache_bytes.set(kept.bytes as i64);
        s.bundles.alias(raw, key);
    }
    Ok(respond(&answer, form, if_none_match.as_deref(), start))
}

/// The key of a bundle request: everything the bundle's bytes depend on. The recipe as its
/// canonical YAML, the validated options (sorted maps and lists in flag order; whether the
/// components render on threads does not change the output and is left out), the archive
/// form, each plugin's digest, the recipe data's and cnsctl's versions. The recipe data
/// itself is fixed for the server's life.
fn request_key(
    recipe: &RecipeResult,
    opts: &cns_bundle::BundleOptions,
    catalog: &cns_runtime::Catalog,
    form: Form,
) -> [u8; 32] {
    let opts = cns_bundle::BundleOptions {
        parallel: false,
        ..opts.clone()
    };
    let (recipe, opts) = (recipe.to_yaml(), format!("{opts:?}"));
    key_with_context(&[recipe.as_bytes(), opts.as_bytes()], form, catalog)
}

/// A cache key over `parts`, the archive form, each plugin's digest, and the recipe data's
/// and cnsctl's versions: what every bundle depends on besides the request itself.
fn key_with_context(parts: &[&[u8]], form: Form, catalog: &cns_runtime::Catalog) -> [u8; 32] {
    let tag = form.etag("");
    let context = [
        tag.as_bytes(),
        cns_recipe::resolve::DATA_VERSION.as_bytes(),
        env!("CARGO_PKG_VERSION").as_bytes(),
    ];
    cache::key(
        parts
            .iter()
            .copied()
            .chain(context)
            .chain(catalog.plugins().iter().map(|p| p.sha256.as_bytes())),
    )
}

/// The key of a request as sent: its query string, content type, archive form and body
/// bytes, with the plugins' digests and the versions as in [`request_key`]. Equal bytes ask
/// for the same bundle; requests written differently meet at their canonical key.
fn raw_key(
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    form: Form,
    catalog: &cns_runtime::Catalog,
) -> [u8; 32] {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes());
    key_with_context(
        &[
            &b"raw"[..],
            uri.query().unwrap_or_default().as_bytes(),
            content_type,
            body,
        ],
        form,
        catalog,
    )
}

/// The response for `answer`: `304 Not Modified` when `if_none_match` names its `ETag`, else
/// the archive with its headers.
fn respond(answer: &Answer, form: Form, if_none_match: Option<&str>, start: Instant) -> Response {
    let not_modified = if_none_match.is_some_and(|v| cache::none_match(v, &answer.etag));
    let mut r = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(answer.body.clone()))
    };
    let (content_type, name) = match form {
        Form::TarGz => ("application/gzip", "bundles.tar.gz"),
        Form::Zip | Form::ZipGzip => ("application/zip", "bundles.zip"),
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&answer.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    if not_modified {
        return r;
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if form == Form::ZipGzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    for (k, v) in [
        ("x-bundle-files", answer.files.to_string()),
        ("x-bundle-size", answer.size.to_string()),
        ("x-bundle-duration", format!("{:?}", start.elapsed())),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
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
