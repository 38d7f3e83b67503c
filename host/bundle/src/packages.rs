//! The image and chart lists of a bundle as air-gap tools read them: Hauler manifests
//! (`content.hauler.cattle.io/v1` Images and Charts, for `hauler store sync`) and a Zarf
//! package config (`zarf.yaml`, one component per recipe component).

use crate::Plan;
use crate::images::Inventory;
use cns_recipe::RecipeResult;
use serde_json::{Value, json};

/// The charts of a recipe's enabled components: (component, repository, chart, version, namespace).
fn charts(plan: &Plan) -> Vec<(String, String, String, String, String)> {
    plan.components
        .iter()
        .map(|c| {
            (
                c.input.name.clone(),
                c.input.chart.repository.clone(),
                c.input.chart.chart.clone(),
                c.input.chart.version.clone(),
                c.input.namespace.clone(),
            )
        })
        .collect()
}

fn package_name(recipe: &RecipeResult) -> String {
    let c = &recipe.criteria;
    format!(
        "cnsctl-{}-{}-{}-{}",
        c.service, c.accelerator, c.os, c.intent
    )
}

/// Hauler's Images and Charts manifests for `recipe`'s bundle, as one YAML stream.
pub fn hauler(recipe: &RecipeResult, plan: &Plan, inv: &Inventory) -> String {
    let name = package_name(recipe);
    let images: Vec<Value> = inv
        .references()
        .into_iter()
        .map(|r| json!({"name": r}))
        .collect();
    let charts: Vec<Value> = charts(plan)
        .into_iter()
        .map(|(_, repo, chart, version, _)| {
            json!({"name": chart, "repoURL": repo, "version": version})
        })
        .collect();
    let docs = [
        json!({"apiVersion": "content.hauler.cattle.io/v1", "kind": "Images",
               "metadata": {"name": format!("{name}-images")}, "spec": {"images": images}}),
        json!({"apiVersion": "content.hauler.cattle.io/v1", "kind": "Charts",
               "metadata": {"name": format!("{name}-charts")}, "spec": {"charts": charts}}),
    ];
    docs.iter()
        .map(|d| serde_norway::to_string(d).expect("yaml"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A Zarf package config for `recipe`'s bundle (`valuesFiles` relative to the bundle).
pub fn zarf(recipe: &RecipeResult, plan: &Plan, inv: &Inventory) -> String {
    let components: Vec<Value> = charts(plan)
        .into_iter()
        .map(|(component, repo, chart, version, namespace)| {
            let images: std::collections::BTreeSet<String> = inv
                .images
                .iter()
                .filter(|i| i.component == component)
                .map(|i| i.reference())
                .collect();
            let url = match repo.strip_prefix("oci://") {
                Some(_) => format!("{}/{chart}", repo.trim_end_matches('/')),
                None => repo.clone(),
            };
            let mut chart_entry = json!({
                "name": component, "url": url, "version": version,
                "namespace": namespace,
                "valuesFiles": [format!("{component}/values.yaml")],
            });
            if !repo.starts_with("oci://") && chart != component {
                chart_entry["repoName"] = json!(chart);
            }
            json!({"name": component, "required": true, "charts": [chart_entry],
                   "images": images.into_iter().collect::<Vec<_>>()})
        })
        .collect();
    let doc = json!({
        "kind": "ZarfPackageConfig",
        "metadata": {
            "name": package_name(recipe),
            "description": "Images and charts of a cnsctl bundle; valuesFiles are relative to the bundle directory.",
            "version": recipe.metadata.version.clone().unwrap_or_else(|| "0.0.0".into()),
        },
        "components": components,
    });
    serde_norway::to_string(&doc).expect("yaml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stub::{Stub, example as example_recipe};
    use crate::{BundleOptions, Rendered, inventory, plan};

    fn example() -> (RecipeResult, Plan, Inventory) {
        let (recipe, store) = example_recipe();
        let opts = BundleOptions {
            deployer: "script".into(),
            ..Default::default()
        };
        let p = plan(&recipe, &store, &Stub::default(), &opts).unwrap();
        let rendered: Vec<Rendered> = crate::render(&p, &Stub::default()).unwrap();
        let inv = inventory(&recipe, &p, &rendered);
        (recipe, p, inv)
    }

    #[test]
    fn hauler_lists_every_image_and_chart() {
        let (recipe, p, inv) = example();
        let text = hauler(&recipe, &p, &inv);
        let docs: Vec<Value> = text
            .split("---\n")
            .map(|d| serde_norway::from_str(d).unwrap())
            .collect();
        assert_eq!(docs[0]["kind"], "Images");
        assert_eq!(
            docs[0]["metadata"]["name"],
            "cnsctl-eks-h100-ubuntu-training-images"
        );
        assert_eq!(
            docs[0]["spec"]["images"].as_array().unwrap().len(),
            inv.references().len()
        );
        let charts = docs[1]["spec"]["charts"].as_array().unwrap();
        assert_eq!(charts.len(), p.components.len());
        assert_eq!(charts[2]["name"], "gpu-operator");
        assert_eq!(charts[2]["version"], "v26.7.0");
    }

    #[test]
    fn zarf_has_a_component_per_recipe_component() {
        let (recipe, p, inv) = example();
        let doc: Value = serde_norway::from_str(&zarf(&recipe, &p, &inv)).unwrap();
        assert_eq!(doc["kind"], "ZarfPackageConfig");
        let comps = doc["components"].as_array().unwrap();
        assert_eq!(comps.len(), p.components.len());
        // An OCI chart source names the chart in its URL; a classic repository by repoName.
        let nvsentinel = &comps[3]["charts"][0];
        assert_eq!(nvsentinel["url"], "oci://ghcr.io/nvidia/nvsentinel");
        let skyhook = &comps[4]["charts"][0];
        assert_eq!(skyhook["repoName"], "skyhook-operator");
        assert_eq!(skyhook["valuesFiles"][0], "skyhook/values.yaml");
    }
}
