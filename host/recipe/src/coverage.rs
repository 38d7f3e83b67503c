//! The coverage table (`recipe --list --explain`): for each supported leaf, the overlays that
//! make it what it is, each with the reason its file gives, and which leaves resolve to the
//! same content (components, values, manifests and constraints), so that two leaves that do
//! not differ are visibly alike and the data says why.

use crate::{Criteria, Result, Store};
use serde::Serialize;
use std::collections::BTreeMap;

/// One supported leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leaf {
    /// Its criteria.
    pub criteria: Criteria,
    /// The overlays applied beyond `base`, least specific first.
    pub overlays: Vec<String>,
    /// Its content group: leaves with the same number resolve to the same components,
    /// values, manifests and constraints (numbered in the order they first appear, from 1).
    pub content: usize,
}

/// The table: every supported leaf, and why each overlay is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The supported leaves, sorted by criteria.
    pub leaves: Vec<Leaf>,
    /// How many distinct contents the leaves resolve to.
    pub distinct: usize,
    /// Each overlay a leaf applies, with the first sentence of its file's leading comment.
    pub overlays: BTreeMap<String, String>,
}

/// The first sentence of the comment block that opens `text` (lines starting with `#`),
/// its lines joined; empty when the file opens with no comment.
pub fn leading_sentence(text: &str) -> String {
    let joined = text
        .lines()
        .map_while(|l| l.strip_prefix('#'))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let end = joined
        .match_indices(". ")
        .map(|(i, _)| i + 1)
        .next()
        .unwrap_or(joined.len());
    joined[..end].trim().to_string()
}

/// The coverage of `store`'s recipe data.
pub fn coverage(store: &Store) -> Result<Coverage> {
    let mut groups: Vec<String> = Vec::new();
    let mut leaves = Vec::new();
    let mut overlays = BTreeMap::new();
    for criteria in crate::resolve::supported(store)? {
        let mut recipe = crate::resolve(store, &criteria)?;
        let applied: Vec<String> = recipe
            .metadata
            .applied_overlays
            .iter()
            .filter(|o| *o != "base")
            .cloned()
            .collect();
        for o in &applied {
            if !overlays.contains_key(o) {
                let path = format!("overlays/{o}.yaml");
                let why = leading_sentence(store.text(&path, &path)?);
                overlays.insert(o.clone(), why);
            }
        }
        // The content: everything but what names the leaf.
        recipe.metadata = Default::default();
        recipe.criteria = Default::default();
        let text = recipe.to_yaml();
        let content = match groups.iter().position(|g| *g == text) {
            Some(i) => i + 1,
            None => {
                groups.push(text);
                groups.len()
            }
        };
        leaves.push(Leaf {
            criteria,
            overlays: applied,
            content,
        });
    }
    Ok(Coverage {
        distinct: groups.len(),
        leaves,
        overlays,
    })
}

impl Coverage {
    /// Keep the leaves `keep` admits, and the overlays they apply; `distinct` counts the
    /// content groups left (their numbers stay those of the whole table).
    pub fn retain(&mut self, keep: impl Fn(&Leaf) -> bool) {
        self.leaves.retain(keep);
        let used: std::collections::BTreeSet<&String> =
            self.leaves.iter().flat_map(|l| &l.overlays).collect();
        self.overlays.retain(|o, _| used.contains(o));
        let groups: std::collections::BTreeSet<usize> =
            self.leaves.iter().map(|l| l.content).collect();
        self.distinct = groups.len();
    }

    /// The table as text: a row per leaf (its content group and overlays), the count of
    /// distinct contents, then each overlay with its reason.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{:<8} {:<12} {:<12} {:<10} {:<8} OVERLAYS (beyond base)\n",
            "SERVICE", "ACCELERATOR", "OS", "INTENT", "CONTENT"
        );
        for l in &self.leaves {
            let c = &l.criteria;
            out.push_str(&format!(
                "{:<8} {:<12} {:<12} {:<10} {:<8} {}\n",
                c.service,
                c.accelerator,
                c.os,
                c.intent,
                format!("#{}", l.content),
                l.overlays.join(", ")
            ));
        }
        out.push_str(&format!(
            "\n{} supported leaves resolve to {} distinct contents (leaves with the same #CONTENT get the same components, values, manifests and constraints).\n\nWhy each overlay is there:\n",
            self.leaves.len(),
            self.distinct
        ));
        for (name, why) in &self.overlays {
            out.push_str(&format!("  {name}: {why}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sentence_of_the_leading_comment() {
        assert_eq!(
            leading_sentence("# A100 (Ampere) on any\n# service. More here.\nkind: x\n# later"),
            "A100 (Ampere) on any service."
        );
        assert_eq!(leading_sentence("# No period\nkind: x"), "No period");
        assert_eq!(leading_sentence("kind: x\n"), "");
    }

    #[test]
    fn every_leaf_is_explained_and_alike_leaves_share_a_group() {
        let store = Store::embedded();
        let c = coverage(&store).unwrap();
        assert_eq!(
            c.leaves.len(),
            crate::resolve::supported(&store).unwrap().len()
        );
        for (name, why) in &c.overlays {
            assert!(!why.is_empty(), "overlay {name} says not why it is there");
        }
        // Groups are numbered densely from 1 in order of first appearance.
        let mut seen = 0;
        for l in &c.leaves {
            assert!(l.content <= seen + 1, "{l:?}");
            seen = seen.max(l.content);
        }
        assert_eq!(seen, c.distinct);
        // The training fabric makes EKS training differ per accelerator.
        let group = |s: &str, a: &str, o: &str, i: &str| {
            c.leaves
                .iter()
                .find(|l| {
                    (l.criteria.service.as_str(), l.criteria.accelerator.as_str()) == (s, a)
                        && (l.criteria.os.as_str(), l.criteria.intent.as_str()) == (o, i)
                })
                .unwrap()
                .content
        };
        assert_ne!(
            group("eks", "a100", "ubuntu", "training"),
            group("eks", "h100", "ubuntu", "training")
        );
        assert_ne!(
            group("gke", "gb200", "ubuntu", "training"),
            group("gke", "h100", "ubuntu", "training")
        );
        let text = c.text();
        assert!(
            text.contains(&format!("resolve to {} distinct", c.distinct)),
            "{text}"
        );
    }
}
