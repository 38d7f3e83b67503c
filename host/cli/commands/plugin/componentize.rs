//! `cnsctl plugin componentize`: a plugin crate's core module → the component cnsctl loads
//! (`cns_toolchain::componentize`), checked by loading it before it is written.

use anyhow::{Context, Result};

/// Encode a core module as a component, check that it loads, write it.
pub(super) fn file(core_path: &std::path::Path, output: &std::path::Path) -> Result<()> {
    let core = std::fs::read(core_path)
        .with_context(|| format!("failed to read `{}`", core_path.display()))?;
    let component = cns_toolchain::componentize(&core).with_context(|| {
            format!(
                "`{}` is not a core module built with cns-plugin-sdk (export_bundler!/export_deployer!)",
                core_path.display()
            )
        })?;
    let runtime = std::sync::Arc::new(cns_runtime::Runtime::new(
        Default::default(),
        None,
        crate::ui::plugin_log_sink(),
    )?);
    let label = output.display().to_string();
    let p = runtime
        .load(
            &label,
            cns_runtime::Origin::File(output.to_path_buf()),
            &component,
        )
        .context("the component does not load as a cnsctl plugin")?;
    cns_files::write_atomic(output, &component)
        .with_context(|| format!("failed to write `{}`", output.display()))?;
    crate::ui::status(&format!(
        "wrote {} ({} {} {}, WIT {}, {} bytes)",
        output.display(),
        p.kind.as_str(),
        p.name,
        p.version,
        p.wit_version,
        component.len()
    ));
    Ok(())
}
