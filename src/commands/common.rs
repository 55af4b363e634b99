//! What several subcommands share: building the config's model, loading a checkpoint into it,
//! and the calibration and test batches its widths are evaluated with.

use std::path::Path;

use anyhow::{Context, Result};
use autoslim::channels::{ChannelSpace, Subnet};
use autoslim::config::{Config, parse_ratio};
use autoslim::model::SlimmableModel;
use burn::module::Module;
use autoslim::data::{ImageBatch, ImageBatcher, ImageDataset};
use autoslim::eval::{EvalBatches, EvalNorm, to_batches};
use burn::data::dataset::Dataset;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use burn::tensor::backend::Backend;
use crate::commands::train::load_data;

/// Runs `$body` with `$model` bound to the config's model, untrained, built on backend `$B` with
/// `$sets` sets of BatchNorms: the one place that turns `[algorithm.architecture]` into a type.
/// `$body` is compiled once per architecture, so it may call generic functions.
macro_rules! with_model {
    ($config:expr, $B:ty, $sets:expr, |$model:ident| $body:expr) => {{
        let device: <$B as burn::tensor::backend::BackendTypes>::Device = Default::default();
        match $config.architecture.with_norm_sets($sets) {
            autoslim::config::ArchitectureConfig::SlimCnn(arch) => {
                let $model = arch.try_init::<$B>(&device).map_err(anyhow::Error::msg)?;
                $body
            }
            autoslim::config::ArchitectureConfig::MobileNetV2(arch) => {
                let $model = arch.try_init::<$B>(&device).map_err(anyhow::Error::msg)?;
                $body
            }
            autoslim::config::ArchitectureConfig::ResNet(arch) => {
                let $model = arch.try_init::<$B>(&device).map_err(anyhow::Error::msg)?;
                $body
            }
        }
    }};
}
pub(crate) use with_model;

/// `model` with the weights of `checkpoint` (checked tensor by tensor).
pub fn load_checkpoint<B: Backend, M: Module<B>>(model: M, checkpoint: &Path) -> Result<M> {
    Ok(autoslim::checkpoint::load(model, checkpoint, &Default::default())?)
}

/// The channel groups of the config's model.
pub fn model_space<B: Backend>(config: &Config) -> Result<ChannelSpace> {
    with_model!(config, B, 1, |model| Ok(model.space().clone()))
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
pub struct EvalData<B: Backend> {
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
    pub calibration: Vec<ImageBatch<B>>,
}

impl<B: Backend> EvalData<B> {
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
        self.calibration = to_batches::<B>(
            &self.train.select(self.order.iter().copied().take(calib_size).collect()),
            &self.batcher,
            config.data.batch_size,
            &Default::default(),
        );
        self
    }

    /// The test set as batches (on the device, or streamed if it is large).
    pub fn test_batches(&self, config: &Config) -> EvalBatches<B> {
        let batches = EvalBatches::new(&self.test, &self.batcher, config.evaluation.batch_size, &Default::default());
        if !batches.is_resident() {
            println!(
                "the {} test images are larger than {} GiB as tensors: they are read in batches at each evaluation",
                self.test.len(),
                autoslim::eval::RESIDENT_LIMIT_BYTES >> 30
            );
        }
        batches
    }

    /// The image size `[height, width]`.
    pub fn image_size(&self) -> [usize; 2] {
        [self.batcher.shape[1], self.batcher.shape[2]]
    }
}

/// A `--ratio` argument (a number or a fraction such as `6/12`) as a width ratio; a bad one is
/// an error that names it.
pub(super) fn ratio_arg(text: &str) -> Result<f64> {
    parse_ratio(text).map_err(|e| anyhow::anyhow!("--ratio {text}: {e}"))
}
