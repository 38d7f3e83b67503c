//! What copying content between registries did, counted (`mirror`'s report).

use serde::Serialize;

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyStats {
    /// Manifests pushed (an index and its platforms count one each).
    pub manifests: usize,
    /// Blobs copied.
    pub blobs_copied: usize,
    /// Blobs the target already had.
    pub blobs_skipped: usize,
    /// Bytes of the copied blobs.
    pub bytes_copied: u64,
}

impl CopyStats {
    /// Add another copy's counts.
    pub fn add(&mut self, o: &CopyStats) {
        self.manifests += o.manifests;
        self.blobs_copied += o.blobs_copied;
        self.blobs_skipped += o.blobs_skipped;
        self.bytes_copied += o.bytes_copied;
    }
}
