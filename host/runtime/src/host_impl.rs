//! The per-call store state and the host side of the `host` interface (logging, in the
//! current WIT version and the older ones still loaded) and of the memory limiter.

use crate::bindings::bundler::cns::plugin::{host, types};
use crate::bindings::types::Level;
use crate::bindings::{v0_1, v0_2};
use std::sync::Arc;

/// Where plugin log messages go: `(plugin, level, message)`.
pub type LogSink = Arc<dyn Fn(&str, Level, &str) + Send + Sync>;

/// Which levels the sink shows (answers the plugins' `enabled`).
pub type LogFilter = Arc<dyn Fn(Level) -> bool + Send + Sync>;

/// State of one store (one plugin call).
pub(crate) struct HostState {
    pub(crate) plugin: String,
    pub(crate) sink: LogSink,
    pub(crate) filter: LogFilter,
    pub(crate) memory_cap: usize,
    pub(crate) memory_denied: bool,
    pub(crate) max_logs: usize,
    pub(crate) logs_kept: usize,
    pub(crate) last_error_log: Option<String>,
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        // A plugin must not flood the user's terminal: keep a bounded number of messages,
        // each cut to 4 KiB.
        let mut message = message;
        if message.len() > 4096 {
            let mut cut = 4096;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if matches!(level, Level::Error) {
            self.last_error_log = Some(message.clone());
        }
        if self.logs_kept < self.max_logs {
            self.logs_kept += 1;
            (self.sink)(&self.plugin, level, &message);
        }
    }

    fn enabled(&mut self, level: Level) -> bool {
        (self.filter)(level)
    }
}

/// Plugins built against `cns:plugin@0.2.x` import the same `host` at 0.2.
impl v0_2::bundler::cns::plugin::host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        host::Host::log(self, level, message);
    }

    fn enabled(&mut self, level: Level) -> bool {
        host::Host::enabled(self, level)
    }
}

/// Plugins built against `cns:plugin@0.1.x` import a `host` without `enabled`.
impl v0_1::bundler::cns::plugin::host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        host::Host::log(self, level, message);
    }
}

impl types::Host for HostState {}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_denied = true;
            wasmtime::bail!("memory limit of {} bytes reached", self.memory_cap);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        4
    }

    fn tables(&self) -> usize {
        8
    }
}
