//! Serde types of the recipe documents: overlays (`recipeMetadata`) and resolved recipes
//! (`recipeResult`). Unknown fields are errors, so typos never pass silently.

pub use crate::component::{ComponentRef, Constraint};
use crate::criteria::Criteria;
use crate::fields::Checker;
use crate::{API_VERSION, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `metadata` of an overlay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayMeta {
    /// Overlay name (the file name without `.yaml`).
    pub name: String,
}

/// `spec` of an overlay.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverlaySpec {
    /// Parent overlay; empty means `base` (for every overlay but `base` itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// When the overlay applies; absent for `base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<Criteria>,
    /// Constraints added or replaced (by name).
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    /// Components added or merged (by name).
    #[serde(default)]
    pub component_refs: Vec<ComponentRef>,
}

/// An overlay file (`kind: recipeMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecipeMetadata {
    /// Always `recipeMetadata`.
    pub kind: String,
    /// Always `cns.nvidia.com/v1alpha1`.
    pub api_version: String,
    /// Name.
    pub metadata: OverlayMeta,
    /// Content.
    pub spec: OverlaySpec,
}

/// `metadata` of a resolved recipe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultMeta {
    /// Version of the recipe data that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Overlays merged, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_overlays: Vec<String>,
    /// Criteria the query left open (`any`): the recipe holds what is true whatever they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_criteria: Vec<String>,
    /// Other metadata, as the predecessor and its successor write it (`generatedAt`,
    /// `timestamp`, `excludedOverlays`, `constraintWarnings`, …): accepted and carried, never
    /// interpreted.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A resolved recipe (`kind: recipeResult`): what `cnsctl bundle --recipe` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecipeResult {
    /// Always `recipeResult`.
    pub kind: String,
    /// Always `cns.nvidia.com/v1alpha1`.
    pub api_version: String,
    /// Version and applied overlays.
    #[serde(default)]
    pub metadata: ResultMeta,
    /// The criteria it was resolved for.
    #[serde(default)]
    pub criteria: Criteria,
    /// Constraints on the cluster, sorted by name.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    /// Components, sorted by name.
    pub component_refs: Vec<ComponentRef>,
    /// Component names in deployment order.
    #[serde(default)]
    pub deployment_order: Vec<String>,
}

/// Parse YAML into `T`, with the file name and the parser's line/column in the error.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &str,
    what: &'static str,
    text: &str,
) -> Result<T> {
    if let Some(twin) = crate::embedded::json_twin(path, text)
        && let Ok(v) = serde_json::from_str(twin)
    {
        return Ok(v);
    }
    let parse_error = |message: String| Error::Parse {
        path: path.to_string(),
        what,
        message,
    };
    cns_files::nesting::check(text).map_err(|e| parse_error(e.to_string()))?;
    serde_norway::from_str(text).map_err(|e| parse_error(e.to_string()))
}

fn check_header(path: &str, kind: &str, api_version: &str, want_kind: &str) -> Result<()> {
    if kind != want_kind {
        return Err(Error::WrongKind {
            path: path.into(),
            field: "kind",
            found: kind.into(),
            expected: want_kind.into(),
        });
    }
    if api_version != API_VERSION {
        return Err(Error::WrongKind {
            path: path.into(),
            field: "apiVersion",
            found: api_version.into(),
            expected: API_VERSION.into(),
        });
    }
    Ok(())
}

/// Names of components and overlays: `[a-z0-9][a-z0-9-]*`, at most 63 characters.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Check criteria values, naming the file in the error.
fn check_criteria(path: &str, c: &Criteria) -> Result<()> {
    c.check().map_err(|e| match e {
        Error::UnknownCriteria {
            field,
            value,
            valid,
        } => Error::Invalid {
            path: path.into(),
            what: field,
            value,
            reason: format!("valid values: {valid}"),
        },
        other => other,
    })
}

fn check_refs(path: &str, refs: &[ComponentRef]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for r in refs {
        if !is_name(&r.name) {
            return Err(Error::Invalid {
                path: path.into(),
                what: "component name",
                value: r.name.clone(),
                reason: "names must match [a-z0-9][a-z0-9-]*".into(),
            });
        }
        if !seen.insert(&r.name) {
            return Err(Error::Duplicate {
                path: path.into(),
                what: "componentRef",
                name: r.name.clone(),
            });
        }
        if let Some(k) = &r.kind
            && k != "Helm"
        {
            return Err(Error::Invalid {
                path: path.into(),
                what: "component type",
                value: k.clone(),
                reason: "only `Helm` is supported".into(),
            });
        }
        if let Some(o) = &r.overrides
            && !o.is_object()
        {
            return Err(Error::Invalid {
                path: path.into(),
                what: "overrides",
                value: o.to_string(),
                reason: "overrides must be a map".into(),
            });
        }
    }
    Ok(())
}

impl RecipeResult {
    /// Parse a `recipeResult` document; `path` is used in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Self> {
        let r: RecipeResult = parse_yaml(path, "recipeResult", text)?;
        check_header(path, &r.kind, &r.api_version, "recipeResult")?;
        check_criteria(path, &r.criteria)?;
        check_refs(path, &r.component_refs)?;
        r.check_fields(path, text)?;
        Ok(r)
    }

    /// Check every string field (see [`crate::fields`]), naming the file, line and field.
    fn check_fields(&self, path: &str, text: &str) -> Result<()> {
        let c = Checker { path, text };
        let seg = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for (i, r) in self.component_refs.iter().enumerate() {
            c.component(&seg(&["componentRefs", &i.to_string()]), r)?;
        }
        c.constraints(&seg(&["constraints"]), &self.constraints)?;
        if let Some(v) = &self.metadata.version {
            c.text_field(&seg(&["metadata", "version"]), v)?;
        }
        for (i, o) in self.metadata.applied_overlays.iter().enumerate() {
            c.text_field(&seg(&["metadata", "appliedOverlays", &i.to_string()]), o)?;
        }
        for (i, n) in self.deployment_order.iter().enumerate() {
            c.text_field(&seg(&["deploymentOrder", &i.to_string()]), n)?;
        }
        for (k, v) in &self.metadata.extra {
            c.values(&seg(&["metadata", k]), v, 0)?;
        }
        self.check_graph(&c, text)
    }

    /// Versions are strings, dependencies and the deployment order name the recipe's
    /// components, and the order lists each enabled component: checked here, naming the
    /// file, line and field, before any plugin runs.
    fn check_graph(&self, c: &Checker<'_>, text: &str) -> Result<()> {
        let seg = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // serde reads `version: 1.50` as the string "1.5": look at the YAML scalar itself.
        let raw = match crate::embedded::json_twin(c.path, text) {
            Some(json) => serde_json::from_str::<Value>(json).ok(),
            None => serde_norway::from_str::<Value>(text).ok(),
        };
        if let Some(raw) = raw {
            for (i, r) in raw["componentRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(v) = r.get("version").filter(|v| !v.is_string() && !v.is_null()) {
                    return Err(c.fail(
                        &seg(&["componentRefs", &i.to_string(), "version"]),
                        &v.to_string(),
                        "a version must be a string: YAML reads an unquoted 1.50 as the number 1.5; quote it (version: \"1.50\")",
                    ));
                }
            }
        }
        let names: Vec<&str> = self
            .component_refs
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        let known = names.join(", ");
        for (i, r) in self.component_refs.iter().enumerate() {
            for (j, d) in r.dependency_refs.iter().enumerate() {
                if !names.contains(&d.as_str()) {
                    return Err(c.fail(
                        &seg(&["componentRefs", &i.to_string(), "dependencyRefs", &j.to_string()]),
                        d,
                        &format!("`{}` depends on a component that is not in the recipe (components: {known})", r.name),
                    ));
                }
            }
        }
        if self.deployment_order.is_empty() {
            return Ok(());
        }
        for (i, n) in self.deployment_order.iter().enumerate() {
            if !names.contains(&n.as_str()) {
                return Err(c.fail(
                    &seg(&["deploymentOrder", &i.to_string()]),
                    n,
                    &format!("not a component of the recipe (components: {known})"),
                ));
            }
        }
        for r in self.component_refs.iter().filter(|r| r.enabled()) {
            if !self.deployment_order.contains(&r.name) {
                return Err(c.fail(
                    &seg(&["deploymentOrder"]),
                    &r.name,
                    "the deployment order leaves out this component; list every component once",
                ));
            }
        }
        Ok(())
    }

    /// Serialise as YAML (fields in schema order, lists already sorted by the resolver).
    pub fn to_yaml(&self) -> String {
        cns_values::to_yaml_ordered(self).expect("a recipe always serialises")
    }

    /// Serialise as pretty JSON with a final newline (`recipe --format json`, the server's
    /// answer).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a recipe always serialises") + "\n"
    }

    /// The component named `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentRef> {
        self.component_refs.iter().find(|c| c.name == name)
    }
}

impl RecipeMetadata {
    /// Parse an overlay document; `path` is used in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Self> {
        let m: RecipeMetadata = parse_yaml(path, "recipeMetadata overlay", text)?;
        check_header(path, &m.kind, &m.api_version, "recipeMetadata")?;
        if !is_name(&m.metadata.name) {
            return Err(Error::Invalid {
                path: path.into(),
                what: "overlay name",
                value: m.metadata.name.clone(),
                reason: "names must match [a-z0-9][a-z0-9-]*".into(),
            });
        }
        if let Some(c) = &m.spec.criteria {
            check_criteria(path, c)?;
        }
        check_refs(path, &m.spec.component_refs)?;
        let c = Checker { path, text };
        let seg = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for (i, r) in m.spec.component_refs.iter().enumerate() {
            c.component(&seg(&["spec", "componentRefs", &i.to_string()]), r)?;
        }
        c.constraints(&seg(&["spec", "constraints"]), &m.spec.constraints)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncriteria: {service: eks}\ncomponentRefs:\n- name: cert-manager\n  version: v1.21.1\n";

    #[test]
    fn parses_a_minimal_recipe() {
        let r = RecipeResult::from_yaml("r.yaml", GOOD).unwrap();
        assert_eq!(r.component_refs[0].version.as_deref(), Some("v1.21.1"));
        assert_eq!(r.criteria.service, "eks");
        assert_eq!(r.criteria.accelerator, "any");
    }

    #[test]
    fn bad_input_corpus() {
        let cases = [
            (
                "malformed",
                "kind: [\n",
                "r.yaml` is not a valid recipeResult",
            ),
            (
                "unknown field",
                &format!("{GOOD}  versoin: x\n"),
                "unknown field `versoin`",
            ),
            (
                "wrong type",
                "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs: 5\n",
                "invalid type",
            ),
            (
                "wrong kind",
                &GOOD.replace("recipeResult", "recipe"),
                "has kind `recipe`, expected `recipeResult`",
            ),
            (
                "wrong api",
                &GOOD.replace("v1alpha1", "v2"),
                "apiVersion `cns.nvidia.com/v2`",
            ),
            (
                "bad name",
                &GOOD.replace("cert-manager", "Cert_Manager"),
                "invalid component name `Cert_Manager`",
            ),
            (
                "duplicate",
                &format!("{GOOD}- name: cert-manager\n"),
                "duplicate componentRef `cert-manager`",
            ),
            (
                "bad criteria",
                &GOOD.replace("eks", "eksx"),
                "invalid service `eksx`",
            ),
            (
                "bad type",
                &format!("{GOOD}  type: Kustomize\n"),
                "only `Helm` is supported",
            ),
        ];
        for (name, text, want) in cases {
            let err = RecipeResult::from_yaml("r.yaml", text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn disabled_component() {
        let mut c = ComponentRef {
            name: "a".into(),
            ..Default::default()
        };
        assert!(c.enabled());
        c.overrides = Some(serde_json::json!({"enabled": false}));
        assert!(!c.enabled());
    }
}
