//! Building blocks most bundlers share: values with scheduling applied, manifests passed
//! through, and a component README. (The host writes `values.yaml` from the values a
//! bundler returns.)

use crate::values::{self, Value};
use crate::{BundleFile, ComponentInput, PluginError, file, scheduling};

/// The input's values with the system and accelerated scheduling written at their paths.
pub fn scheduled_values(input: &ComponentInput) -> Result<Value, PluginError> {
    let mut vals = values::parse(&input.values_json)?;
    scheduling::apply(&mut vals, &input.system)?;
    scheduling::apply(&mut vals, &input.accelerated)?;
    if crate::log_enabled(crate::Level::Debug) {
        for (which, s) in [
            ("system", &input.system),
            ("accelerated", &input.accelerated),
        ] {
            if !s.node_selector.is_empty() || !s.tolerations.is_empty() {
                crate::log(
                    crate::Level::Debug,
                    &format!(
                        "{}: {which} scheduling ({} labels, {} tolerations) at {}",
                        input.name,
                        s.node_selector.len(),
                        s.tolerations.len(),
                        s.node_selector_paths
                            .iter()
                            .chain(&s.toleration_paths)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
    Ok(vals)
}

/// The recipe's manifests for this component, under `manifests/`.
pub fn manifest_files(input: &ComponentInput) -> Vec<BundleFile> {
    input
        .manifests
        .iter()
        .map(|m| {
            let name = m.path.strip_prefix("manifests/").unwrap_or(&m.path);
            file(format!("manifests/{name}"), m.content.clone())
        })
        .collect()
}

/// What a component README says beyond the generic part.
#[derive(Debug, Clone, Default)]
pub struct ReadmeInfo<'a> {
    /// Heading, e.g. `NVIDIA GPU Operator`.
    pub title: &'a str,
    /// One paragraph on what the component does.
    pub about: &'a str,
    /// Shell commands that check the component is healthy.
    pub verify: Vec<String>,
    /// Extra bullet points for the Files section.
    pub notes: Vec<String>,
}

/// A component `README.md`: what is installed, chart, version, namespace, files, how to verify.
pub fn readme(input: &ComponentInput, files: &[BundleFile], info: &ReadmeInfo<'_>) -> BundleFile {
    let mut s = format!("# {}\n\n{}\n\n", info.title, info.about);
    s.push_str("| | |\n|---|---|\n");
    s.push_str(&format!("| Component | `{}` |\n", input.name));
    s.push_str(&format!(
        "| Chart | `{}` from `{}` |\n",
        input.chart.chart, input.chart.repository
    ));
    s.push_str(&format!("| Version | `{}` |\n", input.chart.version));
    s.push_str(&format!("| Namespace | `{}` |\n", input.namespace));
    if !input.dependencies.is_empty() {
        s.push_str(&format!(
            "| Deployed after | {} |\n",
            input.dependencies.join(", ")
        ));
    }
    s.push_str("\n## Files\n\n");
    // values.yaml is the host's (written from the values the bundler returns).
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.push("README.md");
    if !paths.contains(&"values.yaml") {
        paths.push("values.yaml");
    }
    paths.sort_unstable();
    for p in paths {
        let what = match p {
            "values.yaml" => {
                "Helm values: recipe values, overrides, `--set` and scheduling, merged".to_string()
            }
            "README.md" => "this file".to_string(),
            p if p.starts_with("manifests/") => {
                "Kubernetes manifest applied after the chart".to_string()
            }
            _ => "generated file".to_string(),
        };
        s.push_str(&format!("- `{p}`: {what}\n"));
    }
    for n in &info.notes {
        s.push_str(&format!("- {n}\n"));
    }
    s.push_str("\n## Deploy\n\nUse the bundle's deployer (see the README at the bundle root); it installs this\ncomponent with `values.yaml` after the components it depends on.\n");
    if !info.verify.is_empty() {
        s.push_str("\n## Verify\n\n```sh\n");
        for v in &info.verify {
            s.push_str(v);
            s.push('\n');
        }
        s.push_str("```\n");
    }
    file("README.md", s)
}
