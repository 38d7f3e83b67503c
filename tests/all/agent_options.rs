//! The snapshot agent's options for real clusters (issue 35, item 5), against the loopback
//! test API: an existing ServiceAccount used as it is with no RBAC (IRSA, workload
//! identity), the RBAC for it written with no cluster contacted, pull secrets, resources,
//! one GPU asked for, an unprivileged agent that says what it cannot read; every object
//! checked by `kubernetes-validate --strict`.

use crate::cluster::{cns, fake_cluster, run_agent_locally, stderr, validate_objects, yaml};
use crate::util::{fails, ok, tempdir};
use cns_test_support::run;
use serde_json::{Value, json};

fn docs(text: &str) -> Vec<Value> {
    text.split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(yaml)
        .collect()
}

#[test]
fn an_existing_account_is_used_as_is_and_its_rbac_can_be_written() {
    let t = tempdir();
    // --write-rbac: the account and its RBAC, no cluster (none is configured here).
    let dir = t.path().join("rbac");
    let o = run(cns(t.path())
        .args([
            "snapshot",
            "--deploy-agent",
            "--namespace",
            "gpu-operator",
            "--service-account-name",
            "irsa-agent",
            "--write-rbac",
        ])
        .arg(&dir));
    ok(&o);
    let written = docs(&std::fs::read_to_string(dir.join("snapshot-agent-rbac.yaml")).unwrap());
    let kinds: Vec<&str> = written
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding"
        ]
    );
    assert_eq!(written[0]["metadata"]["name"], "irsa-agent");
    assert_eq!(written[2]["subjects"][0]["name"], "irsa-agent");
    assert_eq!(
        written[3]["metadata"]["name"],
        "irsa-agent-snapshot-agent-gpu-operator"
    );
    assert!(written.iter().all(|d| {
        d["metadata"]["labels"]
            .get("cns.nvidia.com/agent-run")
            .is_none()
    }));
    validate_objects(t.path(), &written);

    // Applied as the platform team would (the account annotated for IRSA), then used.
    let k = fake_cluster();
    let kc = k.kubeconfig();
    let mut sa = written[0].clone();
    sa["metadata"]["annotations"] =
        json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/cns-agent"});
    k.insert(
        "/api/v1/namespaces/gpu-operator/serviceaccounts/irsa-agent",
        sa.clone(),
    );
    let (tt, kk) = (t.path().to_path_buf(), kc.clone());
    k.on_job(move |job| run_agent_locally(&tt, &kk, job));
    let agent = |extra: &[&str]| {
        run(cns(t.path())
            .env("KUBECONFIG", &kc)
            .args([
                "snapshot",
                "--deploy-agent",
                "--namespace",
                "gpu-operator",
                "--image",
                "registry.example.com/cnsctl-agent:0.1.0",
                "--node-selector",
                "nodeGroup=customer-gpu",
                "--service-account-name",
            ])
            .args(extra))
    };
    let o = agent(&["irsa-agent", "--image-pull-secret", "regcred", "--cleanup"]);
    ok(&o);
    let posted: Vec<String> = k
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect();
    assert!(
        posted
            .iter()
            .all(|r| r.contains("/jobs") || r.contains("/configmaps")),
        "no RBAC is created for an existing account: {posted:?}"
    );
    assert_eq!(
        k.get("/api/v1/namespaces/gpu-operator/serviceaccounts/irsa-agent"),
        Some(sa),
        "the account is left exactly as it was"
    );
    assert!(
        !k.requests()
            .iter()
            .any(|r| r.starts_with("DELETE") && r.contains("serviceaccounts")),
        "{:?}",
        k.requests()
    );
    // An account that is not there: refused before anything is created.
    let before = k.requests().len();
    let o = agent(&["nobody"]);
    fails(&o, 2, "invalid --service-account-name `nobody`");
    assert!(stderr(&o).contains("--write-rbac"), "{}", stderr(&o));
    assert!(
        !k.requests()[before..].iter().any(|r| !r.starts_with("GET")),
        "{:?}",
        &k.requests()[before..]
    );
}

#[test]
fn pull_secrets_resources_a_gpu_and_an_unprivileged_agent_reach_the_job() {
    let t = tempdir();
    let dry = |extra: &[&str]| {
        run(cns(t.path())
            .args([
                "snapshot",
                "--deploy-agent",
                "--image",
                "img:1",
                "--node-selector",
                "nodeGroup=customer-gpu",
                "--dry-run",
            ])
            .args(extra))
    };
    let o = dry(&[
        "--image-pull-secret",
        "regcred",
        "--image-pull-secret",
        "mirror-cred",
        "--requests",
        "cpu=250m,memory=256Mi",
        "--limits",
        "memory=1Gi",
        "--require-gpu",
        "--privileged=false",
    ]);
    let objects = docs(&ok(&o));
    assert!(
        stderr(&o).contains("without --privileged the agent runs without host PID/IPC")
            && stderr(&o).contains("GPU.smi"),
        "{}",
        stderr(&o)
    );
    let job = objects.iter().find(|d| d["kind"] == "Job").unwrap();
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "regcred"}, {"name": "mirror-cred"}])
    );
    assert_eq!(
        (&pod["hostPID"], &pod["hostIPC"]),
        (&json!(false), &json!(false))
    );
    let c = &pod["containers"][0];
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}})
    );
    assert_eq!(
        c["securityContext"],
        json!({"privileged": false, "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}})
    );
    validate_objects(t.path(), &objects);
    // The default stays privileged, and says nothing about it.
    let o = dry(&[]);
    let job = docs(&ok(&o))
        .into_iter()
        .find(|d| d["kind"] == "Job")
        .unwrap();
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["securityContext"],
        json!({"privileged": true})
    );
    assert!(!stderr(&o).contains("--privileged"), "{}", stderr(&o));
    // Bad values name their flag; nothing is printed.
    for (args, flag) in [
        (&["--requests", "cpu=lots"][..], "--requests"),
        (&["--limits", "nvidia.com/gpu=1"][..], "--limits"),
        (
            &["--image-pull-secret", "Reg_Cred"][..],
            "--image-pull-secret",
        ),
    ] {
        let o = dry(args);
        fails(&o, 2, &format!("invalid {flag} "));
        assert!(o.stdout.is_empty());
    }
}
