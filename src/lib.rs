//! The AutoSlim toolkit's command line, with the compile-time backend selection shared by the
//! command line, the examples and the end-to-end tests.

pub mod backend;
pub mod commands;
pub mod files;
#[cfg(feature = "host-profile")]
pub mod host_profile;
#[cfg(feature = "host-profile")]
pub mod thread_states;
pub mod kernel_cache;
pub mod warm_up;
