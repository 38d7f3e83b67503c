//! cnsctl integration tests: one binary, modules per area.

mod charts;
mod cli;
mod deployers;
mod plugins;
mod recipes;
mod sandbox;
mod util;
