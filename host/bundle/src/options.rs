//! Validated bundle options: node placement flags, `--set` overrides, deployer settings.

use crate::{Error, Result};
use cns_recipe::scheduling;
use cns_runtime::types::{Label, Toleration};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where one class of pods goes: node selector and tolerations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// Node selector labels, sorted by key.
    pub selector: BTreeMap<String, String>,
    /// Tolerations, in flag order.
    pub tolerations: Vec<Toleration>,
}

impl Placement {
    /// Labels in WIT form.
    pub fn labels(&self) -> Vec<Label> {
        self.selector
            .iter()
            .map(|(k, v)| Label {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
}

/// One `--set`, `--set-string`, `--set-json` or `--set-file` flag for a component: Helm's
/// syntax after `COMPONENT:`, checked when the flag is read and applied per component in
/// Helm's order (see [`SetOverride::tree`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOverride {
    /// Component name or alias as given.
    pub component: String,
    /// Which flag.
    pub kind: cns_values::strvals::Kind,
    /// What follows `COMPONENT:`, e.g. `driver.version=570.133.20,driver.enabled=true`.
    pub expr: String,
    /// `--set-file`: each file named, with its content (read when the flag is read).
    pub files: BTreeMap<String, String>,
}

impl SetOverride {
    /// Apply `sets` (one component's) into one tree, as Helm does with its flags: every
    /// `--set-json`, then `--set`, `--set-string` and `--set-file`, each kind in flag order,
    /// into the same map (so `a[0]=x` and `a[1]=y` build one list).
    pub fn tree(sets: &[&SetOverride]) -> Result<serde_json::Map<String, Value>> {
        use cns_values::strvals::{Kind, parse_into};
        let rank = |k: Kind| match k {
            Kind::Json => 0,
            Kind::Typed => 1,
            Kind::String => 2,
            Kind::File => 3,
        };
        let mut ordered: Vec<&&SetOverride> = sets.iter().collect();
        ordered.sort_by_key(|s| rank(s.kind));
        let mut tree = serde_json::Map::new();
        for s in ordered {
            let read = |p: &str| {
                s.files
                    .get(p)
                    .cloned()
                    .ok_or_else(|| format!("`{p}` was not read"))
            };
            parse_into(&s.expr, s.kind, &mut tree, &read).map_err(|e| Error::InvalidFlag {
                flag: s.kind.flag(),
                value: shorten(&format!("{}:{}", s.component, s.expr)),
                reason: e.to_string(),
            })?;
        }
        Ok(tree)
    }
}

/// Everything `cnsctl bundle` needs besides the recipe, already validated.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Deployer plugin name.
    pub deployer: String,
    /// `--system-node-selector` / `--system-node-toleration`.
    pub system: Placement,
    /// `--accelerated-node-selector` / `--accelerated-node-toleration`.
    pub accelerated: Placement,
    /// `--set` overrides, in flag order.
    pub sets: Vec<SetOverride>,
    /// Options passed to the deployer (`repo`, `revision`, …), sorted by key.
    pub deployer_options: BTreeMap<String, String>,
    /// Render components on several threads.
    pub parallel: bool,
    /// `--cluster-values NAME`: clusters that share the bundle. When given, the
    /// cluster-specific values (scheduling from the flags, the registry's `clusterValuePaths`)
    /// leave the shared `values.yaml` and reach the deployer per component as
    /// `cluster-values/<component>` (JSON), with `clusters` naming the clusters.
    pub clusters: Vec<String>,
    /// `--registry-mirror REGISTRY/PREFIX`: every image of every component with image data
    /// is pointed at the mirror (values at the registry's `mirror` paths, operator custom
    /// resources among the manifests).
    pub registry_mirror: Option<String>,
    /// `--upgrade-from`: what runs now. The move to this bundle is judged
    /// ([`cns_recipe::upgrade`]); the bundle gets `UPGRADING.md`, and a `blocked` move is
    /// refused unless allowed.
    pub upgrade_from: Option<UpgradeFrom>,
}

/// What a bundle made with `--upgrade-from` upgrades.
#[derive(Debug, Clone, Default)]
pub struct UpgradeFrom {
    /// How the user named it (`UPGRADING.md` says what it was checked against).
    pub label: String,
    /// Each installed component.
    pub installed: Vec<cns_recipe::upgrade::Installed>,
    /// `--allow-blocked`: bundle even where a record says `blocked`.
    pub allow_blocked: bool,
}

/// Parse `key=value` node selectors (repeatable) into a sorted map
/// ([`cns_recipe::scheduling::parse_selectors`]).
pub fn parse_selectors(flag: &'static str, raw: &[String]) -> Result<BTreeMap<String, String>> {
    Ok(scheduling::parse_selectors(flag, raw)?)
}

/// Parse tolerations ([`cns_recipe::scheduling::parse_tolerations`]) into their WIT form.
pub fn parse_tolerations(flag: &'static str, raw: &[String]) -> Result<Vec<Toleration>> {
    Ok(scheduling::parse_tolerations(flag, raw)?
        .into_iter()
        .map(|t| Toleration {
            key: t.key,
            operator: t.operator,
            value: t.value,
            effect: t.effect,
        })
        .collect())
}

/// Check a Kubernetes name given as a flag (a namespace, project, Secret or name prefix): a
/// DNS label, lowercase letters, digits and `-`, at most 63 characters.
pub fn check_name(flag: &'static str, raw: &str) -> Result<()> {
    if cns_recipe::fields::is_dns_label(raw) {
        Ok(())
    } else {
        Err(Error::InvalidFlag {
            flag,
            value: shorten(raw),
            reason: "expected a Kubernetes name: lowercase letters, digits and `-`, at most 63"
                .into(),
        })
    }
}

/// Check a deployer option given as a flag (`--repo`, `--revision`): no control characters,
/// quotes or spaces; only characters URLs, OCI references and Git refs use.
pub fn check_location(flag: &'static str, raw: &str) -> Result<()> {
    let ok = !raw.is_empty()
        && raw.len() <= 2048
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/@%+=".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidFlag {
            flag,
            value: shorten(raw),
            reason:
                "use only letters, digits and `-._~:/@%+=` (a URL, OCI reference or Git revision)"
                    .into(),
        })
    }
}

/// A flag value for an error message: control characters escaped, at most 120 characters.
fn shorten(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .take(120)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if raw.chars().nth(120).is_some() {
        s.push('…');
    }
    s
}

/// `--registry-mirror oci://REGISTRY/PREFIX` (and `mirror --to/--from`) → `REGISTRY/PREFIX`,
/// checked: a host (with an optional port) and a lowercase repository prefix, no tag.
pub fn parse_mirror(flag: &'static str, raw: &str) -> Result<String> {
    check_location(flag, raw)?;
    let refuse = |message: String| Error::Request {
        field: flag.trim_start_matches('-'),
        message,
    };
    let Some(rest) = raw.strip_prefix("oci://") else {
        return Err(refuse(format!(
            "{flag} `{raw}`: expected oci://REGISTRY/PREFIX"
        )));
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let path_ok = path.split('/').all(|seg| {
        seg.is_empty() && path.is_empty()
            || (!seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && seg.starts_with(|c: char| c.is_ascii_alphanumeric()))
    });
    if !host_ok || !path_ok || path.contains(':') || path.contains('@') {
        return Err(refuse(format!(
            "{flag} `{raw}`: expected oci://REGISTRY[:PORT]/PREFIX with a lowercase repository prefix and no tag"
        )));
    }
    Ok(rest.to_string())
}

/// Largest value one `--set` may carry, in bytes.
pub const MAX_SET_VALUE: usize = 1 << 20;

/// Parse `COMPONENT:EXPR` of `--set` (Helm's syntax and typing: [`cns_values::strvals`]).
pub fn parse_set(raw: &str) -> Result<SetOverride> {
    parse_set_as(raw, cns_values::strvals::Kind::Typed)
}

/// Parse `COMPONENT:EXPR` of the flag `kind` names; a `--set-file`'s files are read here
/// (each at most [`MAX_SET_VALUE`] bytes), so a bad flag is reported before any work.
pub fn parse_set_as(raw: &str, kind: cns_values::strvals::Kind) -> Result<SetOverride> {
    let bad = |reason: &str| Error::InvalidFlag {
        flag: kind.flag(),
        value: shorten(raw),
        reason: reason.to_string(),
    };
    let (component, expr) = raw
        .split_once(':')
        .ok_or_else(|| bad("expected COMPONENT:NAME=VALUE[,NAME=VALUE…]"))?;
    if component.is_empty() {
        return Err(bad("the component is empty"));
    }
    if expr.len() > MAX_SET_VALUE {
        return Err(bad(&format!(
            "the value is {} bytes, more than the {MAX_SET_VALUE} allowed",
            expr.len()
        )));
    }
    let files = std::cell::RefCell::new(BTreeMap::new());
    let read = |path: &str| -> std::result::Result<String, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        if meta.len() > MAX_SET_VALUE as u64 {
            return Err(format!(
                "`{path}` is {} bytes, more than the {MAX_SET_VALUE} allowed",
                meta.len()
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        files.borrow_mut().insert(path.to_string(), text.clone());
        Ok(text)
    };
    // Checked now: syntax, nesting, indices, JSON, files.
    cns_values::strvals::parse_into(expr, kind, &mut serde_json::Map::new(), &read)
        .map_err(|e| bad(&e.to_string()))?;
    Ok(SetOverride {
        component: component.to_string(),
        kind,
        expr: expr.to_string(),
        files: files.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tolerations_grammar() {
        let t = parse_tolerations(
            "--t",
            &s(&[
                "dedicated=user-workload:NoSchedule",
                "gpu:NoExecute",
                "a=b",
                "k",
                "*",
            ]),
        )
        .unwrap();
        let show: Vec<String> = t
            .iter()
            .map(|t| format!("{:?}|{}|{:?}|{:?}", t.key, t.operator, t.value, t.effect))
            .collect();
        assert_eq!(
            show,
            [
                "Some(\"dedicated\")|Equal|Some(\"user-workload\")|Some(\"NoSchedule\")",
                "Some(\"gpu\")|Exists|None|Some(\"NoExecute\")",
                "Some(\"a\")|Equal|Some(\"b\")|None",
                "Some(\"k\")|Exists|None|None",
                "None|Exists|None|None",
            ]
        );
        for bad in ["a=b:Sometimes", "=b:NoSchedule", "a b=c", "a=b c"] {
            let e = parse_tolerations("--t", &s(&[bad]))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("invalid --t value `{bad}`")), "{e}");
        }
    }

    #[test]
    fn selectors_grammar() {
        let m = parse_selectors(
            "--s",
            &s(&[
                "nodeGroup=system-pool",
                "node.kubernetes.io/role=gpu",
                "empty=",
            ]),
        )
        .unwrap();
        assert_eq!(m.len(), 3);
        for bad in ["novalue", "=x", "a=b c", "UPPER/x=y"] {
            assert!(parse_selectors("--s", &s(&[bad])).is_err(), "{bad}");
        }
        assert!(parse_selectors("--s", &s(&["a=1", "a=2"])).is_err());
    }

    #[test]
    fn set_grammar() {
        use cns_values::strvals::Kind;
        let tree = |raws: &[&str]| {
            let sets: Vec<SetOverride> = raws.iter().map(|r| parse_set(r).unwrap()).collect();
            Value::Object(SetOverride::tree(&sets.iter().collect::<Vec<_>>()).unwrap())
        };
        let o = parse_set("gpuoperator:driver.version=570.133.20").unwrap();
        assert_eq!((o.component.as_str(), o.kind), ("gpuoperator", Kind::Typed));
        assert_eq!(
            tree(&[
                "x:driver.version=1.50,driver.enabled=true",
                "x:n=3",
                "x:a=b=c"
            ]),
            json!({"driver": {"version": "1.50", "enabled": true}, "n": 3, "a": "b=c"})
        );
        // Flags of one component build one tree, as Helm's do.
        assert_eq!(tree(&["x:l[0]=a", "x:l[1]=b"]), json!({"l": ["a", "b"]}));
        // Helm's order: --set-json, --set, --set-string, --set-file, whatever the flag order.
        let s = parse_set_as("x:v=str", Kind::String).unwrap();
        let t = parse_set("x:v=1").unwrap();
        let j = parse_set_as("x:v=[1]", Kind::Json).unwrap();
        assert_eq!(SetOverride::tree(&[&s, &t, &j]).unwrap()["v"], json!("str"));
        // Bounded: nesting and value size (an API caller is not limited by ARG_MAX).
        let deep = format!("x:{}=1", vec!["a"; 65].join("."));
        let e = parse_set(&deep).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 30") && e.len() < 400, "{e}");
        let big = format!("x:a={}", "v".repeat(MAX_SET_VALUE + 1));
        let e = parse_set(&big).unwrap_err().to_string();
        assert!(
            e.contains("more than the 1048576 allowed") && e.len() < 400,
            "{e}"
        );
        for bad in ["nocolon", "x:noequals", ":a=1", "x:a[z]=1", "x:a={b"] {
            let e = parse_set(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --set value `{bad}`")),
                "{e}"
            );
        }
        let e = parse_set_as("x:a=/nonexistent/f", Kind::File)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid --set-file value") && e.contains("cannot read `/nonexistent/f`"),
            "{e}"
        );
    }
}
