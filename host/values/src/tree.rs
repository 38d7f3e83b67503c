//! A values tree as a flat list of nodes, the shape WIT's `values` record has (WIT has no
//! recursive types): the root first, each sequence or mapping naming its children by their
//! index, always greater than its own. [`flatten`] writes one; [`unflatten`] reads one that
//! came from elsewhere, checking it is a tree (each node the child of exactly one earlier
//! node, so it cannot expand), its nesting bounded and its mapping keys unique. The host and
//! the plugin SDK map their generated WIT types onto [`Node`].
//!
//! ```
//! use cns_values::tree::{flatten, unflatten};
//! let v = serde_json::json!({"a": [1, "x", null], "b": {"c": true}});
//! assert_eq!(unflatten(&flatten(&v)).unwrap(), v);
//! ```

use serde_json::{Map, Number, Value};

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// A boolean.
    Boolean(bool),
    /// An integer in the signed 64-bit range.
    Integer(i64),
    /// A positive integer above the signed 64-bit range.
    Unsigned(u64),
    /// A finite float.
    Float(f64),
    /// A string.
    Text(String),
    /// The indices of a sequence's items.
    Sequence(Vec<u32>),
    /// A mapping's keys with the indices of their values.
    Mapping(Vec<(String, u32)>),
}

/// Deepest nesting [`unflatten`] accepts: what the YAML and JSON readers accept (127).
pub const MAX_DEPTH: usize = 127;

/// Why nodes are not a values tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// No nodes at all.
    #[error("the values tree has no nodes")]
    Empty,
    /// A child index that is not after its parent or past the end.
    #[error("node {parent} names node {child}, which is not after it in the {len} nodes")]
    BadIndex {
        /// The parent's index.
        parent: usize,
        /// The child index it names.
        child: u32,
        /// How many nodes there are.
        len: usize,
    },
    /// A node named by two parents (or twice by one).
    #[error("node {0} is named by more than one parent")]
    Shared(u32),
    /// A node no parent names.
    #[error("node {0} is named by no parent")]
    Orphan(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("the values tree is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A mapping with a key twice.
    #[error("a mapping has the key `{0}` twice")]
    DuplicateKey(String),
    /// NaN or an infinity.
    #[error("a float is not finite")]
    NotFinite,
}

/// `value` as nodes, the root first.
pub fn flatten(value: &Value) -> Vec<Node> {
    fn walk(v: &Value, out: &mut Vec<Node>) -> u32 {
        let at = out.len();
        out.push(Node::Null);
        let node = match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Boolean(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Node::Integer(i),
                (None, Some(u), _) => Node::Unsigned(u),
                (None, None, f) => Node::Float(f.unwrap_or_default()),
            },
            Value::String(s) => Node::Text(s.clone()),
            Value::Array(a) => Node::Sequence(a.iter().map(|x| walk(x, out)).collect()),
            Value::Object(m) => {
                Node::Mapping(m.iter().map(|(k, x)| (k.clone(), walk(x, out))).collect())
            }
        };
        out[at] = node;
        at as u32
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

/// The value `nodes` encode, checked to be a tree (see the module doc).
pub fn unflatten(nodes: &[Node]) -> Result<Value, TreeError> {
    if nodes.is_empty() {
        return Err(TreeError::Empty);
    }
    // Every node but the root is named exactly once, by an earlier node: then following the
    // indices visits each node once, and the tree is no larger than the list.
    let mut named = vec![false; nodes.len()];
    let mut depth = vec![0usize; nodes.len()];
    for (parent, node) in nodes.iter().enumerate() {
        let children: Box<dyn Iterator<Item = u32>> = match node {
            Node::Sequence(items) => Box::new(items.iter().copied()),
            Node::Mapping(members) => Box::new(members.iter().map(|(_, i)| *i)),
            Node::Float(f) if !f.is_finite() => return Err(TreeError::NotFinite),
            _ => continue,
        };
        for child in children {
            let c = child as usize;
            if c <= parent || c >= nodes.len() {
                return Err(TreeError::BadIndex {
                    parent,
                    child,
                    len: nodes.len(),
                });
            }
            if std::mem::replace(&mut named[c], true) {
                return Err(TreeError::Shared(child));
            }
            depth[c] = depth[parent] + 1;
            if depth[c] > MAX_DEPTH {
                return Err(TreeError::TooDeep);
            }
        }
    }
    if let Some(orphan) = named.iter().skip(1).position(|n| !n) {
        return Err(TreeError::Orphan(orphan + 1));
    }
    build(nodes, 0)
}

fn build(nodes: &[Node], at: usize) -> Result<Value, TreeError> {
    Ok(match &nodes[at] {
        Node::Null => Value::Null,
        Node::Boolean(b) => Value::Bool(*b),
        Node::Integer(i) => Value::from(*i),
        Node::Unsigned(u) => Value::from(*u),
        Node::Float(f) => Value::Number(Number::from_f64(*f).ok_or(TreeError::NotFinite)?),
        Node::Text(s) => Value::String(s.clone()),
        Node::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|i| build(nodes, *i as usize))
                .collect::<Result<_, _>>()?,
        ),
        Node::Mapping(members) => {
            let mut m = Map::new();
            for (k, i) in members {
                if m.insert(k.clone(), build(nodes, *i as usize)?).is_some() {
                    return Err(TreeError::DuplicateKey(k.clone()));
                }
            }
            Value::Object(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_of_value_round_trips() {
        for v in [
            json!({}),
            json!({"a": null, "b": true, "c": -3, "d": 18446744073709551615u64, "e": 1.5,
                   "f": "s", "g": [], "h": [1, [2, [3]]], "i": {"j": {"k": "l"}}}),
            json!([{"a": 1}, {"a": 2}]),
            json!("text"),
        ] {
            let nodes = flatten(&v);
            assert_eq!(unflatten(&nodes).unwrap(), v, "{v}");
        }
        // Children come after their parent.
        let nodes = flatten(&json!({"a": [1, 2]}));
        assert_eq!(
            nodes,
            [
                Node::Mapping(vec![("a".into(), 1)]),
                Node::Sequence(vec![2, 3]),
                Node::Integer(1),
                Node::Integer(2),
            ]
        );
    }

    #[test]
    fn what_is_not_a_tree_is_refused() {
        use Node::*;
        let cases: [(&[Node], TreeError); 8] = [
            (&[], TreeError::Empty),
            (
                &[Sequence(vec![0])],
                TreeError::BadIndex {
                    parent: 0,
                    child: 0,
                    len: 1,
                },
            ),
            (
                &[Sequence(vec![1, 5]), Null],
                TreeError::BadIndex {
                    parent: 0,
                    child: 5,
                    len: 2,
                },
            ),
            // A node shared by two parents would let a tree of n nodes expand to 2^n.
            (&[Sequence(vec![1, 1]), Null], TreeError::Shared(1)),
            (&[Sequence(vec![2]), Null, Null], TreeError::Orphan(1)),
            (
                &[Mapping(vec![("k".into(), 1), ("k".into(), 2)]), Null, Null],
                TreeError::DuplicateKey("k".into()),
            ),
            (&[Float(f64::NAN)], TreeError::NotFinite),
            (
                &[Sequence(vec![1]), Float(f64::INFINITY)],
                TreeError::NotFinite,
            ),
        ];
        for (nodes, want) in cases {
            assert_eq!(unflatten(nodes).unwrap_err(), want, "{nodes:?}");
        }
        let deep: Vec<Node> = (0..200u32)
            .map(|i| if i < 199 { Sequence(vec![i + 1]) } else { Null })
            .collect();
        assert_eq!(unflatten(&deep).unwrap_err(), TreeError::TooDeep);
        let ok: Vec<Node> = (0..=MAX_DEPTH as u32)
            .map(|i| {
                if (i as usize) < MAX_DEPTH {
                    Sequence(vec![i + 1])
                } else {
                    Null
                }
            })
            .collect();
        assert!(unflatten(&ok).is_ok());
    }
}
