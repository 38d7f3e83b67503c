//! Building blocks deployers share: options, ordering, the bundle's Git/OCI location, and
//! YAML documents with a header.

use crate::values::{self, Value};
use crate::{Component, Deployment, PluginError};

/// Shown wherever a Git repository URL is needed but `--repo` was not given: the
/// predecessor's placeholder, so its documented step
/// `sed -i 's|<YOUR_GIT_REPO>|https://…|' …` works. It is not a URL on purpose: an API
/// server or Flux refuses it instead of pulling from somewhere unintended.
pub const REPO_PLACEHOLDER: &str = "<YOUR_GIT_REPO>";

/// The README paragraph for a bundle generated without `--repo`: regenerate, or replace the
/// placeholder and refresh `checksums.txt`.
pub fn placeholder_help(deployer: &str) -> String {
    format!(
        "**Set the repository first.** This bundle was generated without `--repo`, so its\n\
         manifests name the placeholder `{REPO_PLACEHOLDER}`. Regenerate with\n\
         `cnsctl bundle --deployer {deployer} --repo <git-url> [--revision <branch>]`, or replace it\n\
         in place and refresh the checksums:\n\n\
         ```sh\n\
         grep -rl '{REPO_PLACEHOLDER}' . | xargs sed -i 's|{REPO_PLACEHOLDER}|https://git.example.com/org/repo.git|g'\n\
         find . -type f ! -name checksums.txt -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum > checksums.txt\n\
         ```\n\n"
    )
}

/// The value of deployer flag `key` (`--repo` → `repo`, …), if given and not empty.
pub fn option<'a>(input: &'a Deployment, key: &str) -> Option<&'a str> {
    input
        .flags
        .iter()
        .find(|o| o.key == key)
        .map(|o| o.value.as_str())
        .filter(|v| !v.is_empty())
}

/// The Pod Security Admission level a component's namespace needs (`privileged`,
/// `baseline`, `restricted`), if the registry names one.
pub fn pod_security(c: &Component) -> Option<&str> {
    c.pod_security.as_deref()
}

/// The namespace labels that admit pods at `level`: enforce, audit and warn alike.
pub fn pod_security_labels(level: &str) -> Value {
    let mut m = values::Map::new();
    for mode in ["audit", "enforce", "warn"] {
        m.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            Value::String(level.to_string()),
        );
    }
    Value::Object(m)
}

/// Label naming the component an object (an Argo CD `Application`, a Flux `HelmRelease`)
/// installs; `cnsctl upgrade-check --from cluster` finds what a bundle installed by it.
pub const COMPONENT_LABEL: &str = "cns.nvidia.com/component";
/// Label with the chart version the object installs.
pub const VERSION_LABEL: &str = "cns.nvidia.com/version";

/// The labels of an object that installs `c`: made by cnsctl, the component and its
/// version (a chart version is a valid label value: at most 63 of `[A-Za-z0-9._-]`; longer
/// or other versions are cut to what a label allows).
pub fn origin_labels(c: &Component) -> Value {
    let version: String = c
        .chart
        .version
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    let version = version.trim_matches(|ch: char| !ch.is_ascii_alphanumeric());
    let mut m = values::Map::new();
    m.insert(
        "app.kubernetes.io/managed-by".into(),
        Value::String("cnsctl".into()),
    );
    m.insert(COMPONENT_LABEL.into(), Value::String(c.name.clone()));
    m.insert(VERSION_LABEL.into(), Value::String(version.to_string()));
    Value::Object(m)
}

/// The clusters sharing this bundle (`--cluster-values`), empty when it is one cluster's.
pub fn clusters(input: &Deployment) -> &[String] {
    &input.clusters
}

/// A component's cluster-specific values (what `--cluster-values` took out of its shared
/// `values.yaml`); an empty map when it has none.
pub fn cluster_values(c: &Component) -> Value {
    c.cluster_values
        .clone()
        .unwrap_or_else(|| Value::Object(values::Map::new()))
}

/// `text` as a Kubernetes name (DNS label): lowercase ASCII letters and digits, every run of
/// other characters one `-`, no `-` at either end, at most `max` characters (`ghcr.io/nvidia`
/// → `ghcr-io-nvidia`). Empty when `text` has no letter or digit.
pub fn dns_label(text: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in text.chars().map(|c| c.to_ascii_lowercase()) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

/// A boolean deployer option (`true`/`false`); absent is `false`.
pub fn flag(input: &Deployment, key: &str) -> Result<bool, PluginError> {
    match option(input, key) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(PluginError::InvalidInput(format!(
            "deployer option `{key}` must be true or false, not `{v}`"
        ))),
    }
}

/// Components sorted by deployment order; an error when there are none.
pub fn ordered(input: &Deployment) -> Result<Vec<&Component>, PluginError> {
    if input.components.is_empty() {
        return Err(PluginError::InvalidInput(
            "the recipe has no enabled components".into(),
        ));
    }
    let mut v: Vec<&Component> = input.components.iter().collect();
    v.sort_by_key(|c| c.order);
    Ok(v)
}

/// Where the bundle itself will live, from `--repo` and `--revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// A Git repository: URL (or [`REPO_PLACEHOLDER`]) and revision (default `main`).
    Git {
        /// Repository URL.
        url: String,
        /// Branch, tag or commit.
        revision: String,
        /// Whether `url` is the placeholder.
        placeholder: bool,
    },
    /// An OCI artifact `oci://registry/repo` at a tag (default `latest`) or digest.
    Oci {
        /// `oci://registry/repo`, without tag.
        url: String,
        /// Tag or `sha256:…` digest.
        reference: String,
    },
}

impl BundleSource {
    /// Read `repo`/`revision` options. An `oci://` repo may carry its tag (`oci://r/x:v1`) or
    /// digest (`@sha256:…`); `--revision` then must agree or be absent.
    pub fn from_input(input: &Deployment) -> Result<Self, PluginError> {
        let revision = option(input, "revision");
        match option(input, "repo") {
            Some(repo) if repo.starts_with("oci://") => {
                let rest = &repo["oci://".len()..];
                let (url, embedded) = if let Some((u, d)) = rest.split_once('@') {
                    (u, Some(d))
                } else {
                    match rest.rsplit_once(':') {
                        Some((u, t)) if !t.contains('/') => (u, Some(t)),
                        _ => (rest, None),
                    }
                };
                if url.is_empty() || !url.contains('/') {
                    return Err(PluginError::InvalidInput(format!(
                        "--repo `{repo}`: an OCI bundle location needs oci://REGISTRY/REPOSITORY"
                    )));
                }
                let reference = match (embedded, revision) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(PluginError::InvalidInput(format!(
                            "--repo `{repo}` names `{a}` but --revision is `{b}`"
                        )));
                    }
                    (Some(a), _) => a.to_string(),
                    (None, Some(b)) => b.to_string(),
                    (None, None) => "latest".to_string(),
                };
                Ok(BundleSource::Oci {
                    url: format!("oci://{url}"),
                    reference,
                })
            }
            Some(repo) => Ok(BundleSource::Git {
                url: repo.to_string(),
                revision: revision.unwrap_or("main").to_string(),
                placeholder: false,
            }),
            None => Ok(BundleSource::Git {
                url: REPO_PLACEHOLDER.to_string(),
                revision: revision.unwrap_or("main").to_string(),
                placeholder: true,
            }),
        }
    }
}

/// A YAML document: `# header` lines, then the tree with sorted keys.
pub fn yaml_doc(header: &str, doc: &Value) -> Result<String, PluginError> {
    let mut s = String::new();
    for line in header.trim_end_matches('\n').split('\n') {
        s.push_str("# ");
        s.push_str(&crate::quote::comment_text(line));
        s.push('\n');
    }
    s.push_str(&values::yaml(doc)?);
    Ok(s)
}

/// Whether the component's bundler produced files under `manifests/`.
pub fn has_manifests(c: &Component) -> bool {
    c.files.iter().any(|f| f.starts_with("manifests/"))
}

/// Names of `manifests/*` files of a component, sorted.
pub fn manifest_paths(c: &Component) -> Vec<&str> {
    let mut v: Vec<&str> = c
        .files
        .iter()
        .map(String::as_str)
        .filter(|f| f.starts_with("manifests/"))
        .collect();
    v.sort_unstable();
    v
}

/// The folder of a component that holds its chart archive when the host vendored it
/// (`cnsctl bundle --vendor-charts`).
pub const VENDORED_CHART_DIR: &str = "chart";

/// The chart archive the host put in the component's folder (`chart/<chart>-<version>.tgz`,
/// relative to the folder), if it vendored one.
pub fn vendored_chart(c: &Component) -> Option<&str> {
    c.files.iter().map(String::as_str).find(|f| {
        f.strip_prefix(VENDORED_CHART_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.contains('/') && name.ends_with(".tgz"))
    })
}

/// The chart as `helm` addresses it: the chart name plus `--repo URL` for an HTTP
/// repository, the full `oci://…/chart` reference (and no repo) for an OCI registry, or
/// the vendored archive's path in the component's folder (and no repo).
pub fn chart_ref(c: &Component) -> (String, Option<String>) {
    if let Some(path) = vendored_chart(c) {
        return (path.to_string(), None);
    }
    let repo = c.chart.repository.trim_end_matches('/');
    if repo.starts_with("oci://") {
        (format!("{repo}/{}", c.chart.chart), None)
    } else {
        (c.chart.chart.clone(), Some(repo.to_string()))
    }
}

/// The first part of a bundle's root `README.md`: title, criteria, and the components table
/// in deployment order. Deployers append their own "how to deploy" section.
pub fn readme_head(input: &Deployment, ordered: &[&Component]) -> String {
    let mut s = String::from("# cnsctl bundle\n\n");
    s.push_str(&format!(
        "Recipe criteria: service `{}`, accelerator `{}`, os `{}`, intent `{}`.\n",
        input.criteria.service,
        input.criteria.accelerator,
        input.criteria.os,
        input.criteria.intent
    ));
    if !input.recipe_version.is_empty() {
        s.push_str(&format!("Recipe version: `{}`.\n", input.recipe_version));
    }
    s.push_str("\n## Components, in deployment order\n\n| # | Component | Chart | Version | Namespace |\n|---|---|---|---|---|\n");
    for c in ordered {
        s.push_str(&format!(
            "| {} | {} | `{}` | `{}` | `{}` |\n",
            c.order + 1,
            c.name,
            chart_ref(c).0,
            c.chart.version,
            c.namespace
        ));
    }
    s.push_str(
        "\nEach component folder holds its `values.yaml` (the final Helm values), optional\n\
         `manifests/`, and a `README.md`. `recipe.yaml` is the recipe the bundle was made from;\n\
         `checksums.txt` lists every file: verify the bundle with `sha256sum -c checksums.txt`.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(opts: &[(&str, &str)]) -> Deployment {
        crate::testing::deployment(vec![], opts)
    }

    #[test]
    fn origin_labels_are_valid_label_values() {
        let mut c = crate::testing::rendered("gpu-operator", 0, "https://r", &[]);
        c.chart.version = "v26.7.0".into();
        let l = origin_labels(&c);
        assert_eq!(l[COMPONENT_LABEL], "gpu-operator");
        assert_eq!(l[VERSION_LABEL], "v26.7.0");
        assert_eq!(l["app.kubernetes.io/managed-by"], "cnsctl");
        // A SemVer build suffix and an over-long version become a label value.
        c.chart.version = format!("1.0.0+build/{}", "x".repeat(80));
        let v = origin_labels(&c)[VERSION_LABEL]
            .as_str()
            .unwrap()
            .to_string();
        assert!(v.len() <= 63 && v.starts_with("1.0.0_build_"), "{v}");
    }

    #[test]
    fn source_defaults_to_a_placeholder_git_repo() {
        assert_eq!(
            BundleSource::from_input(&input(&[])).unwrap(),
            BundleSource::Git {
                url: REPO_PLACEHOLDER.into(),
                revision: "main".into(),
                placeholder: true
            }
        );
        assert_eq!(
            BundleSource::from_input(&input(&[("repo", "https://g/x.git"), ("revision", "v1")]))
                .unwrap(),
            BundleSource::Git {
                url: "https://g/x.git".into(),
                revision: "v1".into(),
                placeholder: false
            }
        );
    }

    #[test]
    fn oci_source_takes_tag_digest_or_revision() {
        let oci = |repo: &str, rev: Option<&str>| {
            let mut o = vec![("repo", repo)];
            if let Some(r) = rev {
                o.push(("revision", r));
            }
            BundleSource::from_input(&input(&o))
        };
        assert_eq!(
            oci("oci://127.0.0.1:5000/b/gpu:v1", None).unwrap(),
            BundleSource::Oci {
                url: "oci://127.0.0.1:5000/b/gpu".into(),
                reference: "v1".into()
            }
        );
        assert_eq!(
            oci("oci://reg/b/gpu@sha256:ab", None).unwrap(),
            BundleSource::Oci {
                url: "oci://reg/b/gpu".into(),
                reference: "sha256:ab".into()
            }
        );
        assert_eq!(
            oci("oci://127.0.0.1:5000/b/gpu", Some("v2")).unwrap(),
            BundleSource::Oci {
                url: "oci://127.0.0.1:5000/b/gpu".into(),
                reference: "v2".into()
            }
        );
        assert!(oci("oci://reg/b/gpu:v1", Some("v2")).is_err());
        assert!(oci("oci://reg", None).is_err());
    }
}
