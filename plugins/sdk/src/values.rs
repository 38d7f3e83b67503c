//! Values-tree helpers for plugins: parse the input JSON, merge, set paths, write YAML.
//!
//! Thin wrappers over [`cns_values`] that return [`PluginError`]s.

use crate::PluginError;
pub use cns_values::{deep_merge, get_path, parse_scalar, remove_path, set_path};
pub use serde_json::{Map, Value, json};

/// Parse the `values-json` of an input into a values tree (a map).
pub fn parse(values_json: &str) -> Result<Value, PluginError> {
    cns_values::from_json(values_json).map_err(|e| PluginError::InvalidInput(e.to_string()))
}

/// Serialise a values tree as YAML with sorted keys.
pub fn yaml(value: &Value) -> Result<String, PluginError> {
    cns_values::to_yaml(value).map_err(|e| PluginError::Internal(e.to_string()))
}

/// Parse YAML text (e.g. a manifest template) into a tree.
pub fn from_yaml(text: &str) -> Result<Value, PluginError> {
    cns_values::from_yaml(text).map_err(|e| PluginError::InvalidInput(e.to_string()))
}
