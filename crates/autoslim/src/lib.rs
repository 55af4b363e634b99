//! AutoSlim on burn: train one network at many widths, search the best channel numbers
//! under a FLOPs budget, and deploy the result as a plain, smaller burn model.
//!
//! - [`channels`]: channel groups a model declares, subnets and MMRazor's channel YAML;
//! - [`pruner`]: the [`RatioPruner`](pruner::RatioPruner) that picks the widths of a step;
//! - [`distiller`]: the [`SelfDistiller`](distiller::SelfDistiller) loss of the small widths;
//! - [`model`] and [`models`]: the [`SlimmableModel`](model::SlimmableModel) trait and the zoo.

pub mod channels;
pub mod config;
pub mod data;
pub mod distiller;
pub mod eval;
pub mod learner;
pub mod model;
pub mod models;
pub mod plot;
pub mod pruner;
