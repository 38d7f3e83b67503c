//! A recipe as a person asks for it (`cnsctl recipe`): the criteria given, the rest detected
//! from a snapshot, resolved; the criteria it leaves open said (or refused when strict); the
//! GPU driver pinned to what the snapshot measured where the recipe leaves it open; and, with
//! a recipe the cluster runs, each component kept where it is installed ([`inherit`]).

use crate::pin::DriverPin;
use crate::upgrade::Installed;
use crate::{Criteria, Error, RecipeResult, Result, Store};
use cns_snapshot::document::Snapshot;

/// The question: criteria flags (`None`: not given) and the snapshot to detect the rest from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// `--service`.
    pub service: Option<&'a str>,
    /// `--accelerator`.
    pub accelerator: Option<&'a str>,
    /// `--os`.
    pub os: Option<&'a str>,
    /// `--intent`.
    pub intent: Option<&'a str>,
    /// `--snapshot`: where it was read from (for messages) and the snapshot.
    pub snapshot: Option<(&'a str, &'a Snapshot)>,
    /// `--node-pool`: detect from this pool of the snapshot's topology rather than from the
    /// node the snapshot ran on ([`crate::detect::detect_pool`]); nothing without `snapshot`.
    pub node_pool: Option<&'a str>,
    /// `--criteria-strict`: refuse a recipe that leaves criteria open.
    pub strict: bool,
    /// `--inherit-from`: what the cluster runs (see [`inherit`]).
    pub inherit_from: Option<&'a [Installed]>,
}

/// Something the person should read, in the order it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// A warning rather than a status line.
    pub warning: bool,
    /// What to say.
    pub text: String,
}

/// Answer `ask` with `store`'s data: the resolved (and perhaps driver-pinned) recipe; `say`
/// hears what the person should read (detection, open criteria, pinning) as it is found, so
/// what led to a failure is said before it.
pub fn ask(store: &Store, ask: Ask<'_>, mut say: impl FnMut(Note)) -> Result<RecipeResult> {
    let mut note = |warning: bool, text: String| say(Note { warning, text });

    let mut detected = None;
    let mut driver = None;
    if let Some((name, snap)) = ask.snapshot {
        let (d, from) = match ask.node_pool {
            Some(pool) => (
                crate::detect::detect_pool(snap, pool)?,
                format!("node pool {pool} of {name}"),
            ),
            None => (crate::detect::detect(snap), name.to_string()),
        };
        note(false, format!("detected from {from}: {}", d.criteria));
        for u in &d.unmatched {
            let given = match u.field {
                "accelerator" => ask.accelerator.is_some(),
                _ => ask.os.is_some(),
            };
            if !given {
                note(true, u.to_string());
            }
        }
        // The driver the snapshot measured is its own node's: pinned only for that node's
        // pool.
        let own = cns_snapshot::topology::own_pool(snap);
        match ask.node_pool {
            Some(pool) if own.as_deref() != Some(pool) => {
                if snap.driver_version().is_some() {
                    note(
                        false,
                        format!(
                            "the snapshot's GPU readings are of a node outside pool {pool} ({}): the driver is not pinned from them",
                            own.as_deref().unwrap_or("pool unknown")
                        ),
                    );
                }
            }
            _ => driver = snap.driver_version(),
        }
        detected = Some(d.criteria);
    }
    let pick = |flag: Option<&'_ str>, det: Option<&str>| {
        flag.map(str::to_string)
            .or_else(|| det.filter(|d| *d != "any").map(str::to_string))
    };
    let d = detected.as_ref();
    let criteria = Criteria::new(
        pick(ask.service, d.map(|d| d.service.as_str())).as_deref(),
        pick(ask.accelerator, d.map(|d| d.accelerator.as_str())).as_deref(),
        pick(ask.os, d.map(|d| d.os.as_str())).as_deref(),
        pick(ask.intent, d.map(|d| d.intent.as_str())).as_deref(),
    )?;
    let mut recipe = crate::resolve(store, &criteria).map_err(|e| Error::Resolve {
        criteria: criteria.to_string(),
        source: Box::new(e),
    })?;
    let open = crate::open::open_criteria(store, &criteria, &recipe)?;
    if ask.strict && !open.is_empty() {
        let names: Vec<&str> = open.iter().map(|o| o.field).collect();
        let flags: Vec<String> = names.iter().map(|f| format!("--{f}")).collect();
        let each: Vec<String> = open.iter().map(ToString::to_string).collect();
        return Err(Error::CriteriaOpen(format!(
            "--criteria-strict: the recipe for {criteria} leaves {} open; pass {}\n{}",
            names.join(", "),
            flags.join(" "),
            each.join("\n")
        )));
    }
    for o in &open {
        note(true, o.to_string());
    }
    if let Some((version, reading)) = driver {
        match crate::pin::pin_driver(&mut recipe, store, &version)? {
            DriverPin::NotApplicable | DriverPin::Same => {}
            DriverPin::NotAVersion => note(
                true,
                format!(
                    "the snapshot's driver version `{}` ({reading}) is not a version; not pinned",
                    version.escape_debug()
                ),
            ),
            DriverPin::Kept(v) => note(
                false,
                format!(
                    "the recipe pins driver.version {v}; the snapshot measured {version} ({reading}): kept {v}"
                ),
            ),
            DriverPin::Pinned => note(
                false,
                format!(
                    "pinned gpu-operator driver.version={version} from the snapshot ({reading}); the recipe left it open"
                ),
            ),
        }
    }
    if let Some(from) = ask.inherit_from {
        for kept in inherit(&mut recipe, from) {
            note(false, kept);
        }
    }
    Ok(recipe)
}

/// Keep each component of `recipe` that `from` (what is installed: from a recipe, a bundle
/// or a cluster) also has where it is installed: its namespace, chart and source, where
/// known. The release name is the component's own, so it cannot move. Returns a line per
/// field kept that differs from what `recipe` had.
pub fn inherit(recipe: &mut RecipeResult, from: &[Installed]) -> Vec<String> {
    let mut kept = Vec::new();
    for c in recipe.component_refs.iter_mut() {
        let Some(old) = from.iter().find(|i| i.name == c.name) else {
            continue;
        };
        for (field, new, old) in [
            ("namespace", &mut c.namespace, Some(old.namespace.clone())),
            ("source", &mut c.source, old.source.clone()),
            ("chart", &mut c.chart, old.chart.clone()),
        ] {
            if let Some(old) = old
                && new.as_deref() != Some(old.as_str())
            {
                kept.push(format!(
                    "kept {} {field} `{old}` from what is installed (the recipe data says `{}`)",
                    c.name,
                    new.as_deref().unwrap_or("(default)")
                ));
                *new = Some(old);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_decide_and_strict_refuses_open_criteria() {
        let store = Store::embedded();
        let mut notes = Vec::new();
        let full = Ask {
            service: Some("eks"),
            accelerator: Some("h100"),
            os: Some("ubuntu"),
            intent: Some("training"),
            ..Ask::default()
        };
        let r = ask(&store, full, |n| notes.push(n)).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(r.component_refs.iter().any(|c| c.name == "gpu-operator"));
        let open = Ask {
            service: Some("eks"),
            ..Ask::default()
        };
        ask(&store, open, |n| notes.push(n)).unwrap();
        assert!(
            !notes.is_empty() && notes.iter().all(|n| n.warning),
            "{notes:?}"
        );
        let strict = Ask {
            strict: true,
            ..open
        };
        let e = ask(&store, strict, |_| {}).unwrap_err();
        // Inherited from an installed recipe: the predecessor's skyhook stays where it is.
        let mut installed = ask(&store, full, |_| {}).unwrap();
        let sky = installed
            .component_refs
            .iter_mut()
            .find(|c| c.name == "skyhook")
            .unwrap();
        sky.source = Some("oci://ghcr.io/nvidia/skyhook".into());
        sky.chart = None;
        sky.namespace = Some("skyhook-system".into());
        let mut said = Vec::new();
        let r = ask(
            &store,
            Ask {
                inherit_from: Some(&crate::upgrade::of_recipe(&installed, &store)),
                ..full
            },
            |n| said.push(n.text),
        )
        .unwrap();
        let sky = r.component("skyhook").unwrap();
        assert_eq!(sky.source.as_deref(), Some("oci://ghcr.io/nvidia"));
        assert_eq!(sky.chart.as_deref(), Some("skyhook"));
        assert_eq!(sky.namespace.as_deref(), Some("skyhook-system"));
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].starts_with("kept skyhook namespace `skyhook-system`"),
            "{said:?}"
        );
        // Nothing differs: nothing said.
        let mut same = r.clone();
        assert!(inherit(&mut same, &crate::upgrade::of_recipe(&r, &store)).is_empty());
        assert!(
            e.to_string()
                .starts_with("--criteria-strict: the recipe for"),
            "{e}"
        );
    }
}
