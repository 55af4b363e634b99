//! What several subcommands share: building the config's model, loading a checkpoint into it,
//! and the calibration and test batches its widths are evaluated with.

use std::path::Path;

use anyhow::{Context, Result};
use autoslim::channels::Subnet;
use autoslim::config::{ArchitectureConfig, Config};
use autoslim::data::{ImageBatch, ImageBatcher, ImageDataset};
use autoslim::eval::{EvalNorm, to_batches};
use autoslim::models::SlimCnn;
use burn::data::dataset::Dataset;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::backend::{self, Backend};
use crate::commands::train::load_data;

/// The config's model, untrained, on the inference backend.
pub fn build_model(config: &Config) -> Result<SlimCnn<Backend>> {
    match &config.architecture {
        ArchitectureConfig::SlimCnn(arch) => arch.try_init::<Backend>(&backend::device()).map_err(anyhow::Error::msg),
    }
}

/// The config's model with the weights of `checkpoint` (checked tensor by tensor).
pub fn load_model(config: &Config, checkpoint: &Path) -> Result<SlimCnn<Backend>> {
    let model = build_model(config)?;
    Ok(autoslim::checkpoint::load(model, checkpoint, &backend::device())?)
}

/// Reads a channel file as a subnet of `model`.
pub fn read_subnet(space: &autoslim::channels::ChannelSpace, file: &Path) -> Result<Subnet> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read subnet {}", file.display()))?;
    Subnet::from_yaml(space, &text).with_context(|| format!("subnet {}", file.display()))
}

/// How BatchNorm statistics are set when a width is evaluated, from `[evaluation] bn`.
pub fn eval_norm(config: &Config) -> EvalNorm {
    match config.evaluation.bn.as_str() {
        "batch_stats" => EvalNorm::BatchStats,
        _ => EvalNorm::Recalibrate { batches: config.evaluation.calibration_batches },
    }
}

/// A line saying how BN is handled.
pub fn describe_norm(norm: EvalNorm) -> String {
    match norm {
        EvalNorm::BatchStats => "batch statistics".to_string(),
        EvalNorm::Recalibrate { batches } => format!("BN recalibrated on {batches} training batches"),
    }
}

/// The data a width is evaluated with.
pub struct EvalData {
    /// The training images, the test images, and their batcher.
    pub train: ImageDataset,
    /// The test images.
    pub test: ImageDataset,
    /// Turns images into tensors.
    pub batcher: ImageBatcher,
    /// Where the data came from.
    pub note: String,
    /// The training images in a seeded random order: the first ones calibrate BN.
    pub order: Vec<usize>,
    /// BN calibration batches.
    pub calibration: Vec<ImageBatch<Backend>>,
}

impl EvalData {
    /// Loads the config's data and its calibration batches.
    pub fn load(config: &Config) -> Result<Self> {
        let (train, test, batcher, note) = load_data(config)?;
        Ok(Self { train, test, batcher, note, order: Vec::new(), calibration: Vec::new() }.with_calibration(config))
    }

    /// Draws the seeded order of the training images and the calibration batches from it.
    pub fn with_calibration(mut self, config: &Config) -> Self {
        self.order = (0..self.train.len()).collect();
        self.order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(config.seed));
        let calib_size = config.evaluation.calibration_batches * config.data.batch_size;
        self.calibration = to_batches::<Backend>(
            &self.train.select(self.order.iter().copied().take(calib_size).collect()),
            &self.batcher,
            config.data.batch_size,
            &backend::device(),
        );
        self
    }

    /// The test set as batches.
    pub fn test_batches(&self, config: &Config) -> Vec<ImageBatch<Backend>> {
        to_batches::<Backend>(&self.test, &self.batcher, config.evaluation.batch_size, &backend::device())
    }

    /// The image size `[height, width]`.
    pub fn image_size(&self) -> [usize; 2] {
        [self.batcher.shape[1], self.batcher.shape[2]]
    }
}
