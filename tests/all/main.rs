//! cnsctl integration tests: one binary, modules per area.

mod charts;
mod cli;
mod deployers;
mod golden;
mod plugins;
mod recipes;
mod sandbox;
mod util;
