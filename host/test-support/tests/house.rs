//! The house's rules, checked on the whole workspace.

use std::path::Path;

/// No module imports one that imports it back, in any crate of the workspace (the stop
/// hook's `modcycles.py` reads the same edges).
#[test]
fn no_import_circles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let report = cns_test_support::modcycles::scan(&root).unwrap();
    assert!(
        report.files > 100,
        "only {} module files found under {}",
        report.files,
        root.display()
    );
    let lines: Vec<String> = report
        .circles
        .iter()
        .map(|c| {
            c.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(
        lines.is_empty(),
        "import circles (move what both use into a module of its own, or into the library that owns the job):\n{}",
        lines.join("\n")
    );
}
