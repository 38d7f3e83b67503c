//! Recipe data sweeps: every supported combination resolves, and the shipped example
//! recipe is exactly what `cnsctl recipe` produces for its criteria.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_recipe::{Criteria, Store, resolve};
use cns_test_support::{describe, run};

#[test]
fn every_supported_combination_resolves() {
    let store = Store::embedded();
    let combos = resolve::supported(&store).unwrap();
    assert_eq!(combos.len(), 24, "4 services x 3 accelerators x 2 intents");
    for c in combos {
        let r = resolve(&store, &c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert!(
            r.deployment_order.contains(&"gpu-operator".to_string()),
            "{c}"
        );
        assert_eq!(
            r.deployment_order[0], "cert-manager",
            "{c}: {:?}",
            r.deployment_order
        );
        if c.intent == "training" {
            assert!(r.component("network-operator").is_some(), "{c}");
        }
    }
}

#[test]
fn shipped_example_recipe_is_in_sync() {
    let store = Store::embedded();
    let c = Criteria::new(Some("eks"), Some("h100"), Some("ubuntu"), Some("training")).unwrap();
    let want = resolve(&store, &c).unwrap().to_yaml();
    let have = std::fs::read_to_string(repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"))
        .unwrap();
    assert_eq!(
        have, want,
        "recipes/examples/eks-h100-ubuntu-training.yaml is stale: regenerate it with\n  cargo run -- recipe --service eks --accelerator h100 --os ubuntu --intent training --output recipes/examples/eks-h100-ubuntu-training.yaml"
    );
}

#[test]
fn predecessor_recipe_command_runs_verbatim() {
    let tmp = tempdir();
    let o = run(cnsctl(tmp.path()).current_dir(tmp.path()).args([
        "recipe",
        "--service",
        "eks",
        "--accelerator",
        "h100",
        "--os",
        "ubuntu",
        "--intent",
        "training",
        "--output",
        "recipe.yaml",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let r = cns_recipe::RecipeResult::from_yaml(
        "recipe.yaml",
        &std::fs::read_to_string(tmp.path().join("recipe.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(r.kind, "recipeResult");
    assert_eq!(r.api_version, "cns.nvidia.com/v1alpha1");
    assert!(
        r.metadata
            .applied_overlays
            .starts_with(&["base".to_string(), "eks".to_string()])
    );
    let o = run(cnsctl(tmp.path()).args(["recipe", "--service", "ekss"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("unknown service `ekss`; valid values: aks, eks, gke, oke, any"),
        "{}",
        describe(&o)
    );
}
