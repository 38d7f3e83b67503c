//! Constraint evaluation (issue 3).
