//! Errors of recipe loading, resolution and evaluation.

/// Errors of the recipe engine. Each names the file, field or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML for its kind, or has unknown/missing fields.
    #[error("`{path}` is not a valid {what}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What it should be (e.g. `recipeResult`).
        what: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// `kind` or `apiVersion` is wrong.
    #[error("`{path}` has {field} `{found}`, expected `{expected}`")]
    WrongKind {
        /// The file.
        path: String,
        /// `kind` or `apiVersion`.
        field: &'static str,
        /// What it has.
        found: String,
        /// What it should have.
        expected: String,
    },
    /// A file the data refers to does not exist.
    #[error("`{from}` refers to `{path}`, which does not exist in the recipe data")]
    MissingFile {
        /// Who refers to it.
        from: String,
        /// The missing file.
        path: String,
    },
    /// Resolving the criteria failed.
    #[error("failed to resolve a recipe for {criteria}")]
    Resolve {
        /// The criteria, as `service=… accelerator=… os=… intent=…`.
        criteria: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// `--criteria-strict` and the recipe leaves criteria open; the message names each with
    /// its choices.
    #[error("{0}")]
    CriteriaOpen(String),
    /// `--node-pool` names no pool the snapshot's topology has.
    #[error("--node-pool `{pool}`: the snapshot has no such node pool; its pools: {known}")]
    UnknownPool {
        /// What was given.
        pool: String,
        /// The snapshot's pools, comma-separated, or why it has none.
        known: String,
    },
    /// A criteria value is not one of the known ones.
    #[error("unknown {field} `{value}`; valid values: {valid}")]
    UnknownCriteria {
        /// `service`, `accelerator`, `os` or `intent`.
        field: &'static str,
        /// What was given.
        value: String,
        /// The valid values, comma-separated.
        valid: String,
    },
    /// No overlay beyond the base matches the criteria.
    #[error(
        "no recipe matches {criteria}; run `cnsctl recipe --list` for the supported combinations"
    )]
    NoMatch {
        /// The criteria, rendered.
        criteria: String,
    },
    /// A given criterion that no applied overlay is specialised for: the recipe would claim it
    /// without carrying anything for it.
    #[error(
        "{criterion} selects nothing of its own for {criteria}: the recipe data has settings for it only together with other criteria; closest supported: {closest} (`cnsctl recipe --list` shows all)"
    )]
    Unspecialised {
        /// `field=value`.
        criterion: String,
        /// The whole query, rendered.
        criteria: String,
        /// The closest supported combinations, `; `-separated.
        closest: String,
    },
    /// An overlay names a base that does not exist.
    #[error("overlay `{overlay}` names unknown base `{base}`")]
    UnknownBase {
        /// The overlay.
        overlay: String,
        /// The base it names.
        base: String,
    },
    /// Overlay inheritance loops.
    #[error("overlay inheritance cycle: {chain}")]
    InheritanceCycle {
        /// The chain, `a -> b -> a`.
        chain: String,
    },
    /// A component depends on a component the recipe does not have.
    #[error("component `{component}` depends on `{dependency}`, which is not in the recipe")]
    UnknownDependency {
        /// The component.
        component: String,
        /// The missing dependency.
        dependency: String,
    },
    /// Component dependencies loop.
    #[error("dependency cycle among components: {components}")]
    DependencyCycle {
        /// Components in the cycle, comma-separated.
        components: String,
    },
    /// A component is neither in the registry nor fully described by its ref.
    #[error(
        "component `{component}` is not in the component registry and its recipe entry lacks `{field}`"
    )]
    IncompleteComponent {
        /// The component.
        component: String,
        /// The missing field.
        field: &'static str,
    },
    /// A name or field value is malformed.
    #[error("invalid {what} `{value}` in `{path}`: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What the value is (e.g. `component name`).
        what: &'static str,
        /// The value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A field holds a value that could not be used safely (wrong shape, control characters).
    #[error("{path}:{line}: {field}: `{value}` is not allowed: {reason}")]
    Field {
        /// The file.
        path: String,
        /// 1-based line of the field (or its nearest parent found).
        line: usize,
        /// Field path, e.g. `componentRefs[0].namespace`.
        field: String,
        /// The value, with control characters escaped.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// Two documents share a name.
    #[error("duplicate {what} `{name}` in `{path}`")]
    Duplicate {
        /// The file.
        path: String,
        /// What is duplicated.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A values operation failed.
    #[error("values of component `{component}`")]
    Values {
        /// The component.
        component: String,
        /// Why.
        #[source]
        source: cns_values::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
