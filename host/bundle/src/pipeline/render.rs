//! Step 2 of the pipeline: each component's bundler plugin, on every core unless the
//! options say serial, and the final values it produced.

use super::plan::{Plan, ResolvedComponent};
use crate::{Backend, Error, Result};
use cns_runtime::OutputFile;
use serde_json::Value;

/// What a bundler produced for one component.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Files, paths relative to the component folder (`values.yaml` first).
    pub files: Vec<OutputFile>,
    /// The component's final values: those the bundler returned (WIT 0.3), or, from a
    /// bundler built for 0.1 or 0.2, its `values.yaml` read back (or its input values when
    /// it wrote none).
    pub values: Value,
}

/// The final values of a bundler that returned none (WIT 0.1 and 0.2): its `values.yaml`,
/// which must parse, or its input values when it wrote none.
fn written_values(c: &ResolvedComponent, files: &[OutputFile]) -> Result<Value> {
    let Some(f) = files.iter().find(|f| f.path == "values.yaml") else {
        // The host wrote this JSON itself, from a values tree.
        return Ok(cns_values::from_json(&c.input.values_json).unwrap_or_default());
    };
    let bad = |reason: String| Error::BadValues {
        component: c.input.name.clone(),
        plugin: c.plugin.clone(),
        reason,
    };
    let text =
        std::str::from_utf8(&f.content).map_err(|_| bad("values.yaml is not UTF-8".into()))?;
    cns_files::nesting::check(text).map_err(|e| bad(e.to_string()))?;
    cns_values::from_yaml(text).map_err(|e| bad(e.to_string()))
}

/// Run each component's bundler (on every core unless the options say serial).
pub fn render<B: Backend + ?Sized>(plan: &Plan, backend: &B) -> Result<Vec<Rendered>> {
    let run = |c: &ResolvedComponent| -> Result<Rendered> {
        let out = backend.render(&c.input).map_err(|error| Error::Component {
            component: c.input.name.clone(),
            error,
        })?;
        let values = match out.values {
            Some(v) => v,
            None => written_values(c, &out.files)?,
        };
        // Before anything is written: the final values against the chart.
        if let Some(record) = &c.chart {
            super::plan::check_chart_values(&c.input.name, record, &values)?;
        }
        Ok(Rendered {
            files: out.files,
            values,
        })
    };
    let results: Vec<Result<Rendered>> = if plan.parallel {
        cns_runtime::par_map(&plan.components, run)
    } else {
        plan.components.iter().map(run).collect()
    };
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan;
    use super::*;
    use crate::BundleOptions;
    use crate::stub::{Stub, example, file};

    fn planned(stub: &Stub, serial: bool) -> Plan {
        let (recipe, store) = example();
        let opts = BundleOptions {
            deployer: "script".into(),
            parallel: !serial,
            ..Default::default()
        };
        plan(&recipe, &store, stub, &opts).unwrap()
    }

    #[test]
    fn final_values_are_the_bundlers_values_yaml_or_its_input() {
        let stub = Stub {
            files: [
                (
                    "cert-manager",
                    vec![file("values.yaml", "replicaCount: 1\nextraArgs: [x]\n")],
                ),
                ("skyhook", vec![file("manifests/x.yaml", "kind: X\n")]),
            ]
            .into(),
            ..Default::default()
        };
        let p = planned(&stub, true);
        let r = render(&p, &stub).unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(
            cns_values::to_json(&r[1].values),
            r#"{"extraArgs":["x"],"replicaCount":1}"#
        );
        assert_eq!(r[1].values["extraArgs"][0], "x");
        // No values.yaml: the input values pass through unchanged.
        assert_eq!(
            cns_values::to_json(&r[4].values),
            p.components[4].input.values_json
        );
        assert_eq!(
            *stub.rendered.lock().unwrap(),
            [
                "aws-efa-k8s-device-plugin",
                "cert-manager",
                "gpu-operator",
                "nvsentinel",
                "skyhook"
            ],
            "serial renders in deployment order"
        );
    }

    #[test]
    fn final_values_the_chart_cannot_take_are_refused() {
        let stub = Stub {
            files: [(
                "cert-manager",
                vec![file("values.yaml", "replicaCount: two\nreplicaCont: 1\n")],
            )]
            .into(),
            ..Default::default()
        };
        let e = render(&planned(&stub, true), &stub).unwrap_err();
        let Error::ChartValues {
            component,
            version,
            problems,
            ..
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!(
            (component.as_str(), version.as_str()),
            ("cert-manager", "v1.21.1")
        );
        assert_eq!(
            problems,
            &[
                "replicaCount: the chart has a number there, given the string \"two\"",
                "replicaCont: values.schema.json: `replicaCont` is not a key the chart allows here (did you mean `replicaCount`?)",
                "replicaCount: values.schema.json: the string \"two\" is not of type number",
            ]
        );
    }

    #[test]
    fn parallel_gives_the_serial_result() {
        let stub = Stub::default();
        let serial = render(&planned(&stub, true), &stub).unwrap();
        let parallel = render(&planned(&stub, false), &stub).unwrap();
        let key = |r: &[Rendered]| r.iter().map(|x| x.values.clone()).collect::<Vec<_>>();
        assert_eq!(key(&serial), key(&parallel));
    }

    #[test]
    fn a_refusal_or_unreadable_values_name_the_component() {
        let stub = Stub {
            refuse: Some("nvsentinel"),
            ..Default::default()
        };
        let e = render(&planned(&stub, true), &stub).unwrap_err();
        assert!(e.is_refusal());
        assert!(matches!(&e, Error::Component { component, .. } if component == "nvsentinel"));
        let stub = Stub {
            files: [("gpu-operator", vec![file("values.yaml", "a: [\n")])].into(),
            ..Default::default()
        };
        let e = render(&planned(&stub, true), &stub).unwrap_err();
        assert!(
            matches!(&e, Error::BadValues { component, plugin, .. }
                if component == "gpu-operator" && plugin == "stub-gpu-operator"),
            "{e}"
        );
    }
}
