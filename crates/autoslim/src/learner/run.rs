//! [`train`]: an [`AutoSlim`] model trained by burn-train's own loop, with checkpoints every
//! epoch and resume.

use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::data::dataset::Dataset;
use burn::module::{AutodiffModule, Module};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::AutodiffBackend;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use slimmable::FusedSgdConfig;

use super::autoslim::{AutoSlim, TrainingMode};
use super::metrics::WidthMetric;
use super::progress::ProgressRenderer;
use super::schedule::{Decay, LrSchedule};
use crate::data::{ImageBatcher, ImageDataset, OrderedLoader};
use crate::model::SlimmableModel;

/// SGD with momentum and a learning rate decaying over the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSettings {
    /// Initial learning rate, in (0, 1].
    pub lr: f64,
    /// Final learning rate.
    pub min_lr: f64,
    /// How the learning rate falls from `lr` to `min_lr`, step by step.
    pub decay: Decay,
    /// Momentum (0: plain SGD).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay added to every gradient.
    pub weight_decay: f64,
    /// The optimizer's update in tensor ops, as burn's `Sgd` makes it, instead of one kernel
    /// per parameter ([`slimmable::FusedSgd`]), for comparisons (`AUTOSLIM_SGD=tensor-ops` on
    /// the command line).
    pub sgd_tensor_ops: bool,
}

/// Where and how long a run trains.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Checkpoints, logs and results go here.
    pub work_dir: PathBuf,
    /// Total epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Data-loading threads.
    pub num_workers: usize,
    /// Seed of the backend, the shuffling and the width sampler.
    pub seed: u64,
    /// Continue from the last checkpoint in `work_dir/checkpoint`.
    pub resume: bool,
    /// The optimizer.
    pub optimizer: OptimizerSettings,
    /// Seconds between progress lines.
    pub progress_every: Duration,
}

/// The last epoch checkpointed in `work_dir/checkpoint` with all three of its files
/// (`model-<epoch>.mpk`, `optim-<epoch>.mpk`, `scheduler-<epoch>.mpk`).
pub fn last_checkpoint(work_dir: &Path) -> Option<usize> {
    checkpoints(work_dir).into_iter().max()
}

/// The epochs checkpointed in `work_dir/checkpoint` with all three files, in no order.
fn checkpoints(work_dir: &Path) -> Vec<usize> {
    let dir = work_dir.join("checkpoint");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let epoch: usize = name.strip_prefix("model-")?.strip_suffix(".mpk")?.parse().ok()?;
            ["optim", "scheduler"].iter().all(|kind| dir.join(format!("{kind}-{epoch}.mpk")).is_file()).then_some(epoch)
        })
        .collect()
}

/// The recorder of checkpoints and models: named MessagePack at full precision.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Trains `model` on `train`, validating on `valid` after every epoch, and returns the
/// trained model (without autodiff).
///
/// With `settings.resume`, training continues after the last checkpoint; a run whose last
/// checkpoint is its final epoch returns that checkpoint's model.
pub fn train<B, M>(
    model: AutoSlim<B, M>,
    train: ImageDataset,
    valid: ImageDataset,
    batcher: ImageBatcher,
    settings: &RunSettings,
    device: &B::Device,
) -> Result<AutoSlim<B::InnerBackend, M::InnerModule>, String>
where
    B: AutodiffBackend,
    M: SlimmableModel<B> + AutodiffModule<B> + 'static,
    M::InnerModule: SlimmableModel<B::InnerBackend> + 'static,
{
    if settings.epochs == 0 || settings.batch_size == 0 {
        return Err("epochs and batch_size must be at least 1".into());
    }
    let checkpoint = if settings.resume {
        let (last, loaded) = newest_readable_checkpoint(&model, &settings.work_dir, device)?;
        if last >= settings.epochs {
            println!("resume: the run already finished its {} epochs; loading checkpoint {last}", settings.epochs);
            return Ok(loaded.valid());
        }
        println!("resume: continuing after epoch {last} of {}", settings.epochs);
        Some(last)
    } else {
        None
    };
    B::seed(device, settings.seed);
    let steps_per_epoch = train.len().div_ceil(settings.batch_size);
    let shuffled = EpochShuffled::new(train.clone(), settings.seed, checkpoint.unwrap_or(0));
    let train_loader = OrderedLoader::new(shuffled, batcher.clone(), settings.batch_size, settings.num_workers, device.clone()).into_arc();
    if let Some(epoch) = checkpoint {
        // Replay the sandwich widths of the epochs already trained (the shuffle of an epoch
        // depends on its number alone), so that the resumed run continues exactly as the
        // uninterrupted one would.
        model.skip_steps(epoch * steps_per_epoch);
    }
    let valid_loader = OrderedLoader::new(valid, batcher, settings.batch_size, settings.num_workers, device.clone()).into_arc();

    let mut training = SupervisedTraining::new(&settings.work_dir, train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new());
    match &model.plan().mode {
        TrainingMode::Supernet { .. } => {
            training = training
                .metric_train_numeric(WidthMetric::accuracy("min"))
                .metric_train_numeric(WidthMetric::loss("min"));
        }
        TrainingMode::Retrain { subnets } => {
            for (label, _) in subnets.iter().skip(1) {
                training = training.metric_train_numeric(WidthMetric::accuracy(label));
            }
        }
    }
    for (label, _) in model.plan().valid_subnets.iter().skip(1) {
        training = training.metric_valid_numeric(WidthMetric::accuracy(label));
    }
    let mut training = training
        .with_file_checkpointer(CheckpointRecorder::new())
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
        .renderer(ProgressRenderer::new(settings.progress_every))
        .with_application_logger(None)
        .num_epochs(settings.epochs);
    if let Some(epoch) = checkpoint {
        training = training.checkpoint(epoch);
    }

    let o = &settings.optimizer;
    let momentum = (o.momentum > 0.0)
        .then(|| MomentumConfig::new().with_momentum(o.momentum).with_dampening(0.0).with_nesterov(o.nesterov));
    let weight_decay = (o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay as f32));
    let scheduler = LrSchedule::new(o.decay, o.lr, o.min_lr, settings.epochs * steps_per_epoch)
        .map_err(|err| format!("learning-rate schedule: {err}"))?;

    // burn's SGD update in one kernel per parameter on the GPU backends.
    let optimizer = FusedSgdConfig::new()
        .with_momentum(momentum)
        .with_weight_decay(weight_decay)
        .with_kernel(!o.sgd_tensor_ops)
        .init();
    let result = training.launch(Learner::new(model, optimizer, scheduler));
    Ok(result.model)
}

/// The newest checkpoint whose model record loads, with the model it holds. A checkpoint
/// that does not load (a run killed while writing it) is reported and passed over for the
/// one before it (two are kept).
fn newest_readable_checkpoint<B, M>(model: &AutoSlim<B, M>, work_dir: &Path, device: &B::Device) -> Result<(usize, AutoSlim<B, M>), String>
where
    B: AutodiffBackend,
    M: SlimmableModel<B> + AutodiffModule<B>,
{
    let mut epochs = checkpoints(work_dir);
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    if epochs.is_empty() {
        return Err(format!("--resume: no checkpoint in {}", work_dir.join("checkpoint").display()));
    }
    for epoch in epochs {
        let path = work_dir.join("checkpoint").join(format!("model-{epoch}"));
        match model.clone().load_file(&path, &CheckpointRecorder::new(), device) {
            Ok(loaded) => return Ok((epoch, loaded)),
            Err(err) => eprintln!("warning: checkpoint {}.mpk does not load ({err}); trying the one before", path.display()),
        }
    }
    Err(format!("--resume: no checkpoint in {} loads", work_dir.join("checkpoint").display()))
}

/// The training images in a new order every epoch, the order (and each item's random
/// augmentation) a function of the seed and the epoch alone — unlike burn's shuffling, whose
/// state lives in the data loader and is lost when a run is killed. The epoch is counted from
/// the items served: every epoch reads each item once.
struct EpochShuffled {
    inner: ImageDataset,
    seed: u64,
    served: std::sync::atomic::AtomicUsize,
    order: std::sync::Mutex<(usize, Vec<usize>)>,
}

impl EpochShuffled {
    /// Serves `inner` shuffled, starting at epoch `first_epoch` (counted from 0).
    fn new(inner: ImageDataset, seed: u64, first_epoch: usize) -> Self {
        let served = std::sync::atomic::AtomicUsize::new(first_epoch * inner.len());
        let order = std::sync::Mutex::new((usize::MAX, Vec::new()));
        Self { inner, seed, served, order }
    }
}

impl Dataset<crate::data::ImageItem> for EpochShuffled {
    fn get(&self, index: usize) -> Option<crate::data::ImageItem> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let len = self.inner.len();
        if index >= len {
            return None;
        }
        let epoch = self.served.fetch_add(1, std::sync::atomic::Ordering::Relaxed) / len;
        let mut order = self.order.lock().expect("the order's lock is never poisoned");
        if order.0 != epoch {
            let mut indices: Vec<usize> = (0..len).collect();
            let seed = self.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            indices.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
            *order = (epoch, indices);
        }
        let item = order.1[index];
        drop(order);
        // Augmentations drawn from the seed, the epoch and the item, like the order: the same
        // in a repeated or resumed run, whichever loader thread reads the item.
        let augmentation = (self.seed ^ (epoch as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)).wrapping_add((item as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.inner.get_seeded(item, augmentation)
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}
