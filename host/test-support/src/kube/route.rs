//! Reading a request: the resource path it names (`/api/v1/namespaces/NS/configmaps/NAME`,
//! `/apis/GROUP/VERSION/...`), its query, and which objects a list's label and field
//! selectors select.

use serde_json::Value;
use std::collections::BTreeMap;

/// A parsed resource path.
#[derive(Debug)]
pub(super) struct Route {
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    pub(super) prefix: String,
    pub(super) namespace: Option<String>,
    pub(super) resource: String,
    pub(super) name: Option<String>,
    pub(super) sub: Option<String>,
}

impl Route {
    pub(super) fn parse(path: &str) -> Option<Route> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (prefix, rest) = match segs.as_slice() {
            ["api", "v1", rest @ ..] => ("/api/v1".to_string(), rest),
            ["apis", g, v, rest @ ..] => (format!("/apis/{g}/{v}"), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, r, more @ ..] => (Some(ns.to_string()), {
                let mut v = vec![*r];
                v.extend_from_slice(more);
                v
            }),
            r => (None, r.to_vec()),
        };
        Some(Route {
            prefix,
            namespace,
            resource: rest.first()?.to_string(),
            name: rest.get(1).map(|s| s.to_string()),
            sub: rest.get(2).map(|s| s.to_string()),
        })
    }

    pub(super) fn collection(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/namespaces/{ns}/{}", self.prefix, self.resource),
            None => format!("{}/{}", self.prefix, self.resource),
        }
    }

    pub(super) fn object(&self, name: &str) -> String {
        format!("{}/{name}", self.collection())
    }
}

pub(super) fn query_map(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn get_path<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |cur, k| cur.get(k))
}

pub(super) fn selected(obj: &Value, q: &BTreeMap<String, String>) -> bool {
    let labels = &obj["metadata"]["labels"];
    let label_ok = q.get("labelSelector").is_none_or(|sel| {
        sel.split(',')
            .filter(|s| !s.is_empty())
            .all(|kv| match kv.split_once('=') {
                Some((k, v)) => labels.get(k).and_then(Value::as_str) == Some(v),
                None => labels.get(kv).is_some(),
            })
    });
    let field_ok = q.get("fieldSelector").is_none_or(|sel| {
        sel.split(',')
            .filter(|s| !s.is_empty())
            .all(|kv| match kv.split_once('=') {
                Some((k, v)) => get_path(obj, k).and_then(Value::as_str) == Some(v),
                None => false,
            })
    });
    label_ok && field_ok
}
