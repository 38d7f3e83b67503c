//! `cm://NAMESPACE/NAME`: documents (snapshots, recipes) stored in a ConfigMap, in the
//! predecessor's layout — the document under `snapshot.yaml` or `recipe.yaml`, `format` and
//! `timestamp` beside it, `app.kubernetes.io/*` labels.

use crate::{Cluster, Error, Result};
use cns_recipe::fields::{is_dns_label, is_dns_subdomain};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta};
use std::collections::BTreeMap;
use std::fmt;

/// URI scheme of ConfigMap storage.
pub const SCHEME: &str = "cm://";

/// A parsed `cm://NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmUri {
    /// Namespace (a DNS label).
    pub namespace: String,
    /// ConfigMap name (a DNS subdomain).
    pub name: String,
}

impl fmt::Display for CmUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.namespace, self.name)
    }
}

impl CmUri {
    /// Whether `s` uses the `cm://` scheme (then [`CmUri::parse`] decides if it is valid).
    pub fn is_cm(s: &str) -> bool {
        s.starts_with(SCHEME)
    }

    /// Parse `cm://NAMESPACE/NAME`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUri {
            uri: s.to_string(),
            reason: reason.into(),
        };
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("not a cm:// URI"))?;
        let (ns, name) = rest
            .split_once('/')
            .ok_or_else(|| bad("no `/` between namespace and name"))?;
        if !is_dns_label(ns) {
            return Err(bad(&format!("namespace `{ns}` is not a valid DNS label")));
        }
        if !is_dns_subdomain(name) {
            return Err(bad(&format!("name `{name}` is not a valid ConfigMap name")));
        }
        Ok(CmUri {
            namespace: ns.into(),
            name: name.into(),
        })
    }
}

/// What a ConfigMap holds: decides the data key and the component label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A snapshot: `snapshot.yaml`, component `snapshot`.
    Snapshot,
    /// A recipe: `recipe.yaml`, component `recipe`.
    Recipe,
}

impl Document {
    /// The data key the document is stored under.
    pub fn key(self) -> &'static str {
        match self {
            Document::Snapshot => "snapshot.yaml",
            Document::Recipe => "recipe.yaml",
        }
    }

    fn component(self) -> &'static str {
        match self {
            Document::Snapshot => "snapshot",
            Document::Recipe => "recipe",
        }
    }
}

/// The ConfigMap cnsctl writes for `doc` (labels, data keys), as the API receives it.
pub fn config_map(
    uri: &CmUri,
    doc: Document,
    text: &str,
    format: &str,
    timestamp: &str,
    version: &str,
) -> ConfigMap {
    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "cnsctl".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            doc.component().to_string(),
        ),
        ("app.kubernetes.io/version".to_string(), version.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cnsctl".to_string(),
        ),
    ]);
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(uri.name.clone()),
            namespace: Some(uri.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (doc.key().to_string(), text.to_string()),
            ("format".to_string(), format.to_string()),
            ("timestamp".to_string(), timestamp.to_string()),
        ])),
        ..Default::default()
    }
}

impl Cluster {
    /// Read the document stored at `uri`: the data key for `doc`, or the only `*.yaml` /
    /// `*.json` key of a ConfigMap written by other tools.
    pub fn read_document(&self, uri: &CmUri, doc: Document) -> Result<String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client(), &uri.namespace);
        let cm = self
            .block(api.get(&uri.name))
            .map_err(|e| Error::kube(uri.to_string(), e))?;
        let data = cm.data.unwrap_or_default();
        if let Some(t) = data.get(doc.key()) {
            return Ok(t.clone());
        }
        let docs: Vec<_> = data
            .iter()
            .filter(|(k, _)| k.ends_with(".yaml") || k.ends_with(".yml") || k.ends_with(".json"))
            .collect();
        match docs.as_slice() {
            [(_, text)] => Ok((*text).clone()),
            _ => Err(Error::MissingKey {
                uri: uri.to_string(),
                key: doc.key().into(),
                keys: if data.is_empty() {
                    "none".into()
                } else {
                    data.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            }),
        }
    }

    /// Create the ConfigMap at `uri` with `text` as `doc`, or replace it when cnsctl wrote it
    /// ([`Error::NotOurs`] otherwise).
    pub fn write_document(
        &self,
        uri: &CmUri,
        doc: Document,
        text: &str,
        format: &str,
        timestamp: &str,
    ) -> Result<()> {
        let api: Api<ConfigMap> = Api::namespaced(self.client(), &uri.namespace);
        let mut cm = config_map(uri, doc, text, format, timestamp, env!("CARGO_PKG_VERSION"));
        let what = uri.to_string();
        match self.create_strict(&cm) {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let old = self
                    .block(api.get(&uri.name))
                    .map_err(|e| Error::kube(&what, e))?;
                // Only a ConfigMap cnsctl wrote is replaced; another tool's is left alone.
                let ours = old
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app.kubernetes.io/managed-by"))
                    .is_some_and(|v| v == "cnsctl");
                if !ours {
                    return Err(Error::NotOurs { what });
                }
                cm.metadata.resource_version = old.metadata.resource_version;
                self.replace_strict(&cm)
                    .map(|_| ())
                    .map_err(|e| Error::kube(&what, e))
            }
            Err(e) => Err(Error::kube(what, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let u = CmUri::parse("cm://gpu-operator/cns-snapshot").unwrap();
        assert_eq!(
            (u.namespace.as_str(), u.name.as_str()),
            ("gpu-operator", "cns-snapshot")
        );
        assert_eq!(u.to_string(), "cm://gpu-operator/cns-snapshot");
        for bad in [
            "cm://ns",
            "cm://Ns/x",
            "cm:///x",
            "cm://ns/",
            "cm://ns/a/b",
            "cm://ns/-x",
        ] {
            let e = CmUri::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("cm://NAMESPACE/NAME"), "{e}");
        }
    }

    #[test]
    fn layout_follows_the_predecessor() {
        let u = CmUri::parse("cm://gpu-operator/cns-snapshot").unwrap();
        let cm = config_map(
            &u,
            Document::Snapshot,
            "kind: Snapshot\n",
            "yaml",
            "t",
            "0.1.0",
        );
        let data = cm.data.unwrap();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["format", "snapshot.yaml", "timestamp"]
        );
        let labels = cm.metadata.labels.unwrap();
        assert_eq!(labels["app.kubernetes.io/component"], "snapshot");
        assert_eq!(labels["app.kubernetes.io/name"], "cnsctl");
    }
}
