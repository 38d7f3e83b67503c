//! The image inventory of a rendered plan (`images.lock.yaml`): each component's images
//! from its final values, its registry image data and its manifests.

use super::plan::Plan;
use super::render::Rendered;
use cns_recipe::RecipeResult;

/// The image inventory of a rendered plan (what `images.lock.yaml` holds).
pub fn inventory(
    recipe: &RecipeResult,
    plan: &Plan,
    rendered: &[Rendered],
) -> crate::images::Inventory {
    let node = crate::images::NodeFacts::of(recipe);
    let mut inv = crate::images::Inventory::default();
    for (c, r) in plan.components.iter().zip(rendered) {
        let ctx = plan.image_context.get(&c.input.name);
        crate::images::add_component(
            &mut inv,
            &crate::images::ComponentImages {
                component: &c.input.name,
                chart_version: &c.input.chart.version,
                data: ctx
                    .and_then(|x| x.data.as_ref())
                    .map(|(d, v)| (d.as_ref(), v.as_str())),
                values: &r.values,
                cluster_values: ctx.and_then(|x| x.cluster.as_ref()),
                manifests: &c.input.manifests,
            },
            &node,
        );
    }
    crate::images::finish(inv)
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan;
    use super::super::render::render;
    use super::*;
    use crate::BundleOptions;
    use crate::stub::{Stub, example};

    #[test]
    fn images_come_from_the_final_values_and_follow_the_mirror() {
        let (recipe, store) = example();
        let stub = Stub::default();
        let mut opts = BundleOptions {
            deployer: "script".into(),
            ..Default::default()
        };
        let images = |opts: &BundleOptions| {
            let p = plan(&recipe, &store, &stub, opts).unwrap();
            let r = render(&p, &stub).unwrap();
            inventory(&recipe, &p, &r)
        };
        let inv = images(&opts);
        let gpu: Vec<&str> = inv
            .images
            .iter()
            .filter(|i| i.component == "gpu-operator")
            .map(|i| i.repository.as_str())
            .collect();
        assert!(gpu.contains(&"nvcr.io/nvidia/gpu-operator"), "{gpu:?}");
        opts.registry_mirror = Some("mirror.example:5000/gpu".into());
        let inv = images(&opts);
        assert!(!inv.images.is_empty());
        assert!(
            inv.images
                .iter()
                .all(|i| i.repository.starts_with("mirror.example:5000/gpu/")),
            "{:?}",
            inv.images.iter().map(|i| &i.repository).collect::<Vec<_>>()
        );
    }
}
