//! What a snapshot measured, pinned into a resolved recipe where the recipe leaves it open:
//! the GPU driver version of the GPU Operator (the predecessor's `recipe --snapshot`).

use crate::{RecipeResult, Result, Store};
use serde_json::{Value, json};

/// What [`pin_driver`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverPin {
    /// The recipe has no GPU Operator, or its values do not install the driver.
    NotApplicable,
    /// The measured version is not a version string; nothing was pinned.
    NotAVersion,
    /// The recipe pins this version already (it differs from the measured one): kept.
    Kept(String),
    /// The recipe pins the measured version already.
    Same,
    /// The recipe left it open: `driver.version` now holds the measured version.
    Pinned,
}

/// Pin `version` (the snapshot's driver) as the GPU Operator's `driver.version` when the
/// recipe leaves it open and the operator installs the driver.
pub fn pin_driver(recipe: &mut RecipeResult, store: &Store, version: &str) -> Result<DriverPin> {
    let Some(i) = recipe
        .component_refs
        .iter()
        .position(|c| c.name == "gpu-operator")
    else {
        return Ok(DriverPin::NotApplicable);
    };
    if !crate::fields::is_chart_version(version) {
        return Ok(DriverPin::NotAVersion);
    }
    let values = store.component_values(&recipe.component_refs[i])?;
    let driver = &values["driver"];
    if driver["enabled"] == Value::Bool(false) {
        return Ok(DriverPin::NotApplicable);
    }
    match driver["version"].as_str() {
        Some(v) if v != version => Ok(DriverPin::Kept(v.to_string())),
        Some(_) => Ok(DriverPin::Same),
        None => {
            let o = recipe.component_refs[i]
                .overrides
                .get_or_insert_with(|| json!({}));
            if !o.is_object() {
                *o = json!({});
            }
            let d = o
                .as_object_mut()
                .expect("object")
                .entry("driver")
                .or_insert_with(|| json!({}));
            if !d.is_object() {
                *d = json!({});
            }
            d["version"] = Value::String(version.to_string());
            Ok(DriverPin::Pinned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Criteria;

    fn recipe(os: &str) -> (Store, RecipeResult) {
        let store = Store::embedded();
        let c = Criteria::new(Some("eks"), Some("h100"), Some(os), Some("training")).unwrap();
        let r = crate::resolve(&store, &c).unwrap();
        (store, r)
    }

    #[test]
    fn the_measured_driver_is_pinned_only_where_the_recipe_leaves_it_open() {
        let (store, mut r) = recipe("ubuntu");
        let before = store
            .component_values(
                r.component_refs
                    .iter()
                    .find(|c| c.name == "gpu-operator")
                    .unwrap(),
            )
            .unwrap();
        let pin = pin_driver(&mut r, &store, "580.95.05").unwrap();
        match before["driver"]["version"].as_str() {
            Some(v) if v != "580.95.05" => assert_eq!(pin, DriverPin::Kept(v.into())),
            Some(_) => assert_eq!(pin, DriverPin::Same),
            None => assert_eq!(pin, DriverPin::Pinned),
        }
        assert_eq!(
            pin_driver(&mut r, &store, "not a version!").unwrap(),
            DriverPin::NotAVersion
        );
    }
}
