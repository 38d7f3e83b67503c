//! Step 3 of the pipeline: the rendered components and the deployer plugin's output into
//! one sealed, checksummed file tree.

use super::plan::Plan;
use super::render::Rendered;
use crate::{Backend, Error, FileTree, Result};
use cns_recipe::RecipeResult;
use cns_runtime::types::{Component, DeployerOptions, Deployment};
use cns_runtime::values::to_wit;

/// Step 3 of the pipeline: the component files under their folders, the deployer's files,
/// `images.lock.yaml` from `inv` (taken with [`inventory`](super::inventory()) and perhaps
/// completed with digests by the caller), `sbom.cdx.json` (its charts and images as
/// CycloneDX, [`crate::sbom`]), `recipe.yaml`, `bundle-info.yaml` (what the bundle
/// installs, for a later upgrade-check), `UPGRADING.md` with `--upgrade-from`, each
/// vendored chart archive (`inv.vendored`, in its component's folder and file list, so the
/// deployer installs from it), and `checksums.txt`.
pub fn assemble<B: Backend + ?Sized>(
    recipe: &RecipeResult,
    plan: &Plan,
    rendered: Vec<Rendered>,
    backend: &B,
    inv: &crate::images::Inventory,
) -> Result<FileTree> {
    let lock = inv.to_yaml();
    let mut tree = FileTree::default();
    let mut components = Vec::new();
    for (c, r) in plan.components.iter().zip(rendered) {
        let producer = format!("bundler `{}` for `{}`", c.plugin, c.input.name);
        let mut paths = Vec::new();
        for f in r.files {
            paths.push(f.path.clone());
            tree.add(
                format!("{}/{}", c.input.name, f.path),
                f.content,
                f.executable,
                &producer,
            )?;
        }
        let name = &c.input.name;
        if let Some(v) = inv.vendored.get(name) {
            paths.push(v.path.clone());
            tree.add(
                format!("{name}/{}", v.path),
                v.archive.clone(),
                false,
                "cnsctl (--vendor-charts)",
            )?;
        }
        components.push(Component {
            name: name.clone(),
            namespace: c.input.namespace.clone(),
            chart: c.input.chart.clone(),
            order: c.order,
            dependencies: c.input.dependencies.clone(),
            values: to_wit(&r.values),
            files: paths,
            pod_security: plan.pod_security.get(name).cloned(),
            cluster_values: plan.cluster_trees.get(name).map(to_wit),
        });
    }
    let input = Deployment {
        components,
        criteria: plan.criteria.clone(),
        recipe_version: plan.recipe_version.clone(),
        options: DeployerOptions {
            flags: plan.deployer_flags.clone(),
            clusters: plan.clusters.clone(),
        },
    };
    let files = backend
        .generate(&plan.deployer, &input)
        .map_err(|error| Error::Deployer {
            deployer: plan.deployer.clone(),
            error,
        })?;
    let producer = format!("deployer `{}`", plan.deployer);
    for f in files {
        tree.add(f.path, f.content, f.executable, &producer)?;
    }
    tree.add(
        crate::images::LOCK_FILE.into(),
        lock.into_bytes(),
        false,
        "cnsctl",
    )?;
    let charts: Vec<crate::sbom::Chart<'_>> = plan
        .components
        .iter()
        .map(|c| crate::sbom::Chart {
            component: &c.input.name,
            namespace: &c.input.namespace,
            repository: &c.input.chart.repository,
            chart: &c.input.chart.chart,
            version: &c.input.chart.version,
            digest: inv.charts.get(&c.input.name),
        })
        .collect();
    let criteria = recipe.criteria.to_string();
    let subject = crate::sbom::Subject {
        recipe_version: &plan.recipe_version,
        criteria: &criteria,
        deployer: &plan.deployer,
    };
    tree.add(
        crate::sbom::SBOM_FILE.into(),
        crate::sbom::sbom(subject, &charts, &inv.images).into_bytes(),
        false,
        "cnsctl",
    )?;
    let recipe_yaml = recipe.to_yaml().into_bytes();
    let info = cns_recipe::upgrade::BundleInfo::new(
        recipe,
        &recipe_yaml,
        &plan.deployer,
        plan.installed.clone(),
    );
    tree.add("recipe.yaml".into(), recipe_yaml, false, "cnsctl")?;
    tree.add(
        cns_recipe::upgrade::BUNDLE_INFO.into(),
        info.to_yaml().into_bytes(),
        false,
        "cnsctl",
    )?;
    if let Some((from, report)) = &plan.upgrade {
        let order: Vec<String> = plan
            .components
            .iter()
            .map(|c| c.input.name.clone())
            .collect();
        tree.add(
            "UPGRADING.md".into(),
            report.markdown(from, &order).into_bytes(),
            false,
            "cnsctl",
        )?;
    }
    tree.seal()?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::super::inventory::inventory;
    use super::super::plan::plan;
    use super::super::render::render;
    use super::*;
    use crate::BundleOptions;
    use crate::stub::{Stub, example, file};

    fn bundle(stub: &Stub) -> Result<FileTree> {
        let (recipe, store) = example();
        let opts = BundleOptions {
            deployer: "script".into(),
            ..Default::default()
        };
        let p = plan(&recipe, &store, stub, &opts)?;
        let r = render(&p, stub)?;
        let inv = inventory(&recipe, &p, &r);
        assemble(&recipe, &p, r, stub, &inv)
    }

    #[test]
    fn components_deployer_lock_recipe_and_checksums() {
        let stub = Stub::default();
        let tree = bundle(&stub).unwrap();
        let paths: Vec<&str> = tree.files().keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "aws-efa-k8s-device-plugin/values.yaml",
                "bundle-info.yaml",
                "cert-manager/values.yaml",
                "checksums.txt",
                "deploy.sh",
                "gpu-operator/values.yaml",
                "images.lock.yaml",
                "nvsentinel/values.yaml",
                "recipe.yaml",
                "sbom.cdx.json",
                "skyhook/values.yaml",
            ]
        );
        assert!(tree.files()["deploy.sh"].executable);
        assert_eq!(
            tree.get("deploy.sh").unwrap(),
            b"0 aws-efa-k8s-device-plugin\n1 cert-manager\n2 gpu-operator\n3 nvsentinel\n4 skyhook\n"
        );
        let input = stub.deployed.lock().unwrap().clone().unwrap();
        assert_eq!(input.components[2].files, ["values.yaml"]);
        assert_eq!(input.components[2].dependencies, ["cert-manager"]);
        let checksums = String::from_utf8(tree.get("checksums.txt").unwrap().to_vec()).unwrap();
        assert_eq!(checksums.lines().count(), paths.len() - 1);
        assert!(!checksums.contains("checksums.txt"));
    }

    #[test]
    fn bundle_info_says_what_is_installed_and_upgrade_from_adds_the_steps() {
        use cns_recipe::upgrade::{BundleInfo, Installed};
        let stub = Stub::default();
        let tree = bundle(&stub).unwrap();
        let info = std::str::from_utf8(tree.get("bundle-info.yaml").unwrap()).unwrap();
        let info = BundleInfo::parse("bundle-info.yaml", info).unwrap();
        assert_eq!(info.deployer, "script");
        let names: Vec<&str> = info.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[..2], ["aws-efa-k8s-device-plugin", "cert-manager"]);
        assert!(info.recipe_digest.starts_with("sha256:"));
        assert!(tree.get("UPGRADING.md").is_none());

        // What runs: cert-manager at the predecessor's pin, and something the recipe dropped.
        let (recipe, store) = example();
        let mut cm = info.components[1].clone();
        cm.version = "v1.17.2".into();
        let gone = Installed {
            name: "old-thing".into(),
            release: "old-thing".into(),
            ..cm.clone()
        };
        let opts = BundleOptions {
            deployer: "script".into(),
            upgrade_from: Some(crate::options::UpgradeFrom {
                label: "old.yaml".into(),
                installed: vec![cm, gone],
                allow_blocked: false,
            }),
            ..Default::default()
        };
        let p = plan(&recipe, &store, &stub, &opts).unwrap();
        let r = render(&p, &stub).unwrap();
        let inv = inventory(&recipe, &p, &r);
        let tree = assemble(&recipe, &p, r, &stub, &inv).unwrap();
        let md = std::str::from_utf8(tree.get("UPGRADING.md").unwrap()).unwrap();
        assert!(
            md.contains("`cnsctl bundle --upgrade-from old.yaml`"),
            "{md}"
        );
        // The steps in deployment order: cert-manager first, the dropped component last.
        let cm_at = md.find("## 1. cert-manager (manual)").expect(md);
        let gone_at = md.find("## 2. old-thing (manual)").expect(md);
        assert!(cm_at < gone_at);
        assert!(md.contains("| gpu-operator | - | v26.7.0 | safe |"), "{md}");
        let checksums = std::str::from_utf8(tree.get("checksums.txt").unwrap()).unwrap();
        assert!(
            checksums.contains("  UPGRADING.md\n") && checksums.contains("  bundle-info.yaml\n"),
            "{checksums}"
        );
    }

    #[test]
    fn a_path_written_twice_is_a_conflict() {
        let stub = Stub {
            deployer_files: vec![file("gpu-operator/values.yaml", "x: 1\n")],
            ..Default::default()
        };
        let e = bundle(&stub).unwrap_err();
        assert!(
            matches!(&e, Error::Files(cns_files::Error::Conflict { path, .. }) if path == "gpu-operator/values.yaml"),
            "{e}"
        );
        assert!(e.to_string().contains("deployer `script`"), "{e}");
    }
}
