//! `/v1/recipe` and `/v1/query`: criteria from the query or the body, resolved recipes
//! cached by criteria, and one value of a recipe by selector.

use crate::Shared;
use crate::error::{self, ApiError};
use crate::http::{check_content_type, document, json_ok, params, read_body, timeout};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use cns_recipe::{Criteria, RecipeResult};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Recipe and query answers are cached by clients and proxies this long (the predecessor's).
const RECIPE_CACHE_CONTROL: &str = "public, max-age=600";

/// Deadline of a recipe or query request (the predecessor's `RecipeHandlerTimeout`).
const RECIPE_TIMEOUT: Duration = Duration::from_secs(30);

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
        return Err(ApiError::field(
            "body",
            "the request body must be an object of criteria (service, accelerator, os, intent)",
        ));
    };
    if let Some(spec) = map.remove("spec") {
        for (key, want_object) in [("kind", false), ("apiVersion", false), ("metadata", true)] {
            match map.remove(key) {
                None => {}
                Some(Value::String(_)) if !want_object => {}
                Some(Value::Object(_)) if want_object => {}
                Some(other) => {
                    return Err(ApiError::field(
                        key,
                        format!(
                            "`{key}` beside `spec` must be {}, not {other}",
                            if want_object { "an object" } else { "a string" }
                        ),
                    ));
                }
            }
        }
        if !map.is_empty() {
            let extra: Vec<&String> = map.keys().collect();
            return Err(ApiError::field(
                extra[0],
                format!("unknown field `{}` beside `spec`", extra[0].escape_debug()),
            ));
        }
        return body_pairs(spec);
    }
    // The successor's form: `{criteria: {service, …}, selector}`.
    let mut pairs = Vec::new();
    match map.remove("criteria") {
        None => {}
        Some(Value::Object(c)) => pairs = body_pairs(Value::Object(c))?,
        Some(other) => {
            return Err(ApiError::field(
                "criteria",
                format!("`criteria` must be an object of criteria, not {other}"),
            ));
        }
    }
    let rest: Vec<(String, String)> = map
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Bool(b) if k == "strict" => Ok((k, b.to_string())),
            Value::Null => Ok((k, String::new())),
            other => Err(ApiError::field(
                &k,
                format!("`{}` must be a string, not {other}", k.escape_debug()),
            )),
        })
        .collect::<Result<_, _>>()?;
    pairs.extend(rest);
    Ok(pairs)
}

/// A recipe-library error as an answer: unknown criteria are 400 naming the field and the
/// valid values; criteria the data has nothing for are 404 `NO_MATCHING_RULE`.
pub(crate) fn recipe_error(e: cns_recipe::Error) -> ApiError {
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

/// `strict=true` (as `recipe --criteria-strict`): a criterion left open is refused, naming it.
fn strict(pairs: &[(String, String)], c: &Criteria, source: &str) -> Result<(), ApiError> {
    let mut given = pairs.iter().filter(|(k, _)| k == "strict").map(|(_, v)| v);
    let first = given.next();
    if let Some(other) = given.find(|v| Some(*v) != first) {
        return Err(ApiError::field(
            "strict",
            format!(
                "{source} `strict` is given twice (`{}` and `{}`)",
                first.map_or("", |f| f.as_str()).escape_debug(),
                other.escape_debug()
            ),
        ));
    }
    let on = match first.map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::field(
                "strict",
                format!(
                    "{source} `strict` takes true or false, not `{}`",
                    v.escape_debug()
                ),
            ));
        }
    };
    if let Some((field, _, _)) = on
        .then(|| c.fields().into_iter().find(|(_, v, _)| *v == "any"))
        .flatten()
    {
        return Err(ApiError::field(
            field,
            format!(
                "strict: the {field} is left open (any); give `{field}`, or leave `strict` out to get the recipe for any {field}"
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn recipe_get(
    State(s): State<Arc<Shared>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let pairs = params(&uri);
    let c = criteria(&pairs, &["strict"], "query parameter")?;
    strict(&pairs, &c, "query parameter")?;
    Ok(recipe_response(&*resolved(&s, c).await?))
}

pub(crate) async fn recipe_post(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = read_body(&headers, body, s.cfg.max_body, s.cfg.body_timeout).await?;
    let doc = document(&body, RECIPE_TIMEOUT.min(s.cfg.request_timeout)).await?;
    let pairs = body_pairs(doc)?;
    let c = criteria(&pairs, &["strict"], "field")?;
    strict(&pairs, &c, "field")?;
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

pub(crate) async fn query_get(
    State(s): State<Arc<Shared>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    query(s, params(&uri)).await
}

pub(crate) async fn query_post(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = read_body(&headers, body, s.cfg.max_body, s.cfg.body_timeout).await?;
    let doc = document(&body, RECIPE_TIMEOUT.min(s.cfg.request_timeout)).await?;
    let mut pairs = body_pairs(doc)?;
    // The selector may also come in the query string.
    pairs.extend(params(&uri).into_iter().filter(|(k, _)| k == "selector"));
    query(s, pairs).await
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
        // The document's fields are what they say, and strict says one thing.
        let e = body_pairs(json!({"kind": null, "spec": {"service": "eks"}})).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "kind");
        let e = body_pairs(json!({"metadata": "x", "spec": {}})).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "metadata");
        let p = body_pairs(json!({"criteria": {"strict": false}, "strict": true})).unwrap();
        let c = criteria(&p, &["strict"], "field").unwrap();
        let e = strict(&p, &c, "field").unwrap_err();
        assert!(
            e.message.contains("`strict` is given twice"),
            "{}",
            e.message
        );
        let e = body_pairs(json!({"": false})).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "(empty name)");
    }
}
