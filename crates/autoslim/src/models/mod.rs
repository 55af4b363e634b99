//! The model zoo: slimmable classifiers that declare their channel groups.

mod cnn;

pub use cnn::{ConvBn, PlainCnn, PlainCnnBackbone, PlainCnnConfig, PlainCnnHead, SlimCnn, SlimCnnConfig};
