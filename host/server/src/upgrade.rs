//! `POST /v1/upgrade-check`: `{from, to?, deployer?}` (recipes as JSON or YAML) answered with
//! the report `cnsctl upgrade-check --format json` prints (`cns_recipe::upgrade`).

use crate::Shared;
use crate::error::ApiError;
use crate::http::{check_content_type, json_ok, off_loop, parse_document, read_body};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cns_recipe::RecipeResult;
use cns_recipe::upgrade::DEPLOYERS;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long checking may take (it reads recipes and records; no plugin runs).
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);

/// One recipe of the body, by its key: held to the published recipe schema (as the OpenAPI
/// document states it), then read.
fn recipe(key: &str, v: Value) -> Result<RecipeResult, ApiError> {
    let text = serde_norway::to_string(&v)
        .map_err(|e| ApiError::field(key, format!("`{key}` cannot be read: {e}")))?;
    let name = format!("request body: {key}");
    let (_, violations) = cns_recipe::schema::validate(&name, &text)
        .map_err(|e| ApiError::field(key, e.to_string()))?;
    if let Some(v) = violations.first() {
        return Err(ApiError::field(
            key,
            format!("`{key}` is not a recipe: {}: {}", v.field, v.message),
        ));
    }
    RecipeResult::from_yaml(&name, &text).map_err(|e| ApiError::field(key, e.to_string()))
}

/// The body's three fields.
fn request(body: &[u8]) -> Result<(RecipeResult, Option<RecipeResult>, String), ApiError> {
    let Value::Object(mut map) = parse_document(body)? else {
        return Err(ApiError::field(
            "body",
            "the request body must be an object: {from, to, deployer}",
        ));
    };
    let from = match map.remove("from") {
        None | Some(Value::Null) => {
            return Err(ApiError::field(
                "from",
                "`from` is required: the recipe the cluster runs",
            ));
        }
        Some(v) => recipe("from", v)?,
    };
    // Absent, not null: the document gives each field a type, null is not one of them.
    let to = match map.remove("to") {
        None => None,
        Some(v) => Some(recipe("to", v)?),
    };
    let deployer = match map.remove("deployer") {
        None => "script".to_string(),
        Some(Value::String(d)) if DEPLOYERS.contains(&d.as_str()) => d,
        Some(other) => {
            return Err(ApiError::field(
                "deployer",
                format!("`deployer` is one of {}, not {other}", DEPLOYERS.join(", ")),
            ));
        }
    };
    if let Some(k) = map.keys().next() {
        return Err(ApiError::field(
            k,
            format!(
                "unknown field `{}` (known: from, to, deployer)",
                k.escape_debug()
            ),
        ));
    }
    Ok((from, to, deployer))
}

pub(crate) async fn upgrade_check(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let body = read_body(&headers, body, s.cfg.max_body, s.cfg.body_timeout).await?;
    let shared = s.clone();
    let report = off_loop(UPGRADE_TIMEOUT, "checking the upgrade", move || {
        let (from, to, deployer) = request(&body)?;
        let to = match to {
            Some(t) => t,
            None => cns_recipe::resolve(&shared.store, &from.criteria)
                .map_err(crate::recipe::recipe_error)?,
        };
        let report = cns_recipe::upgrade::check(&from, &to, &shared.store, &deployer)
            .map_err(|e| ApiError::internal(format!("the recipe data's records: {e}")))?;
        serde_json::to_value(&report)
            .map_err(|e| ApiError::internal(format!("the report cannot be written: {e}")))
    })
    .await?;
    Ok(json_ok(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_is_named_when_it_is_wrong() {
        let recipe = cns_recipe::Store::default_recipe().unwrap().to_json();
        let field =
            |body: String| request(body.as_bytes()).unwrap_err().details.unwrap()["field"].clone();
        assert_eq!(field("{}".into()), "from");
        assert_eq!(
            field(format!("{{\"from\": {recipe}, \"deployer\": \"helm\"}}")),
            "deployer"
        );
        assert_eq!(field(format!("{{\"from\": {recipe}, \"too\": 1}}")), "too");
        assert_eq!(field("{\"from\": {\"kind\": \"x\"}}".into()), "from");
        assert_eq!(field("[1]".into()), "body");
        assert_eq!(
            field(format!("{{\"from\": {recipe}, \"deployer\": null}}")),
            "deployer"
        );
        assert_eq!(field(format!("{{\"from\": {recipe}, \"to\": null}}")), "to");
        let (from, to, deployer) =
            request(format!("{{\"from\": {recipe}, \"to\": {recipe}}}").as_bytes()).unwrap();
        assert_eq!(
            (from, to.is_some(), deployer.as_str()),
            (cns_recipe::Store::default_recipe().unwrap(), true, "script")
        );
    }
}
