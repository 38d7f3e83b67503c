//! cnsctl integration tests: one binary, modules per area.

mod cli;
mod plugins;
mod recipes;
mod sandbox;
mod util;
