//! Where a document is read from or written to: a file, or `cm://NAMESPACE/NAME` (a
//! ConfigMap, through the cluster named by `--kubeconfig` or the usual search).

use anyhow::{Context, Result};
use cns_kube::cm::{CmUri, Document};
use std::cell::OnceCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// A file path or a ConfigMap URI, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
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

/// clap value parser: `cm://…` must be a valid URI; anything else is a path.
pub(crate) fn parse(s: &str) -> Result<Location, String> {
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

/// The cluster connection, made on first use (commands that only touch files never read a
/// kubeconfig).
pub(crate) struct Kube {
    kubeconfig: Option<PathBuf>,
    cluster: OnceCell<cns_kube::Cluster>,
}

impl Kube {
    pub(crate) fn new(kubeconfig: Option<&Path>) -> Self {
        Kube {
            kubeconfig: kubeconfig.map(Path::to_path_buf),
            cluster: OnceCell::new(),
        }
    }

    /// The explicit `--kubeconfig`, if any.
    pub(crate) fn kubeconfig(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// Connect (once).
    pub(crate) fn cluster(&self) -> Result<&cns_kube::Cluster> {
        if let Some(c) = self.cluster.get() {
            return Ok(c);
        }
        let c = cns_kube::Cluster::connect(self.kubeconfig.as_deref())?;
        Ok(self.cluster.get_or_init(|| c))
    }

    /// Read the document at `loc` (`what` names it in errors: "recipe", "snapshot").
    pub(crate) fn read(&self, loc: &Location, doc: Document) -> Result<String> {
        let what = match doc {
            Document::Snapshot => "snapshot",
            Document::Recipe => "recipe",
        };
        match loc {
            Location::File(p) => std::fs::read_to_string(p)
                .with_context(|| format!("failed to read {what} `{}`", p.display())),
            Location::ConfigMap(u) => self
                .cluster()
                .and_then(|c| Ok(c.read_document(u, doc)?))
                .with_context(|| format!("failed to read {what} from {u}")),
        }
    }

    /// The recipe of `--recipe` (a file or cm://), or the embedded default.
    pub(crate) fn read_recipe(
        &self,
        recipe: Option<&Location>,
    ) -> Result<cns_recipe::RecipeResult> {
        Ok(match recipe {
            Some(loc) => {
                let text = self.read(loc, Document::Recipe)?;
                cns_recipe::RecipeResult::from_yaml(&loc.to_string(), &text)?
            }
            None => cns_recipe::Store::default_recipe()?,
        })
    }

    /// Write `text` (in `format`, yaml or json) to `loc`: atomically for a file, as a created
    /// or replaced ConfigMap otherwise.
    pub(crate) fn write(
        &self,
        loc: &Location,
        doc: Document,
        text: &str,
        format: &str,
    ) -> Result<()> {
        match loc {
            Location::File(p) => crate::fsutil::write_atomic(p, text.as_bytes())
                .with_context(|| format!("failed to write `{}`", p.display())),
            Location::ConfigMap(u) => {
                let now = cns_snapshot::rfc3339_utc(std::time::SystemTime::now());
                self.cluster()
                    .and_then(|c| Ok(c.write_document(u, doc, text, format, &now)?))
                    .with_context(|| format!("failed to write {u}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_and_uris() {
        assert_eq!(parse("a.yaml").unwrap(), Location::File("a.yaml".into()));
        assert!(matches!(
            parse("cm://ns/n").unwrap(),
            Location::ConfigMap(_)
        ));
        assert!(parse("cm://NS/n").unwrap_err().contains("cm://NS/n"));
    }
}
