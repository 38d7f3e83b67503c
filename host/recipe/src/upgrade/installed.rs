//! What identifies an installed component (namespace, chart, source, release name,
//! manifests) and its version, read from a recipe or from a bundle's `bundle-info.yaml`, the
//! document every bundle carries to say where it came from.

use crate::component::ComponentRef;
use crate::{Criteria, RecipeResult, Result, Store};
use serde::{Deserialize, Serialize};

/// One component as it is installed, or would be: its version and what identifies it. A
/// field that is `None` is not known (what a cluster keeps does not say everything a recipe
/// does) and is not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Installed {
    /// The component (cnsctl names releases, Applications and HelmReleases after it).
    pub name: String,
    /// The chart version.
    pub version: String,
    /// The namespace it is installed into.
    pub namespace: String,
    /// The chart's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// Where the chart comes from: `oci://REGISTRY/PATH` (the chart under it) or a classic
    /// repository's URL. Helm's own release records do not keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The Helm release name.
    pub release: String,
    /// The manifests shipped with it, by file name, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<String>>,
}

impl Installed {
    /// The chart as Helm pulls it: `oci://REGISTRY/PATH/CHART`, `REPOSITORY CHART`, or the
    /// chart's name alone where the source is not known.
    pub fn chart_ref(&self) -> String {
        let chart = self.chart.as_deref().unwrap_or("?");
        match self.source.as_deref() {
            Some(s) if s.starts_with("oci://") => format!("{s}/{chart}"),
            Some(s) => format!("{s} {chart}"),
            None => chart.to_string(),
        }
    }

    /// What differs between `self` and `other` in their identity, said as
    /// ``what `old` -> `new` ``; fields one side does not know are not compared.
    pub fn identity_changes(&self, other: &Installed) -> Vec<String> {
        let mut out = Vec::new();
        if self.namespace != other.namespace {
            out.push(format!(
                "namespace `{}` -> `{}`",
                self.namespace, other.namespace
            ));
        }
        let known_differ =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a != b);
        if known_differ(&self.chart, &other.chart) || known_differ(&self.source, &other.source) {
            out.push(format!(
                "chart `{}` -> `{}`",
                self.chart_ref(),
                other.chart_ref()
            ));
        }
        if self.release != other.release {
            out.push(format!(
                "release name `{}` -> `{}`",
                self.release, other.release
            ));
        }
        if let (Some(a), Some(b)) = (&self.manifests, &other.manifests)
            && a != b
        {
            out.push(format!(
                "manifests [{}] -> [{}]",
                a.join(", "),
                b.join(", ")
            ));
        }
        out
    }
}

/// The registry's chart defaults for `name`, if it knows the component.
pub(super) fn registry_defaults<'s>(
    store: &'s Store,
    name: &str,
) -> Option<&'s crate::registry::HelmDefaults> {
    store.registry().ok()?.get(name).map(|d| &d.helm)
}

/// `c` as it is installed from its recipe: the recipe's fields, the registry's defaults for
/// those it leaves out.
pub fn of_component(c: &ComponentRef, store: &Store) -> Installed {
    let defaults = registry_defaults(store, &c.name);
    let namespace = c
        .namespace
        .clone()
        .or_else(|| defaults.map(|d| d.namespace.clone()))
        .unwrap_or_else(|| c.name.clone());
    let source = c
        .source
        .clone()
        .or_else(|| defaults.map(|d| d.repository.clone()))
        .unwrap_or_default();
    let source = source.trim_end_matches('/').to_string();
    let named = c
        .chart
        .clone()
        .or_else(|| defaults.map(|d| d.chart.clone()))
        .unwrap_or_else(|| c.name.clone());
    // A recipe's OCI source without a chart name is the chart itself (the predecessor's
    // form, `oci://ghcr.io/nvidia/nvsentinel`); with one, the chart is under it.
    let own_oci = c.source.is_some() && source.starts_with("oci://");
    let (source, chart) = match (own_oci, c.chart.as_deref()) {
        (true, None) => match source.rsplit_once('/') {
            Some((parent, chart)) if parent.len() > "oci:/".len() => {
                (parent.to_string(), chart.to_string())
            }
            _ => (source.clone(), named),
        },
        _ => (source, named),
    };
    let mut manifests: Vec<String> = c
        .manifest_files
        .iter()
        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
        .collect();
    manifests.sort();
    let version = c
        .version
        .clone()
        .unwrap_or_else(|| defaults.map(|d| d.version.clone()).unwrap_or_default());
    Installed {
        name: c.name.clone(),
        version,
        namespace,
        chart: Some(chart),
        source: (!source.is_empty()).then_some(source),
        release: c.name.clone(),
        manifests: Some(manifests),
    }
}

/// Every enabled component of `recipe` as it is installed, by name.
pub fn of_recipe(recipe: &RecipeResult, store: &Store) -> Vec<Installed> {
    let mut out: Vec<Installed> = recipe
        .component_refs
        .iter()
        .filter(|c| c.enabled())
        .map(|c| of_component(c, store))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Where a bundle's origin document lives in the bundle.
pub const BUNDLE_INFO: &str = "bundle-info.yaml";

/// `bundle-info.yaml`: what made a bundle and what it installs, so that a later
/// `upgrade-check --from BUNDLE` knows what runs without its reader guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BundleInfo {
    /// `BundleInfo`.
    pub kind: String,
    /// cnsctl's document API version.
    pub api_version: String,
    /// The cnsctl that wrote the bundle.
    pub cnsctl: String,
    /// The recipe data it resolved against.
    pub recipe_data: String,
    /// `sha256:…` of the bundle's `recipe.yaml`.
    pub recipe_digest: String,
    /// The recipe's criteria.
    pub criteria: Criteria,
    /// The deployer that wrote the install files.
    pub deployer: String,
    /// Each bundled component, in deployment order.
    pub components: Vec<Installed>,
}

impl BundleInfo {
    /// The document for a bundle of `recipe` whose `recipe.yaml` is `recipe_yaml`, written by
    /// `deployer`, installing `components` (in deployment order, from [`of_component`]).
    pub fn new(
        recipe: &RecipeResult,
        recipe_yaml: &[u8],
        deployer: &str,
        components: Vec<Installed>,
    ) -> BundleInfo {
        use sha2::Digest;
        BundleInfo {
            kind: "BundleInfo".into(),
            api_version: crate::API_VERSION.into(),
            cnsctl: env!("CARGO_PKG_VERSION").into(),
            recipe_data: crate::resolve::DATA_VERSION.into(),
            recipe_digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(recipe_yaml))),
            criteria: recipe.criteria.clone(),
            deployer: deployer.into(),
            components,
        }
    }

    /// The document as YAML, with a comment saying what it is.
    pub fn to_yaml(&self) -> String {
        format!(
            "# Where this bundle came from: read by `cnsctl upgrade-check --from <this directory>`.\n{}",
            cns_values::to_yaml_ordered(self).expect("bundle info always serialises")
        )
    }

    /// Read `text` (the file at `path`), checking its header.
    pub fn parse(path: &str, text: &str) -> Result<BundleInfo> {
        let info: BundleInfo = crate::model::parse_yaml(path, "BundleInfo", text)?;
        super::header(path, &info.kind, &info.api_version, "BundleInfo")?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(ns: &str, chart: Option<&str>, source: Option<&str>) -> Installed {
        Installed {
            name: "c".into(),
            version: "1.0.0".into(),
            namespace: ns.into(),
            chart: chart.map(str::to_string),
            source: source.map(str::to_string),
            release: "c".into(),
            manifests: None,
        }
    }

    #[test]
    fn what_one_side_does_not_know_is_not_compared() {
        // A Helm release record has the chart's name but not its repository.
        let cluster = installed("ns", Some("chart"), None);
        let recipe = Installed {
            manifests: Some(vec!["a.yaml".into()]),
            ..installed("ns", Some("chart"), Some("https://r"))
        };
        assert!(cluster.identity_changes(&recipe).is_empty());
        let moved = installed("other", Some("chart"), Some("https://s"));
        assert_eq!(
            recipe.identity_changes(&moved),
            [
                "namespace `ns` -> `other`",
                "chart `https://r chart` -> `https://s chart`"
            ]
        );
        assert_eq!(
            installed("ns", Some("x"), Some("oci://ghcr.io/nvidia")).chart_ref(),
            "oci://ghcr.io/nvidia/x"
        );
    }

    #[test]
    fn bundle_info_reads_back_and_refuses_another_kind() {
        let store = Store::embedded();
        let recipe = Store::default_recipe().unwrap();
        let cm = of_component(recipe.component("cert-manager").unwrap(), &store);
        let info = BundleInfo::new(&recipe, b"r", "flux", vec![cm]);
        assert_eq!(info.components.len(), 1);
        let text = info.to_yaml();
        assert_eq!(
            BundleInfo::parse("b/bundle-info.yaml", &text).unwrap(),
            info
        );
        let e = BundleInfo::parse(
            "b/bundle-info.yaml",
            &text.replace("kind: BundleInfo", "kind: Other"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("b/bundle-info.yaml"), "{e}");
    }
}
