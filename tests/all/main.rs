//! cnsctl integration tests: one binary, modules per area.

mod agent_options;
mod airgap_charts;
mod authoring;
mod chart_digests;
mod charts;
mod cli;
mod cluster;
mod cluster_topology;
mod deployers;
mod drift;
mod golden;
mod hardening;
mod hostile_registry;
mod mirror;
mod mirror_signatures;
mod oci;
mod plugins;
mod recipes;
mod sandbox;
mod serve;
mod set_values;
mod sigstore_bundles;
mod upgrade;
mod util;
mod wit_versions;
