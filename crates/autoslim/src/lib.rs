//! AutoSlim on burn: train one network at many widths, search the best channel numbers
//! under a FLOPs budget, and deploy the result as a plain, smaller burn model.
//!
//! - [`channels`]: channel groups a model declares, subnets and MMRazor's channel YAML;
//! - [`pruner`]: the [`RatioPruner`](pruner::RatioPruner) that picks the widths of a step;
//! - [`distiller`]: the [`SelfDistiller`](distiller::SelfDistiller) loss of the small widths;
//! - [`model`] and [`models`]: the [`SlimmableModel`](model::SlimmableModel) trait and the zoo;
//! - [`cost`]: FLOPs and parameters of any subnet, in the paper's and mmcv's conventions;
//! - [`search`]: the greedy channel search, resumable step by step;
//! - [`deploy`]: a subnet as a plain burn model, saved as a burn record and as safetensors;
//! - [`checkpoint`]: loading a checkpoint with every tensor's shape checked against the model.

pub mod channels;
pub mod checkpoint;
pub mod config;
pub mod cost;
pub mod data;
pub mod deploy;
pub mod distiller;
pub mod eval;
pub mod learner;
pub mod model;
pub mod models;
pub mod plot;
pub mod pruner;
pub mod search;
