//! Terminal output: verbosity and the sink that shows plugin log messages.

use cns_runtime::types::Level;
use cns_runtime::{LogFilter, LogSink};
use std::sync::Arc;
use std::sync::atomic::{AtomicI8, Ordering};

static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Set verbosity from `-v` (count) and `-q`.
pub(crate) fn set_verbosity(verbose: u8, quiet: bool) {
    let v = if quiet { -1 } else { verbose.min(3) as i8 };
    VERBOSITY.store(v, Ordering::Relaxed);
}

fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Print a status line to stderr unless `--quiet`.
pub(crate) fn status(msg: &str) {
    if verbosity() >= 0 {
        // A safety net under the escaping of readings where they are formatted: no escape
        // sequence or carriage return reaches the terminal, whatever a message quotes.
        eprintln!("{}", cns_files::terminal_safe(msg, true));
    }
}

/// Print `warning: MSG` to stderr unless `--quiet`.
pub(crate) fn warn(msg: &str) {
    status(&format!("warning: {msg}"));
}

/// Print a debug line to stderr with `-vv`.
pub(crate) fn debug(msg: &str) {
    if verbosity() >= 2 {
        eprintln!("debug: {msg}");
    }
}

/// The verbosity a plugin log level needs, and its tag.
fn level_needs(level: Level) -> (i8, &'static str) {
    match level {
        Level::Error => (-1, "error"),
        Level::Warn => (0, "warning"),
        Level::Info => (1, "info"),
        Level::Debug => (2, "debug"),
        Level::Trace => (3, "trace"),
    }
}

/// The sink for plugin logs: warnings and errors always, info with `-v`, debug with `-vv`.
pub(crate) fn plugin_log_sink() -> LogSink {
    Arc::new(|plugin: &str, level: Level, msg: &str| {
        let (min, tag) = level_needs(level);
        if verbosity() >= min {
            eprintln!("[plugin {plugin}] {tag}: {msg}");
        }
    })
}

/// What [`plugin_log_sink`] shows, for the plugins' `enabled` call.
pub(crate) fn plugin_log_filter() -> LogFilter {
    Arc::new(|level: Level| verbosity() >= level_needs(level).0)
}

/// Say which staging directories of interrupted earlier runs were removed.
pub(crate) fn stale_removed(report: &cns_files::WriteReport) {
    for p in &report.removed_stale {
        status(&format!(
            "removed `{}`, left behind by an interrupted earlier run",
            p.display()
        ));
    }
}
