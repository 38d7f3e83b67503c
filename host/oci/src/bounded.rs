//! Reading registry responses within limits, which `oci-client` does not bound: the
//! manifest GET (with the credentials the client negotiated) capped in size while it
//! streams, and the blob download into a temporary file that refuses more bytes than the descriptor
//! declares.

use crate::manifest::Descriptor;
use crate::registry::{MAX_SMALL_BLOB, credentials};
use crate::{Error, OciRef, Registry, Result};
use oci_client::RegistryOperation;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;

/// An [`AsyncWrite`](tokio::io::AsyncWrite) into a file that refuses more than `left` bytes,
/// so a registry that sends more than the descriptor declares is cut off mid-stream.
pub(crate) struct Capped {
    pub(crate) file: std::fs::File,
    pub(crate) left: u64,
    pub(crate) written: u64,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::io::Write;
        let this = self.get_mut();
        if buf.len() as u64 > this.left {
            return std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the blob is larger than the {} bytes its descriptor declares",
                    this.written + this.left
                ),
            )));
        }
        this.left -= buf.len() as u64;
        this.written += buf.len() as u64;
        std::task::Poll::Ready(this.file.write_all(buf).map(|()| buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::io::Write;
        std::task::Poll::Ready(self.get_mut().file.flush())
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A manifest body with the registry's `Docker-Content-Digest` and `Content-Type` headers.
pub(crate) type RawManifest = (Vec<u8>, Option<String>, Option<String>);

/// The body of `res`, at most `cap` bytes (a declared length over it is refused before
/// reading, a stream that grows past it while reading); a status that is not a success is
/// an error carrying the body's start. `what` names the body in the refusal.
async fn read_capped(
    res: &mut reqwest::Response,
    cap: usize,
    what: &str,
    url: &str,
) -> std::result::Result<Vec<u8>, OciDistributionError> {
    let too_big = |n: u64| {
        OciDistributionError::SpecViolationError(format!(
            "the {what} is larger than {cap} bytes ({n} bytes or more); refusing it"
        ))
    };
    if let Some(n) = res.content_length()
        && n > cap as u64
    {
        return Err(too_big(n));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Err(too_big((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    let status = res.status();
    if !status.is_success() {
        return Err(OciDistributionError::ServerError {
            code: status.as_u16(),
            url: url.to_string(),
            message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        });
    }
    Ok(body)
}

impl Registry {
    /// GET the manifest at `r` with the credentials `oci-client` negotiated, reading at most
    /// [`RegistryOptions::max_manifest`] bytes; `None` for 404. Returns the body and the
    /// `Docker-Content-Digest` header.
    pub(crate) async fn get_manifest(
        &self,
        r: &OciRef,
        accept: &str,
    ) -> std::result::Result<Option<RawManifest>, OciDistributionError> {
        let reference = r.client_ref();
        let auth = credentials(&r.registry);
        let token = self
            .client
            .auth(&reference, &auth, RegistryOperation::Pull)
            .await?;
        let tag_or_digest = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let url = format!(
            "{}://{}/v2/{}/manifests/{tag_or_digest}",
            self.scheme,
            reference.resolve_registry(),
            reference.repository()
        );
        let mut req = self.http.get(&url).header(http::header::ACCEPT, accept);
        req = match (token, &auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            _ => req,
        };
        let mut res = req.send().await?;
        let status = res.status();
        if status == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let header = res
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let content_type = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let body = read_capped(&mut res, self.opts.max_manifest, "manifest", &url).await?;
        Ok(Some((body, header, content_type)))
    }

    /// GET `url` (a file of a classic Helm repository), at most `max` bytes (refused while
    /// it streams); `None` for 404. Retried as registry operations are.
    pub fn get_url(&self, url: &str, max: usize) -> Result<Option<Vec<u8>>> {
        let fetch = || async {
            let mut res = self.http.get(url).send().await?;
            let status = res.status();
            if status == http::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            read_capped(&mut res, max, "response", url).await.map(Some)
        };
        self.retry_raw(&format!("GET {url}"), fetch)
            .map_err(|e| Error::Registry {
                registry: url.to_string(),
                operation: "GET".into(),
                message: crate::registry::describe(&e),
            })
    }

    /// Stream a blob into an anonymous temporary file, refusing more bytes than `d`
    /// declares (and a declared size over `max`); digest and size are checked. The file is
    /// positioned at its start.
    pub fn fetch_blob_file(&self, r: &OciRef, d: &Descriptor, max: u64) -> Result<std::fs::File> {
        use std::io::Seek;
        let reference = r.client_ref();
        if d.size > max {
            return Err(Error::Digest {
                what: format!("blob of {r}"),
                expected: format!("at most {max} bytes"),
                actual: format!("{} bytes declared", d.size),
            });
        }
        let desc = OciDescriptor {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size as i64,
            ..Default::default()
        };
        let (mut file, written) = self.retry(r, &format!("pull blob {}", d.digest), || async {
            let mut out = Capped {
                file: tempfile::tempfile()?,
                left: d.size,
                written: 0,
            };
            self.client.pull_blob(&reference, &desc, &mut out).await?;
            Ok((out.file, out.written))
        })?;
        if written != d.size {
            return Err(Error::Digest {
                what: format!("blob of {r}"),
                expected: format!("{} ({} bytes)", d.digest, d.size),
                actual: format!("{written} bytes"),
            });
        }
        file.rewind().map_err(|e| Error::Registry {
            registry: r.registry.clone(),
            operation: format!("pull blob {}", d.digest),
            message: e.to_string(),
        })?;
        Ok(file)
    }

    /// A small blob's bytes (at most [`MAX_SMALL_BLOB`]), digest and size checked.
    pub fn fetch_blob(&self, r: &OciRef, d: &Descriptor) -> Result<Vec<u8>> {
        self.fetch_blob_capped(r, d, MAX_SMALL_BLOB)
    }

    /// A blob's bytes, at most `max` (a larger declared size is refused before the
    /// download), digest and size checked.
    pub fn fetch_blob_capped(&self, r: &OciRef, d: &Descriptor, max: u64) -> Result<Vec<u8>> {
        use std::io::Read;
        let mut file = self.fetch_blob_file(r, d, max)?;
        let mut v = Vec::new();
        file.read_to_end(&mut v).map_err(|e| Error::Registry {
            registry: r.registry.clone(),
            operation: format!("read blob {}", d.digest),
            message: e.to_string(),
        })?;
        Ok(v)
    }
}
