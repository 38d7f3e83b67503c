//! Transition records: `components/<name>/upgrades.yaml` of the recipe data, read and
//! checked, and the version ranges they are matched by.

use super::Verdict;
use crate::constraints::satisfies;
use crate::{Error, Result, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One transition record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Record {
    /// Versions moved from: comma-separated conditions, all of which hold (`>= v1.17.0, < v1.18.0`).
    pub from: String,
    /// Versions moved to, the same way.
    pub to: String,
    /// `safe`, `manual`, `blocked`, or `unknown` where the projects' notes were read and say
    /// nothing about the move (the record then cites what was read); never
    /// `identity-changed` (that is read from the recipes).
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
    super::header(&path, &r.kind, &r.api_version, "UpgradeRecords")?;
    if r.component != component {
        return Err(bad(
            "component",
            r.component,
            "must name the folder's component",
        ));
    }
    for (i, u) in r.upgrades.iter().enumerate() {
        if u.verdict == Verdict::IdentityChanged {
            return Err(bad(
                "verdict",
                format!("upgrades[{i}]: {}", u.verdict.as_str()),
                "a record says safe, manual, blocked or unknown",
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
pub(super) fn range_holds(range: &str, version: &str) -> Option<bool> {
    let mut all = true;
    for cond in range.split(',').map(str::trim) {
        if cond.is_empty() {
            return None;
        }
        all &= satisfies(version, cond)?;
    }
    Some(all)
}

/// Where the pins of the last release live in the recipe data.
pub const RELEASED_PINS: &str = "released-pins.yaml";

/// `released-pins.yaml`: the chart version of each component in the last release.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReleasedPins {
    kind: String,
    api_version: String,
    /// Which release (said in messages).
    #[allow(dead_code)]
    release: String,
    pins: BTreeMap<String, String>,
}

/// The pins of the last release (component → version), from [`RELEASED_PINS`].
pub fn released_pins(store: &Store) -> Result<BTreeMap<String, String>> {
    let text = store.text(RELEASED_PINS, RELEASED_PINS)?;
    let p: ReleasedPins = crate::model::parse_yaml(RELEASED_PINS, "ReleasedPins", text)?;
    super::header(RELEASED_PINS, &p.kind, &p.api_version, "ReleasedPins")?;
    Ok(p.pins)
}

/// Each move from a pin of `released` (component → version) to a version the recipe data of
/// `store` pins (the registry's default or an overlay's) that no record covers, as
/// `component: from -> to`.
pub fn uncovered_moves(store: &Store, released: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut pinned = std::collections::BTreeSet::new();
    for c in &store.registry()?.components {
        pinned.insert((c.name.clone(), c.helm.version.clone()));
    }
    for o in store.overlays()?.values() {
        for c in &o.spec.component_refs {
            if let Some(v) = &c.version {
                pinned.insert((c.name.clone(), v.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (name, now) in pinned {
        let Some(then) = released.get(&name).filter(|then| **then != now) else {
            continue;
        };
        let covered = records(store, &name)?.iter().any(|r| {
            range_holds(&r.from, then) == Some(true) && range_holds(&r.to, &now) == Some(true)
        });
        if !covered {
            out.push(format!("{name}: {then} -> {now}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_moved_since_the_last_release_has_a_record() {
        let store = Store::embedded();
        let pins = released_pins(&store).unwrap();
        assert!(pins.len() >= 5, "{pins:?}");
        assert_eq!(
            uncovered_moves(&store, &pins).unwrap(),
            Vec::<String>::new()
        );
        // A pin moved where no record reaches is found.
        let mut old = pins.clone();
        old.insert("cert-manager".into(), "v1.15.0".into());
        assert_eq!(
            uncovered_moves(&store, &old).unwrap(),
            ["cert-manager: v1.15.0 -> v1.21.1"]
        );
    }
}
