//! Snapshots (issue 3).
