//! The drift as a text table that fits a width.

use super::{Drift, show};

/// The marker ending a value [`table`] cut to fit.
pub const CUT: char = '…';

/// `text` in at most `width` characters: cut with [`CUT`] when longer.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push(CUT);
    out
}

/// The drift as an aligned text table (`PATH  CHANGE  SEVERITY  BASELINE  TARGET`) and a
/// summary line; paths and values with control characters are shown escaped
/// ([`cns_files::terminal_safe`]). With a `width`, rows fit it: the values are cut first,
/// then the path, a cut cell ending in [`CUT`], none below 8 characters; `None` shows them
/// whole.
pub fn table(d: &Drift, width: Option<usize>) -> String {
    let mut rows: Vec<[String; 5]> = d
        .changes
        .iter()
        .map(|c| {
            [
                cns_files::terminal_safe(&c.path, false).into_owned(),
                format!("{:?}", c.kind).to_lowercase(),
                format!("{:?}", c.severity).to_lowercase(),
                cns_files::terminal_safe(&show(c.baseline.as_ref()), false).into_owned(),
                cns_files::terminal_safe(&show(c.target.as_ref()), false).into_owned(),
            ]
        })
        .collect();
    let head = ["PATH", "CHANGE", "SEVERITY", "BASELINE", "TARGET"].map(String::from);
    let mut w = [0usize; 5];
    for r in std::iter::once(&head).chain(&rows) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    if let Some(limit) = width {
        // Two spaces between columns; CHANGE and SEVERITY are never cut. The values give
        // way first (the widest a character at a time, to 16), then the path (to 24), then
        // the widest of the three (to 8).
        let room = limit.saturating_sub(w[1] + w[2] + 4 * 2);
        let mut cut = w;
        for (columns, floor) in [(&[3, 4][..], 16), (&[0][..], 24), (&[0, 3, 4][..], 8)] {
            while cut[0] + cut[3] + cut[4] > room {
                let i = columns.iter().copied().max_by_key(|i| cut[*i]).unwrap_or(0);
                if cut[i] <= floor {
                    break;
                }
                cut[i] -= 1;
            }
        }
        for r in &mut rows {
            for (i, c) in r.iter_mut().enumerate() {
                *c = fit(c, cut[i]);
            }
        }
        w = cut;
    }
    let mut out = String::new();
    if !rows.is_empty() {
        for r in std::iter::once(&head).chain(&rows) {
            let line = format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let s = &d.summary;
    let mut left_out = Vec::new();
    if s.ignored > 0 {
        left_out.push(format!("{} ignored", s.ignored));
    }
    if s.volatile > 0 {
        left_out.push(format!("{} volatile", s.volatile));
    }
    out.push_str(&format!(
        "{} added, {} removed, {} modified{}{}\n",
        s.added,
        s.removed,
        s.modified,
        if d.changes.is_empty() {
            String::new()
        } else {
            format!(
                ": {} critical, {} warning, {} info",
                s.critical, s.warning, s.info
            )
        },
        if left_out.is_empty() {
            String::new()
        } else {
            format!(" ({})", left_out.join(", "))
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::two;
    use super::super::{diff, ignore_set};
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_table_fits_the_width_with_a_marker() {
        let (mut a, mut b) = two();
        let long = "x".repeat(300);
        a.measurements[1].subtypes[0]
            .data
            .insert("long".into(), Value::String(long.clone()));
        b.measurements[1].subtypes[0]
            .data
            .insert("long".into(), Value::String(format!("{long}y")));
        let d = diff(&a, &b, &ignore_set(&[]).unwrap(), true);
        let wide = table(&d, None);
        assert!(wide.contains(&format!("{long}y")));
        for width in [60, 80, 120] {
            let t = table(&d, Some(width));
            // Every row fits (the summary line is a sentence, wrapped by the terminal).
            for l in t.lines().filter(|l| !l.contains(" added, ")) {
                assert!(l.chars().count() <= width, "{width}: {l:?}");
            }
            assert!(t.contains(CUT), "{t}");
            // Short values are whole; every row still has its path's start.
            assert!(t.contains("570.1"), "{t}");
            assert!(t.contains("GPU.smi.long"), "{t}");
        }
        // Never below 8 characters a column: a tiny width overflows rather than empties.
        assert!(table(&d, Some(10)).contains("GPU.smi…"));
        // The values give way before the path.
        let t = table(&d, Some(100));
        assert!(
            t.contains("K8s.node.label.nvidia.com/gfd.timestamp "),
            "{t}"
        );
    }
}
