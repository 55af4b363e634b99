//! The subcommands.

mod subnet;
mod train;

pub use subnet::write_uniform_subnet;
pub use train::train;
