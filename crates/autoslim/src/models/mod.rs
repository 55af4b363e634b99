//! The model zoo: slimmable classifiers that declare their channel groups.

mod cnn;

pub use cnn::{SlimCnn, SlimCnnConfig};
