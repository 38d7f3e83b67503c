//! Registry access over the OCI distribution API (through `oci-client`): push an artifact
//! (blobs, then the manifest as exact bytes), pull one with every digest and size checked.
//!
//! HTTPS by default; plain HTTP only when asked (`--plain-http`/`--insecure`). Credentials
//! come from `CNS_REGISTRY_USERNAME`/`CNS_REGISTRY_PASSWORD`, else the Docker config
//! (`~/.docker/config.json`, credential helpers included), else anonymous. 5xx, 429 and
//! connection failures are retried with exponential backoff.

use crate::manifest::{self, Manifest};
use crate::{Error, OciRef, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How to reach the registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Use plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// Retries after the first attempt for retryable failures.
    pub retries: u32,
    /// First backoff delay; doubles on each retry.
    pub backoff: Duration,
    /// Deadline of one registry operation, retries included (`--registry-timeout`).
    pub timeout: Duration,
    /// Largest manifest accepted, checked while it streams in.
    pub max_manifest: usize,
}

/// Default of [`RegistryOptions::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`RegistryOptions::max_manifest`]: manifests are a few KiB; 4 MiB is generous.
pub const DEFAULT_MAX_MANIFEST: usize = 4 << 20;
/// Largest signature payload or other small blob read into memory.
pub const MAX_SMALL_BLOB: u64 = 1 << 20;

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            plain_http: false,
            retries: 4,
            backoff: Duration::from_millis(250),
            timeout: DEFAULT_TIMEOUT,
            max_manifest: DEFAULT_MAX_MANIFEST,
        }
    }
}

/// A pulled artifact.
#[derive(Debug)]
pub struct Pulled {
    /// Manifest digest.
    pub digest: String,
    /// The manifest.
    pub manifest: Manifest,
    /// The single layer, streamed to an anonymous temporary file (digest and size verified),
    /// positioned at its start.
    pub layer: std::fs::File,
}

impl Pulled {
    /// The layer's bytes (for layers small enough to hold, e.g. a plugin component).
    pub fn layer_bytes(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        self.layer.rewind()?;
        self.layer.read_to_end(&mut v)?;
        Ok(v)
    }
}

/// A manifest as fetched: its bytes, its digest and the media type the registry answered
/// with (if it said).
pub type FetchedManifest = (Vec<u8>, String, Option<String>);

/// The error for a reference whose manifest the registry does not have.
pub(crate) fn manifest_not_found(r: &OciRef, operation: &str) -> Error {
    Error::Registry {
        registry: r.registry.clone(),
        operation: operation.to_string(),
        message: "manifest not found".into(),
    }
}

/// Progress callback: one line per step.
pub type Progress = Box<dyn Fn(&str) + Send + Sync>;

/// A registry client with its own single-threaded async runtime.
pub struct Registry {
    pub(crate) client: Client,
    /// For manifest GETs, whose size `oci-client` cannot bound.
    pub(crate) http: reqwest::Client,
    pub(crate) scheme: &'static str,
    rt: tokio::runtime::Runtime,
    pub(crate) opts: RegistryOptions,
    progress: Progress,
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Credentials for `registry`: environment first, then the Docker config.
pub fn credentials(registry: &str) -> RegistryAuth {
    if let (Ok(u), Ok(p)) = (
        std::env::var("CNS_REGISTRY_USERNAME"),
        std::env::var("CNS_REGISTRY_PASSWORD"),
    ) {
        return RegistryAuth::Basic(u, p);
    }
    match docker_credential::get_credential(registry) {
        Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
            RegistryAuth::Basic(u, p)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(t)) => RegistryAuth::Bearer(t),
        Err(_) => RegistryAuth::Anonymous,
    }
}

/// What the user can do about a connection failure that asking again will not fix: a TLS
/// handshake answered in plain HTTP, or a host name that does not resolve.
fn connect_hint(registry: &str, e: &OciDistributionError) -> Option<String> {
    let chain = describe(e).to_ascii_lowercase();
    if chain.contains("invalidcontenttype")
        || chain.contains("wrong version number")
        || chain.contains("http request to an https server")
    {
        return Some(format!(
            "{registry} does not answer in TLS; if it serves plain HTTP, pass --plain-http"
        ));
    }
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        return Some(format!(
            "the registry host `{host}` does not resolve; check the name (and this machine's DNS)"
        ));
    }
    None
}

fn retryable(e: &OciDistributionError) -> bool {
    if connect_hint("", e).is_some() {
        return false;
    }
    match e {
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RequestError(r) => {
            r.is_connect() || r.is_timeout() || r.status().is_some_and(|s| s.is_server_error())
        }
        // InvalidData: the blob broke its descriptor (see `Capped`); asking again won't help.
        OciDistributionError::IoError(e) => e.kind() != std::io::ErrorKind::InvalidData,
        _ => false,
    }
}

fn not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                format!("{:?}", e.code).as_str(),
                "ManifestUnknown" | "NameUnknown" | "BlobUnknown"
            )
        }),
        _ => false,
    }
}

/// A readable cause chain of a client error.
pub(crate) fn describe(e: &OciDistributionError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

impl Registry {
    /// A client; `progress` receives status lines (e.g. printed to stderr).
    pub fn new(opts: RegistryOptions, progress: Progress) -> Result<Self> {
        install_crypto_provider();
        let config = ClientConfig {
            protocol: if opts.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            use_monolithic_push: true,
            // The operation deadline (`retry_raw`) is the one that fires and names the flag;
            // the client's own read timeout is a backstop behind it.
            read_timeout: Some(opts.timeout + Duration::from_secs(5)),
            connect_timeout: Some(opts.timeout.min(Duration::from_secs(10))),
            ..Default::default()
        };
        let http = reqwest::Client::builder()
            .read_timeout(opts.timeout + Duration::from_secs(5))
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("cnsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Registry {
                registry: String::new(),
                operation: "create the HTTP client".into(),
                message: e.to_string(),
            })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Registry {
                registry: String::new(),
                operation: "start the I/O runtime".into(),
                message: e.to_string(),
            })?;
        Ok(Registry {
            client: Client::new(config),
            http,
            scheme: if opts.plain_http { "http" } else { "https" },
            rt,
            opts,
            progress,
        })
    }

    fn err(&self, r: &OciRef, operation: &str, e: &OciDistributionError) -> Error {
        // Content that does not hash to its digest is a failed check, not a registry error.
        if let OciDistributionError::DigestError(
            oci_client::errors::DigestError::VerificationError { expected, actual },
        ) = e
        {
            return Error::Digest {
                what: format!("{operation} of {r}"),
                expected: expected.clone(),
                actual: actual.clone(),
            };
        }
        let message = match connect_hint(&r.registry, e) {
            Some(hint) => format!("{hint} ({})", describe(e)),
            None => describe(e),
        };
        Error::Registry {
            registry: r.registry.clone(),
            operation: operation.to_string(),
            message,
        }
    }

    /// Run `op` with retries on retryable failures; the last error is returned as it is.
    pub(crate) fn retry_raw<T, F, Fut>(
        &self,
        what: &str,
        op: F,
    ) -> std::result::Result<T, OciDistributionError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        let deadline = Instant::now() + self.opts.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let result = self
                .rt
                .block_on(async { tokio::time::timeout(left, op()).await })
                .unwrap_or_else(|_| {
                    Err(OciDistributionError::IoError(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "no answer within {}s (--registry-timeout, CNS_REGISTRY_TIMEOUT)",
                            self.opts.timeout.as_secs_f32()
                        ),
                    )))
                });
            match result {
                Err(e)
                    if attempt < self.opts.retries
                        && retryable(&e)
                        && Instant::now() + delay < deadline =>
                {
                    attempt += 1;
                    (self.progress)(&format!(
                        "{what}: {} (retry {attempt}/{} in {delay:?})",
                        describe(&e),
                        self.opts.retries
                    ));
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                other => return other,
            }
        }
    }

    /// [`Self::retry_raw`], with the final error naming the registry and the operation.
    pub(crate) fn retry<T, F, Fut>(&self, r: &OciRef, what: &str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        self.retry_raw(what, op).map_err(|e| self.err(r, what, &e))
    }

    pub(crate) fn authenticate(&self, r: &OciRef, op: RegistryOperation) -> Result<()> {
        let auth = credentials(&r.registry);
        let reference = r.client_ref();
        self.retry(r, "authenticate", || {
            self.client.auth(&reference, &auth, op)
        })?;
        Ok(())
    }

    fn push_blob(&self, r: &OciRef, bytes: &[u8], label: &str) -> Result<String> {
        let reference = r.client_ref();
        let d = manifest::digest(bytes);
        let exists = self.retry(r, "check blob", || self.client.blob_exists(&reference, &d))?;
        if exists {
            (self.progress)(&format!("{label}: {} already present", &d[..19]));
            return Ok(d);
        }
        let start = Instant::now();
        (self.progress)(&format!(
            "{label}: uploading {} ({})",
            human(bytes.len()),
            &d[..19]
        ));
        let data = bytes::Bytes::copy_from_slice(bytes);
        self.retry(r, &format!("push blob {d}"), || {
            self.client.push_blob(&reference, data.clone(), &d)
        })?;
        (self.progress)(&format!(
            "{label}: uploaded {} in {:.0?}",
            human(bytes.len()),
            start.elapsed()
        ));
        Ok(d)
    }

    /// Push raw manifest bytes at `r`'s tag (or digest); returns the manifest digest.
    pub fn push_manifest(&self, r: &OciRef, bytes: &[u8], media_type: &str) -> Result<String> {
        let reference = r.client_ref();
        let ct = reqwest_header(media_type)?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retry(r, "push manifest", || {
            self.client
                .push_manifest_raw(&reference, body.clone(), ct.clone())
        })?;
        Ok(manifest::digest(bytes))
    }

    /// Push blobs and then `m` (plus its config and `layer`) at `r`; returns the digest.
    pub fn push_artifact(
        &self,
        r: &OciRef,
        m: &Manifest,
        layer: &[u8],
        label: &str,
    ) -> Result<String> {
        self.authenticate(r, RegistryOperation::Push)?;
        if manifest::digest(layer) != m.layers[0].digest {
            return Err(Error::Digest {
                what: "layer to push".into(),
                expected: m.layers[0].digest.clone(),
                actual: manifest::digest(layer),
            });
        }
        self.push_blob(r, manifest::EMPTY_CONFIG_BLOB, "config")?;
        self.push_blob(r, layer, label)?;
        let bytes = m.to_bytes();
        let digest = self.push_manifest(r, &bytes, manifest::MANIFEST)?;
        (self.progress)(&format!("pushed {r} ({digest})"));
        Ok(digest)
    }

    /// Pull a single-layer artifact and check it: manifest digest (against `r`'s digest if it
    /// has one, and the registry's header), `artifactType`, layer media type, size, digest.
    pub fn pull_artifact(
        &self,
        r: &OciRef,
        artifact_type: &str,
        layer_type: &str,
        max_layer: u64,
    ) -> Result<Pulled> {
        self.authenticate(r, RegistryOperation::Pull)?;
        let (bytes, digest) = self
            .fetch_manifest(r)?
            .ok_or_else(|| manifest_not_found(r, &format!("pull {r}")))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::WrongArtifact {
            reference: r.to_string(),
            expected: artifact_type.into(),
            reason: format!("manifest is not an OCI image manifest: {e}"),
        })?;
        let wrong = |reason: String| Error::WrongArtifact {
            reference: r.to_string(),
            expected: artifact_type.into(),
            reason,
        };
        if m.artifact_type.as_deref() != Some(artifact_type) {
            return Err(wrong(format!(
                "artifactType is {:?}, expected `{artifact_type}`",
                m.artifact_type
            )));
        }
        let [layer] = m.layers.as_slice() else {
            return Err(wrong(format!("{} layers, expected 1", m.layers.len())));
        };
        if layer.media_type != layer_type {
            return Err(wrong(format!(
                "layer media type `{}`, expected `{layer_type}`",
                layer.media_type
            )));
        }
        if layer.size > max_layer {
            return Err(wrong(format!(
                "layer is {} bytes, more than the {max_layer} allowed",
                layer.size
            )));
        }
        let layer = self.fetch_blob_file(r, layer, max_layer)?;
        Ok(Pulled {
            digest,
            manifest: m,
            layer,
        })
    }

    /// The manifest bytes and digest at `r`, or `None` if there is none. The digest is
    /// computed from the bytes and checked against `r`'s digest and the registry's header.
    pub fn fetch_manifest(&self, r: &OciRef) -> Result<Option<(Vec<u8>, String)>> {
        Ok(self
            .fetch_manifest_of(r, manifest::MANIFEST)?
            .map(|(bytes, digest, _)| (bytes, digest)))
    }

    /// [`Self::fetch_manifest`] accepting the media types in `accept` (comma-separated);
    /// also returns the media type the registry answered with.
    pub fn fetch_manifest_of(&self, r: &OciRef, accept: &str) -> Result<Option<FetchedManifest>> {
        let what = format!("pull manifest {r}");
        let res = self.retry_raw(&what, || self.get_manifest(r, accept));
        let (bytes, header, content_type) = match res {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(self.err(r, &what, &e)),
        };
        let digest = manifest::digest(&bytes);
        for (what, expected) in [
            ("reference", r.digest.as_deref()),
            ("registry header", header.as_deref()),
        ] {
            if let Some(exp) = expected
                && exp.starts_with("sha256:")
                && exp != digest
            {
                return Err(Error::Digest {
                    what: format!("manifest of {r} ({what})"),
                    expected: exp.to_string(),
                    actual: digest,
                });
            }
        }
        Ok(Some((bytes, digest, content_type)))
    }

    /// Whether the repository of `r` has the blob `digest`.
    pub fn blob_exists(&self, r: &OciRef, digest: &str) -> Result<bool> {
        self.authenticate(r, RegistryOperation::Pull)?;
        let reference = r.client_ref();
        self.retry(r, "check blob", || {
            self.client.blob_exists(&reference, digest)
        })
    }

    /// Push a blob of `size` bytes from `file` (read from its start in 1 MiB chunks, never
    /// held whole); the registry checks it against `digest`.
    pub fn push_blob_file(
        &self,
        r: &OciRef,
        file: &std::fs::File,
        digest: &str,
        size: u64,
    ) -> Result<()> {
        self.authenticate(r, RegistryOperation::Push)?;
        let reference = r.client_ref();
        self.retry(r, &format!("push blob {digest}"), || async {
            use std::io::{Read, Seek};
            let mut f = file.try_clone()?;
            f.rewind()?;
            let stream = futures_util::stream::unfold(f, |mut f| async move {
                let mut buf = vec![0u8; 1 << 20];
                match f.read(&mut buf) {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(bytes::Bytes::from(buf)), f))
                    }
                    Err(e) => Some((Err(OciDistributionError::IoError(e)), f)),
                }
            });
            self.client
                .push_blob_stream(&reference, stream, digest, Some(size))
                .await
        })?;
        Ok(())
    }

    /// Push a plain blob (e.g. a signature payload); returns its digest.
    pub fn push_raw_blob(&self, r: &OciRef, bytes: &[u8], label: &str) -> Result<String> {
        self.authenticate(r, RegistryOperation::Push)?;
        self.push_blob(r, bytes, label)
    }
}

fn reqwest_header(v: &str) -> Result<http::HeaderValue> {
    http::HeaderValue::from_str(v).map_err(|_| Error::WrongArtifact {
        reference: "manifest to push".into(),
        expected: "manifest with a valid media type".into(),
        reason: format!("media type `{}` is not a header value", v.escape_debug()),
    })
}

/// Annotations for a bundle manifest.
pub fn bundle_annotations(title: &str) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert(manifest::TITLE.to_string(), title.to_string());
    a
}
