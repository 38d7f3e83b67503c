//! How a command ended when it did not fail; `main` maps it to the exit code.

/// How a command ended when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything passed.
    Success,
    /// The command ran, but a check it performs failed.
    CheckFailed,
}
