//! Resource limits applied to every plugin call.

use std::time::Duration;

/// Limits for one plugin call. Each call gets a fresh store with these.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum size of the plugin's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline of one call.
    pub timeout: Duration,
    /// Maximum total size of the files one call returns, in bytes.
    pub max_output_bytes: usize,
    /// Maximum number of files one call returns.
    pub max_files: usize,
    /// Maximum number of log messages kept per call (further ones are counted, not kept).
    pub max_log_messages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(10),
            max_output_bytes: 32 << 20,
            max_files: 10_000,
            max_log_messages: 1_000,
        }
    }
}
