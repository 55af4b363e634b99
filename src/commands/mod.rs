//! The subcommands.

mod train;

pub use train::train;
