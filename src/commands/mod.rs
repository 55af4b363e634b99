//! The subcommands.

mod bench;
mod common;
mod eval;
mod host_costs;
mod export;
mod search;
mod subnet;
mod train;

pub use bench::{BenchSettings, bench};
pub use eval::eval;
pub use export::export;
pub use search::search;
pub use subnet::write_uniform_subnet;
pub use train::{load_data, train};
