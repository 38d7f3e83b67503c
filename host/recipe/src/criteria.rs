//! Recipe criteria (service, accelerator, os, intent), their valid values, matching and
//! specificity. `any` (or an empty value) is the wildcard.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Valid Kubernetes services.
pub const SERVICES: &[&str] = &["aks", "eks", "gke", "oke"];
/// Valid accelerators.
pub const ACCELERATORS: &[&str] = &["a100", "gb200", "h100"];
/// Valid node operating systems.
pub const OSES: &[&str] = &["amazonlinux", "azurelinux", "cos", "oraclelinux", "ubuntu"];
/// Valid intents.
pub const INTENTS: &[&str] = &["inference", "training"];

fn any() -> String {
    "any".into()
}

/// What a recipe is for. Each field is a known value or `any`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    /// Kubernetes service.
    #[serde(default = "any")]
    pub service: String,
    /// GPU model.
    #[serde(default = "any")]
    pub accelerator: String,
    /// Node operating system.
    #[serde(default = "any")]
    pub os: String,
    /// Workload intent.
    #[serde(default = "any")]
    pub intent: String,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            service: any(),
            accelerator: any(),
            os: any(),
            intent: any(),
        }
    }
}

fn norm(v: &str) -> String {
    let v = v.trim().to_ascii_lowercase();
    if v.is_empty() { any() } else { v }
}

impl Criteria {
    /// Build from optional flag values, normalising case and empty values to `any`.
    pub fn new(
        service: Option<&str>,
        accelerator: Option<&str>,
        os: Option<&str>,
        intent: Option<&str>,
    ) -> Result<Self> {
        let c = Criteria {
            service: norm(service.unwrap_or("any")),
            accelerator: norm(accelerator.unwrap_or("any")),
            os: norm(os.unwrap_or("any")),
            intent: norm(intent.unwrap_or("any")),
        };
        c.check()?;
        Ok(c)
    }

    /// The four fields with their names and valid values.
    pub fn fields(&self) -> [(&'static str, &str, &'static [&'static str]); 4] {
        [
            ("service", &self.service, SERVICES),
            ("accelerator", &self.accelerator, ACCELERATORS),
            ("os", &self.os, OSES),
            ("intent", &self.intent, INTENTS),
        ]
    }

    /// Every field is `any` or a known value.
    pub fn check(&self) -> Result<()> {
        for (field, value, valid) in self.fields() {
            if value != "any" && !valid.contains(&value) {
                return Err(Error::UnknownCriteria {
                    field,
                    value: value.to_string(),
                    valid: format!("{}, any", valid.join(", ")),
                });
            }
        }
        Ok(())
    }

    /// Whether an overlay with these criteria applies to `query`. An overlay field `any`
    /// matches every query value; a query field `any` matches only overlay fields `any`.
    pub fn matches(&self, query: &Criteria) -> bool {
        self.fields()
            .iter()
            .zip(query.fields().iter())
            .all(|((_, mine, _), (_, q, _))| *mine == "any" || mine == q)
    }

    /// Number of non-`any` fields.
    pub fn specificity(&self) -> usize {
        self.fields().iter().filter(|(_, v, _)| *v != "any").count()
    }
}

impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "service={} accelerator={} os={} intent={}",
            self.service, self.accelerator, self.os, self.intent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str, a: &str, o: &str, i: &str) -> Criteria {
        Criteria::new(Some(s), Some(a), Some(o), Some(i)).unwrap()
    }

    #[test]
    fn matching_is_asymmetric() {
        let cases = [
            (
                "overlay any matches all",
                c("any", "any", "any", "any"),
                c("eks", "h100", "ubuntu", "training"),
                true,
            ),
            (
                "exact",
                c("eks", "h100", "any", "any"),
                c("eks", "h100", "ubuntu", "training"),
                true,
            ),
            (
                "mismatch",
                c("gke", "any", "any", "any"),
                c("eks", "h100", "ubuntu", "training"),
                false,
            ),
            (
                "query any vs specific overlay",
                c("eks", "any", "any", "training"),
                c("eks", "any", "any", "any"),
                false,
            ),
            (
                "query any vs any overlay",
                c("eks", "any", "any", "any"),
                c("eks", "any", "any", "any"),
                true,
            ),
        ];
        for (name, overlay, query, want) in cases {
            assert_eq!(overlay.matches(&query), want, "{name}");
        }
    }

    #[test]
    fn normalises_and_validates() {
        assert_eq!(
            c("EKS", "", "any", " Training ").to_string(),
            "service=eks accelerator=any os=any intent=training"
        );
        let e = Criteria::new(Some("ekss"), None, None, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "unknown service `ekss`; valid values: aks, eks, gke, oke, any"
        );
        assert_eq!(c("eks", "h100", "any", "training").specificity(), 3);
    }
}
