//! Values trees across the boundary: a `serde_json::Value` as WIT's `values` record (for
//! deployers), and a plugin's `values` read back, checked to be a tree
//! ([`cns_values::tree::unflatten`]) and within the output limits.

use crate::bindings::types::{Member, Value as Node, Values};
use cns_values::tree;
use serde_json::Value;

/// `v` as WIT's `values`.
pub fn to_wit(v: &Value) -> Values {
    let nodes = tree::flatten(v)
        .into_iter()
        .map(|n| match n {
            tree::Node::Null => Node::Null,
            tree::Node::Boolean(b) => Node::Boolean(b),
            tree::Node::Integer(i) => Node::Integer(i),
            tree::Node::Unsigned(u) => Node::Unsigned(u),
            tree::Node::Float(f) => Node::Float(f),
            tree::Node::Text(s) => Node::Text(s),
            tree::Node::Sequence(items) => Node::Sequence(items),
            tree::Node::Mapping(members) => Node::Mapping(
                members
                    .into_iter()
                    .map(|(key, value)| Member { key, value })
                    .collect(),
            ),
        })
        .collect();
    Values { nodes }
}

/// The tree a plugin returned (or the host made), or why it is not one.
pub fn from_wit(v: Values) -> Result<Value, tree::TreeError> {
    let nodes: Vec<tree::Node> = v
        .nodes
        .into_iter()
        .map(|n| match n {
            Node::Null => tree::Node::Null,
            Node::Boolean(b) => tree::Node::Boolean(b),
            Node::Integer(i) => tree::Node::Integer(i),
            Node::Unsigned(u) => tree::Node::Unsigned(u),
            Node::Float(f) => tree::Node::Float(f),
            Node::Text(s) => tree::Node::Text(s),
            Node::Sequence(items) => tree::Node::Sequence(items),
            Node::Mapping(members) => {
                tree::Node::Mapping(members.into_iter().map(|m| (m.key, m.value)).collect())
            }
        })
        .collect();
    tree::unflatten(&nodes)
}

/// Bytes a tree takes: its strings and keys, and 8 per node (counted against the output
/// limit with the plugin's files).
pub(crate) fn size(v: &Values) -> usize {
    v.nodes
        .iter()
        .map(|n| {
            8 + match n {
                Node::Text(s) => s.len(),
                Node::Mapping(m) => m.iter().map(|m| m.key.len() + 4).sum(),
                Node::Sequence(s) => 4 * s.len(),
                _ => 0,
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_cross_both_ways() {
        let v = serde_json::json!({"a": [1, -2, 3.5, "x", null, true], "b": {"c": 18446744073709551615u64}});
        let w = to_wit(&v);
        assert!(size(&w) > 0);
        assert_eq!(from_wit(w).unwrap(), v);
        let shared = Values {
            nodes: vec![Node::Sequence(vec![1, 1]), Node::Null],
        };
        assert!(from_wit(shared).is_err());
    }
}
