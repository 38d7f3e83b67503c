//! A recipe as a person asks for it (`cnsctl recipe`): the criteria given, the rest detected
//! from a snapshot, resolved; the criteria it leaves open said (or refused when strict); and
//! the GPU driver pinned to what the snapshot measured where the recipe leaves it open.

use crate::pin::DriverPin;
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
    /// `--criteria-strict`: refuse a recipe that leaves criteria open.
    pub strict: bool,
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
        let d = crate::detect::detect(snap);
        note(false, format!("detected from {name}: {}", d.criteria));
        for u in &d.unmatched {
            let given = match u.field {
                "accelerator" => ask.accelerator.is_some(),
                _ => ask.os.is_some(),
            };
            if !given {
                note(true, u.to_string());
            }
        }
        driver = snap.driver_version();
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
    Ok(recipe)
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
        assert!(
            e.to_string()
                .starts_with("--criteria-strict: the recipe for"),
            "{e}"
        );
    }
}
