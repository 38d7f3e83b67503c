//! Day 2: whether a cluster can move from what it runs (FROM, a recipe) to a new recipe (TO),
//! component by component. Each move is judged by the transition records of the recipe data
//! (`components/<name>/upgrades.yaml`: from/to version ranges, a verdict, the steps per
//! deployer and the release notes they come from); a move no record covers is `unknown`, never
//! `safe`, and a component whose identity changes (namespace, chart, source, release name,
//! manifests) cannot be upgraded in place at all.

mod installed;
mod records;
mod report;

pub use installed::{BUNDLE_INFO, BundleInfo, Installed, of_component, of_recipe};
pub use records::{
    RELEASED_PINS, Record, Records, records, records_path, released_pins, uncovered_moves,
};

use crate::constraints::satisfies;
use crate::{RecipeResult, Result, Store};
use records::range_holds;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict on one component's move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Apply the new bundle; nothing else to do.
    Safe,
    /// Steps to do around applying the new bundle (listed per deployer).
    Manual,
    /// Do not move this way (a record says why).
    Blocked,
    /// No record covers the move, or it is a downgrade: nobody has said it is safe.
    Unknown,
    /// The component would be installed as something else (another namespace, chart, source,
    /// release name or manifest set): an upgrade in place is not possible.
    IdentityChanged,
}

impl Verdict {
    /// The word the table and the JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Manual => "manual",
            Verdict::Blocked => "blocked",
            Verdict::Unknown => "unknown",
            Verdict::IdentityChanged => "identity-changed",
        }
    }
}

/// A document's `kind`/`apiVersion` header: `want` of this cnsctl's API version, or an error
/// naming `path` and what was found.
fn header(path: &str, kind: &str, api_version: &str, want: &str) -> Result<()> {
    if kind == want && api_version == crate::API_VERSION {
        return Ok(());
    }
    Err(crate::Error::Invalid {
        path: path.into(),
        what: "kind/apiVersion",
        value: format!("{kind}/{api_version}"),
        reason: format!("expected {want}/{}", crate::API_VERSION),
    })
}

/// The deployers whose steps records give (`steps.script`, `.argocd`, `.flux`).
pub const DEPLOYERS: [&str; 3] = ["script", "argocd", "flux"];

/// The verdict on one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The component.
    pub component: String,
    /// Its version in FROM (`None`: TO adds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Its version in TO (`None`: TO drops it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// One line: why.
    pub reason: String,
    /// What must hold first (from the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// The steps for the deployer asked for, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Where the facts come from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The deployer the steps are for.
    pub deployer: String,
    /// One check per component of FROM or TO, by name.
    pub components: Vec<Check>,
    /// Whether every component is `safe`.
    pub safe: bool,
}

/// Judge the move from `from` to `to` with `store`'s records, the steps for `deployer`.
pub fn check(
    from: &RecipeResult,
    to: &RecipeResult,
    store: &Store,
    deployer: &str,
) -> Result<Report> {
    check_installed(&of_recipe(from, store), to, store, deployer)
}

/// Judge the move from what is installed (`from`: from a recipe, a bundle's
/// `bundle-info.yaml` or a cluster) to `to`.
pub fn check_installed(
    from: &[Installed],
    to: &RecipeResult,
    store: &Store,
    deployer: &str,
) -> Result<Report> {
    let by_name = |v: Vec<Installed>| -> BTreeMap<String, Installed> {
        v.into_iter().map(|c| (c.name.clone(), c)).collect()
    };
    let (old, new) = (by_name(from.to_vec()), by_name(of_recipe(to, store)));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let mut components = Vec::new();
    for name in names {
        let (a, b) = (old.get(name), new.get(name));
        let mut check = Check {
            component: name.clone(),
            from: a.map(|c| c.version.clone()),
            to: b.map(|c| c.version.clone()),
            verdict: Verdict::Safe,
            reason: String::new(),
            precondition: None,
            steps: Vec::new(),
            references: Vec::new(),
        };
        match (a, b) {
            (None, Some(_)) => {
                check.reason = "new in the recipe: installed fresh".into();
            }
            (Some(_), None) => {
                check.verdict = Verdict::Manual;
                check.reason = "no longer in the recipe: the new bundle does not remove it".into();
                check.steps = vec![match deployer {
                    "argocd" => format!(
                        "delete the Argo CD Application `{name}` if the app-of-apps does not prune it"
                    ),
                    "flux" => format!(
                        "the Flux Kustomization prunes the HelmRelease `{name}`; check it is gone"
                    ),
                    _ => format!(
                        "run the old bundle's {name}/scripts/uninstall.sh (helm uninstall {name})"
                    ),
                }];
            }
            (Some(a), Some(b)) => judge(&mut check, a, b, store, deployer)?,
            (None, None) => unreachable!("a name comes from one side"),
        }
        components.push(check);
    }
    let safe = components.iter().all(|c| c.verdict == Verdict::Safe);
    Ok(Report {
        deployer: deployer.to_string(),
        components,
        safe,
    })
}

fn judge(
    check: &mut Check,
    a: &Installed,
    b: &Installed,
    store: &Store,
    deployer: &str,
) -> Result<()> {
    let changed = a.identity_changes(b);
    if !changed.is_empty() {
        check.verdict = Verdict::IdentityChanged;
        check.reason = format!(
            "{}: install the new one beside or after removing the old (Helm refuses to adopt another release's objects)",
            changed.join("; ")
        );
        return Ok(());
    }
    let (from, to) = (
        check.from.clone().unwrap_or_default(),
        check.to.clone().unwrap_or_default(),
    );
    if from == to {
        check.reason = "same version: the values may change, the chart does not".into();
        return Ok(());
    }
    if satisfies(&to, &format!("< {from}")) == Some(true) {
        check.verdict = Verdict::Unknown;
        check.reason =
            format!("a downgrade ({from} -> {to}): charts and CRDs are not made to go back");
        return Ok(());
    }
    let found = records(store, &check.component)?.into_iter().find(|r| {
        range_holds(&r.from, &from) == Some(true) && range_holds(&r.to, &to) == Some(true)
    });
    let Some(r) = found else {
        check.verdict = Verdict::Unknown;
        check.reason = format!(
            "no transition record covers {from} -> {to} (recipes/{})",
            records_path(&check.component)
        );
        return Ok(());
    };
    check.verdict = r.verdict;
    check.reason = r.summary;
    check.precondition = r.precondition;
    check.steps = r
        .steps
        .get("all")
        .into_iter()
        .flatten()
        .chain(r.steps.get(deployer).into_iter().flatten())
        .cloned()
        .collect();
    check.references = r.references;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::ComponentRef;

    fn recipe(components: &[(&str, &str)]) -> RecipeResult {
        let mut r = Store::default_recipe().unwrap();
        r.component_refs = components
            .iter()
            .map(|(name, version)| ComponentRef {
                name: name.to_string(),
                version: Some(version.to_string()),
                ..Default::default()
            })
            .collect();
        r
    }

    fn verdict(report: &Report, name: &str) -> (Verdict, String) {
        let c = report
            .components
            .iter()
            .find(|c| c.component == name)
            .unwrap();
        (c.verdict, c.reason.clone())
    }

    #[test]
    fn each_verdict_from_the_recipes_and_the_records() {
        let store = Store::embedded();
        let from = recipe(&[
            ("cert-manager", "v1.17.2"),
            ("gpu-operator", "v26.7.0"),
            ("nvsentinel", "v1.14.0"),
            ("skyhook", "v0.13.1"),
            ("old-thing", "1.0.0"),
        ]);
        let mut to = recipe(&[
            ("cert-manager", "v1.21.1"),
            ("gpu-operator", "v26.7.0"),
            ("nvsentinel", "v1.13.0"),
            ("skyhook", "v0.13.2"),
            ("network-operator", "26.4.1"),
        ]);
        let s = to
            .component_refs
            .iter_mut()
            .find(|c| c.name == "skyhook")
            .unwrap();
        s.namespace = Some("skyhook-operator".into());
        let r = check(&from, &to, &store, "script").unwrap();
        assert_eq!(verdict(&r, "cert-manager").0, Verdict::Manual, "{r:#?}");
        let cm = r
            .components
            .iter()
            .find(|c| c.component == "cert-manager")
            .unwrap();
        assert!(!cm.steps.is_empty() && !cm.references.is_empty());
        assert_eq!(verdict(&r, "gpu-operator").0, Verdict::Safe);
        let (v, why) = verdict(&r, "nvsentinel");
        assert_eq!(v, Verdict::Unknown);
        assert!(why.contains("downgrade"), "{why}");
        let (v, why) = verdict(&r, "skyhook");
        assert_eq!(v, Verdict::IdentityChanged);
        assert!(
            why.contains("namespace `skyhook` -> `skyhook-operator`"),
            "{why}"
        );
        assert_eq!(verdict(&r, "network-operator").0, Verdict::Safe);
        assert_eq!(verdict(&r, "old-thing").0, Verdict::Manual);
        assert!(!r.safe);
        // No record covers this move.
        let to = recipe(&[("skyhook", "v0.14.0")]);
        let from = recipe(&[("skyhook", "v0.13.1")]);
        let r = check(&from, &to, &store, "flux").unwrap();
        let (v, why) = verdict(&r, "skyhook");
        assert_eq!(v, Verdict::Unknown);
        assert!(why.contains("no transition record"), "{why}");
        // The same recipe: every component safe.
        let same = Store::default_recipe().unwrap();
        let r = check(&same, &same, &store, "argocd").unwrap();
        assert!(r.safe, "{}", r.text());
    }

    #[test]
    fn a_predecessor_oci_source_is_the_chart_itself() {
        let store = Store::embedded();
        let mut old = ComponentRef {
            name: "nvsentinel".into(),
            source: Some("oci://ghcr.io/nvidia/nvsentinel".into()),
            version: Some("v0.6.0".into()),
            ..Default::default()
        };
        let new = ComponentRef {
            name: "nvsentinel".into(),
            source: Some("oci://ghcr.io/nvidia".into()),
            chart: Some("nvsentinel".into()),
            ..Default::default()
        };
        let (a, b) = (of_component(&old, &store), of_component(&new, &store));
        assert_eq!((&a.source, &a.chart), (&b.source, &b.chart));
        assert_eq!(a.chart_ref(), "oci://ghcr.io/nvidia/nvsentinel");
        old.source = Some("oci://ghcr.io/nvidia/skyhook".into());
        let a = of_component(&old, &store);
        assert_eq!(
            a.identity_changes(&b),
            ["chart `oci://ghcr.io/nvidia/skyhook` -> `oci://ghcr.io/nvidia/nvsentinel`"]
        );
    }

    #[test]
    fn every_record_file_reads_and_ranges_hold() {
        let store = Store::embedded();
        for c in &store.registry().unwrap().components {
            for r in records(&store, &c.name).unwrap() {
                assert!(
                    range_holds(&r.from, "0.0.1").is_some(),
                    "{}: {}",
                    c.name,
                    r.from
                );
                assert!(!r.verified_by.is_empty());
            }
        }
        assert!(!records(&store, "cert-manager").unwrap().is_empty());
        assert!(!records(&store, "gpu-operator").unwrap().is_empty());
    }
}
