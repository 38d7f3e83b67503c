//! `--registry-mirror` applied to a component before its bundler runs.

use crate::{Error, Result};
use cns_recipe::Registry;
use cns_runtime::types::InputFile;
use serde_json::Value;

/// `--registry-mirror` for one component: its values at the registry's mirror paths, and the
/// repositories of the operator custom resources among its manifests.
pub(super) fn point_at_mirror(
    name: &str,
    registry: &Registry,
    values: &mut Value,
    manifests: &mut [InputFile],
    mirror: &str,
) -> Result<()> {
    let Some(data) = registry.get(name).and_then(|c| c.images.as_ref()) else {
        return Ok(());
    };
    for (path, v) in crate::images::mirror_overrides(data, values, mirror) {
        cns_values::set_path(values, &path, v).map_err(|source| Error::Values {
            component: name.to_string(),
            source,
        })?;
    }
    let kinds: Vec<&str> = data
        .manifest_operands
        .iter()
        .map(|m| m.kind.as_str())
        .collect();
    for f in manifests.iter_mut() {
        if let Some(text) = crate::images::mirror_manifest(&f.content, &kinds, mirror) {
            f.content = text;
        }
    }
    Ok(())
}
