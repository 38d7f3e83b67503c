//! Errors of bundle generation and writing.

/// Errors of bundle generation. Each names the flag, component or path at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value is malformed.
    #[error("invalid {flag} value `{value}`: {reason}")]
    InvalidFlag {
        /// The flag, e.g. `--set`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// A request's value is refused; the message names the flag as the CLI spells it.
    #[error("{message}")]
    Request {
        /// The field: the flag's name without `--` (the server's parameter name).
        field: &'static str,
        /// What is wrong, naming the flag and the value.
        message: String,
    },
    /// `--set` names a component the recipe does not have.
    #[error("--set names unknown component `{component}`; the recipe has: {known}")]
    UnknownSetComponent {
        /// The name given.
        component: String,
        /// The recipe's components.
        known: String,
    },
    /// No deployer plugin of this name.
    #[error("unknown deployer `{name}`; available: {available}")]
    UnknownDeployer {
        /// The name given.
        name: String,
        /// Available deployers.
        available: String,
    },
    /// No bundler serves the component.
    #[error("no bundler plugin serves component `{component}`")]
    NoBundler {
        /// The component.
        component: String,
    },
    /// The recipe's deploymentOrder disagrees with its dependencies.
    #[error(
        "the recipe's deploymentOrder {given:?} does not match its components and dependencies (expected {expected:?})"
    )]
    BadOrder {
        /// The order in the recipe.
        given: Vec<String>,
        /// A valid order.
        expected: Vec<String>,
    },
    /// `--upgrade-from`: a transition record blocks the move of these components.
    #[error(
        "--upgrade-from `{from}`: the move is blocked for {components}; pass --allow-blocked to bundle anyway"
    )]
    UpgradeBlocked {
        /// What was named as installed.
        from: String,
        /// Each blocked component with the record's reason.
        components: String,
    },
    /// A recipe-data problem.
    #[error(transparent)]
    Recipe(#[from] cns_recipe::Error),
    /// A bundler failed for a component. The message names the component once (and the
    /// plugin too when it is not named like the component).
    #[error("{}", naming_once("component", component, error))]
    Component {
        /// The component being rendered.
        component: String,
        /// What went wrong (part of this message, not a separate cause).
        error: cns_runtime::Error,
    },
    /// The deployer failed.
    #[error("{}", naming_once("deployer", deployer, error))]
    Deployer {
        /// The deployer.
        deployer: String,
        /// What went wrong (part of this message, not a separate cause).
        error: cns_runtime::Error,
    },
    /// A component's final values contradict its chart (the types of the chart's default
    /// values, or its values.schema.json, as the recipe data records them).
    #[error(
        "the values of `{component}` do not fit chart {chart} {version}:\n  {}",
        problems.join("\n  ")
    )]
    ChartValues {
        /// The component.
        component: String,
        /// The chart's name.
        chart: String,
        /// The chart version the values were checked against.
        version: String,
        /// Each contradiction: `path: what the chart has, what was given`.
        problems: Vec<String>,
    },
    /// A bundler wrote a `values.yaml` that is not a values tree.
    #[error(
        "bundler `{plugin}` wrote a values.yaml for `{component}` that cannot be read: {reason}"
    )]
    BadValues {
        /// The component.
        component: String,
        /// The bundler plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// The bundle tree refused a file (a bad path, a path written twice) or could not be
    /// written.
    #[error(transparent)]
    Files(#[from] cns_files::Error),
    /// Applying a values override failed.
    #[error("--set for component `{component}`")]
    Values {
        /// The component.
        component: String,
        /// Why.
        #[source]
        source: cns_values::Error,
    },
}

/// `what `name`: error`, or just the error when it already names `name` as its plugin.
fn naming_once(what: &str, name: &str, error: &cns_runtime::Error) -> String {
    if error.plugin() == Some(name) {
        error.to_string()
    } else {
        format!("{what} `{name}`: {error}")
    }
}

impl Error {
    /// The request field at fault (a flag's name without `--`, as the server's parameters
    /// are named), for errors about the request rather than the recipe or a plugin.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::InvalidFlag { flag, .. } => Some(flag.trim_start_matches('-')),
            Error::Request { field, .. } => Some(field),
            Error::UnknownSetComponent { .. } | Error::Values { .. } => Some("set"),
            Error::UnknownDeployer { .. } => Some("deployer"),
            _ => None,
        }
    }

    /// Whether a plugin refused the user's input: a failed check (exit 1), not an error.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Component { error, .. } | Error::Deployer { error, .. } => error.is_refusal(),
            _ => false,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<cns_recipe::scheduling::FlagError> for Error {
    fn from(e: cns_recipe::scheduling::FlagError) -> Self {
        Error::InvalidFlag {
            flag: e.flag,
            value: e.value,
            reason: e.reason,
        }
    }
}
