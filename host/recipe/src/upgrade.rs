//! Day 2: whether a cluster can move from what it runs (FROM, a recipe) to a new recipe (TO),
//! component by component. Each move is judged by the transition records of the recipe data
//! (`components/<name>/upgrades.yaml`: from/to version ranges, a verdict, the steps per
//! deployer and the release notes they come from); a move no record covers is `unknown`, never
//! `safe`, and a component whose identity changes (namespace, chart, source, release name,
//! manifests) cannot be upgraded in place at all.

use crate::component::ComponentRef;
use crate::constraints::satisfies;
use crate::{Error, RecipeResult, Result, Store};
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

/// One transition record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Record {
    /// Versions moved from: comma-separated conditions, all of which hold (`>= v1.17.0, < v1.18.0`).
    pub from: String,
    /// Versions moved to, the same way.
    pub to: String,
    /// `safe`, `manual` or `blocked`; a record does not say `unknown` (that is the absence
    /// of one) or `identity-changed` (that is read from the recipes).
    pub verdict: Verdict,
    /// One line: what the move does.
    pub summary: String,
    /// What must hold before the move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// Steps by deployer (`script`, `argocd`, `flux`); `all` applies to every deployer and
    /// comes first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, Vec<String>>,
    /// The release notes and upgrade guides each fact comes from.
    pub references: Vec<String>,
    /// How the record was checked (read from the notes, or run on a cluster, with the date).
    pub verified_by: String,
}

/// `components/<name>/upgrades.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Records {
    /// `UpgradeRecords`.
    pub kind: String,
    /// cnsctl's document API version.
    pub api_version: String,
    /// The component the records are for.
    pub component: String,
    /// The records, any order.
    pub upgrades: Vec<Record>,
}

/// Where a record's file lives in the recipe data.
pub fn records_path(component: &str) -> String {
    format!("components/{component}/upgrades.yaml")
}

/// The records of `component` (none when it has no file); checked as they are read: the
/// header, the verdicts a record may give, and ranges and references that are not empty.
pub fn records(store: &Store, component: &str) -> Result<Vec<Record>> {
    let path = records_path(component);
    if store.get(&path).is_none() {
        return Ok(Vec::new());
    }
    let text = store.text(&path, &path)?;
    let r: Records = crate::model::parse_yaml(&path, "UpgradeRecords", text)?;
    let bad = |what: &'static str, value: String, reason: &str| Error::Invalid {
        path: path.clone(),
        what,
        value,
        reason: reason.to_string(),
    };
    if r.kind != "UpgradeRecords" || r.api_version != crate::API_VERSION {
        return Err(bad(
            "kind/apiVersion",
            format!("{}/{}", r.kind, r.api_version),
            &format!("expected UpgradeRecords/{}", crate::API_VERSION),
        ));
    }
    if r.component != component {
        return Err(bad(
            "component",
            r.component,
            "must name the folder's component",
        ));
    }
    for (i, u) in r.upgrades.iter().enumerate() {
        if matches!(u.verdict, Verdict::Unknown | Verdict::IdentityChanged) {
            return Err(bad(
                "verdict",
                format!("upgrades[{i}]: {}", u.verdict.as_str()),
                "a record says safe, manual or blocked",
            ));
        }
        for (field, range) in [("from", &u.from), ("to", &u.to)] {
            if range_holds(range, "0").is_none() {
                return Err(bad(
                    "version range",
                    format!("upgrades[{i}].{field}: {range}"),
                    "expected comma-separated conditions such as `>= v1.17.0, < v1.18.0`",
                ));
            }
        }
        if u.references.is_empty() {
            return Err(bad(
                "references",
                format!("upgrades[{i}]"),
                "every record names the notes its facts come from",
            ));
        }
    }
    Ok(r.upgrades)
}

/// Whether `version` meets every condition of `range`; `None` if a condition is malformed.
fn range_holds(range: &str, version: &str) -> Option<bool> {
    let mut all = true;
    for cond in range.split(',').map(str::trim) {
        if cond.is_empty() {
            return None;
        }
        all &= satisfies(version, cond)?;
    }
    Some(all)
}

/// What identifies an installed component: a change to any of these is not an upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The namespace it is installed into.
    pub namespace: String,
    /// The chart as Helm pulls it: `oci://REGISTRY/PATH/CHART`, or `REPOSITORY CHART`.
    pub chart: String,
    /// The Helm release name (cnsctl names releases after their component).
    pub release: String,
    /// The manifests shipped with it, by file name.
    pub manifests: Vec<String>,
}

/// The deployers whose steps records give (`steps.script`, `.argocd`, `.flux`).
pub const DEPLOYERS: [&str; 3] = ["script", "argocd", "flux"];

/// The registry's chart defaults for `name`, if it knows the component.
fn registry_defaults<'s>(
    store: &'s Store,
    name: &str,
) -> Option<&'s crate::registry::HelmDefaults> {
    store.registry().ok()?.get(name).map(|d| &d.helm)
}

fn identity(c: &ComponentRef, store: &Store) -> Identity {
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
    let source = source.trim_end_matches('/');
    // An OCI source without a chart name is the chart itself (the predecessor's form,
    // `oci://ghcr.io/nvidia/nvsentinel`); with one, the chart is under it.
    let chart = match (source.starts_with("oci://"), c.chart.as_deref()) {
        (true, Some(chart)) => format!("{source}/{chart}"),
        (true, None) => source.to_string(),
        (false, chart) => format!(
            "{source} {}",
            chart
                .map(str::to_string)
                .or_else(|| defaults.map(|d| d.chart.clone()))
                .unwrap_or_else(|| c.name.clone())
        ),
    };
    let mut manifests: Vec<String> = c
        .manifest_files
        .iter()
        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
        .collect();
    manifests.sort();
    Identity {
        namespace,
        chart,
        release: c.name.clone(),
        manifests,
    }
}

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
    let enabled = |r: &RecipeResult| -> BTreeMap<String, ComponentRef> {
        r.component_refs
            .iter()
            .filter(|c| c.enabled())
            .map(|c| (c.name.clone(), c.clone()))
            .collect()
    };
    let (old, new) = (enabled(from), enabled(to));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let mut components = Vec::new();
    for name in names {
        let (a, b) = (old.get(name), new.get(name));
        let version = |c: Option<&ComponentRef>| {
            c.map(|c| {
                c.version.clone().unwrap_or_else(|| {
                    registry_defaults(store, &c.name)
                        .map(|d| d.version.clone())
                        .unwrap_or_default()
                })
            })
        };
        let mut check = Check {
            component: name.clone(),
            from: version(a),
            to: version(b),
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
    a: &ComponentRef,
    b: &ComponentRef,
    store: &Store,
    deployer: &str,
) -> Result<()> {
    let (ia, ib) = (identity(a, store), identity(b, store));
    let changed: Vec<String> = [
        ("namespace", &ia.namespace, &ib.namespace),
        ("chart", &ia.chart, &ib.chart),
        ("release name", &ia.release, &ib.release),
    ]
    .into_iter()
    .filter(|(_, x, y)| x != y)
    .map(|(what, x, y)| format!("{what} `{x}` -> `{y}`"))
    .chain((ia.manifests != ib.manifests).then(|| {
        format!(
            "manifests [{}] -> [{}]",
            ia.manifests.join(", "),
            ib.manifests.join(", ")
        )
    }))
    .collect();
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

impl Report {
    /// The report as a table with each component's reason, then the steps of those that
    /// have any.
    pub fn text(&self) -> String {
        let dash = "-".to_string();
        let mut out = format!(
            "{:<28} {:<12} {:<12} {:<17} REASON\n",
            "COMPONENT", "FROM", "TO", "VERDICT"
        );
        for c in &self.components {
            out.push_str(&format!(
                "{:<28} {:<12} {:<12} {:<17} {}\n",
                c.component,
                c.from.as_ref().unwrap_or(&dash),
                c.to.as_ref().unwrap_or(&dash),
                c.verdict.as_str(),
                c.reason
            ));
        }
        for c in self
            .components
            .iter()
            .filter(|c| !c.steps.is_empty() || c.precondition.is_some())
        {
            out.push_str(&format!(
                "\n{} ({} deployer):\n",
                c.component, self.deployer
            ));
            if let Some(p) = &c.precondition {
                out.push_str(&format!("  before: {p}\n"));
            }
            for (i, s) in c.steps.iter().enumerate() {
                out.push_str(&format!("  {}. {s}\n", i + 1));
            }
            for r in &c.references {
                out.push_str(&format!("  see {r}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(identity(&old, &store).chart, identity(&new, &store).chart);
        old.source = Some("oci://ghcr.io/nvidia/skyhook".into());
        assert_ne!(identity(&old, &store).chart, identity(&new, &store).chart);
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
