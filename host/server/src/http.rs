//! Reading requests and writing answers, for every route: query parameters, the
//! `Content-Type` check, the body read within its limit, JSON or YAML documents, a JSON
//! answer, and the 504 of a missed deadline.

use crate::error::{self, ApiError};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

/// A JSON answer with 200.
pub(crate) fn json_ok(v: &Value) -> Response {
    crate::json_response(StatusCode::OK, v)
}

/// The query string's parameters, in order, decoded.
pub(crate) fn params(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Content types a body may have: JSON or YAML (`+json`/`+yaml` suffixes included), or
/// none (then read as JSON or YAML). Anything else, `text/plain` and the form encoding
/// `curl -d` sends by default included, is 415: the body is not read as something it does
/// not say it is.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let Ok(ct) = ct.to_str() else {
        // Not visible ASCII: no media type at all, and never read as "none given".
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type is not a media type (it has bytes outside visible ASCII); send application/json or application/yaml",
        )
        .with_details(json!({ "contentType": null, "supported": ["application/json", "application/yaml"] })));
    };
    let ct = ct.to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let ok = matches!(
        essence,
        "application/json"
            | "application/yaml"
            | "application/x-yaml"
            | "text/yaml"
            | "text/x-yaml"
    ) || essence.ends_with("+json")
        || essence.ends_with("+yaml");
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type `{}` is not supported; send application/json or application/yaml (curl: -H 'Content-Type: application/json' --data-binary @FILE)",
                essence.escape_debug()
            ),
        )
        .with_details(json!({ "contentType": essence, "supported": ["application/json", "application/yaml"] })))
    }
}

/// The body, at most `limit` bytes (413 beyond).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<Bytes, ApiError> {
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
    // One deadline for the whole body: a client that stalls or trickles gets 408 and the
    // connection is closed, freeing its slot (the rate it must keep is limit / deadline).
    let Ok(read) = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            error::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                deadline.as_secs_f64()
            ),
        )
        .with_header(header::CONNECTION, "close"));
    };
    match read {
        Ok(b) => Ok(b),
        Err(e) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if c.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                cause = c.source();
            }
            Err(ApiError::field(
                "body",
                format!("cannot read the request body: {e}"),
            ))
        }
    }
}

/// Run `work` (reading a request's documents) on the blocking pool within `deadline` (504
/// beyond), so that a large or costly body never holds the threads that answer `/health`
/// and `/ready`.
pub(crate) async fn off_loop<T: Send + 'static>(
    deadline: std::time::Duration,
    what: &str,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::time::timeout(deadline, tokio::task::spawn_blocking(work))
        .await
        .map_err(|_| timeout(what))?
        .map_err(|e| ApiError::internal(format!("{what} failed: {e}")))?
}

/// The body as one JSON or YAML document, read by [`off_loop`].
pub(crate) async fn document(
    body: &Bytes,
    deadline: std::time::Duration,
) -> Result<Value, ApiError> {
    let body = body.clone();
    off_loop(deadline, "reading the request body", move || {
        parse_document(&body)
    })
    .await
}

/// A JSON or YAML document, its nesting bounded first. JSON is read as JSON (YAML's `\u`
/// escapes take no surrogate pairs, JSON's do); anything else as YAML.
pub(crate) fn parse_document(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::field("body", format!("the request body is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::field("body", "the request body is empty"));
    }
    cns_files::nesting::check(text)
        .map_err(|e| ApiError::field("body", format!("the request body is not accepted: {e}")))?;
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    serde_norway::from_str::<Value>(text).map_err(|e| {
        ApiError::field(
            "body",
            format!("the request body is not valid JSON or YAML: {e}"),
        )
    })
}

pub(crate) fn timeout(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        error::TIMEOUT,
        format!("{what} took longer than the request deadline"),
    )
    .retryable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_json_or_yaml_and_refusals_name_the_body() {
        // A JSON surrogate pair (one character outside the BMP) YAML's escapes cannot read.
        let v = parse_document(br#"{"selector": "\ud83d\ude00"}"#).unwrap();
        assert_eq!(v["selector"], "\u{1F600}");
        assert_eq!(parse_document(b"service: eks\n").unwrap()["service"], "eks");
        for bad in [&b""[..], b"\xff", b"a: [", b"  \n"] {
            let e = parse_document(bad).unwrap_err();
            assert_eq!(e.details.unwrap()["field"], "body");
        }
    }

    #[test]
    fn only_json_and_yaml_are_read() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            check_content_type(&h)
        };
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        for ok in [
            "application/json",
            "application/yaml; charset=utf-8",
            "application/x-yaml",
            "text/yaml",
            "application/vnd.x+json",
        ] {
            assert!(with(ok).is_ok(), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/html",
            "multipart/form-data",
        ] {
            assert_eq!(
                with(refused).unwrap_err().status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused}"
            );
        }
    }
}
