//! The recipe data: embedded in the binary, or read from a directory (`--recipes-dir`).
//! Holds files by relative path; parses overlays and the registry on demand.

use crate::embedded::{EMBEDDED, json_twin};
use crate::model::RecipeMetadata;
use crate::{ComponentRef, Error, Registry, Result};
use include_dir::Dir;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The recipe `cnsctl bundle` and `images` use when none is given: the embedded example for
/// EKS, H100, Ubuntu, training.
pub const DEFAULT_RECIPE: &str = "examples/eks-h100-ubuntu-training.yaml";

/// A recipe data tree: `registry.yaml`, `overlays/*.yaml`, `components/<name>/…`.
#[derive(Debug, Clone)]
pub struct Store {
    origin: String,
    files: BTreeMap<String, Vec<u8>>,
    // Parsed once on first successful use; the data never changes after loading.
    overlays: OnceLock<BTreeMap<String, RecipeMetadata>>,
    registry: OnceLock<Registry>,
    // Values files parsed so far (a process rendering many bundles parses each once).
    values_files: Arc<Mutex<BTreeMap<String, Value>>>,
    // Chart records read so far, by component (`None`: the data has none).
    chart_records: Arc<Mutex<ChartRecords>>,
}

type ChartRecords = BTreeMap<String, Option<Arc<crate::chart::ChartRecord>>>;

fn collect(dir: &Dir<'static>, out: &mut BTreeMap<String, Vec<u8>>) {
    for f in dir.files() {
        out.insert(
            f.path().to_string_lossy().replace('\\', "/"),
            f.contents().to_vec(),
        );
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let p = entry.path();
        if entry.file_type().map_err(io(&p))?.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&p).map_err(io(&p))?);
        }
    }
    Ok(())
}

impl Store {
    /// The embedded [`DEFAULT_RECIPE`], read.
    pub fn default_recipe() -> Result<crate::RecipeResult> {
        let embedded = Store::embedded();
        let text = embedded.text(DEFAULT_RECIPE, "cnsctl")?;
        crate::RecipeResult::from_yaml(DEFAULT_RECIPE, text)
    }

    /// The recipe data compiled into the binary.
    pub fn embedded() -> Self {
        let mut files = BTreeMap::new();
        collect(&EMBEDDED, &mut files);
        Store {
            origin: "embedded recipe data".into(),
            files,
            overlays: OnceLock::new(),
            registry: OnceLock::new(),
            values_files: Arc::new(Mutex::new(BTreeMap::new())),
            chart_records: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Recipe data from a directory; it must contain `registry.yaml`.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let mut files = BTreeMap::new();
        walk(&dir, &dir, &mut files)?;
        if !files.contains_key("registry.yaml") {
            return Err(Error::MissingFile {
                from: dir.display().to_string(),
                path: "registry.yaml".into(),
            });
        }
        Ok(Store {
            origin: dir.display().to_string(),
            files,
            overlays: OnceLock::new(),
            registry: OnceLock::new(),
            values_files: Arc::new(Mutex::new(BTreeMap::new())),
            chart_records: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// Where the data came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// All file paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// A file's bytes.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// A file as UTF-8 text; `from` names the referrer in the error.
    pub fn text(&self, path: &str, from: &str) -> Result<&str> {
        let bytes = self.get(path).ok_or_else(|| Error::MissingFile {
            from: from.to_string(),
            path: path.to_string(),
        })?;
        std::str::from_utf8(bytes).map_err(|e| Error::Parse {
            path: path.to_string(),
            what: "UTF-8 text file",
            message: e.to_string(),
        })
    }

    /// The component registry (parsed once).
    pub fn registry(&self) -> Result<&Registry> {
        if let Some(r) = self.registry.get() {
            return Ok(r);
        }
        let r = Registry::from_yaml("registry.yaml", self.text("registry.yaml", &self.origin)?)?;
        Ok(self.registry.get_or_init(|| r))
    }

    /// Every overlay (`overlays/*.yaml`), keyed by name (parsed once); the file name must
    /// equal the name.
    pub fn overlays(&self) -> Result<&BTreeMap<String, RecipeMetadata>> {
        if let Some(o) = self.overlays.get() {
            return Ok(o);
        }
        let parsed = self.parse_overlays()?;
        Ok(self.overlays.get_or_init(|| parsed))
    }

    fn parse_overlays(&self) -> Result<BTreeMap<String, RecipeMetadata>> {
        let mut out = BTreeMap::new();
        for (path, _) in self
            .files
            .iter()
            .filter(|(p, _)| p.starts_with("overlays/") && p.ends_with(".yaml"))
        {
            let m = RecipeMetadata::from_yaml(path, self.text(path, &self.origin)?)?;
            let stem = path
                .trim_start_matches("overlays/")
                .trim_end_matches(".yaml");
            if stem != m.metadata.name {
                return Err(Error::Invalid {
                    path: path.clone(),
                    what: "overlay name",
                    value: m.metadata.name.clone(),
                    reason: format!("must equal the file name `{stem}`"),
                });
            }
            out.insert(m.metadata.name.clone(), m);
        }
        Ok(out)
    }

    /// A component's merged values: `components/<name>/values.yaml` (if present), then its
    /// `valuesFile`, then its `overrides` (without the `enabled` switch).
    pub fn component_values(&self, c: &ComponentRef) -> Result<Value> {
        let values_err = |source| Error::Values {
            component: c.name.clone(),
            source,
        };
        let base_path = format!("components/{}/values.yaml", c.name);
        let mut values = match self.get(&base_path) {
            Some(_) => self.values_file(&base_path, &c.name)?,
            None => Value::Object(Default::default()),
        };
        if let Some(vf) = c.values_file.as_deref().filter(|vf| *vf != base_path) {
            let over = self.values_file(vf, &format!("component `{}`", c.name))?;
            cns_values::deep_merge(&mut values, &over);
        }
        if let Some(o) = &c.overrides {
            let mut o = o.clone();
            cns_values::remove_path(&mut o, "enabled");
            cns_values::deep_merge(&mut values, &o);
        }
        if !values.is_object() {
            return Err(values_err(cns_values::Error::NotAnObject(
                "merged values".into(),
            )));
        }
        Ok(values)
    }

    /// The chart records read so far.
    pub(crate) fn chart_records_cache(&self) -> std::sync::MutexGuard<'_, ChartRecords> {
        self.chart_records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A values file as a tree, parsed on first use.
    fn values_file(&self, path: &str, from: &str) -> Result<Value> {
        let cache = |m: &Mutex<BTreeMap<String, Value>>| {
            m.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(path)
                .cloned()
        };
        if let Some(v) = cache(&self.values_files) {
            return Ok(v);
        }
        let text = self.text(path, from)?;
        let twin = json_twin(path, text).and_then(|j| cns_values::from_json(j).ok());
        let v = match twin {
            Some(v) => v,
            None => cns_values::from_yaml(text).map_err(|source| Error::Parse {
                path: path.to_string(),
                what: "values file",
                message: source.to_string(),
            })?,
        };
        self.values_files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), v.clone());
        Ok(v)
    }

    /// A component's manifests: `(path relative to the component folder, bytes)`.
    pub fn manifests(&self, c: &ComponentRef) -> Result<Vec<(String, Vec<u8>)>> {
        c.manifest_files
            .iter()
            .map(|p| {
                let bytes = self.get(p).ok_or_else(|| Error::MissingFile {
                    from: format!("component `{}`", c.name),
                    path: p.clone(),
                })?;
                let name = p.rsplit('/').next().unwrap_or(p);
                Ok((format!("manifests/{name}"), bytes.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecipeResult;
    use crate::embedded::JSON_TWINS;

    /// The document typed as `T`, read from its JSON twin and from its YAML, is the same.
    fn agree<T: serde::de::DeserializeOwned + std::fmt::Debug>(path: &str, json: &str, yaml: &str) {
        assert_eq!(
            format!("{:?}", serde_json::from_str::<T>(json).unwrap()),
            format!("{:?}", serde_norway::from_str::<T>(yaml).unwrap()),
            "{path}"
        );
    }

    /// Each JSON twin gives the very value the YAML gives, typed as the store reads it, and
    /// is used only for the embedded bytes.
    #[test]
    fn json_twins_parse_to_what_the_yaml_parses_to() {
        assert!(JSON_TWINS.len() >= 30, "{}", JSON_TWINS.len());
        assert!(JSON_TWINS.is_sorted_by(|a, b| a.0 < b.0));
        for (path, json) in JSON_TWINS {
            let yaml = std::str::from_utf8(EMBEDDED.get_file(path).unwrap().contents()).unwrap();
            assert_eq!(json_twin(path, yaml), Some(*json));
            if *path == "registry.yaml" {
                agree::<Registry>(path, json, yaml);
            } else if path.starts_with("overlays/") {
                agree::<RecipeMetadata>(path, json, yaml);
            } else if path.starts_with("examples/") {
                agree::<RecipeResult>(path, json, yaml);
            } else {
                assert_eq!(
                    cns_values::from_json(json).unwrap(),
                    cns_values::from_yaml(yaml).unwrap(),
                    "{path}"
                );
            }
        }
        // Other bytes under an embedded path are parsed as YAML.
        let (path, _) = JSON_TWINS[0];
        assert_eq!(json_twin(path, "kind: other\n"), None);
        assert_eq!(json_twin("no/such.yaml", "a: 1\n"), None);
    }
}
