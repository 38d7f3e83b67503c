//! Where a document is read from or written to: a file, or `cm://NAMESPACE/NAME` (a
//! ConfigMap, through the cluster named by `--kubeconfig` or the usual search, connected on
//! first use so that commands touching only files never read a kubeconfig).

use crate::cm::{CmUri, Document};
use crate::{Cluster, Error};
use std::cell::OnceCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// A file path or a ConfigMap URI, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// A ConfigMap.
    ConfigMap(CmUri),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::ConfigMap(u) => write!(f, "{u}"),
        }
    }
}

impl Location {
    /// Where a recipe is: [`Location::parse`], except that a directory is a bundle, whose
    /// recipe is its `recipe.yaml`.
    pub fn recipe_at(s: &str) -> Result<Location, String> {
        match Location::parse(s)? {
            Location::File(p) if p.is_dir() => Ok(Location::File(p.join("recipe.yaml"))),
            other => Ok(other),
        }
    }

    /// A value parser for flags: `cm://…` must be a valid URI; anything else is a path.
    pub fn parse(s: &str) -> Result<Location, String> {
        if CmUri::is_cm(s) {
            CmUri::parse(s)
                .map(Location::ConfigMap)
                .map_err(|e| e.to_string())
        } else if s.is_empty() {
            Err("empty path".into())
        } else {
            Ok(Location::File(PathBuf::from(s)))
        }
    }
}

/// Why a document could not be read or written at a [`Location`].
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// The file could not be read.
    #[error("failed to read {what} `{path}`")]
    ReadFile {
        /// `recipe` or `snapshot`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("failed to write `{path}`")]
    WriteFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The ConfigMap could not be read.
    #[error("failed to read {what} from {uri}")]
    ReadConfigMap {
        /// `recipe` or `snapshot`.
        what: &'static str,
        /// The URI.
        uri: String,
        /// Why.
        #[source]
        source: Error,
    },
    /// The ConfigMap could not be written.
    #[error("failed to write {uri}")]
    WriteConfigMap {
        /// The URI.
        uri: String,
        /// Why.
        #[source]
        source: Error,
    },
    /// The recipe read is not a valid recipe.
    #[error(transparent)]
    Recipe(#[from] cns_recipe::Error),
}

/// Documents at [`Location`]s, with the cluster connection made on first use.
pub struct Documents {
    kubeconfig: Option<PathBuf>,
    cluster: OnceCell<Cluster>,
}

impl Documents {
    /// Documents through `kubeconfig` (`--kubeconfig`), or the usual search when `None`.
    pub fn new(kubeconfig: Option<&Path>) -> Self {
        Documents {
            kubeconfig: kubeconfig.map(Path::to_path_buf),
            cluster: OnceCell::new(),
        }
    }

    /// The explicit `--kubeconfig`, if any.
    pub fn kubeconfig(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// Connect (once).
    pub fn cluster(&self) -> crate::Result<&Cluster> {
        if let Some(c) = self.cluster.get() {
            return Ok(c);
        }
        let c = Cluster::connect(self.kubeconfig.as_deref())?;
        Ok(self.cluster.get_or_init(|| c))
    }

    /// Read the document at `loc`.
    pub fn read(&self, loc: &Location, doc: Document) -> Result<String, LocationError> {
        let what = match doc {
            Document::Snapshot => "snapshot",
            Document::Recipe => "recipe",
        };
        match loc {
            Location::File(p) => {
                std::fs::read_to_string(p).map_err(|source| LocationError::ReadFile {
                    what,
                    path: p.display().to_string(),
                    source,
                })
            }
            Location::ConfigMap(u) => self
                .cluster()
                .and_then(|c| c.read_document(u, doc))
                .map_err(|source| LocationError::ReadConfigMap {
                    what,
                    uri: u.to_string(),
                    source,
                }),
        }
    }

    /// The recipe at `recipe` (a file or cm://), or the embedded default.
    pub fn read_recipe(
        &self,
        recipe: Option<&Location>,
    ) -> Result<cns_recipe::RecipeResult, LocationError> {
        Ok(match recipe {
            Some(loc) => {
                let text = self.read(loc, Document::Recipe)?;
                cns_recipe::RecipeResult::from_yaml(&loc.to_string(), &text)?
            }
            None => cns_recipe::Store::default_recipe()?,
        })
    }

    /// Write `text` (in `format`, yaml or json) to `loc`: atomically for a file, as a created
    /// or replaced ConfigMap otherwise (with the time it was written).
    pub fn write(
        &self,
        loc: &Location,
        doc: Document,
        text: &str,
        format: &str,
    ) -> Result<(), LocationError> {
        match loc {
            Location::File(p) => cns_files::write_atomic(p, text.as_bytes()).map_err(|source| {
                LocationError::WriteFile {
                    path: p.display().to_string(),
                    source,
                }
            }),
            Location::ConfigMap(u) => {
                let now = cns_snapshot::rfc3339_utc(std::time::SystemTime::now());
                self.cluster()
                    .and_then(|c| c.write_document(u, doc, text, format, &now))
                    .map_err(|source| LocationError::WriteConfigMap {
                        uri: u.to_string(),
                        source,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_and_uris() {
        assert_eq!(
            Location::parse("a.yaml").unwrap(),
            Location::File("a.yaml".into())
        );
        assert!(matches!(
            Location::parse("cm://ns/n").unwrap(),
            Location::ConfigMap(_)
        ));
        assert!(
            Location::parse("cm://NS/n")
                .unwrap_err()
                .contains("cm://NS/n")
        );
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn file_errors_name_the_document_and_path() {
        let docs = Documents::new(None);
        let e = docs
            .read(
                &Location::File("/nonexistent/r.yaml".into()),
                Document::Recipe,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "failed to read recipe `/nonexistent/r.yaml`");
    }
}
