//! `cnsctl serve` as a process on 127.0.0.1, driven by a real HTTP client (reqwest): answers
//! equal to the CLI's outputs byte for byte, every error as the documented JSON (checked
//! against the OpenAPI document's schemas), 64 concurrent bundles, a hostile plugin
//! contained, draining on SIGTERM, metrics, and the Helm chart rendered and validated.

use crate::util::{cnsctl, ok, repo_file, tempdir};
use cns_test_support::{describe, require_tool, run};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `cnsctl serve` and its log lines.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// The access log so far, once a line containing `needle` has arrived (the log is read
    /// from the server's stderr by another thread, and the server writes a request's line
    /// after answering it), or after 10 s.
    fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log.lock().unwrap().join("\n");
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start `cnsctl serve --listen 127.0.0.1:0 ARGS` and wait until it is ready.
    fn start(args: &[&str]) -> Server {
        let tmp = tempdir();
        let mut child = cnsctl(&tmp.path().join("cache"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cnsctl serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["msg"] == "listening"
                {
                    let _ = tx.send(v["address"].as_str().unwrap_or_default().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no `listening` line; log: {:?}", log.lock().unwrap()));
        let server = Server {
            child,
            base: format!("http://{addr}"),
            log,
            _tmp: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.get("/ready").0 != 200 {
            assert!(Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET: status, headers, body.
    fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        send(client().get(self.url(path)))
    }

    /// POST with a content type.
    fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        send(
            client()
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body),
        )
    }

    fn signal(&self, sig: &str) {
        let o = run(std::process::Command::new("kill")
            .args(["-s", sig])
            .arg(self.child.id().to_string()));
        assert!(o.status.success(), "{}", describe(&o));
    }

    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    rt().block_on(async {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.unwrap().to_vec())
    })
}

fn header<'h>(h: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .unwrap()
}

/// The OpenAPI document as the server serves it.
fn openapi(s: &Server) -> Value {
    let (status, _, body) = s.get("/openapi.json");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// `body` is valid against the OpenAPI document's schema `name`.
fn conforms(doc: &Value, name: &str, body: &Value) {
    let mut root = doc.clone();
    root["$ref"] = json!(format!("#/components/schemas/{name}"));
    crate::util::assert_valid(&root, body, name);
}

/// An error answer: status, documented JSON shape, code.
fn api_error(
    doc: &Value,
    got: &(u16, reqwest::header::HeaderMap, Vec<u8>),
    status: u16,
    code: &str,
) -> Value {
    assert_eq!(got.0, status, "{}", String::from_utf8_lossy(&got.2));
    assert_eq!(header(&got.1, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&got.2).unwrap();
    conforms(doc, "Error", &body);
    if status == 400 {
        // Every 400 names what it refuses.
        conforms(doc, "BadRequest", &body);
        assert!(
            body["details"]["field"]
                .as_str()
                .is_some_and(|f| !f.is_empty()),
            "{body}"
        );
    }
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["requestId"], header(&got.1, "x-request-id"));
    body
}

/// Unpack a zip into `dir` with its modes.
fn unzip(bytes: &[u8], dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let path = dir.join(f.enclosed_name().expect("safe name"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut out = std::fs::File::create(&path).unwrap();
        std::io::copy(&mut f, &mut out).unwrap();
        let mode = f.unix_mode().unwrap() & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

const EKS: &str = "service=eks&accelerator=h100&os=ubuntu&intent=training";

#[test]
fn serve_answers_like_the_cli() {
    let s = Server::start(&[]);
    let doc = openapi(&s);
    let tmp = tempdir();
    let cache = tmp.path().join("cache");

    // GET / lists exactly the routes the OpenAPI document has.
    let (status, _, body) = s.get("/");
    assert_eq!(status, 200);
    let root: Value = serde_json::from_slice(&body).unwrap();
    conforms(&doc, "Root", &root);
    let mut listed: Vec<String> = root["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    listed.sort();
    documented.sort();
    assert_eq!(listed, documented);
    for p in ["/health", "/ready"] {
        let (status, _, body) = s.get(p);
        assert_eq!(status, 200);
        conforms(&doc, "Status", &serde_json::from_slice(&body).unwrap());
    }

    // Recipes: byte for byte `cnsctl recipe --format json`, by GET (with the `gpu` alias and
    // a partial query) and by POST (JSON and YAML).
    for (query, flags) in [
        (
            EKS,
            vec![
                "--service",
                "eks",
                "--accelerator",
                "h100",
                "--os",
                "ubuntu",
                "--intent",
                "training",
            ],
        ),
        (
            "service=eks&gpu=h100",
            vec!["--service", "eks", "--accelerator", "h100"],
        ),
        (
            "service=gke&accelerator=h100&os=cos&intent=inference",
            vec![
                "--service",
                "gke",
                "--accelerator",
                "h100",
                "--os",
                "cos",
                "--intent",
                "inference",
            ],
        ),
    ] {
        let cli = run(cnsctl(&cache)
            .args(["recipe", "--format", "json"])
            .args(&flags));
        ok(&cli);
        let (status, h, body) = s.get(&format!("/v1/recipe?{query}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(header(&h, "cache-control"), "public, max-age=600");
        assert_eq!(body, cli.stdout, "GET /v1/recipe?{query}");
        conforms(&doc, "Recipe", &serde_json::from_slice(&body).unwrap());
        let fields: serde_json::Map<String, Value> = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), json!(v))
            })
            .collect();
        let (status, _, body) = s.post(
            "/v1/recipe",
            "application/json",
            Value::Object(fields.clone()).to_string(),
        );
        assert_eq!((status, &body), (200, &cli.stdout), "POST json {query}");
        let yaml: String = fields
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.as_str().unwrap()))
            .collect();
        let (status, _, body) = s.post("/v1/recipe", "application/yaml", yaml);
        assert_eq!((status, &body), (200, &cli.stdout), "POST yaml {query}");
    }

    // Query: the selected value; the documented example path.
    let (status, _, body) = s.get(&format!(
        "/v1/query?{EKS}&selector=components.gpu-operator.values.driver.enabled"
    ));
    assert_eq!((status, body.as_slice()), (200, b"true\n".as_slice()));
    let (status, _, body) = s.get(&format!(
        "/v1/query?{EKS}&selector=components.cert-manager.version"
    ));
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&body).unwrap().is_string());
    let (status, _, body) = s.post(
        "/v1/query?selector=criteria.service",
        "application/json",
        r#"{"service":"aks","accelerator":"a100","os":"ubuntu","intent":"training"}"#,
    );
    assert_eq!((status, body.as_slice()), (200, b"\"aks\"\n".as_slice()));

    // Bundles: the same files and bytes as `cnsctl bundle`, for each deployer.
    let recipe = tmp.path().join("recipe.json");
    std::fs::write(&recipe, &s.get(&format!("/v1/recipe?{EKS}")).2).unwrap();
    let recipe_json = std::fs::read_to_string(&recipe).unwrap();
    for (query, flags) in [
        ("deployer=script", vec!["--deployer", "script"]),
        (
            "deployer=argocd&repo=https://git.example.com/gpu.git&set=gpu-operator:driver.version=580.95.05&accelerated-node-selector=nodeGroup=gpu&accelerated-node-toleration=dedicated=gpu:NoSchedule",
            vec![
                "--deployer",
                "argocd",
                "--repo",
                "https://git.example.com/gpu.git",
                "--set",
                "gpu-operator:driver.version=580.95.05",
                "--accelerated-node-selector",
                "nodeGroup=gpu",
                "--accelerated-node-toleration",
                "dedicated=gpu:NoSchedule",
            ],
        ),
        (
            "deployer=flux&repo=oci://registry.example.com/b&revision=v1",
            vec![
                "--deployer",
                "flux",
                "--repo",
                "oci://registry.example.com/b",
                "--revision",
                "v1",
            ],
        ),
    ] {
        let out = tmp.path().join(format!("cli-{}", &query[9..12]));
        ok(&run(cnsctl(&cache)
            .args(["-q", "bundle", "--recipe"])
            .arg(&recipe)
            .arg("--output")
            .arg(&out)
            .args(&flags)));
        let got = s.post(
            &format!("/v1/bundle?{query}"),
            "application/json",
            recipe_json.clone(),
        );
        assert_eq!(got.0, 200, "{query}: {}", String::from_utf8_lossy(&got.2));
        assert_eq!(header(&got.1, "content-type"), "application/zip");
        assert_eq!(
            header(&got.1, "content-disposition"),
            "attachment; filename=\"bundles.zip\""
        );
        let unpacked = tmp.path().join(format!("api-{}", &query[9..12]));
        unzip(&got.2, &unpacked);
        crate::util::same_tree(&out, &unpacked);
        let files = cns_test_support::list_files(&out);
        assert_eq!(header(&got.1, "x-bundle-files"), files.len().to_string());
        let size: u64 = files
            .iter()
            .map(|f| std::fs::metadata(out.join(f)).unwrap().len())
            .sum();
        assert_eq!(header(&got.1, "x-bundle-size"), size.to_string());
        assert!(header(&got.1, "x-bundle-duration").ends_with('s'));
    }

    // The predecessor's Python client's form, {recipe, bundlers}, equals `-b`.
    let out = tmp.path().join("cli-b");
    ok(&run(cnsctl(&cache)
        .args([
            "-q",
            "bundle",
            "-b",
            "gpu-operator,cert-manager",
            "--recipe",
        ])
        .arg(&recipe)
        .arg("--output")
        .arg(&out)));
    let wrapped = json!({
        "recipe": serde_json::from_str::<Value>(&recipe_json).unwrap(),
        "bundlers": ["gpu-operator", "cert-manager"],
    });
    let got = s.post("/v1/bundle", "application/json", wrapped.to_string());
    assert_eq!(got.0, 200, "{}", String::from_utf8_lossy(&got.2));
    assert!(got.1.get("content-encoding").is_none(), "{:?}", got.1);
    assert_eq!(header(&got.1, "vary"), "accept, accept-encoding");
    let unpacked = tmp.path().join("api-b");
    unzip(&got.2, &unpacked);
    crate::util::same_tree(&out, &unpacked);

    // A client that takes gzip gets the same zip gzip-encoded, smaller, and the same bytes
    // on every request.
    let gzipped = || {
        send(
            client()
                .post(s.url("/v1/bundle"))
                .header("content-type", "application/json")
                .header("accept-encoding", "br;q=1.0, gzip;q=0.5")
                .body(wrapped.to_string()),
        )
    };
    let (first, again) = (gzipped(), gzipped());
    assert_eq!(first.0, 200, "{}", String::from_utf8_lossy(&first.2));
    assert_eq!(header(&first.1, "content-encoding"), "gzip");
    assert_eq!(header(&first.1, "content-type"), "application/zip");
    assert_eq!(first.2, again.2);
    assert!(
        first.2.len() * 2 < got.2.len(),
        "{} vs {}",
        first.2.len(),
        got.2.len()
    );
    let mut zip = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&first.2[..]), &mut zip).unwrap();
    assert_eq!(zip, got.2);

    // A YAML recipe body, and a .tar.gz when asked for one: the same files.
    let yaml = std::fs::read_to_string(repo_file("recipes/examples/eks-h100-ubuntu-training.yaml"))
        .unwrap();
    let got = send(
        client()
            .post(s.url("/v1/bundle"))
            .header("content-type", "application/yaml")
            .header("accept", "application/gzip")
            .body(yaml),
    );
    assert_eq!(got.0, 200, "{}", String::from_utf8_lossy(&got.2));
    assert_eq!(header(&got.1, "content-type"), "application/gzip");
    let entries = cns_oci::archive::unpack(&got.2[..], Default::default()).unwrap();
    let out = tmp.path().join("cli-default");
    ok(&run(cnsctl(&cache)
        .args(["-q", "bundle", "--output"])
        .arg(&out)));
    assert_eq!(entries.len(), cns_test_support::list_files(&out).len());
    for e in entries {
        assert_eq!(
            e.content,
            std::fs::read(out.join(&e.path)).unwrap(),
            "{}",
            e.path
        );
    }
}

#[test]
fn serve_errors_are_the_documented_json() {
    let s = Server::start(&["--max-body-kib", "4"]);
    let doc = openapi(&s);
    let recipe = String::from_utf8(s.get(&format!("/v1/recipe?{EKS}")).2).unwrap();

    // 400 naming the field, with the valid values.
    let e = api_error(
        &doc,
        &s.get("/v1/recipe?service=eks&accelerator=h200"),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "accelerator");
    assert!(
        e["details"]["valid"]
            .as_array()
            .unwrap()
            .contains(&json!("h100"))
    );
    let e = api_error(
        &doc,
        &s.get("/v1/recipe?accelrator=h100"),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "accelrator");
    let e = api_error(
        &doc,
        &s.post("/v1/recipe", "application/json", "{\"service\": 1}"),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "service");
    api_error(
        &doc,
        &s.post("/v1/recipe", "application/json", "{not json"),
        400,
        "INVALID_REQUEST",
    );
    // 404: criteria the data has nothing for, with the closest combinations.
    let e = api_error(
        &doc,
        &s.get("/v1/recipe?service=gke&os=amazonlinux"),
        404,
        "NO_MATCHING_RULE",
    );
    assert!(!e["details"]["closest"].as_array().unwrap().is_empty());
    // Query: no selector, an unknown path (what exists there, and the chart default hint).
    let e = api_error(
        &doc,
        &s.get(&format!("/v1/query?{EKS}")),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "selector");
    let e = api_error(
        &doc,
        &s.get(&format!(
            "/v1/query?{EKS}&selector=components.gpu-operator.values.driver.version"
        )),
        404,
        "NOT_FOUND",
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("default of chart gpu-operator"),
        "{e}"
    );
    assert!(
        e["details"]["available"]
            .as_array()
            .unwrap()
            .contains(&json!("enabled"))
    );
    // 404 for no route, 405 with the allowed methods.
    api_error(&doc, &s.get("/v2/recipe"), 404, "NOT_FOUND");
    let e = api_error(
        &doc,
        &send(client().delete(s.url("/v1/recipe"))),
        405,
        "METHOD_NOT_ALLOWED",
    );
    assert_eq!(e["details"]["allowed"], json!(["GET", "POST"]));
    api_error(&doc, &s.get("/v1/bundle"), 405, "METHOD_NOT_ALLOWED");
    // Bundles: bad recipe, bad flag values, parameters that would reach server files.
    let e = api_error(
        &doc,
        &s.post(
            "/v1/bundle",
            "application/json",
            "{\"kind\": \"recipeResult\"}",
        ),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "recipe");
    for (query, needle) in [
        ("set=nope:x=1", "unknown component `nope`"),
        (
            "accelerated-node-toleration=a=b:Sometimes",
            "--accelerated-node-toleration",
        ),
        ("deployer=nope", "unknown deployer `nope`"),
        ("bundlers=nope", "`nope`: not a component of this recipe"),
        ("repo=https://x/y%0Aevil", "--repo"),
        ("flux-drift=maybe", "maybe"),
    ] {
        let e = api_error(
            &doc,
            &s.post(
                &format!("/v1/bundle?{query}"),
                "application/json",
                recipe.clone(),
            ),
            400,
            "INVALID_REQUEST",
        );
        assert!(
            e["message"].as_str().unwrap().contains(needle),
            "{query}: {e}"
        );
    }
    for p in [
        "output=/tmp/x",
        "sign-key=/etc/shadow",
        "plugin=/tmp/evil.wasm",
        "recipes-dir=/",
        "verify-key=/etc/passwd",
    ] {
        let e = api_error(
            &doc,
            &s.post(
                &format!("/v1/bundle?{p}"),
                "application/json",
                recipe.clone(),
            ),
            400,
            "INVALID_REQUEST",
        );
        assert_eq!(e["details"]["field"], p.split('=').next().unwrap());
    }
    // 413 over the body limit (4 KiB here), with and without Content-Length.
    let big = "a".repeat(5000);
    api_error(
        &doc,
        &s.post("/v1/bundle", "application/json", big.clone()),
        413,
        "PAYLOAD_TOO_LARGE",
    );
    // Chunked, without Content-Length: the limit holds while reading.
    let raw = {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
        let mut req = String::from(
            "POST /v1/bundle HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        );
        for n in [3000usize, 2000] {
            req.push_str(&format!("{n:x}\r\n{}\r\n", "a".repeat(n)));
        }
        req.push_str("0\r\n\r\n");
        tcp.write_all(req.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer
    };
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"code\":\"PAYLOAD_TOO_LARGE\""), "{raw}");
    // 415.
    let e = api_error(
        &doc,
        &s.post("/v1/bundle", "text/html", recipe.clone()),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    assert_eq!(e["details"]["contentType"], "text/html");
    // text/plain and the form encoding (what `curl -d` sends without -H) are not JSON or
    // YAML either: 415 on every route that reads a body, saying what to send.
    for route in ["/v1/bundle", "/v1/recipe", "/v1/query"] {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/plain; charset=utf-8",
        ] {
            let e = api_error(
                &doc,
                &s.post(route, ct, recipe.clone()),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            );
            assert!(
                e["message"].as_str().unwrap().contains("application/json"),
                "{e}"
            );
        }
    }
    // JSON and YAML by any of their names, and no Content-Type at all, are read.
    for ct in [
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "application/vnd.cns+json",
    ] {
        assert_eq!(s.post("/v1/bundle", ct, recipe.clone()).0, 200, "{ct}");
    }
    assert_eq!(
        send(client().post(s.url("/v1/bundle")).body(recipe.clone())).0,
        200
    );
    // A Content-Type with bytes outside visible ASCII is no media type: 415, not "none".
    let e = api_error(
        &doc,
        &send(
            client()
                .post(s.url("/v1/bundle"))
                .header(
                    "content-type",
                    reqwest::header::HeaderValue::from_bytes(b"application/json\xe9").unwrap(),
                )
                .body(recipe.clone()),
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    assert!(
        e["message"].as_str().unwrap().contains("visible ASCII"),
        "{e}"
    );
    // Made-up methods all count as `other`: /metrics does not grow with them.
    for i in 0..40 {
        let m = reqwest::Method::from_bytes(format!("ODD{i}").as_bytes()).unwrap();
        send(client().request(m, s.url("/health")));
    }
    let (_, _, metrics) = s.get("/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(!metrics.contains("ODD"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    // The request id a client sends comes back; a hostile one is replaced.
    let got = send(
        client()
            .get(s.url("/nope"))
            .header("x-request-id", "abc-123"),
    );
    assert_eq!(header(&got.1, "x-request-id"), "abc-123");
    let got = send(
        client()
            .get(s.url("/nope"))
            .header("x-request-id", "a\"b{}"),
    );
    assert_ne!(header(&got.1, "x-request-id"), "a\"b{}");

    // Never a 500 for anything a client sent: every answer above was 4xx.
    let log = s.log.lock().unwrap().clone();
    let statuses: Vec<u64> = log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        // (/ready answers 503 while the plugins load: the start-up poll.)
        .filter(|v| v["msg"] == "request" && v["route"] != "/ready")
        .map(|v| v["status"].as_u64().unwrap())
        .collect();
    assert!(statuses.len() >= 25, "{log:?}");
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    // One JSON access-log line per request with id, route, status and duration.
    let line: Value = log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["requestId"] == "abc-123")
        .expect("access log line");
    assert_eq!(
        (line["route"].as_str(), line["status"].as_u64()),
        (Some("unmatched"), Some(404))
    );
    assert!(line["durationMs"].is_number());
}

#[test]
fn serve_rate_limits_per_client() {
    let s = Server::start(&["--rate-limit", "1", "--rate-burst", "3"]);
    let doc = openapi(&s);
    for left in ["2", "1", "0"] {
        let got = s.get("/v1/recipe?service=eks&accelerator=h100");
        assert_eq!(got.0, 200);
        assert_eq!(header(&got.1, "x-ratelimit-limit"), "1");
        assert_eq!(header(&got.1, "x-ratelimit-remaining"), left);
    }
    let got = s.get("/v1/recipe?service=eks&accelerator=h100");
    let e = api_error(&doc, &got, 429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(e["retryable"], true);
    assert_eq!(header(&got.1, "retry-after"), "1");
    assert_eq!(header(&got.1, "x-ratelimit-remaining"), "0");
    // Probes and metrics are not limited.
    assert_eq!(s.get("/health").0, 200);
    let (_, _, body) = s.get("/metrics");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("cns_rate_limit_rejects_total 1\n"), "{text}");
}

#[test]
fn serve_disconnects_clients_too_slow_to_send_headers() {
    use std::io::{Read, Write};
    let s = Server::start(&["--header-timeout", "1"]);
    let mut tcp = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}: {}",
        String::from_utf8_lossy(&rest)
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    assert_eq!(s.get("/health").0, 200, "others are still served");
}

#[test]
fn serve_limits_each_client_behind_a_trusted_proxy() {
    // The test client is 127.0.0.1: as a trusted proxy, its X-Forwarded-For names the client.
    let s = Server::start(&[
        "--rate-limit",
        "1",
        "--rate-burst",
        "1",
        "--trusted-proxy",
        "127.0.0.0/8",
    ]);
    let get = |xff: &str| {
        send(
            client()
                .get(s.url("/v1/recipe?service=eks&accelerator=h100"))
                .header("x-forwarded-for", xff),
        )
        .0
    };
    // (Back to back: the bucket refills one token a second.)
    assert_eq!(get("203.0.113.9"), 200);
    assert_eq!(get("203.0.113.9"), 429, "the same client's bucket is empty");
    // A client cannot dodge its bucket by prepending addresses: the right-most one counts.
    assert_eq!(get("192.0.2.1, 203.0.113.9"), 429);
    assert_eq!(
        get("198.51.100.2"),
        200,
        "another client has its own bucket"
    );
    let log = s.log_with("\"client\":\"198.51.100.2\"");
    assert!(log.contains("\"client\":\"198.51.100.2\""), "{log}");
}

/// `POST /v1/upgrade-check` answers what `cnsctl upgrade-check --format json` prints for the
/// same recipes, in the documented shape; a missing `from` or a deployer without records is
/// a 400 naming the field; criteria that resolve to nothing today are a 404.
#[test]
fn serve_checks_upgrades_as_the_cli_does() {
    let s = Server::start(&["--rate-limit", "0"]);
    let doc = openapi(&s);
    let tmp = tempdir();
    let recipe: Value = serde_json::from_slice(&s.get(&format!("/v1/recipe?{EKS}")).2).unwrap();
    let mut old = recipe.clone();
    for c in old["componentRefs"].as_array_mut().unwrap() {
        if c["name"] == "cert-manager" {
            c["version"] = json!("v1.17.2");
        }
    }
    std::fs::write(tmp.path().join("old.json"), old.to_string()).unwrap();
    let cli = run(cnsctl(&tmp.path().join("cache"))
        .current_dir(tmp.path())
        .args([
            "upgrade-check",
            "--from",
            "old.json",
            "--deployer",
            "flux",
            "--format",
            "json",
        ]));
    assert_eq!(cli.status.code(), Some(1), "{}", describe(&cli));
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let (status, _, body) = s.post(
        "/v1/upgrade-check",
        "application/json",
        json!({"from": old, "deployer": "flux"}).to_string(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    conforms(&doc, "UpgradeCheck", &answer);
    assert_eq!(answer, cli, "the server answers as the CLI does");
    assert_eq!(answer["safe"], false);
    let (status, _, body) = s.post(
        "/v1/upgrade-check",
        "application/json",
        json!({"from": recipe, "to": recipe}).to_string(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["safe"],
        true
    );
    let e = api_error(
        &doc,
        &s.post("/v1/upgrade-check", "application/json", "{}"),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "from");
    let e = api_error(
        &doc,
        &s.post(
            "/v1/upgrade-check",
            "application/json",
            json!({"from": recipe, "deployer": "helm"}).to_string(),
        ),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(e["details"]["field"], "deployer");
    let mut nowhere = recipe.clone();
    nowhere["criteria"] =
        json!({"service": "gke", "accelerator": "any", "os": "amazonlinux", "intent": "any"});
    api_error(
        &doc,
        &s.post(
            "/v1/upgrade-check",
            "application/json",
            json!({"from": nowhere}).to_string(),
        ),
        404,
        "NO_MATCHING_RULE",
    );
}

/// A metric's value in the `/metrics` text.
fn metric(s: &Server, name: &str) -> f64 {
    let text = String::from_utf8(s.get("/metrics").2).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

/// A bundle is a pure function of its request: every answer carries a strong ETag (equal for
/// equal requests, on any server), If-None-Match gets 304 without a body, and repeated
/// requests come from the bounded cache without rendering; off with --cache-mib 0; the cache
/// stays within its cap, pushing the least recently used out.
#[test]
fn serve_answers_repeated_bundles_by_etag_and_from_the_cache() {
    let s = Server::start(&["--rate-limit", "0"]);
    let recipe = s.get(&format!("/v1/recipe?{EKS}")).2;
    let bundle = |s: &Server, query: &str, extra: &[(&str, &str)]| {
        let mut req = client()
            .post(s.url(&format!("/v1/bundle?{query}")))
            .header("content-type", "application/json")
            .body(recipe.clone());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        send(req)
    };
    let (status, h, first) = bundle(&s, "deployer=argocd", &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    let etag = header(&h, "etag").to_string();
    assert!(
        etag.starts_with("\"sha256-") && etag.ends_with(".zip\""),
        "{etag}"
    );
    assert_eq!(metric(&s, "cns_bundle_cache_misses_total"), 1.0);
    let (status, h, again) = bundle(&s, "deployer=argocd", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "etag"), etag);
    assert_eq!(again, first, "the cached answer is the rendered one");
    assert_eq!(metric(&s, "cns_bundle_cache_hits_total"), 1.0);
    assert_eq!(
        metric(&s, "cns_bundles_rendered_total"),
        1.0,
        "no second render"
    );
    // The same recipe written otherwise (other whitespace): parsed, then found by its
    // canonical key.
    let v: Value = serde_json::from_slice(&recipe).unwrap();
    let compact = serde_json::to_vec(&v).unwrap();
    assert_ne!(compact, recipe);
    let (status, h, _) = send(
        client()
            .post(s.url("/v1/bundle?deployer=argocd"))
            .header("content-type", "application/json")
            .body(compact),
    );
    assert_eq!(status, 200);
    assert_eq!(header(&h, "etag"), etag);
    assert_eq!(metric(&s, "cns_bundle_cache_hits_total"), 2.0);
    assert_eq!(metric(&s, "cns_bundles_rendered_total"), 1.0);
    let (status, h, empty) = bundle(&s, "deployer=argocd", &[("if-none-match", &etag)]);
    assert_eq!(status, 304);
    assert!(empty.is_empty());
    assert_eq!(header(&h, "etag"), etag);
    let (status, _, _) = bundle(
        &s,
        "deployer=argocd",
        &[("if-none-match", "\"sha256-0.zip\", W/\"other\"")],
    );
    assert_eq!(status, 200, "a tag the bundle does not have");
    // Other options, another archive form: other tags.
    let (_, h, _) = bundle(&s, "deployer=flux", &[]);
    assert_ne!(header(&h, "etag"), etag);
    let (_, h, _) = bundle(&s, "deployer=argocd", &[("accept", "application/gzip")]);
    assert!(header(&h, "etag").ends_with(".tar.gz\""), "{h:?}");
    assert!(metric(&s, "cns_bundle_cache_bytes") > 0.0);

    // No cache: the same tag from a render each time, and 304 after rendering.
    let off = Server::start(&["--rate-limit", "0", "--cache-mib", "0"]);
    let (_, h, body) = bundle(&off, "deployer=argocd", &[]);
    assert_eq!(
        header(&h, "etag"),
        etag,
        "the tag is the content's, on any server"
    );
    assert_eq!(body, first);
    let (status, _, _) = bundle(&off, "deployer=argocd", &[("if-none-match", &etag)]);
    assert_eq!(status, 304);
    assert_eq!(metric(&off, "cns_bundles_rendered_total"), 2.0);
    assert_eq!(metric(&off, "cns_bundle_cache_hits_total"), 0.0);
    assert_eq!(metric(&off, "cns_bundle_cache_misses_total"), 0.0);

    // A 1 MiB cache with more distinct bundles than fit: evictions, never over the cap.
    let small = Server::start(&["--rate-limit", "0", "--cache-mib", "1"]);
    let n = (1 << 20) / first.len() + 4;
    for i in 0..n {
        let (status, _, _) = bundle(&small, &format!("deployer=argocd&revision=r{i}"), &[]);
        assert_eq!(status, 200);
    }
    assert!(metric(&small, "cns_bundle_cache_evictions_total") >= 1.0);
    assert!(metric(&small, "cns_bundle_cache_bytes") <= (1 << 20) as f64);
    // The most recent is still there; the first was pushed out.
    bundle(&small, &format!("deployer=argocd&revision=r{}", n - 1), &[]);
    assert_eq!(metric(&small, "cns_bundle_cache_hits_total"), 1.0);
    bundle(&small, "deployer=argocd&revision=r0", &[]);
    assert_eq!(metric(&small, "cns_bundle_cache_hits_total"), 1.0);
}

#[test]
fn serve_renders_64_concurrent_bundles_alike_and_counts_them() {
    // (A long queue timeout: on a loaded CI machine 64 renders on two slots take a while.
    // No cache: every request renders.)
    let s = Server::start(&[
        "--rate-limit",
        "0",
        "--max-renders",
        "2",
        "--queue-timeout",
        "300",
        "--cache-mib",
        "0",
    ]);
    let recipe = s.get(&format!("/v1/recipe?{EKS}")).2;
    let url = s.url("/v1/bundle?deployer=argocd");
    let bodies: Vec<(u16, Vec<u8>)> = rt().block_on(async {
        let c = client();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let req = c
                .post(&url)
                .header("content-type", "application/json")
                .body(recipe.clone());
            set.spawn(async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
            });
        }
        set.join_all().await
    });
    assert_eq!(bodies.len(), 64);
    for (status, body) in &bodies {
        assert_eq!(*status, 200, "{}", String::from_utf8_lossy(body));
        assert_eq!(body, &bodies[0].1, "bodies differ");
    }
    // /metrics counts what was sent, under the predecessor's names.
    let (_, h, body) = s.get("/metrics");
    assert!(header(&h, "content-type").starts_with("application/openmetrics-text"));
    let text = String::from_utf8(body).unwrap();
    for line in [
        "cns_http_requests_total{method=\"POST\",path=\"/v1/bundle\",status=\"200\"} 64\n",
        "cns_http_requests_total{method=\"GET\",path=\"/v1/recipe\",status=\"200\"} 1\n",
        "cns_http_request_duration_seconds_count{method=\"POST\",path=\"/v1/bundle\"} 64\n",
        "cns_bundles_rendered_total 64\n",
        "cns_http_requests_in_flight 1\n",
        "cns_rate_limit_rejects_total 0\n",
        "cns_bundle_renders_queued 0\n",
    ] {
        assert!(text.contains(line), "want {line:?} in\n{text}");
    }
}

#[test]
fn serve_contains_a_hostile_plugin_and_keeps_serving() {
    let tmp = tempdir();
    let wasm = tmp.path().join("hostile.wasm");
    std::fs::write(&wasm, cns_plugin_artifacts::test_plugin("hostile")).unwrap();
    let wasm_arg = wasm.display().to_string();
    let s = Server::start(&[
        "--plugin",
        &wasm_arg,
        "--plugin-timeout",
        "1",
        "--plugin-memory",
        "64",
    ]);
    let doc = openapi(&s);
    let good = s.get(&format!("/v1/recipe?{EKS}")).2;
    for (mode, status, code) in [
        ("panic", 502, "PLUGIN_FAILED"),
        ("memory-bomb", 502, "PLUGIN_FAILED"),
        ("dotdot-path", 502, "PLUGIN_FAILED"),
        ("loop", 504, "PLUGIN_TIMEOUT"),
        ("plugin-error", 400, "INVALID_REQUEST"),
    ] {
        let recipe = format!(
            "kind: recipeResult\napiVersion: cns.nvidia.com/v1alpha1\ncomponentRefs:\n- name: cert-manager\n- name: {mode}\n  source: https://example.invalid/charts\n  version: 1.0.0\n"
        );
        let e = api_error(
            &doc,
            &s.post("/v1/bundle", "application/yaml", recipe),
            status,
            code,
        );
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("plugin `hostile`"), "{mode}: {e}");
        assert_eq!(e["details"]["plugin"], "hostile", "{mode}: {e}");
        // And the server still renders a good bundle.
        let got = s.post("/v1/bundle", "application/json", good.clone());
        assert_eq!(
            got.0,
            200,
            "after {mode}: {}",
            String::from_utf8_lossy(&got.2)
        );
    }
    assert!(!Path::new("/tmp/cns-hostile-absolute.txt").exists());
    let text = String::from_utf8(s.get("/metrics").2).unwrap();
    for line in [
        "cns_plugin_errors_total{plugin=\"hostile\",kind=\"timeout\"} 1\n",
        "cns_plugin_errors_total{plugin=\"hostile\",kind=\"trap\"} 1\n",
        "cns_plugin_errors_total{plugin=\"hostile\",kind=\"memory\"} 1\n",
        "cns_plugin_errors_total{plugin=\"hostile\",kind=\"bad_output\"} 1\n",
    ] {
        assert!(text.contains(line), "want {line:?} in\n{text}");
    }
}

#[test]
fn serve_finishes_requests_in_flight_on_sigterm() {
    // One render slot, so 24 bundle requests queue; SIGTERM arrives while they wait.
    let mut s = Server::start(&[
        "--rate-limit",
        "0",
        "--max-renders",
        "1",
        "--queue-timeout",
        "300",
        "--drain-delay",
        "1",
    ]);
    let recipe = s.get(&format!("/v1/recipe?{EKS}")).2;
    let url = s.url("/v1/bundle?deployer=flux");
    let metrics = s.url("/metrics");
    let pid = s.child.id();
    let results: Vec<u16> = rt().block_on(async {
        let c = client();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..24 {
            let req = c
                .post(&url)
                .header("content-type", "application/json")
                .body(recipe.clone());
            set.spawn(async move { req.send().await.unwrap().status().as_u16() });
        }
        // Wait until requests are really in flight, then send SIGTERM.
        loop {
            let text = c.get(&metrics).send().await.unwrap().text().await.unwrap();
            let in_flight: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("cns_http_requests_in_flight "))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            if in_flight >= 4.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let o = std::process::Command::new("kill")
            .args(["-s", "TERM", &pid.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success());
        set.join_all().await
    });
    assert!(results.iter().all(|s| *s == 200), "{results:?}");
    let status = s.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}");
    let log = s.log_with("\"msg\":\"stopped\"");
    assert!(
        log.contains("\"msg\":\"draining\"") && log.contains("\"msg\":\"stopped\""),
        "{log}"
    );
}

#[test]
fn serve_is_unready_while_draining() {
    let mut s = Server::start(&["--drain-delay", "3"]);
    let doc = openapi(&s);
    s.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(2);
    let got = loop {
        let got = s.get("/ready");
        if got.0 != 200 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let e = api_error(&doc, &got, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(e["retryable"], true);
    assert_eq!(s.get("/health").0, 200);
    assert_eq!(
        s.get(&format!("/v1/recipe?{EKS}")).0,
        200,
        "requests still served while draining"
    );
    assert!(s.wait(Duration::from_secs(30)).success());
}

#[test]
fn serve_refuses_bad_flags_and_broken_plugins_at_start() {
    let tmp = tempdir();
    let o = run(cnsctl(&tmp.path().join("cache")).args(["serve", "--listen", "nowhere"]));
    crate::util::fails(&o, 2, "--listen `nowhere`");
    let bad = tmp.path().join("bad.wasm");
    std::fs::write(&bad, b"not wasm").unwrap();
    let o = run(cnsctl(&tmp.path().join("cache"))
        .args(["serve", "--listen", "127.0.0.1:0", "--plugin"])
        .arg(&bad));
    crate::util::fails(&o, 2, "cannot load the plugins");
}

/// `helm template` of the chart under deploy/, default values and every option on; each
/// object `kubernetes-validate --strict` (the ServiceMonitor, a CRD, checked by shape).
#[test]
fn serve_chart_renders_and_validates() {
    let Some(helm) = require_tool("helm", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let tmp = tempdir();
    let chart = repo_file("deploy/chart");
    let render = |name: &str, sets: &[&str]| -> Vec<Value> {
        let mut cmd = std::process::Command::new(&helm);
        cmd.args(["template", "cnsctl", "--namespace", "cns-system"])
            .arg(&chart);
        for s in sets {
            cmd.args(["--set", s]);
        }
        let o = run(&mut cmd);
        let text = ok(&o);
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut objects = Vec::new();
        for (i, doc) in text.split("\n---").enumerate() {
            let v: Value = match serde_norway::from_str(doc) {
                Ok(Value::Null) | Err(_) => continue,
                Ok(v) => v,
            };
            if v["kind"] != "ServiceMonitor" {
                std::fs::write(dir.join(format!("{i:02}.yaml")), doc).unwrap();
            }
            objects.push(v);
        }
        objects
    };
    let defaults = render("defaults", &[]);
    let kinds: Vec<&str> = defaults
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    for k in [
        "ServiceAccount",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let deploy = defaults.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], "serve");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(c["resources"]["limits"]["memory"].is_string());
    // The args parse as `cnsctl serve` flags.
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let o = run(cnsctl(&tmp.path().join("cache")).args(&args).arg("--help"));
    ok(&o);
    let all = render(
        "all",
        &[
            "serviceMonitor.enabled=true",
            "autoscaling.enabled=false",
            "server.maxRenders=4",
            "networkPolicy.allowEgress=true",
            "server.accessLog=false",
            "server.trustedProxies={10.0.0.0/8}",
        ],
    );
    let sm = all
        .iter()
        .find(|o| o["kind"] == "ServiceMonitor")
        .expect("ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    assert!(!all.iter().any(|o| o["kind"] == "HorizontalPodAutoscaler"));
    let deploy = all.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deploy["spec"]["replicas"], 3);
    let args = &deploy["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!("--trusted-proxy=10.0.0.0/8")),
        "{args}"
    );
    if let Some(kv) = require_tool("kubernetes-validate", &[&repo_file("target/tools/bin")]) {
        let root = tmp.path();
        let files: Vec<PathBuf> = ["defaults", "all"]
            .iter()
            .flat_map(|d| {
                cns_test_support::list_files(&root.join(d))
                    .into_iter()
                    .map(move |f| root.join(d).join(f))
            })
            .collect();
        let o = run(std::process::Command::new(kv)
            .args(["--strict", "--quiet", "-k", "1.32.0"])
            .args(&files));
        assert!(o.status.success(), "kubernetes-validate: {}", describe(&o));
    }
}

/// Stalled and trickling bodies get 408 and their connections are closed, so they cannot
/// hold the server's slots; connections beyond `--max-connections` wait for a free one.
#[test]
fn stalled_bodies_get_408_and_connections_are_capped() {
    use std::io::{Read, Write};
    let s = Server::start(&[
        "--body-timeout",
        "1",
        "--max-connections",
        "8",
        "--header-timeout",
        "2",
    ]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let stalled: Vec<_> = (0..20)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                tcp.write_all(b"POST /v1/bundle HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").unwrap();
                if i % 2 == 1 {
                    // Trickle: a byte now and then, never the whole body in time.
                    for _ in 0..3 {
                        std::thread::sleep(Duration::from_millis(400));
                        let _ = tcp.write_all(b" ");
                    }
                }
                let mut answer = String::new();
                let _ = tcp.read_to_string(&mut answer); // ends when the server closes it
                answer
            })
        })
        .collect();
    for t in stalled {
        let answer = t.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"code\":\"REQUEST_TIMEOUT\""), "{answer}");
    }
    assert_eq!(s.get("/health").0, 200);

    // Eight idle connections take every slot; a ninth client is served only once the header
    // timeout (2 s) has closed one of them.
    let idle: Vec<_> = (0..8)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    assert_eq!(s.get("/health").0, 200);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "served after {waited:?}: the cap did not hold"
    );
    drop(idle);
}

/// Deeply nested bodies (60,000 flow levels in 120 KiB, which took serde_norway 9–17 s each)
/// are refused with 400 naming the depth, read on the blocking pool so `/health` answers
/// while they are in flight. Issue 33, item 3.
#[test]
fn deeply_nested_bodies_are_refused_and_health_stays_up() {
    let s = Server::start(&[]);
    let deep = format!("{}{}", "[".repeat(60_000), "]".repeat(60_000));
    let deep_map = format!("{}1{}", "{a: ".repeat(30_000), "}".repeat(30_000));
    let url = |p: &str| s.url(p);
    let senders: Vec<_> = [
        ("/v1/bundle", deep.clone()),
        ("/v1/recipe", deep_map.clone()),
        ("/v1/query", deep.clone()),
        ("/v1/bundle", deep_map),
    ]
    .into_iter()
    .map(|(path, body)| {
        let u = url(path);
        std::thread::spawn(move || {
            send(
                client()
                    .post(u)
                    .header("content-type", "application/yaml")
                    .body(body),
            )
        })
    })
    .collect();
    assert_eq!(s.get("/health").0, 200);
    for t in senders {
        let (status, _, body) = t.join().unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("nested deeper than 127 levels"), "{body}");
    }
    assert_eq!(s.get("/ready").0, 200);
}

/// Issue 34, items 5 and 9: `strict=true` refuses a criterion left open, naming it (as
/// `recipe --criteria-strict`); `/v1/query` takes the successor's `{criteria, selector}` body.
#[test]
fn strict_criteria_and_the_successors_query_body() {
    let s = Server::start(&[]);
    let (status, _, body) =
        s.get("/v1/recipe?service=eks&accelerator=h100&intent=training&strict=true");
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["details"]["field"], "os", "{e}");
    let (status, _, _) = s.get("/v1/recipe?service=eks&accelerator=h100&intent=training");
    assert_eq!(status, 200);
    let (status, _, _) =
        s.get("/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training&strict=true");
    assert_eq!(status, 200);
    let (status, _, body) = s.post(
        "/v1/recipe",
        "application/json",
        r#"{"service": "eks", "accelerator": "h100", "intent": "training", "strict": true}"#,
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = s.post(
        "/v1/query",
        "application/json",
        r#"{"criteria": {"service": "eks", "accelerator": "h100", "os": "ubuntu", "intent": "training"}, "selector": "components.gpu-operator.values.driver.enabled"}"#,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!(true));
}

/// An independent OpenAPI fuzzer (schemathesis, pinned in scripts/setup.sh) with all its
/// checks against `cnsctl serve`: no 5xx, every answer matching `/openapi.json`, requests
/// the document refuses refused and those it allows accepted (relaxed only where
/// scripts/schemathesis.toml says why). A fixed seed, so a failure reproduces.
#[test]
fn an_independent_openapi_fuzzer_finds_nothing() {
    let Some(st) = require_tool("st", &[&repo_file("target/tools/bin")]) else {
        return;
    };
    let s = Server::start(&["--rate-limit", "0", "--no-access-log"]);
    let work = tempdir(); // its caches (.schemathesis, .hypothesis) land here
    let o = run(Command::new(st)
        .current_dir(work.path())
        .args(["--config-file"])
        .arg(repo_file("scripts/schemathesis.toml"))
        .args(["run", &format!("{}/openapi.json", s.base)])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "100",
            "--seed",
            "20261207",
        ])
        .args(["--request-timeout", "30"])
        .env("NO_COLOR", "1"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        out.contains("Tested: 10"),
        "every operation of the document: {out}"
    );
    assert!(s.get("/health").0 == 200);
}

/// The OpenAPI document's Recipe is the published recipe schema, definitions included, so
/// the server's body and `cnsctl validate --schema` never drift apart.
#[test]
fn the_openapi_recipe_is_the_published_recipe_schema() {
    let read = |p: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(repo_file(p)).unwrap()).unwrap()
    };
    let doc = read("host/server/src/openapi.json");
    let mut published = read("schemas/recipe-result.schema.json");
    let defs = published
        .as_object_mut()
        .unwrap()
        .remove("definitions")
        .unwrap();
    published.as_object_mut().unwrap().remove("$schema");
    let names = [
        ("componentRef", "RecipeComponentRef"),
        ("constraint", "RecipeConstraint"),
        ("criteria", "RecipeCriteria"),
    ];
    let rewrite = |v: &Value| -> Value {
        let mut s = v.to_string();
        for (from, to) in names {
            s = s.replace(
                &format!("\"#/definitions/{from}\""),
                &format!("\"#/components/schemas/{to}\""),
            );
        }
        serde_json::from_str(&s).unwrap()
    };
    let schemas = &doc["components"]["schemas"];
    let mut recipe = schemas["Recipe"].clone();
    recipe.as_object_mut().unwrap().remove("description");
    assert_eq!(recipe, rewrite(&published));
    for (from, to) in names {
        assert_eq!(schemas[to], rewrite(&defs[from]), "{to}");
    }
}
