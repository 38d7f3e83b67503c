//! Errors of OCI distribution and signing.

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong pushing, pulling, signing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed `oci://` reference.
    #[error("invalid OCI reference `{reference}`: {reason}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry failed or refused a request (after retries).
    #[error("registry {registry}: {operation} failed: {message}")]
    Registry {
        /// Registry host.
        registry: String,
        /// What was attempted, e.g. `push blob sha256:…`.
        operation: String,
        /// The cause.
        message: String,
    },
    /// Content whose digest or size is not what its descriptor says.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// What was checked.
        what: String,
        /// Expected digest or size.
        expected: String,
        /// Actual digest or size.
        actual: String,
    },
    /// An artifact that is not what the command expects.
    #[error("{reference} is not a {expected}: {reason}")]
    WrongArtifact {
        /// The reference pulled.
        reference: String,
        /// What was expected (e.g. `cnsctl bundle`).
        expected: String,
        /// Why it is not.
        reason: String,
    },
    /// A bundle directory holds something a bundle cannot (a link, a FIFO, a bad name).
    #[error("bundle directory `{path}`: {reason}")]
    BundleDir {
        /// The file or directory at fault.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A bundle directory without the `checksums.txt` every bundle has.
    #[error(
        "{bundle}: no checksums.txt, so its files cannot be checked (push what `cnsctl bundle` wrote, or write one: `find . -type f ! -name checksums.txt -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum > checksums.txt`)"
    )]
    NoChecksums {
        /// The directory.
        bundle: String,
    },
    /// A bundle's `checksums.txt` does not match its files.
    #[error("{bundle}: checksums.txt does not match the files (edited after generation?)")]
    Checksums {
        /// The bundle (directory or reference).
        bundle: String,
    },
    /// No trusted key verifies a plugin and unsigned plugins are not allowed for it.
    #[error("refusing plugin {reference}: {reason}")]
    Untrusted {
        /// The plugin reference.
        reference: String,
        /// Why (each key's verdict).
        reason: String,
    },
    /// A plugin whose signatures none of the trusted keys verifies (a failed check, unlike
    /// [`Error::Untrusted`], which is a plugin no key or policy could check).
    #[error("refusing plugin {reference}: {reason}")]
    NotVerified {
        /// The plugin reference.
        reference: String,
        /// Why: each key's verification error.
        reason: String,
    },
    /// A refused archive entry (path traversal, link, device, duplicate, too big).
    #[error("archive entry `{path}`: {reason}")]
    Archive {
        /// Entry path as stored in the tar.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// A key file that cannot be read, decrypted or parsed.
    #[error("key `{path}`: {reason}")]
    Key {
        /// Key file path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A private key file others may read or write.
    #[error(
        "private key `{path}` is accessible to other users (mode {mode:04o}): run `chmod 600 {path}`, or pass --insecure-key-permissions"
    )]
    KeyPermissions {
        /// Key file path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A file that cannot be read.
    #[error("failed to read `{path}`")]
    ReadFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file that cannot be written.
    #[error("failed to write `{path}`")]
    WriteFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `--digest-file` cannot be used.
    #[error("--digest-file `{path}` {reason}")]
    DigestFile {
        /// The file.
        path: String,
        /// Why.
        reason: &'static str,
        /// The I/O error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Nothing is stored at the reference.
    #[error("{reference} does not exist")]
    NotFound {
        /// The reference.
        reference: String,
    },
    /// No signature is stored for the artifact.
    #[error("{reference} is not signed: no signature at tag `{tag}`")]
    Unsigned {
        /// The artifact.
        reference: String,
        /// Where the signature was looked for.
        tag: String,
    },
    /// Signatures exist but none verifies.
    #[error("signature verification failed for {reference}: {reason}")]
    Verify {
        /// The artifact.
        reference: String,
        /// Why every signature failed.
        reason: String,
    },
}
