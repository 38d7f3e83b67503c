//! End-to-end runs of the `cnsctl` binary.

use crate::util::{cnsctl, repo_file, tempdir};
use cns_test_support::{describe, list_files, require_tool, run};
use std::process::Command;

#[test]
fn bundle_end_to_end_with_script_deployer() {
    let tmp = tempdir();
    let out = tmp.path().join("bundle");
    let recipe = repo_file("recipes/examples/eks-h100-ubuntu-training.yaml");
    let o = run(cnsctl(&tmp.path().join("cache"))
        .args(["bundle", "--recipe"])
        .arg(&recipe)
        .arg("--output")
        .arg(&out)
        .args([
            "--deployer",
            "script",
            "--system-node-selector",
            "nodeGroup=system-pool",
        ])
        .args(["--system-node-toleration", "dedicated=system:NoSchedule"]));
    assert!(o.status.success(), "{}", describe(&o));
    let files = list_files(&out);
    for want in [
        "README.md",
        "checksums.txt",
        "deploy.sh",
        "undeploy.sh",
        "recipe.yaml",
        "cert-manager/values.yaml",
        "cert-manager/README.md",
        "cert-manager/scripts/install.sh",
        "cert-manager/scripts/uninstall.sh",
    ] {
        assert!(
            files.contains(&want.to_string()),
            "missing {want} in {files:?}"
        );
    }
    let values = std::fs::read_to_string(out.join("cert-manager/values.yaml")).unwrap();
    let v: serde_json::Value = serde_norway::from_str(&values).unwrap();
    for p in [
        "nodeSelector",
        "webhook.nodeSelector",
        "cainjector.nodeSelector",
        "startupapicheck.nodeSelector",
    ] {
        assert_eq!(
            cns_values::get_path(&v, p),
            Some(&serde_json::json!({"nodeGroup": "system-pool"})),
            "{p}"
        );
    }
    for p in [
        "tolerations",
        "webhook.tolerations",
        "cainjector.tolerations",
        "startupapicheck.tolerations",
    ] {
        assert_eq!(
            cns_values::get_path(&v, p),
            Some(
                &serde_json::json!([{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}])
            ),
            "{p}"
        );
    }
    let install = std::fs::read_to_string(out.join("cert-manager/scripts/install.sh")).unwrap();
    assert!(install.contains("helm upgrade --install"), "{install}");
    assert!(
        install.contains("--values \"${COMPONENT_DIR}/values.yaml\""),
        "{install}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("deploy.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    // deploy.sh runs components in the recipe's deployment order.
    let deploy = std::fs::read_to_string(out.join("deploy.sh")).unwrap();
    let pos = |c: &str| {
        deploy
            .find(&format!("/{c}/scripts/install.sh"))
            .unwrap_or_else(|| panic!("{c} in deploy.sh"))
    };
    assert!(pos("cert-manager") < pos("gpu-operator"));
    assert!(pos("gpu-operator") < pos("nvsentinel"));

    if let Some(sha) = require_tool("sha256sum", &[]) {
        let o = run(std::process::Command::new(sha)
            .args(["-c", "--strict", "checksums.txt"])
            .current_dir(&out));
        assert!(o.status.success(), "{}", describe(&o));
    }
    if let Some(sc) = require_tool("shellcheck", &[]) {
        let scripts: Vec<_> = files.iter().filter(|f| f.ends_with(".sh")).collect();
        let o = run(std::process::Command::new(sc)
            .args(["-s", "bash"])
            .args(&scripts)
            .current_dir(&out));
        assert!(o.status.success(), "{}", describe(&o));
    }
}

#[test]
fn bundle_is_deterministic_and_parallel_equals_serial() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let mut trees = Vec::new();
    for (i, extra) in [&[][..], &["--serial"][..], &["--no-cache"][..]]
        .iter()
        .enumerate()
    {
        let out = tmp.path().join(format!("b{i}"));
        let o = run(cnsctl(&cache)
            .args(["bundle", "--output"])
            .arg(&out)
            .args([
                "--accelerated-node-toleration",
                "dedicated=user-workload:NoSchedule",
            ])
            .args(*extra));
        assert!(o.status.success(), "{}", describe(&o));
        let files = list_files(&out);
        let bytes: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| (f.clone(), std::fs::read(out.join(f)).unwrap()))
            .collect();
        trees.push(bytes);
    }
    assert_eq!(trees[0], trees[1], "serial and parallel runs differ");
    assert_eq!(trees[0], trees[2], "cached and uncached runs differ");
}

#[test]
fn default_recipe_needs_no_input_and_uses_cache() {
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    let o = run(cnsctl(&cache).current_dir(tmp.path()).arg("bundle"));
    assert!(o.status.success(), "{}", describe(&o));
    assert!(tmp.path().join("bundle/checksums.txt").exists());
    // Built-ins run the code compiled into cnsctl; nothing to cache for them.
    let o = run(cnsctl(&cache)
        .current_dir(tmp.path())
        .args(["plugin", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for p in list.as_array().unwrap() {
        assert_eq!(p["code"], "embedded", "{p}");
    }
    // An external plugin is compiled once, then loaded from the cache.
    let fixture = repo_file("tests/fixtures/wit-0.1.0/script.wasm");
    let inspect = |c: &mut std::process::Command| {
        let o = run(c
            .current_dir(tmp.path())
            .args(["plugin", "inspect", "--json"])
            .arg(&fixture));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["code"].clone()
    };
    assert_eq!(inspect(&mut cnsctl(&cache)), "compiled");
    let cached = list_files(&cache);
    assert!(
        cached.iter().any(|f| f.ends_with(".cwasm")),
        "no compiled plugin cached: {cached:?}"
    );
    assert_eq!(inspect(&mut cnsctl(&cache)), "cache");
    // Second run: output exists → refused without --force, nothing changed.
    let o = run(cnsctl(&cache).current_dir(tmp.path()).arg("bundle"));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exists and is not empty (use --force"),
        "{}",
        describe(&o)
    );
    let o = run(cnsctl(&cache)
        .current_dir(tmp.path())
        .args(["bundle", "--force"]));
    assert!(o.status.success(), "{}", describe(&o));
}

#[test]
fn bad_flags_name_the_flag_and_write_nothing() {
    let tmp = tempdir();
    let out = tmp.path().join("out");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--system-node-toleration", "a=b:Sometimes"],
            "invalid --system-node-toleration value `a=b:Sometimes`",
        ),
        (
            &["--accelerated-node-selector", "novalue"],
            "invalid --accelerated-node-selector value `novalue`",
        ),
        (
            &["--set", "nosuch:a=1"],
            "--set names unknown component `nosuch`",
        ),
        (
            &["--set", "cert-manager:a..b=1"],
            "invalid --set value `cert-manager:a..b=1`",
        ),
        (
            &["--deployer", "nope"],
            "unknown deployer `nope`; available: argocd, flux, script",
        ),
        (
            &["--recipe", "/nonexistent/recipe.yaml"],
            "failed to read recipe `/nonexistent/recipe.yaml`",
        ),
    ];
    for (args, want) in cases {
        let o = run(cnsctl(&tmp.path().join("cache"))
            .args(["bundle", "--output"])
            .arg(&out)
            .args(*args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: want `{want}` in\n{err}");
        assert!(!out.exists(), "{args:?} left output behind");
    }
}

#[test]
fn set_overrides_and_disables() {
    let tmp = tempdir();
    let out = tmp.path().join("out");
    let o = run(cnsctl(&tmp.path().join("cache"))
        .args(["bundle", "--output"])
        .arg(&out)
        .args([
            "--set",
            "gpuoperator:driver.version=570.133.20",
            "--set",
            "skyhook:enabled=false",
        ])
        .args(["--set", "cert-manager:replicaCount=2"]));
    assert!(o.status.success(), "{}", describe(&o));
    let gpu: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(out.join("gpu-operator/values.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(gpu["driver"]["version"], "570.133.20");
    let cm: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(out.join("cert-manager/values.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cm["replicaCount"], 2);
    assert!(!out.join("skyhook").exists());
    assert!(
        !std::fs::read_to_string(out.join("deploy.sh"))
            .unwrap()
            .contains("skyhook")
    );
}

#[test]
fn version_and_help() {
    let tmp = tempdir();
    let o = run(cnsctl(tmp.path()).arg("version"));
    assert!(o.status.success(), "{}", describe(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("wit cns:plugin@0.3.0"), "{s}");
    let o = run(cnsctl(tmp.path()).arg("--help"));
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for c in ["bundle", "recipe", "plugin", "version", "Exit codes"] {
        assert!(s.contains(c), "{c} not in help:\n{s}");
    }
    let o = run(cnsctl(tmp.path()).arg("frobnicate"));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn plugin_list_shows_every_builtin_with_digest() {
    let tmp = tempdir();
    let o = run(cnsctl(tmp.path()).args(["plugin", "list", "--json"]));
    assert!(o.status.success(), "{}", describe(&o));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("cert-manager", "bundler"),
            ("gpu-operator", "bundler"),
            ("helm", "bundler"),
            ("network-operator", "bundler"),
            ("nvsentinel", "bundler"),
            ("skyhook", "bundler"),
            ("argocd", "deployer"),
            ("flux", "deployer"),
            ("script", "deployer")
        ]
    );
    assert_eq!(list.len(), cns_plugin_artifacts::BUILTIN.len());
    for a in cns_plugin_artifacts::BUILTIN {
        use sha2::Digest;
        let p = list.iter().find(|p| p["name"] == a.name).expect(a.name);
        assert_eq!(p["sha256"], hex::encode(sha2::Sha256::digest(a.bytes)));
        assert_eq!(p["size"], a.bytes.len());
        assert_eq!(p["wit"], "0.3.0");
    }
    let o = run(cnsctl(tmp.path()).args(["plugin", "list"]));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.lines().any(|l| l
            .split_whitespace()
            .take(2)
            .eq(["network-operator", "bundler"])),
        "{table}"
    );
}

#[test]
fn scheduling_flags_without_paths_are_named_in_a_warning() {
    let tmp = tempdir();
    let t = tmp.path();
    // A chart no registry entry knows: its scheduling flags have nowhere to go.
    std::fs::write(
        t.join("r.yaml"),
        "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: cert-manager\n- name: my-chart\n  source: https://charts.example/x\n  version: 1.2.3\n",
    )
    .unwrap();
    let o = run(cnsctl(&t.join("cache")).current_dir(t).args([
        "bundle",
        "--recipe",
        "r.yaml",
        "--output",
        "out",
        "--system-node-selector",
        "pool=system",
        "--accelerated-node-toleration",
        "gpu:NoSchedule",
    ]));
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(
        warnings,
        [
            "warning: --system-node-selector, --accelerated-node-toleration not applied to component `my-chart`: its registry entry declares no scheduling paths (add `nodeScheduling` to it, see README \"Scheduling\"), so only its bundler can place them",
            "warning: images.lock.yaml may be incomplete: `my-chart`: the registry records no images for this component"
        ],
        "{err}"
    );
    // cert-manager has system paths only (no GPU pods): no warning for it.
    let values = std::fs::read_to_string(t.join("out/cert-manager/values.yaml")).unwrap();
    assert!(values.contains("pool: system"), "{values}");
}

#[test]
fn a_forced_rerun_keeps_what_did_not_change() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempdir();
    let t = tmp.path();
    let out = t.join("out");
    let ino = |p: &str| std::fs::metadata(out.join(p)).unwrap().ino();
    let bundle = |extra: &[&str]| {
        let o = run(cnsctl(&t.join("cache"))
            .args(["bundle", "--deployer", "argocd", "--force", "--output"])
            .arg(&out)
            .args(extra));
        assert!(o.status.success(), "{}", describe(&o));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(bundle(&[]).contains("wrote "));
    let (values, skyhook) = (ino("gpu-operator/values.yaml"), ino("skyhook/values.yaml"));
    // The same bundle again: nothing is written.
    let err = bundle(&[]);
    assert!(
        err.contains("already held these") && err.contains("left as it was"),
        "{err}"
    );
    assert_eq!(ino("gpu-operator/values.yaml"), values);
    // One value changed: that file (and what lists it) is new, the others are taken over.
    let err = bundle(&["--set", "gpuoperator:driver.version=580.1.2"]);
    assert!(err.contains("wrote "), "{err}");
    assert_ne!(ino("gpu-operator/values.yaml"), values);
    assert_eq!(ino("skyhook/values.yaml"), skyhook);
    let text = std::fs::read_to_string(out.join("gpu-operator/values.yaml")).unwrap();
    assert!(text.contains("580.1.2"), "{text}");
    let sums = std::fs::read_to_string(out.join("checksums.txt")).unwrap();
    let o = run(Command::new("sha256sum")
        .args(["--check", "--quiet", "-"])
        .current_dir(&out)
        .stdin(std::fs::File::open(out.join("checksums.txt")).unwrap()));
    assert!(o.status.success(), "{sums}\n{}", describe(&o));
}

#[test]
fn bundle_file_modes_do_not_depend_on_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let t = tmp.path();
    for umask in ["077", "022", "000"] {
        let c = cnsctl(&t.join("cache"));
        let out = t.join(format!("out-{umask}"));
        let o = run(Command::new("bash")
            .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" -q bundle --deployer script --output \"$1\""
            ))
            .arg(c.get_program())
            .arg(&out));
        assert!(o.status.success(), "umask {umask}: {}", describe(&o));
        let mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (
                mode("deploy.sh"),
                mode("README.md"),
                mode("gpu-operator/values.yaml"),
                mode(".")
            ),
            (0o755, 0o644, 0o644, 0o755),
            "umask {umask}"
        );
    }
}

#[test]
fn written_files_honour_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let t = tmp.path();
    let mode = |p: &str| std::fs::metadata(t.join(p)).unwrap().permissions().mode() & 0o777;
    let sh = |cmd: &str| {
        let c = cnsctl(&t.join("cache"));
        let o = run(Command::new("bash")
            .current_dir(t)
            .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .arg("-c")
            .env("CNS_SIGN_PASSWORD", "pw")
            .arg(format!("umask 022 && exec \"$0\" {cmd}"))
            .arg(c.get_program()));
        assert!(o.status.success(), "{cmd}: {}", describe(&o));
    };
    sh(
        "recipe --service eks --accelerator h100 --os ubuntu --intent training --output recipe.yaml",
    );
    assert_eq!(mode("recipe.yaml"), 0o644);
    std::fs::copy(
        repo_file("tests/fixtures/snapshot-eks-h100.yaml"),
        t.join("snap.yaml"),
    )
    .unwrap();
    sh("validate --recipe recipe.yaml --snapshot snap.yaml --output result.yaml");
    assert_eq!(mode("result.yaml"), 0o644);
    sh("generate-key-pair");
    assert_eq!((mode("cosign.key"), mode("cosign.pub")), (0o600, 0o644));
}

/// Issue 34, item 6: one exit-code table for every command (0 ok; 1 a check failed; 2 usage
/// or input error), stated by each command's `--help`, with what "a check failed" means
/// for it.
#[test]
fn every_command_states_its_exit_codes() {
    let tmp = tempdir();
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["snapshot"], None),
        (
            &["bundle"],
            Some("1 a check failed: a plugin refused the values"),
        ),
        (
            &["images"],
            Some("1 --strict and the list may be incomplete"),
        ),
        (&["mirror"], Some("1 a source did not hold the digest")),
        (&["recipe"], None),
        (
            &["validate"],
            Some("1 a check failed: a criterion the snapshot contradicts"),
        ),
        (&["diff"], Some("1 drift")),
        (
            &["push"],
            Some("1 the bundle's checksums.txt is missing or does not match"),
        ),
        (
            &["pull"],
            Some("1 a check failed: the signature or attestation did not verify"),
        ),
        (&["sign"], None),
        (
            &["verify"],
            Some("1 unsigned, or the signature or attestation did not verify"),
        ),
        (&["generate-key-pair"], None),
        (
            &["plugin"],
            Some("1 an oci:// plugin's signature did not verify"),
        ),
        (&["serve"], None),
        (&["version"], None),
        (&["completion"], None),
        (&["man"], None),
    ];
    for (cmd, check) in cases {
        let o = run(cnsctl(tmp.path()).args(*cmd).arg("--help"));
        assert!(o.status.success(), "{cmd:?}: {}", describe(&o));
        let help = String::from_utf8_lossy(&o.stdout).replace('\n', " ");
        assert!(help.contains("Exit codes: 0 "), "{cmd:?}: {help}");
        assert!(help.contains("2 usage"), "{cmd:?}: {help}");
        match check {
            Some(c) => assert!(help.contains(c), "{cmd:?}: `{c}` not in {help}"),
            None => assert!(!help.contains("; 1 "), "{cmd:?} has no check: {help}"),
        }
    }
    // A usage error is 2.
    let o = run(cnsctl(tmp.path()).args(["bundle", "--no-such-flag"]));
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
}

/// Issue 34, item 11: bash completion loads and completes commands and flags; man pages
/// are written for every command and `man` renders them.
#[test]
fn shell_completion_and_man_pages() {
    let tmp = tempdir();
    let t = tmp.path();
    let bin = env!("CARGO_BIN_EXE_cnsctl");
    let complete = |words: &str, cword: usize| {
        let script = format!(
            "source <({bin} completion bash) && COMP_WORDS=({words}) && COMP_CWORD={cword} && _cnsctl cnsctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\" && echo \"${{COMPREPLY[@]}}\""
        );
        let o = run(Command::new("bash").arg("-c").arg(script));
        assert!(o.status.success(), "{}", describe(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(complete("cnsctl bun", 1), "bundle");
    assert!(
        complete("cnsctl bundle --deplo", 2).contains("--deployer"),
        "bundle flags"
    );
    for shell in ["zsh", "fish", "powershell"] {
        let o = run(cnsctl(t).args(["completion", shell]));
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    let o = run(cnsctl(t).args(["man", "-o"]).arg(t.join("man")));
    assert!(o.status.success(), "{}", describe(&o));
    let pages = list_files(&t.join("man"));
    for p in [
        "cnsctl.1",
        "cnsctl-bundle.1",
        "cnsctl-plugin-new.1",
        "cnsctl-validate.1",
    ] {
        assert!(pages.contains(&p.to_string()), "{p} in {pages:?}");
    }
    let Some(man) = require_tool("man", &[]) else {
        return;
    };
    let o = run(Command::new(man)
        .env("MANWIDTH", "100")
        .arg("-l")
        .arg(t.join("man/cnsctl-validate.1")));
    assert!(o.status.success(), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("--allow-skipped"), "{text}");
    assert!(text.contains("Exit codes"), "{text}");
}

/// `version --format json` and `recipe --list --format json|yaml` in their documented shapes;
/// the list filtered by the criteria flags given.
#[test]
fn version_and_recipe_list_are_machine_readable() {
    use crate::util::{conforms, ok};
    use serde_json::Value;
    let tmp = tempdir();
    let cns = |args: &[&str]| run(cnsctl(&tmp.path().join("cache")).args(args));
    let v: Value = serde_json::from_str(&ok(&cns(&["version", "--format", "json"]))).unwrap();
    conforms("version", &v);
    assert_eq!(v["cnsctl"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["wit"], cns_runtime::WIT_VERSION);
    assert_eq!(
        v["builtinPlugins"]["count"],
        cns_plugin_artifacts::BUILTIN.len()
    );
    let text = ok(&cns(&["version"]));
    assert!(
        text.starts_with(&format!("cnsctl {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );

    let all: Value =
        serde_json::from_str(&ok(&cns(&["recipe", "--list", "--format", "json"]))).unwrap();
    conforms("recipe-list", &all);
    let table = ok(&cns(&["recipe", "--list"]));
    assert_eq!(
        table.lines().count(),
        all.as_array().unwrap().len() + 1,
        "{table}"
    );
    let eks_training = |format: &str| {
        ok(&cns(&[
            "recipe",
            "--list",
            "--service",
            "eks",
            "--intent",
            "training",
            "--format",
            format,
        ]))
    };
    let eks: Value = serde_json::from_str(&eks_training("json")).unwrap();
    conforms("recipe-list", &eks);
    let want: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "eks" && c["intent"] == "training")
        .collect();
    assert!(!want.is_empty());
    assert_eq!(eks.as_array().unwrap().iter().collect::<Vec<_>>(), want);
    let yaml = eks_training("yaml");
    let from_yaml: Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(from_yaml, eks);
    let o = cns(&["recipe", "--list", "--service", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown service `nope`"));
}

/// `recipe --list --explain`: the coverage table says, for every supported leaf, which
/// overlays make it and which leaves resolve to the same content, and why each overlay is
/// there; the EFA fabric separates EKS training by accelerator, the DRA driver GB200.
#[test]
fn the_coverage_table_explains_every_leaf() {
    use crate::util::{conforms, ok};
    use serde_json::Value;
    let tmp = tempdir();
    let cns = |args: &[&str]| run(cnsctl(&tmp.path().join("cache")).args(args));
    let all: Value = serde_json::from_str(&ok(&cns(&[
        "recipe",
        "--list",
        "--explain",
        "--format",
        "json",
    ])))
    .unwrap();
    conforms("recipe-coverage", &all);
    let leaves = all["leaves"].as_array().unwrap();
    assert_eq!(leaves.len(), 48);
    // 17 distinct contents before the training fabric and NVLink domains; each new one is a
    // leaf the table explains with an overlay of its own.
    assert_eq!(all["distinct"], 32, "{all:#}");
    let group = |s: &str, a: &str, o: &str, i: &str| {
        let l = leaves
            .iter()
            .find(|l| {
                l["criteria"]
                    == serde_json::json!({"service": s, "accelerator": a, "os": o, "intent": i})
            })
            .unwrap();
        (l["content"].as_u64().unwrap(), l["overlays"].clone())
    };
    let (a100, a100_overlays) = group("eks", "a100", "ubuntu", "training");
    let (h100, _) = group("eks", "h100", "ubuntu", "training");
    assert_ne!(a100, h100);
    assert!(
        a100_overlays
            .as_array()
            .unwrap()
            .contains(&Value::from("eks-training-a100"))
    );
    // Where A100 and H100 stay alike, the accelerator levels say why.
    assert_eq!(
        group("aks", "a100", "ubuntu", "inference").0,
        group("aks", "h100", "ubuntu", "inference").0
    );
    let why = all["overlays"]["a100"].as_str().unwrap();
    assert!(why.contains("nothing of its own"), "{why}");
    for (name, why) in all["overlays"].as_object().unwrap() {
        assert!(why.as_str().unwrap().ends_with('.'), "{name}: {why}");
    }
    // The text table: a row per leaf and the count; filters keep their leaves.
    let text = ok(&cns(&["recipe", "--list", "--explain"]));
    assert!(
        text.contains("48 supported leaves resolve to 32 distinct contents"),
        "{text}"
    );
    let gb200: Value = serde_json::from_str(&ok(&cns(&[
        "recipe",
        "--list",
        "--explain",
        "--accelerator",
        "gb200",
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(gb200["leaves"].as_array().unwrap().len(), 16);
    assert!(gb200["overlays"].get("a100").is_none());
    let o = cns(&["recipe", "--explain"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
}
