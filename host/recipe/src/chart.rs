//! What the recipe data records of a component's chart for one chart version
//! (`components/<name>/chart-types.yaml`: the types of the chart's default values, its
//! subcharts' included, and its `values.schema.json` reduced to what cnsctl checks, where
//! the chart ships one), and a component's final values checked against it before anything
//! is written.

use crate::{Error, Result, Store};
use cns_values::chart_types::{self, Kind, Shape};
use serde_json::Value;
use std::sync::Arc;

/// The record of a component, relative to the data root.
pub fn types_path(component: &str) -> String {
    format!("components/{component}/chart-types.yaml")
}

/// A chart as the data records it.
#[derive(Debug, Clone)]
pub struct ChartRecord {
    /// The chart's name.
    pub chart: String,
    /// The chart version the record is for.
    pub version: String,
    /// The types of its default values.
    pub types: Kind,
    /// Its values.schema.json, reduced ([`chart_types::reduce`]), if it ships one.
    pub schema: Option<Shape>,
}

impl ChartRecord {
    /// The record as a document: `chart`, `version`, `types`, and `schema` when there is one.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::json!({
            "chart": self.chart, "version": self.version, "types": self.types.to_value(),
        });
        if let Some(s) = &self.schema {
            v["schema"] = s.to_value();
        }
        v
    }

    /// Read the record of `component` from `store`; `None` when the data has none.
    pub(crate) fn load(store: &Store, component: &str) -> Result<Option<ChartRecord>> {
        let path = types_path(component);
        if store.get(&path).is_none() {
            return Ok(None);
        }
        let bad = |message: String| Error::Parse {
            path: path.clone(),
            what: "chart record",
            message,
        };
        let doc: Value =
            crate::model::parse_yaml(&path, "chart record", store.text(&path, "cnsctl")?)?;
        let field = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("`{k}` is missing or not a string")))
        };
        let (chart, version) = (field("chart")?, field("version")?);
        let types = Kind::from_value(doc.get("types").unwrap_or(&Value::Null))
            .map_err(|e| bad(format!("types{e}")))?;
        let schema = doc
            .get("schema")
            .map(Shape::from_value)
            .transpose()
            .map_err(|e| bad(format!("schema: {e}")))?;
        Ok(Some(ChartRecord {
            chart,
            version,
            types,
            schema,
        }))
    }

    /// Every way `values` (a component's final values, or a cluster's part of them)
    /// contradicts the chart: its default values' types, then its values.schema.json.
    pub fn check(&self, values: &Value) -> Vec<String> {
        let mut out: Vec<String> = chart_types::check(values, &self.types)
            .iter()
            .map(ToString::to_string)
            .collect();
        if let Some(shape) = &self.schema {
            out.extend(chart_types::check_shape(values, shape));
        }
        out
    }
}

impl Store {
    /// The record of `component`'s chart, read once per store; `None` when the data has
    /// none.
    pub fn chart_record(&self, component: &str) -> Result<Option<Arc<ChartRecord>>> {
        if let Some(r) = self.chart_records_cache().get(component) {
            return Ok(r.clone());
        }
        let r = ChartRecord::load(self, component)?.map(Arc::new);
        self.chart_records_cache()
            .insert(component.to_string(), r.clone());
        Ok(r)
    }
}
