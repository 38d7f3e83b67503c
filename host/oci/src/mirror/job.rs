//! One copy `mirror` makes: what it is (an image, a chart, a bundle), where it is read (a
//! registry, or a classic Helm repository) and where it is written.

use crate::{Error, OciRef, Result};

/// Where a [`Job`] reads.
#[derive(Debug, Clone)]
pub enum Source {
    /// An image or OCI chart in a registry.
    Registry(OciRef),
    /// A chart of a classic Helm repository (pushed as an OCI chart).
    HelmRepository {
        /// The repository URL.
        url: String,
        /// The chart.
        chart: String,
        /// Its version.
        version: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Registry(r) => write!(f, "{r}"),
            Source::HelmRepository {
                url,
                chart,
                version,
            } => {
                write!(f, "{url} (chart {chart} {version})")
            }
        }
    }
}

/// One image or chart to mirror: what it is (`image REF`, `chart REPO:VERSION`), where it
/// is read and written, and the digest the source must hold when the recipe pins one.
#[derive(Debug, Clone)]
pub struct Job {
    /// What it is, for messages.
    pub what: String,
    /// Where it is read.
    pub from: Source,
    /// Where it is written.
    pub to: OciRef,
    /// The pinned digest.
    pub expect: Option<String>,
}

impl Job {
    /// A copy of `what` from the reference `from` to `to` (both `REGISTRY/REPOSITORY:TAG` or
    /// `@DIGEST`, without `oci://`), expecting the `expect` digest at the source when given.
    pub fn parse(what: &str, from: &str, to: &str, expect: Option<String>) -> Result<Job> {
        Ok(Job {
            what: what.to_string(),
            from: Source::Registry(job_ref(what, from)?),
            to: job_ref(what, to)?,
            expect,
        })
    }

    /// Whether it copies an image (`what` is `image …`, as mirror plans name images).
    pub fn is_image(&self) -> bool {
        self.what.starts_with("image ")
    }

    /// A copy of the artifact at `reference` (`oci://REGISTRY/REPOSITORY:TAG` or `@DIGEST`,
    /// a cnsctl bundle for instance) to `to` (`REGISTRY/PREFIX`, without `oci://`) under its
    /// repository path: `REGISTRY/PREFIX/<repository>:<tag>`. Named `bundle REFERENCE`.
    pub fn bundle(reference: &str, to: &str) -> Result<Job> {
        let what = format!("bundle {reference}");
        let from = OciRef::parse(reference)?;
        let at = match (&from.tag, &from.digest) {
            (_, Some(d)) => format!("@{d}"),
            (Some(t), None) => format!(":{t}"),
            (None, None) => ":latest".to_string(),
        };
        Ok(Job {
            to: job_ref(&what, &format!("{to}/{}{at}", from.repository))?,
            expect: from.digest.clone(),
            from: Source::Registry(from),
            what,
        })
    }

    /// Whether it copies a bundle ([`Job::bundle`]).
    pub fn is_bundle(&self) -> bool {
        self.what.starts_with("bundle ")
    }

    /// A copy of `chart` at `version` from the classic Helm repository `url` to `to`
    /// (`REGISTRY/REPOSITORY:TAG`), as an OCI chart.
    pub fn helm_repository(
        what: &str,
        url: &str,
        chart: &str,
        version: &str,
        to: &str,
    ) -> Result<Job> {
        Ok(Job {
            what: what.to_string(),
            from: Source::HelmRepository {
                url: url.to_string(),
                chart: chart.to_string(),
                version: version.to_string(),
            },
            to: job_ref(what, to)?,
            expect: None,
        })
    }
}

/// `r` (`REGISTRY/REPOSITORY:TAG` or `@DIGEST`, without `oci://`) as a reference; a bad one
/// is named with the job it is for.
fn job_ref(what: &str, r: &str) -> Result<OciRef> {
    OciRef::parse(&format!("oci://{r}")).map_err(|e| match e {
        Error::Reference { reference, reason } => Error::Reference {
            reference,
            reason: format!("{reason} ({what})"),
        },
        other => other,
    })
}
