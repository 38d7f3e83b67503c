//! The image inventory of a bundle: for each component, the container images its chart and
//! operator will run, computed from the component's final values merged over the chart
//! defaults recorded in the registry (`images:` of each entry), and written as
//! `images.lock.yaml` ([`inventory`]); registry names and mirroring ([`mirror`]).

pub mod inventory;
pub mod mirror;

pub use inventory::*;
pub use mirror::{
    Copy, HelmChart, MirrorPlan, mirror_manifest, mirror_overrides, mirror_plan, mirrored,
    mirrored_chart, mirrored_chart_source, normalized_reference, registry_host,
};
