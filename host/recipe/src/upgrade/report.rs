//! How a [`Report`] reads: a table for the terminal, `UPGRADING.md` for a bundle.

use super::{Check, Report, Verdict};

impl Report {
    /// The report as a table with each component's reason, then the steps of those that
    /// have any.
    pub fn text(&self) -> String {
        let dash = "-".to_string();
        let mut out = format!(
            "{:<28} {:<12} {:<12} {:<17} REASON\n",
            "COMPONENT", "FROM", "TO", "VERDICT"
        );
        for c in &self.components {
            out.push_str(&format!(
                "{:<28} {:<12} {:<12} {:<17} {}\n",
                c.component,
                c.from.as_ref().unwrap_or(&dash),
                c.to.as_ref().unwrap_or(&dash),
                c.verdict.as_str(),
                c.reason
            ));
        }
        for c in self
            .components
            .iter()
            .filter(|c| !c.steps.is_empty() || c.precondition.is_some())
        {
            out.push_str(&format!(
                "\n{} ({} deployer):\n",
                c.component, self.deployer
            ));
            if let Some(p) = &c.precondition {
                out.push_str(&format!("  before: {p}\n"));
            }
            for (i, s) in c.steps.iter().enumerate() {
                out.push_str(&format!("  {}. {s}\n", i + 1));
            }
            for r in &c.references {
                out.push_str(&format!("  see {r}\n"));
            }
        }
        out
    }

    /// `UPGRADING.md` of a bundle made with `--upgrade-from`: the verdicts, then what to
    /// do for each component in `order` (the bundle's deployment order; components only
    /// FROM has come last), before and while applying the bundle. `from` names what the
    /// bundle was checked against.
    pub fn markdown(&self, from: &str, order: &[String]) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let dash = "-".to_string();
        let mut ordered: Vec<&Check> = self.components.iter().collect();
        ordered.sort_by_key(|c| {
            order
                .iter()
                .position(|n| *n == c.component)
                .unwrap_or(usize::MAX)
        });
        let mut out = format!(
            "# Upgrading to this bundle\n\nChecked by `cnsctl bundle --upgrade-from {from}` against the transition records of recipe data {}, for the `{}` deployer. {}\n\n| Component | From | To | Verdict | Why |\n|---|---|---|---|---|\n",
            crate::resolve::DATA_VERSION,
            self.deployer,
            if self.safe {
                "Every component is `safe`: apply the bundle."
            } else {
                "Not every component is `safe`: read the steps below before applying the bundle."
            }
        );
        for c in &ordered {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                c.component,
                c.from.as_ref().unwrap_or(&dash),
                c.to.as_ref().unwrap_or(&dash),
                c.verdict.as_str(),
                cell(&c.reason)
            ));
        }
        let mut n = 0;
        for c in ordered.iter().filter(|c| c.verdict != Verdict::Safe) {
            n += 1;
            out.push_str(&format!(
                "\n## {n}. {} ({})\n\n{}\n",
                c.component,
                c.verdict.as_str(),
                c.reason
            ));
            if let Some(p) = &c.precondition {
                out.push_str(&format!("\nBefore you start: {p}\n"));
            }
            if !c.steps.is_empty() {
                out.push('\n');
                for (i, s) in c.steps.iter().enumerate() {
                    out.push_str(&format!("{}. {s}\n", i + 1));
                }
            }
            match c.verdict {
                Verdict::Unknown => out.push_str(
                    "\nNobody has said this move is safe: read the project's release notes for it, try it on a cluster you can rebuild, and add a record to the recipe data.\n",
                ),
                Verdict::IdentityChanged => out.push_str(
                    "\nThis is not an upgrade in place: remove the old installation first (keeping what its CRDs hold), or keep it where it is with `cnsctl recipe --inherit-from`.\n",
                ),
                _ => {}
            }
            if !c.references.is_empty() {
                out.push_str("\nSources:\n");
                for r in &c.references {
                    out.push_str(&format!("- {r}\n"));
                }
            }
        }
        out
    }
}
