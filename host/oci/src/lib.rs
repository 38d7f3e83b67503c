//! OCI distribution of bundles (and plugins): a reproducible tar+gzip archive, one OCI 1.1
//! image manifest with an empty config and our `artifactType`, push and pull against a real
//! registry with digest checks and retries, and cosign-compatible key-based signatures
//! (`sha256-<hex>.sig` tag, simple-signing payload, ECDSA P-256).

pub mod archive;
pub mod artifact;
pub mod attest;
mod bounded;
pub mod charts;
pub mod dsse;
mod error;
pub mod manifest;
pub mod mirror;
pub mod publish;
pub mod reference;
pub mod registry;
pub mod sign;
pub mod sigstore;
mod stats;
pub mod verify;

pub use archive::Entry;
pub use error::{Error, Result};
pub use reference::OciRef;
pub use registry::{Pulled, Registry, RegistryOptions};
pub use sign::{SigningKey, VerifyingKey};
