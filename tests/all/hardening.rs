//! Hostile input, driven as a user (or an attacker) would: recipes that try to inject
//! commands or objects, trust decisions that try to walk around a policy, hostile
//! registries, archives, keys and caches, resource exhaustion, and interrupted runs.
//! Each test names the case of issue 22 it holds; see SECURITY.md.

use crate::util::{cnsctl, fails, ok, registry_client as client, tempdir};
use cns_oci::OciRef;
use cns_oci::manifest::{self, Descriptor, Manifest};
use cns_plugin_sdk::{ChartSource, Component, Deployment};
use cns_test_support::registry::TestRegistry;
use cns_test_support::{describe, list_files, require_tool, run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cns(t: &Path, args: &[&str]) -> Output {
    let mut c = cnsctl(&t.join("cache"));
    c.current_dir(t).args(args).env("CNS_SIGN_PASSWORD", "pw");
    run(&mut c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const RECIPE: &str = "kind: recipeResult
apiVersion: cns.nvidia.com/v1alpha1
criteria: {service: eks, accelerator: h100, os: ubuntu, intent: training}
componentRefs:
- name: cert-manager
  namespace: cert-manager
  version: v1.21.1
  chart: cert-manager
  source: https://charts.jetstack.io
deploymentOrder: [cert-manager]
";

// ---------------------------------------------------------------- injection: recipes

#[test]
fn recipe_fields_are_checked_at_load_naming_file_line_and_field() {
    let tmp = tempdir();
    let t = tmp.path();
    // Each field, with a value that broke out of the generated files before (issue 22).
    let cases = [
        (
            "namespace",
            "  namespace: \"cert-manager\\ntouch PWNED\"\n",
            "componentRefs[0].namespace",
        ),
        (
            "version",
            "  version: \"v1\\ntouch PWNED\"\n",
            "componentRefs[0].version",
        ),
        (
            "version CR",
            "  version: \"v1.21.1\\rkind: Secret\"\n",
            "componentRefs[0].version",
        ),
        (
            "chart",
            "  chart: \"cert-manager\\ntouch PWNED\"\n",
            "componentRefs[0].chart",
        ),
        (
            "source quote",
            "  source: \"https://charts.jetstack.io/'$(touch PWNED)'\"\n",
            "componentRefs[0].source",
        ),
        (
            "dependency",
            "  dependencyRefs: [\"a\\nb\"]\n",
            "componentRefs[0].dependencyRefs[0]",
        ),
        (
            "override CR",
            "  overrides: {a: \"x\\ry\"}\n",
            "componentRefs[0].overrides.a",
        ),
    ];
    for (what, line, field) in cases {
        let key = line.trim_start().split(':').next().unwrap();
        let mut text: String = RECIPE
            .lines()
            .filter(|l| !l.trim_start().starts_with(&format!("{key}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        let at = text.find("deploymentOrder").unwrap();
        text.insert_str(at, line);
        std::fs::write(t.join("r.yaml"), &text).unwrap();
        let line_no = text[..at].lines().count() + 1;
        let o = cns(t, &["bundle", "--recipe", "r.yaml", "--output", "out"]);
        fails(&o, 2, &format!("r.yaml:{line_no}: {field}"));
        assert!(!t.join("out").exists(), "{what}");
        assert!(!t.join("PWNED").exists(), "{what}");
        // The same check runs on `validate`'s recipe.
        let o = cns(
            t,
            &["validate", "--recipe", "r.yaml", "--snapshot", "r.yaml"],
        );
        fails(&o, 2, field);
    }
    // Flags that reach GitOps files are checked too.
    std::fs::write(t.join("r.yaml"), RECIPE).unwrap();
    for (flag, value) in [
        ("--repo", "https://git.example/x.git\nkind: Secret"),
        ("--revision", "main\rkind: Secret"),
        ("--repo", "https://git.example/'$(id)'"),
    ] {
        let o = cns(
            t,
            &[
                "bundle",
                "--recipe",
                "r.yaml",
                "--output",
                "out",
                "--deployer",
                "argocd",
                flag,
                value,
            ],
        );
        fails(&o, 2, &format!("invalid {flag} value"));
        assert!(!t.join("out").exists());
    }
    // A clean recipe still bundles.
    ok(&cns(
        t,
        &["bundle", "--recipe", "r.yaml", "--output", "out"],
    ));
}

// ------------------------------------------------- injection: generators (property test)

/// A small deterministic PRNG (xorshift64*), so the property test is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A hostile string: shell and YAML metacharacters, line breaks of every kind, and
    /// fragments that would run a command or start a document if pasted unquoted.
    fn hostile(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            "-",
            ".",
            "/",
            ":",
            " ",
            "'",
            "\"",
            "`",
            "$",
            "\\",
            ";",
            "&",
            "|",
            "<",
            ">",
            "(",
            ")",
            "{",
            "}",
            "[",
            "]",
            "#",
            "*",
            "?",
            "~",
            "!",
            "%",
            ",",
            "@",
            "=",
            "\n",
            "\r",
            "\t",
            "\u{85}",
            "\u{2028}",
            "\u{2029}",
            "\u{1b}",
            "é",
            "$(touch PWNED)",
            "`touch PWNED`",
            "\ntouch PWNED\n",
            "\r\n---\nkind: Secret\n",
            "';touch PWNED;'",
            "\"; touch PWNED; \"",
            "${IFS}",
            "- x",
            ": y",
            "&anchor",
            "*alias",
            "!!str ",
            "oci://",
            "https://",
        ];
        let n = 1 + self.below(8);
        (0..n).map(|_| PIECES[self.below(PIECES.len())]).collect()
    }
}

const ARG_STUB: &str = r#"#!/usr/bin/env bash
# Logs every call as NUL-separated fields: the argument count, the tool, the arguments.
if [ "$(basename "$0")" = kubectl ] && [ "$1" = apply ] && [ "${3:-}" = - ]; then cat >/dev/null; fi
printf '%s\0' "$#" "$(basename "$0")" "$@" >> "${CNS_STUB_LOG}"
if [ "$(basename "$0")" = kubectl ] && [ "$1" = create ] && [ "$2" = namespace ]; then
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n'
fi
"#;

fn write_files(root: &Path, files: &[cns_plugin_sdk::BundleFile]) {
    for f in files {
        let p = root.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.content).unwrap();
        if f.executable {
            let mut perm = std::fs::metadata(&p).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
            std::fs::set_permissions(&p, perm).unwrap();
        }
    }
}

/// The YAML documents of a file (comments and all), each parsed.
fn documents(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).expect("YAML parses"))
        .collect()
}

#[test]
fn generators_quote_every_field_property() {
    const CASES: usize = 40;
    let tmp = tempdir();
    let t = tmp.path();
    let shellcheck = require_tool("shellcheck", &[]);
    let bin = t.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["kubectl", "helm"] {
        let p = bin.join(tool);
        std::fs::write(&p, ARG_STUB).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut rng = Rng(0x5eed_0022_c0ff_ee11);
    let mut scripts = Vec::new();
    for case in 0..CASES {
        // One field hostile at a time (cycling), the others hostile at random too.
        let mut field = |i: usize, plain: &str| {
            if case % 4 == i || rng.below(3) == 0 {
                rng.hostile()
            } else {
                plain.to_string()
            }
        };
        let comp = Component {
            name: "comp".into(),
            namespace: field(0, "ns"),
            chart: ChartSource {
                repository: field(3, "https://charts.example/x"),
                chart: field(2, "chart"),
                version: field(1, "v1.0.0"),
            },
            order: 0,
            dependencies: vec![],
            values: serde_json::json!({}),
            files: vec!["values.yaml".into(), "manifests/m.yaml".into()],
            pod_security: None,
            cluster_values: None,
        };
        let input = Deployment {
            components: vec![comp.clone()],
            criteria: cns_plugin_sdk::Criteria {
                service: "eks".into(),
                accelerator: "h100".into(),
                os: "ubuntu".into(),
                intent: "training".into(),
            },
            recipe_version: rng.hostile(),
            flags: vec![],
            clusters: vec![],
        };
        let dir = t.join(format!("case{case}"));
        // Scripts: parse, pass shellcheck, and run only helm/kubectl with the exact values.
        let files = cns_plugin_script::generate::generate(&input).expect("script generates");
        write_files(&dir.join("script"), &files);
        for f in files.iter().filter(|f| f.path.ends_with(".sh")) {
            let p = dir.join("script").join(&f.path);
            let o = run(Command::new("bash").arg("-n").arg(&p));
            assert!(
                o.status.success(),
                "case {case} {}: {}",
                f.path,
                describe(&o)
            );
            scripts.push(p);
        }
        let log = dir.join("calls.log");
        let o = run(Command::new("bash")
            .arg(dir.join("script/deploy.sh"))
            .current_dir(&dir)
            .env("PATH", &path)
            .env("CNS_STUB_LOG", &log));
        assert!(o.status.success(), "case {case}: {}", describe(&o));
        let log = std::fs::read(&log).unwrap();
        let fields: Vec<String> = log
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let mut calls: Vec<Vec<String>> = Vec::new();
        let mut i = 0;
        while i + 1 < fields.len() {
            let n: usize = fields[i].parse().expect("argument count");
            calls.push(fields[i + 1..i + 2 + n].to_vec());
            i += 2 + n;
        }
        let helm = calls
            .iter()
            .find(|c| c[0] == "helm")
            .unwrap_or_else(|| panic!("case {case}: no helm call in {calls:?}"));
        let arg_after = |flag: &str| {
            helm.iter()
                .position(|a| a == flag)
                .map(|i| helm[i + 1].clone())
        };
        assert_eq!(
            arg_after("--namespace").as_deref(),
            Some(comp.namespace.as_str()),
            "case {case}"
        );
        assert_eq!(
            arg_after("--version").as_deref(),
            Some(comp.chart.version.as_str()),
            "case {case}"
        );
        for c in &calls {
            assert!(
                ["helm", "kubectl"].contains(&c[0].as_str()),
                "case {case}: {c:?}"
            );
        }
        assert!(
            list_files(&dir).iter().all(|f| !f.contains("PWNED")) && !Path::new("PWNED").exists(),
            "case {case}: a command ran"
        );

        // GitOps files: each YAML file holds exactly the documents the deployer meant.
        let argocd = cns_plugin_argocd::generate::generate(&input).expect("argocd generates");
        for f in argocd.iter().filter(|f| f.path.ends_with(".yaml")) {
            let docs = documents(std::str::from_utf8(&f.content).unwrap());
            assert_eq!(docs.len(), 1, "case {case} {}", f.path);
            let kind = match f.path.as_str() {
                "argocd/argocd-cm-application-health.yaml" => "ConfigMap",
                "argocd/appproject.yaml" => "AppProject",
                p if p.starts_with("argocd/repository-") => "Secret",
                _ => "Application",
            };
            assert_eq!(docs[0]["kind"], kind, "case {case} {}", f.path);
        }
        let app = argocd
            .iter()
            .find(|f| f.path == "comp/argocd/application.yaml")
            .unwrap();
        let app = &documents(std::str::from_utf8(&app.content).unwrap())[0];
        assert_eq!(
            app["spec"]["destination"]["namespace"],
            comp.namespace.as_str(),
            "case {case}"
        );
        assert_eq!(
            app["spec"]["sources"][0]["targetRevision"],
            comp.chart.version.as_str(),
            "case {case}"
        );
        // Flux may refuse a repository URL it cannot name; what it writes is exact.
        if let Ok(flux) = cns_plugin_flux::generate::generate(&input) {
            for f in flux.iter().filter(|f| f.path.ends_with(".yaml")) {
                let docs = documents(std::str::from_utf8(&f.content).unwrap());
                assert_eq!(docs.len(), 1, "case {case} {}", f.path);
                assert_ne!(docs[0]["kind"], "Secret", "case {case} {}", f.path);
            }
            let hr = flux
                .iter()
                .find(|f| f.path == "comp/flux/helmrelease.yaml")
                .unwrap();
            let hr = &documents(std::str::from_utf8(&hr.content).unwrap())[0];
            assert_eq!(hr["kind"], "HelmRelease");
            assert_eq!(
                hr["spec"]["targetNamespace"],
                comp.namespace.as_str(),
                "case {case}"
            );
            assert_eq!(
                hr["spec"]["chart"]["spec"]["version"],
                comp.chart.version.as_str(),
                "case {case}"
            );
        }
        // The values.yaml header the host writes for a bundler stays a comment.
        let mut ci = cns_plugin_sdk::testing::component_input("comp", "{\"a\": 1}");
        ci.namespace = comp.namespace.clone();
        ci.chart = comp.chart.clone();
        let rendered = cns_plugin_helm::render::render(&ci).expect("helm renders");
        let values = cns_values::values_file(
            &ci.name,
            &ci.chart.chart,
            &ci.chart.version,
            &rendered.values,
        )
        .unwrap();
        let docs = documents(&values);
        assert_eq!(docs, [serde_json::json!({"a": 1})], "case {case}");
    }
    if let Some(sc) = shellcheck {
        let o = run(Command::new(sc).args(["-s", "bash"]).args(&scripts));
        assert!(o.status.success(), "{}", describe(&o));
    }
}

// ------------------------------------------------------------------- trust decisions

#[test]
fn trust_policy_matches_canonical_references() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    let script = cns_plugin_artifacts::BUILTIN
        .iter()
        .find(|a| a.name == "script")
        .unwrap();
    std::fs::write(t.join("script.wasm"), script.bytes).unwrap();
    let port = reg.addr.rsplit(':').next().unwrap();
    for repo in ["dev/script", "plugins/script"] {
        ok(&cns(
            t,
            &[
                "plugin",
                "push",
                "script.wasm",
                &format!("oci://localhost:{port}/{repo}:v1"),
                "--plain-http",
            ],
        ));
    }
    std::fs::write(
        t.join("policy.yaml"),
        format!("allowUnsigned: [\"localhost:{port}/dev/**\"]\n"),
    )
    .unwrap();
    let load = |r: &str| {
        cns(
            t,
            &[
                "plugin",
                "inspect",
                r,
                "--plugin-policy",
                "policy.yaml",
                "--plugin-plain-http",
            ],
        )
    };
    // Allowed: the repository the policy names, however the host is spelled.
    ok(&load(&format!("oci://localhost:{port}/dev/script:v1")));
    ok(&load(&format!("oci://LocalHost:{port}/dev/script:v1")));
    // Refused: walking out of `dev/` (issue 22: this loaded unsigned code from plugins/).
    for sneaky in [
        format!("oci://localhost:{port}/dev/../plugins/script:v1"),
        format!("oci://localhost:{port}/dev/./../plugins/script:v1"),
        format!("oci://localhost:{port}/dev/%2e%2e/plugins/script:v1"),
        format!("oci://localhost:{port}/dev//script:v1"),
    ] {
        let o = load(&sneaky);
        fails(&o, 2, "is not a repository");
    }
    // And the real place is not covered by the rule.
    fails(
        &load(&format!("oci://localhost:{port}/plugins/script:v1")),
        2,
        "refusing plugin",
    );
}

#[test]
fn compile_cache_entries_are_authenticated_and_shared_dirs_refused() {
    let tmp = tempdir();
    let t = tmp.path();
    for name in ["script", "cert-manager"] {
        let a = cns_plugin_artifacts::BUILTIN
            .iter()
            .find(|a| a.name == name)
            .unwrap();
        std::fs::write(t.join(format!("{name}.wasm")), a.bytes).unwrap();
    }
    let inspect = |f: &str| {
        let o = cns(t, &["plugin", "inspect", f, "--json"]);
        serde_json::from_str::<serde_json::Value>(&ok(&o)).unwrap()
    };
    assert_eq!(inspect("script.wasm")["code"], "compiled");
    assert_eq!(inspect("script.wasm")["code"], "cache");
    assert_eq!(inspect("cert-manager.wasm")["code"], "compiled");
    // Swap cert-manager's compiled code in under script's name: never run, recompiled.
    let entries = t.join("cache/components");
    let names = list_files(&entries);
    let sha = |a: &str| {
        let b = std::fs::read(t.join(a)).unwrap();
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b))
    };
    let find = |s: &str| names.iter().find(|n| n.starts_with(s)).unwrap().clone();
    let (script_entry, cm_entry) = (find(&sha("script.wasm")), find(&sha("cert-manager.wasm")));
    std::fs::copy(entries.join(&cm_entry), entries.join(&script_entry)).unwrap();
    let p = inspect("script.wasm");
    assert_eq!(
        (p["name"].as_str(), p["code"].as_str()),
        (Some("script"), Some("compiled")),
        "{p}"
    );
    // A cache others may write is refused outright.
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap()
    };
    mode(&t.join("cache"), 0o777);
    fails(
        &cns(t, &["plugin", "inspect", "script.wasm"]),
        2,
        "refusing the compiled-plugin cache",
    );
    mode(&t.join("cache"), 0o700);
    mode(&t.join("cache/key"), 0o644);
    fails(
        &cns(t, &["plugin", "inspect", "script.wasm"]),
        2,
        "other users may read it",
    );
    // --no-cache needs no cache at all.
    ok(&cns(t, &["plugin", "inspect", "script.wasm", "--no-cache"]));
}

#[test]
fn private_keys_are_written_0600_and_readable_ones_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let t = tmp.path();
    let mode = |p: &str| std::fs::metadata(t.join(p)).unwrap().permissions().mode() & 0o777;
    std::fs::write(t.join("cosign.key"), "old").unwrap();
    std::fs::set_permissions(t.join("cosign.key"), PermissionsExt::from_mode(0o644)).unwrap();
    ok(&cns(t, &["generate-key-pair", "--force"]));
    assert_eq!(mode("cosign.key"), 0o600);
    assert_eq!(mode("cosign.pub") & 0o600, 0o600);
    // A key others can read is refused before anything else happens.
    std::fs::set_permissions(t.join("cosign.key"), PermissionsExt::from_mode(0o644)).unwrap();
    let target = "oci://127.0.0.1:9/x/y@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let o = cns(t, &["sign", target, "--key", "cosign.key", "--plain-http"]);
    fails(&o, 2, "accessible to other users (mode 0644)");
    // With the explicit flag it is read, and the command goes on to the (absent) registry.
    let o = cns(
        t,
        &[
            "sign",
            target,
            "--key",
            "cosign.key",
            "--plain-http",
            "--insecure-key-permissions",
            "--registry-timeout",
            "2",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !stderr(&o).contains("accessible to other users"),
        "{}",
        describe(&o)
    );
    assert!(stderr(&o).contains("127.0.0.1:9"), "{}", describe(&o));
    // A key file whose scrypt parameters would need terabytes is refused before any work
    // (it aborted the process on allocation before).
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = std::fs::read_to_string(t.join("cosign.key")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut blob: serde_json::Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
    blob["kdf"]["params"] = serde_json::json!({"N": 1u64 << 40, "r": 1 << 20, "p": 1 << 9});
    let evil = b64.encode(serde_json::to_vec(&blob).unwrap());
    std::fs::write(
        t.join("evil.key"),
        format!(
            "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n{evil}\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(t.join("evil.key"), PermissionsExt::from_mode(0o600)).unwrap();
    let start = Instant::now();
    let o = cns(t, &["sign", target, "--key", "evil.key", "--plain-http"]);
    fails(&o, 2, "outside the accepted bounds");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn push_checks_every_flag_before_writing_to_the_registry() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    ok(&cns(t, &["bundle", "--output", "b"]));
    for (args, want) in [
        (
            vec!["push", "b", "REF", "--digest-file", "missing/dir/digest"],
            "cannot be written",
        ),
        (
            vec![
                "bundle",
                "--output",
                "REF",
                "--digest-file",
                "missing/dir/digest",
            ],
            "cannot be written",
        ),
        (
            vec!["push", "b", "REF", "--sign-key", "missing.key"],
            "missing.key",
        ),
        (
            vec!["bundle", "--output", "REF", "--sign-key", "missing.key"],
            "missing.key",
        ),
    ] {
        let r = format!("{}:v1", reg.oci("b/checked"));
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "REF" { r.as_str() } else { a })
            .collect();
        let mut full = args.clone();
        full.push("--plain-http");
        fails(&cns(t, &full), 2, want);
        let at = OciRef::parse(&r).unwrap();
        assert!(
            client().fetch_manifest(&at).unwrap().is_none(),
            "{args:?} pushed before failing"
        );
    }
}

// ------------------------------------------------------------ hostile archives and registries

fn push_layer(reg: &TestRegistry, repo: &str, layer: &[u8]) -> String {
    let r = OciRef::parse(&format!("{}:v1", reg.oci(repo))).unwrap();
    let mut d = Descriptor::of(manifest::TAR_GZIP_LAYER, layer);
    d.annotations
        .insert(manifest::TITLE.into(), "bundle.tar.gz".into());
    let m = Manifest::artifact(manifest::BUNDLE_ARTIFACT, d, Default::default());
    client().push_artifact(&r, &m, layer, "hostile").unwrap();
    r.to_string()
}

#[test]
fn hostile_archives_are_refused_while_streaming() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let tmp = tempdir();
    let t = tmp.path();
    // GNU long-name entries each claiming a 64 MiB name: ~2 MB compressed, GBs if read whole.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..8 {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(64 << 20);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let r = push_layer(&reg, "b/bomb", &bomb);
    let start = Instant::now();
    let o = cns(t, &["pull", &r, "--output", "out", "--plain-http"]);
    fails(&o, 2, "GNU long name of 67108864 bytes");
    assert!(start.elapsed() < Duration::from_secs(30));
    // A file name with control characters (a terminal escape) is refused like `..`.
    let mut h = tar::Header::new_old();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..9].copy_from_slice(b"a\x1b[2Jb.md");
    h.set_cksum();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append(&h, &b"x"[..]).unwrap();
    let layer = b.into_inner().unwrap().finish().unwrap();
    let r = push_layer(&reg, "b/ctl", &layer);
    fails(
        &cns(t, &["pull", &r, "--output", "out", "--plain-http"]),
        2,
        "control character in path",
    );
    assert!(!t.join("out").exists());
    // A directory holding a FIFO is refused by push (it hung reading the FIFO before).
    ok(&cns(t, &["bundle", "--output", "b"]));
    let o = run(Command::new("mkfifo").arg(t.join("b/pipe")));
    assert!(o.status.success(), "{}", describe(&o));
    fails(
        &cns(
            t,
            &[
                "push",
                "b",
                &format!("{}:v1", reg.oci("b/fifo")),
                "--plain-http",
            ],
        ),
        2,
        "is not a regular file",
    );
}

/// A fake registry on loopback that answers `/v2/` and then one hostile behaviour.
fn fake_registry(behaviour: fn(TcpStream, &str)) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                if path == "/v2/" {
                    let mut s = s;
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                    return;
                }
                behaviour(s, &path);
            });
        }
    });
    addr
}

/// Stream `total` bytes of `fill` as a chunked body until the client hangs up.
fn stream_body(mut s: TcpStream, content_type: &str, total: u64) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0;
    while sent < total {
        let frame = format!("{:x}\r\n", chunk.len());
        if s.write_all(frame.as_bytes())
            .and_then(|()| s.write_all(&chunk))
            .and_then(|()| s.write_all(b"\r\n"))
            .is_err()
        {
            return;
        }
        sent += chunk.len() as u64;
    }
    let _ = s.write_all(b"0\r\n\r\n");
}

#[test]
fn hostile_registry_manifests_blobs_and_silence_are_bounded() {
    let tmp = tempdir();
    let t = tmp.path();
    let pull = |addr: &str, extra: &[&str]| {
        let r = format!("oci://{addr}/b/x:v1");
        let mut args = vec!["pull", r.as_str(), "--output", "out", "--plain-http"];
        args.extend_from_slice(extra);
        cns(t, &args)
    };
    // A 1 GiB manifest: refused once 4 MiB have arrived.
    let addr = fake_registry(|s, _| stream_body(s, manifest::MANIFEST, 1 << 30));
    let start = Instant::now();
    fails(
        &pull(&addr, &[]),
        2,
        "the manifest is larger than 4194304 bytes",
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    // A blob that is far larger than its descriptor says: cut off at the declared size.
    let addr = fake_registry(|s, path| {
        if path.contains("/manifests/") {
            let layer = Descriptor {
                media_type: manifest::TAR_GZIP_LAYER.into(),
                digest: format!("sha256:{}", "a".repeat(64)),
                size: 1024,
                data: None,
                annotations: Default::default(),
            };
            let m =
                Manifest::artifact(manifest::BUNDLE_ARTIFACT, layer, Default::default()).to_bytes();
            let mut s = s;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                manifest::MANIFEST,
                m.len()
            );
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(&m));
        } else {
            stream_body(s, "application/octet-stream", 300 << 20);
        }
    });
    fails(
        &pull(&addr, &[]),
        2,
        "larger than the 1024 bytes its descriptor declares",
    );
    assert!(!t.join("out").exists());
    // A registry that accepts the connection and never answers: the deadline holds.
    let addr = fake_registry(|mut s, _| {
        let mut buf = [0u8; 1];
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_secs(120));
    });
    let start = Instant::now();
    fails(
        &pull(&addr, &["--registry-timeout", "2"]),
        2,
        "no answer within 2s",
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

// ------------------------------------------------------------------ resource exhaustion

#[test]
fn set_paths_and_plugin_limits_are_bounded() {
    let tmp = tempdir();
    let t = tmp.path();
    let deep = format!("gpu-operator:{}=1", vec!["a"; 60_000].join("."));
    let o = cns(t, &["bundle", "--output", "out", "--set", &deep]);
    fails(&o, 2, "the name is nested deeper than 30 levels");
    assert!(stderr(&o).len() < 4096, "the error stays short");
    for bad in ["17592186044416", "0", "4097"] {
        fails(
            &cns(t, &["bundle", "--output", "out", "--plugin-memory", bad]),
            2,
            "--plugin-memory",
        );
    }
    fails(
        &cns(t, &["bundle", "--output", "out", "--plugin-timeout", "0"]),
        2,
        "--plugin-timeout",
    );
    assert!(!t.join("out").exists());
    ok(&cns(
        t,
        &["bundle", "--output", "out", "--plugin-memory", "4096"],
    ));
}

#[test]
fn address_space_limit_falls_back_to_memory_mapped_per_call() {
    let tmp = tempdir();
    let t = tmp.path();
    for (i, deployer) in ["script", "argocd", "flux"].iter().enumerate() {
        // The environment `cnsctl()` sets up (isolated cache and config), through a shell
        // that lowers the address-space limit first.
        let c = cnsctl(&t.join("cache"));
        let mut sh = Command::new("bash");
        sh.current_dir(t)
            .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .arg("-c")
            .arg(format!(
                "ulimit -v 8388608 && exec \"$0\" bundle --output out{i} --deployer {deployer}"
            ))
            .arg(c.get_program());
        let o = run(&mut sh);
        ok(&o);
        assert!(
            stderr(&o).contains("address-space limit (ulimit -v) is 8192 MiB"),
            "{}",
            describe(&o)
        );
    }
    crate::util::same_tree(&t.join("out0"), &{
        ok(&cns(t, &["bundle", "--output", "ref"]));
        t.join("ref")
    });
}

// ---------------------------------------------------------------------------- interruption

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".cnsctl-"))
        .collect()
}

/// Start a slow `cnsctl bundle` and wait until its staging directory exists.
fn slow_bundle(t: &Path) -> std::process::Child {
    let mut c = cnsctl(&t.join("cache"));
    let child = c
        .current_dir(t)
        .args(["bundle", "--output", "out"])
        .env("CNS_TEST_WRITE_DELAY_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(t).is_empty() {
        assert!(Instant::now() < deadline, "no staging directory appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn interrupted_runs_leave_nothing_behind() {
    let tmp = tempdir();
    let t = tmp.path();
    for sig in ["TERM", "INT"] {
        let child = slow_bundle(t);
        let o = run(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string()));
        assert!(o.status.success());
        let o = child.wait_with_output().unwrap();
        let code = if sig == "TERM" { 143 } else { 130 };
        assert_eq!(o.status.code(), Some(code), "{}", describe(&o));
        assert!(stderr(&o).contains("interrupted"), "{}", describe(&o));
        assert!(!t.join("out").exists());
        assert_eq!(leftovers(t), Vec::<String>::new(), "SIG{sig}");
    }
    // SIGKILL cannot be handled: the next run beside it removes what was left, and says so.
    let mut child = slow_bundle(t);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(leftovers(t).len(), 1);
    let o = cns(t, &["bundle", "--output", "out"]);
    ok(&o);
    assert!(
        stderr(&o).contains("left behind by an interrupted earlier run"),
        "{}",
        describe(&o)
    );
    assert_eq!(leftovers(t), Vec::<String>::new());
}

/// A bundle folder read whole: each file's path, bytes and mode; `None` when it is missing.
fn snapshot_tree(dir: &Path) -> Option<Vec<(String, Vec<u8>, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    if !dir.exists() {
        return None;
    }
    Some(
        cns_test_support::list_files(dir)
            .into_iter()
            .map(|f| {
                let p = dir.join(&f);
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
                (f, std::fs::read(p).unwrap(), mode)
            })
            .collect(),
    )
}

/// A small deterministic generator, so a failing interleaving can be run again.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// SIGTERM at many points of `bundle --force` over another bundle, from before the handler
/// is installed to after the new tree moved in: the run either exits 0 with the complete new
/// bundle in place, or is interrupted (143, or killed by the signal's default action before
/// the handler exists) with the previous bundle untouched; never a mix, never leftovers.
/// Issue 33, item 6: the handler used to remove the staging folder while the main thread
/// renamed it into place, leaving a partial output and exit 0.
#[test]
fn a_signal_at_any_point_leaves_the_old_bundle_or_the_new_one() {
    let tmp = tempdir();
    let t = tmp.path();
    let versions = ["570.133.20", "580.95.05"];
    let set = |v: &str| format!("gpuoperator:driver.version={v}");
    // The two trees, and how long a run takes here.
    let mut reference = Vec::new();
    let mut longest = Duration::ZERO;
    for (i, v) in versions.iter().enumerate() {
        let start = Instant::now();
        ok(&cns(
            t,
            &["bundle", "--output", &format!("ref-{i}"), "--set", &set(v)],
        ));
        longest = longest.max(start.elapsed());
        reference.push(snapshot_tree(&t.join(format!("ref-{i}"))).unwrap());
    }
    assert_ne!(reference[0], reference[1]);
    let out = t.join("out");
    ok(&cns(
        t,
        &["bundle", "--output", "out", "--set", &set(versions[0])],
    ));
    let mut held = 0;
    let mut rng = XorShift(0x5eed_cafe_f00d);
    let (mut finished, mut interrupted) = (0, 0);
    let spread = (longest.as_micros() as u64 * 5 / 4).max(1);
    for run_no in 0..240 {
        let next = 1 - held;
        let mut child = cnsctl(&t.join("cache"))
            .current_dir(t)
            .args([
                "bundle",
                "--force",
                "--output",
                "out",
                "--set",
                &set(versions[next]),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = Duration::from_micros(rng.below(spread));
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let now = snapshot_tree(&out);
        let what = format!("run {run_no}, signal after {delay:?}: {status:?}\n{err}");
        use std::os::unix::process::ExitStatusExt;
        if status.success() {
            assert!(
                now.as_ref() == Some(&reference[next]),
                "exit 0 without the new bundle: {what}"
            );
            held = next;
            finished += 1;
        } else {
            assert!(
                status.code() == Some(143) || status.signal() == Some(15),
                "{what}"
            );
            assert!(
                now.as_ref() == Some(&reference[held]),
                "interrupted, and the old bundle changed: {what}"
            );
            interrupted += 1;
        }
        assert_eq!(leftovers(t), Vec::<String>::new(), "{what}");
    }
    eprintln!("signals: {finished} runs finished, {interrupted} interrupted");
    // Both outcomes were seen, so the signals did fall on both sides of the move.
    assert!(
        finished > 0 && interrupted > 0,
        "finished {finished}, interrupted {interrupted}"
    );
}

/// Concurrent `bundle --force` runs on one output take turns: whatever the interleaving,
/// every run exits 0 and the output is exactly one run's bundle (it could be a mix of two).
/// Issue 33, item 6.
#[test]
fn concurrent_forced_runs_leave_exactly_one_bundle() {
    let tmp = tempdir();
    let t = tmp.path();
    let versions = ["570.133.20", "575.57.08", "580.95.05", "580.82.07"];
    let set = |v: &str| format!("gpuoperator:driver.version={v}");
    let reference: Vec<_> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            ok(&cns(
                t,
                &["bundle", "--output", &format!("ref-{i}"), "--set", &set(v)],
            ));
            snapshot_tree(&t.join(format!("ref-{i}"))).unwrap()
        })
        .collect();
    for round in 0..6 {
        let children: Vec<_> = versions
            .iter()
            .map(|v| {
                cnsctl(&t.join("cache"))
                    .current_dir(t)
                    .args(["bundle", "--force", "--output", "out", "--set", &set(v)])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", describe(&o));
        }
        let now = snapshot_tree(&t.join("out")).unwrap();
        assert!(
            reference.contains(&now),
            "round {round}: the output is no single run's bundle"
        );
        assert_eq!(leftovers(t), Vec::<String>::new(), "round {round}");
    }
}

// ------------------------------------------------------------------------ deep documents

/// Documents nested 60,000 levels deep (a snapshot like this took `diff` 10 s, quadratic in
/// its depth) are refused, exit 2, naming the file and the depth, wherever cnsctl reads
/// YAML: snapshots (`diff`, `validate`, `recipe --snapshot`), recipes (`bundle`, `validate`),
/// `validate --schema` (the plugin trust policy: `cns-plugins`' unit tests). Issue 33, item 3.
#[test]
fn deeply_nested_documents_are_refused_wherever_yaml_is_read() {
    let tmp = tempdir();
    let t = tmp.path();
    let flow = format!("{}{}", "[".repeat(60_000), "]".repeat(60_000));
    let deep_snapshot =
        format!("kind: Snapshot\napiVersion: cns.nvidia.com/v1alpha1\nmeasurements: {flow}\n");
    let deep_recipe = format!("{RECIPE}extra: {flow}\n");
    std::fs::write(t.join("snap.yaml"), &deep_snapshot).unwrap();
    std::fs::write(t.join("recipe.yaml"), &deep_recipe).unwrap();
    std::fs::write(t.join("ok-recipe.yaml"), RECIPE).unwrap();
    for (args, file) in [
        (vec!["diff", "snap.yaml", "snap.yaml"], "snap.yaml"),
        (
            vec![
                "validate",
                "--recipe",
                "ok-recipe.yaml",
                "--snapshot",
                "snap.yaml",
            ],
            "snap.yaml",
        ),
        (vec!["recipe", "--snapshot", "snap.yaml"], "snap.yaml"),
        (
            vec!["bundle", "--recipe", "recipe.yaml", "--output", "out"],
            "recipe.yaml",
        ),
        (vec!["validate", "--schema", "recipe.yaml"], "recipe.yaml"),
    ] {
        let o = cns(t, &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", describe(&o));
        assert!(
            err.contains("nested deeper than 127 levels"),
            "{args:?}: {err}"
        );
        assert!(err.contains(file), "{args:?} does not name {file}: {err}");
    }
    assert!(!t.join("out").exists());
}
