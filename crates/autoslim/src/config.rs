//! TOML configs shaped like MMRazor's, and the registry that builds components by `type`.
//!
//! ```toml
//! work_dir = "runs/cnn"
//! [algorithm]
//! type = "AutoSlim"
//! num_sample_training = 4
//! [algorithm.architecture]
//! type = "SlimCnn"
//! channels = [32, 64, 128]
//! strides = [1, 2, 2]
//! [algorithm.pruner]
//! type = "RatioPruner"
//! ratios = ["2/12", "3/12", "4/12", "5/12", "6/12", "7/12", "8/12", "9/12", "10/12", "11/12", "12/12"]
//! [algorithm.distiller]
//! type = "SelfDistiller"
//! losses = [{ type = "KLDivergence", tau = 1.0, loss_weight = 1.0 }]
//! [data]
//! type = "FashionMNIST"
//! [optimizer]
//! type = "SGD"
//! lr = 0.1
//! [schedule]
//! type = "CosineAnnealing"
//! epochs = 10
//! ```
//!
//! Every table rejects fields it does not know, and every `type` must be one the registry
//! ([`REGISTRY`]) lists; the error names the table, the field and what is accepted.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::distiller::SelfDistiller;
use crate::models::{SlimCnnConfig, SlimMobileNetV2Config, SlimResNetConfig};
use crate::pruner::{RatioPruner, Sampling};

/// The component kinds and the `type` names each accepts.
pub const REGISTRY: &[(&str, &[&str])] = &[
    ("algorithm", &["AutoSlim"]),
    ("algorithm.architecture", &["SlimCnn", "MobileNetV2", "ResNet"]),
    ("algorithm.pruner", &["RatioPruner"]),
    ("algorithm.distiller", &["SelfDistiller"]),
    ("algorithm.distiller.losses", &["KLDivergence"]),
    ("data", &["FashionMNIST", "MNIST", "ImageFolder"]),
    ("optimizer", &["SGD"]),
    ("schedule", &["CosineAnnealing", "Poly"]),
];

/// A config that cannot be used; the message names the table and field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// A width ratio written as a number (`0.5`) or a fraction (`"6/12"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Ratio {
    Number(f64),
    Text(String),
}

impl Ratio {
    fn value(&self, field: &str) -> Result<f64, ConfigError> {
        match self {
            Ratio::Number(x) => Ok(*x),
            Ratio::Text(text) => {
                let parsed = match text.split_once('/') {
                    Some((a, b)) => a.trim().parse::<f64>().ok().zip(b.trim().parse::<f64>().ok()).map(|(a, b)| a / b),
                    None => text.trim().parse().ok(),
                };
                parsed.filter(|x| x.is_finite()).ok_or_else(|| {
                    err(format!("{field}: `{text}` is not a ratio; write a number such as 0.5 or a fraction such as \"6/12\""))
                })
            }
        }
    }
}

/// Parses a width ratio written as a number (`0.5`) or a fraction (`6/12`), in (0, 1].
pub fn parse_ratio(text: &str) -> Result<f64, ConfigError> {
    let value = Ratio::Text(text.to_string()).value("ratio")?;
    match value > 0.0 && value <= 1.0 {
        true => Ok(value),
        false => Err(err(format!("ratio {value} is outside (0, 1]"))),
    }
}

fn ratios(list: &[Ratio], field: &str) -> Result<Vec<f64>, ConfigError> {
    list.iter().map(|r| r.value(field)).collect()
}

/// The raw file: each component is kept as a table until its `type` is known.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    work_dir: PathBuf,
    #[serde(default)]
    seed: u64,
    algorithm: toml::Table,
    data: toml::Table,
    optimizer: toml::Table,
    schedule: toml::Table,
    #[serde(default)]
    evaluation: Option<toml::Table>,
    #[serde(default)]
    search: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlgorithmFields {
    #[serde(default)]
    retraining: bool,
    #[serde(default = "default_num_samples")]
    num_sample_training: usize,
    #[serde(default)]
    label_smoothing: Option<f32>,
    #[serde(default)]
    channel_cfg: Vec<PathBuf>,
    architecture: toml::Table,
    pruner: toml::Table,
    #[serde(default)]
    distiller: Option<toml::Table>,
}

/// Passes of a sandwich step when a config does not say (`num_sample_training`): the max
/// width, the min width and two random ones, as MMRazor's AutoSlim (DESIGN.md).
pub const DEFAULT_NUM_SAMPLES: usize = 4;

fn default_num_samples() -> usize {
    DEFAULT_NUM_SAMPLES
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlimCnnFields {
    channels: Vec<usize>,
    strides: Vec<usize>,
    #[serde(default = "one")]
    in_channels: usize,
    #[serde(default = "ten")]
    num_classes: usize,
}

fn one() -> usize {
    1
}

fn ten() -> usize {
    10
}

fn three() -> usize {
    3
}

fn thousand() -> usize {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MobileNetV2Fields {
    #[serde(default = "unit")]
    widen_factor: f64,
    #[serde(default = "three")]
    in_channels: usize,
    #[serde(default = "thousand")]
    num_classes: usize,
    #[serde(default)]
    small_input: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResNetFields {
    depth: usize,
    #[serde(default = "three")]
    in_channels: usize,
    #[serde(default = "thousand")]
    num_classes: usize,
    #[serde(default)]
    small_input: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatioPrunerFields {
    ratios: Vec<Ratio>,
    #[serde(default)]
    divisor: Option<usize>,
    #[serde(default)]
    sampling: Sampling,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfDistillerFields {
    losses: Vec<toml::Table>,
    #[serde(default)]
    ce_weight: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlFields {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default = "unit")]
    tau: f64,
    #[serde(default = "unit")]
    loss_weight: f64,
}

fn unit() -> f64 {
    1.0
}

/// The model to build.
#[derive(Debug, Clone)]
pub enum ArchitectureConfig {
    /// [`crate::models::SlimCnn`] (`type = "SlimCnn"`).
    SlimCnn(SlimCnnConfig),
    /// [`crate::models::SlimMobileNetV2`] (`type = "MobileNetV2"`).
    MobileNetV2(SlimMobileNetV2Config),
    /// [`crate::models::SlimResNet`] (`type = "ResNet"`).
    ResNet(SlimResNetConfig),
}

impl ArchitectureConfig {
    /// The same model with `sets` sets of BatchNorms (one per subnet retrained jointly).
    pub fn with_norm_sets(&self, sets: usize) -> Self {
        match self {
            Self::SlimCnn(c) => Self::SlimCnn(c.clone().with_norm_sets(sets)),
            Self::MobileNetV2(c) => Self::MobileNetV2(c.clone().with_norm_sets(sets)),
            Self::ResNet(c) => Self::ResNet(c.clone().with_norm_sets(sets)),
        }
    }

    /// Image channels the model reads.
    pub fn in_channels(&self) -> usize {
        match self {
            Self::SlimCnn(c) => c.in_channels,
            Self::MobileNetV2(c) => c.in_channels,
            Self::ResNet(c) => c.in_channels,
        }
    }

    /// Classes the model predicts.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::SlimCnn(c) => c.num_classes,
            Self::MobileNetV2(c) => c.num_classes,
            Self::ResNet(c) => c.num_classes,
        }
    }
}

/// How the images of an image folder are prepared (`[data] type = "ImageFolder"`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolderConfig {
    /// Side of the square images the model sees (default 224).
    pub image_size: usize,
    /// Smallest fraction of an image's area a random-resized crop covers (default 0.08,
    /// torchvision's; MMRazor's AutoSlim uses 0.25).
    pub min_crop_scale: f64,
    /// Per-channel mean of pixels in [0, 1] (default ImageNet's).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation (default ImageNet's).
    pub std: Vec<f32>,
}

/// Which dataset, where, and how it is batched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `FashionMNIST` or `MNIST` (set from `type`).
    #[serde(skip)]
    pub kind: String,
    /// The directory of the IDX files; Fashion-MNIST defaults to Debian's package, then the
    /// subset shipped in the repository.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// Images per training step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Data-loading threads.
    #[serde(default = "default_workers")]
    pub num_workers: usize,
    /// Use only the first N training images.
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// `ImageFolder` only: side of the square images (default 224).
    #[serde(default)]
    image_size: Option<usize>,
    /// `ImageFolder` only: smallest crop area fraction of the training crops (default 0.08).
    #[serde(default)]
    min_crop_scale: Option<f64>,
    /// `ImageFolder` only: per-channel mean (default ImageNet's).
    #[serde(default)]
    mean: Option<Vec<f32>>,
    /// `ImageFolder` only: per-channel standard deviation (default ImageNet's).
    #[serde(default)]
    std: Option<Vec<f32>>,
    /// The image folder's settings (set when `type = "ImageFolder"`).
    #[serde(skip)]
    pub folder: Option<ImageFolderConfig>,
}

fn default_batch() -> usize {
    128
}

fn default_workers() -> usize {
    2
}

/// SGD settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Initial learning rate, in (0, 1].
    pub lr: f64,
    /// Momentum.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// Nesterov momentum.
    #[serde(default = "yes")]
    pub nesterov: bool,
    /// L2 weight decay.
    #[serde(default = "default_decay")]
    pub weight_decay: f64,
}

fn default_momentum() -> f64 {
    0.9
}

fn yes() -> bool {
    true
}

fn default_decay() -> f64 {
    5e-4
}

/// The learning-rate schedule and its length.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `CosineAnnealing` or `Poly` (set from `type`).
    #[serde(skip)]
    pub kind: String,
    /// Total epochs.
    pub epochs: usize,
    /// Final learning rate.
    #[serde(default)]
    pub min_lr: f64,
    /// `Poly` only: the exponent of `(1 − t/T)` (default 1, a linear decay, as MMRazor's
    /// AutoSlim schedule).
    #[serde(default)]
    pub power: Option<f64>,
}

/// How accuracy per width is measured after training.
#[derive(Debug, Clone)]
pub struct EvaluationConfig {
    /// Uniform width ratios to report (default: the pruner's ratios).
    pub ratios: Vec<f64>,
    /// `recalibrate` (default) or `batch_stats`.
    pub bn: String,
    /// Training batches averaged to recalibrate BN statistics.
    pub calibration_batches: usize,
    /// Images per evaluation batch.
    pub batch_size: usize,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EvaluationFields {
    #[serde(default)]
    ratios: Option<Vec<Ratio>>,
    #[serde(default)]
    bn: Option<String>,
    #[serde(default)]
    calibration_batches: Option<usize>,
    #[serde(default)]
    batch_size: Option<usize>,
}

/// The greedy search's settings (`[search]`).
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// Width steps per channel group (default 12).
    pub bins: usize,
    /// FLOPs targets.
    pub targets: Vec<u64>,
    /// FLOPs convention of the targets: `paper` (default) or `mmcv`.
    pub convention: crate::cost::Convention,
    /// Held-out images each candidate is scored on (default 2000).
    pub score_images: usize,
    /// Where they come from: `train` (a seeded random subset of the training images, apart
    /// from the calibration batches; default) or `test`.
    pub score_source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFields {
    #[serde(default = "twelve")]
    bins: usize,
    targets: Vec<Count>,
    #[serde(default)]
    convention: Option<String>,
    #[serde(default = "two_thousand")]
    score_images: usize,
    #[serde(default = "train_source")]
    score_source: String,
}

fn twelve() -> usize {
    12
}

fn two_thousand() -> usize {
    2000
}

fn train_source() -> String {
    "train".into()
}

/// A count written as a number (`300000`) or with a suffix (`"300K"`, `"2.5M"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Count {
    Number(f64),
    Text(String),
}

/// A parsed and validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Checkpoints, logs and results.
    pub work_dir: PathBuf,
    /// Seed of everything random.
    pub seed: u64,
    /// Retrain a fixed subnet instead of training the supernet.
    pub retraining: bool,
    /// Subnets per sandwich step.
    pub num_sample_training: usize,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: Option<f32>,
    /// Channel files (MMRazor YAML) retrained when `retraining = true` and the command line
    /// names none (MMRazor's `channel_cfg`).
    pub channel_cfg: Vec<PathBuf>,
    /// The model.
    pub architecture: ArchitectureConfig,
    /// The widths.
    pub pruner: RatioPruner,
    /// The small widths' loss.
    pub distiller: SelfDistiller,
    /// The data.
    pub data: DataConfig,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The schedule.
    pub schedule: ScheduleConfig,
    /// Evaluation after training.
    pub evaluation: EvaluationConfig,
    /// The greedy search (`[search]`), if the config has one.
    pub search: Option<SearchConfig>,
}

/// Splits off `type`, checks it against the registry, and deserialises the rest as `T`.
fn component<T: DeserializeOwned>(mut table: toml::Table, path: &str) -> Result<(String, T), ConfigError> {
    let accepted = REGISTRY.iter().find(|(kind, _)| *kind == path).map(|(_, names)| *names).unwrap_or(&[]);
    let names = accepted.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let kind = match table.remove("type") {
        Some(toml::Value::String(kind)) => kind,
        Some(other) => return Err(err(format!("[{path}] type: expected a string, got `{other}`; accepted: {names}"))),
        None => return Err(err(format!("[{path}]: missing field `type`; accepted: {names}"))),
    };
    if !accepted.contains(&kind.as_str()) {
        return Err(err(format!("[{path}] type: unknown type \"{kind}\"; accepted: {names}")));
    }
    let fields = T::deserialize(toml::Value::Table(table))
        .map_err(|e| err(format!("[{path}] (type \"{kind}\"): {}", e.message())))?;
    Ok((kind, fields))
}

/// Builds `[algorithm.architecture]` by its `type`.
fn architecture(table: toml::Table) -> Result<ArchitectureConfig, ConfigError> {
    const PATH: &str = "algorithm.architecture";
    let kind = table.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string();
    let architecture = match kind.as_str() {
        "MobileNetV2" => {
            let (_, f): (_, MobileNetV2Fields) = component(table, PATH)?;
            if !(f.widen_factor > 0.0 && f.widen_factor <= 4.0) {
                return Err(err(format!("[{PATH}] widen_factor: must be in (0, 4], got {}", f.widen_factor)));
            }
            ArchitectureConfig::MobileNetV2(
                SlimMobileNetV2Config::new()
                    .with_widen_factor(f.widen_factor)
                    .with_in_channels(f.in_channels)
                    .with_num_classes(f.num_classes)
                    .with_small_input(f.small_input),
            )
        }
        "ResNet" => {
            let (_, f): (_, ResNetFields) = component(table, PATH)?;
            let imagenet = [18, 34, 50, 101, 152].contains(&f.depth);
            let cifar = f.depth >= 8 && (f.depth - 2) % 6 == 0;
            if !imagenet && !cifar {
                return Err(err(format!(
                    "[{PATH}] depth: {} is not a ResNet depth; accepted: 18, 34, 50, 101, 152 (ImageNet-style) \
                     or 6n+2 such as 20, 32, 44, 56, 110 (CIFAR-style)",
                    f.depth
                )));
            }
            ArchitectureConfig::ResNet(
                SlimResNetConfig::new(f.depth)
                    .with_in_channels(f.in_channels)
                    .with_num_classes(f.num_classes)
                    .with_small_input(f.small_input),
            )
        }
        _ => {
            let (_, f): (_, SlimCnnFields) = component(table, PATH)?;
            ArchitectureConfig::SlimCnn(
                SlimCnnConfig::new(f.channels, f.strides).with_in_channels(f.in_channels).with_num_classes(f.num_classes),
            )
        }
    };
    let (channels, classes) = (architecture.in_channels(), architecture.num_classes());
    if channels == 0 || classes < 2 {
        return Err(err(format!(
            "[{PATH}]: in_channels must be at least 1 and num_classes at least 2, got {channels} and {classes}"
        )));
    }
    Ok(architecture)
}

/// Builds `[data]` by its `type` and checks it against the model.
fn data(table: toml::Table, architecture: &ArchitectureConfig) -> Result<DataConfig, ConfigError> {
    let (kind, mut data): (_, DataConfig) = component(table, "data")?;
    data.kind = kind;
    if data.batch_size == 0 {
        return Err(err("[data] batch_size: must be at least 1"));
    }
    let (channels, classes) = (architecture.in_channels(), architecture.num_classes());
    if data.kind != "ImageFolder" {
        let folder_only = [
            ("image_size", data.image_size.is_some()),
            ("min_crop_scale", data.min_crop_scale.is_some()),
            ("mean", data.mean.is_some()),
            ("std", data.std.is_some()),
        ];
        if let Some((field, _)) = folder_only.iter().find(|(_, set)| *set) {
            return Err(err(format!("[data] {field}: only for type \"ImageFolder\"; {} images are 28×28", data.kind)));
        }
        if channels != 1 || classes != 10 {
            return Err(err(format!(
                "[data] type \"{}\": one-channel images of 10 classes, but [algorithm.architecture] has \
                 in_channels = {channels} and num_classes = {classes}",
                data.kind
            )));
        }
        return Ok(data);
    }
    if data.root.is_none() {
        return Err(err("[data] root: an ImageFolder needs the folder holding `train/` and `val/` (one sub-folder per class in each)"));
    }
    let image_size = data.image_size.unwrap_or(224);
    if image_size < 8 {
        return Err(err(format!("[data] image_size: must be at least 8, got {image_size}")));
    }
    let min_crop_scale = data.min_crop_scale.unwrap_or(0.08);
    if !(min_crop_scale > 0.0 && min_crop_scale <= 1.0) {
        return Err(err(format!("[data] min_crop_scale: must be in (0, 1], got {min_crop_scale}")));
    }
    let mean = data.mean.clone().unwrap_or_else(|| vec![0.485, 0.456, 0.406]);
    let std = data.std.clone().unwrap_or_else(|| vec![0.229, 0.224, 0.225]);
    if mean.len() != 3 || std.len() != 3 || std.iter().any(|s| s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)) {
        return Err(err(format!("[data] mean, std: three values each (RGB), std positive; got {mean:?} and {std:?}")));
    }
    if channels != 3 {
        return Err(err(format!(
            "[data] type \"ImageFolder\": images are decoded as RGB, but [algorithm.architecture] has in_channels = {channels}"
        )));
    }
    data.folder = Some(ImageFolderConfig { image_size, min_crop_scale, mean, std });
    Ok(data)
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read config {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| err(format!("config {}: {e}", path.display())))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let (_, algorithm): (_, AlgorithmFields) = component(raw.algorithm, "algorithm")?;
        if algorithm.num_sample_training < 2 {
            return Err(err(format!(
                "[algorithm] num_sample_training: must be at least 2 (max and min width), got {}",
                algorithm.num_sample_training
            )));
        }
        if let Some(s) = algorithm.label_smoothing
            && !(0.0..1.0).contains(&s)
        {
            return Err(err(format!("[algorithm] label_smoothing: must be in [0, 1), got {s}")));
        }

        let architecture = architecture(algorithm.architecture)?;
        if !algorithm.channel_cfg.is_empty() && !algorithm.retraining {
            return Err(err("[algorithm] channel_cfg: the subnets to retrain; needs `retraining = true`"));
        }

        let (_, pruner): (_, RatioPrunerFields) = component(algorithm.pruner, "algorithm.pruner")?;
        let pruner_ratios = ratios(&pruner.ratios, "[algorithm.pruner] ratios")?;
        let pruner = RatioPruner::new(pruner_ratios, pruner.divisor, pruner.sampling)
            .map_err(|e| err(format!("[algorithm.pruner] ratios: {e}")))?;

        let distiller = match algorithm.distiller {
            None => SelfDistiller::default(),
            Some(table) => {
                let (_, fields): (_, SelfDistillerFields) = component(table, "algorithm.distiller")?;
                if fields.losses.len() != 1 {
                    return Err(err(format!(
                        "[algorithm.distiller] losses: expected exactly one loss, got {}",
                        fields.losses.len()
                    )));
                }
                let (_, kl): (_, KlFields) = component(fields.losses[0].clone(), "algorithm.distiller.losses")?;
                let tau_ok = kl.tau.is_finite() && kl.tau > 0.0;
                if !tau_ok || kl.loss_weight < 0.0 || fields.ce_weight < 0.0 {
                    return Err(err(format!(
                        "[algorithm.distiller]: tau must be > 0 and the weights ≥ 0 (tau {}, loss_weight {}, ce_weight {})",
                        kl.tau, kl.loss_weight, fields.ce_weight
                    )));
                }
                SelfDistiller { tau: kl.tau, loss_weight: kl.loss_weight, ce_weight: fields.ce_weight }
            }
        };

        let data = data(raw.data, &architecture)?;
        let (_, optimizer): (_, OptimizerConfig) = component(raw.optimizer, "optimizer")?;
        if !(optimizer.lr > 0.0 && optimizer.lr <= 1.0) {
            return Err(err(format!("[optimizer] lr: must be in (0, 1], got {}", optimizer.lr)));
        }
        let (kind, mut schedule): (_, ScheduleConfig) = component(raw.schedule, "schedule")?;
        schedule.kind = kind;
        if schedule.epochs == 0 {
            return Err(err("[schedule] epochs: must be at least 1"));
        }
        if !(schedule.min_lr >= 0.0 && schedule.min_lr < optimizer.lr) {
            return Err(err(format!("[schedule] min_lr: must be in [0, lr = {}), got {}", optimizer.lr, schedule.min_lr)));
        }
        match (schedule.kind.as_str(), schedule.power) {
            ("Poly", None) => schedule.power = Some(1.0),
            ("Poly", Some(p)) if !(p > 0.0 && p.is_finite()) => {
                return Err(err(format!("[schedule] power: must be positive, got {p}")));
            }
            ("CosineAnnealing", Some(_)) => return Err(err("[schedule] power: only for type \"Poly\"")),
            _ => {}
        }

        let eval: EvaluationFields = match raw.evaluation {
            None => EvaluationFields::default(),
            Some(table) => EvaluationFields::deserialize(toml::Value::Table(table))
                .map_err(|e| err(format!("[evaluation]: {}", e.message())))?,
        };
        let eval_ratios = match &eval.ratios {
            Some(list) => ratios(list, "[evaluation] ratios")?,
            None => pruner.ratios().to_vec(),
        };
        if let Some(bad) = eval_ratios.iter().find(|r| !(**r > 0.0 && **r <= 1.0)) {
            return Err(err(format!("[evaluation] ratios: ratio {bad} is outside (0, 1]")));
        }
        let bn = eval.bn.unwrap_or_else(|| "recalibrate".into());
        if bn != "recalibrate" && bn != "batch_stats" {
            return Err(err(format!("[evaluation] bn: unknown value \"{bn}\"; accepted: \"recalibrate\", \"batch_stats\"")));
        }
        let evaluation = EvaluationConfig {
            ratios: eval_ratios,
            bn,
            calibration_batches: eval.calibration_batches.unwrap_or(20),
            batch_size: eval.batch_size.unwrap_or(500),
        };

        let search = match raw.search {
            None => None,
            Some(table) => {
                let fields = SearchFields::deserialize(toml::Value::Table(table))
                    .map_err(|e| err(format!("[search]: {}", e.message())))?;
                let targets = fields
                    .targets
                    .iter()
                    .map(|t| match t {
                        Count::Number(x) => crate::cost::parse_count(&x.to_string()),
                        Count::Text(text) => crate::cost::parse_count(text),
                    })
                    .collect::<Result<Vec<u64>, String>>()
                    .map_err(|e| err(format!("[search] targets: {e}")))?;
                if targets.is_empty() {
                    return Err(err("[search] targets: give at least one FLOPs target"));
                }
                if fields.bins < 2 {
                    return Err(err(format!("[search] bins: need at least 2, got {}", fields.bins)));
                }
                let convention = fields
                    .convention
                    .as_deref()
                    .unwrap_or("paper")
                    .parse()
                    .map_err(|e| err(format!("[search] convention: {e}")))?;
                if fields.score_source != "train" && fields.score_source != "test" {
                    return Err(err(format!(
                        "[search] score_source: unknown value \"{}\"; accepted: \"train\", \"test\"",
                        fields.score_source
                    )));
                }
                if fields.score_images == 0 {
                    return Err(err("[search] score_images: must be at least 1"));
                }
                Some(SearchConfig {
                    bins: fields.bins,
                    targets,
                    convention,
                    score_images: fields.score_images,
                    score_source: fields.score_source,
                })
            }
        };

        Ok(Config {
            work_dir: raw.work_dir,
            seed: raw.seed,
            retraining: algorithm.retraining,
            num_sample_training: algorithm.num_sample_training,
            label_smoothing: algorithm.label_smoothing.filter(|s| *s > 0.0),
            channel_cfg: algorithm.channel_cfg,
            architecture,
            pruner,
            distiller,
            data,
            optimizer,
            schedule,
            evaluation,
            search,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
work_dir = "runs/test"
[algorithm]
type = "AutoSlim"
num_sample_training = 4
[algorithm.architecture]
type = "SlimCnn"
channels = [16, 32]
strides = [1, 2]
[algorithm.pruner]
type = "RatioPruner"
ratios = ["2/12", 0.5, "12/12"]
[algorithm.distiller]
type = "SelfDistiller"
losses = [{ type = "KLDivergence", tau = 2.0, loss_weight = 1.0 }]
[data]
type = "FashionMNIST"
[optimizer]
type = "SGD"
lr = 0.1
[schedule]
type = "CosineAnnealing"
epochs = 2
"#;

    #[test]
    fn a_good_config_parses() {
        let config = Config::parse(GOOD).unwrap();
        assert_eq!(config.pruner.ratios(), &[2.0 / 12.0, 0.5, 1.0]);
        assert_eq!(config.distiller.tau, 2.0);
        assert_eq!(config.evaluation.ratios, config.pruner.ratios());
        assert_eq!(config.data.kind, "FashionMNIST");
    }

    fn error_of(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        Config::parse(&GOOD.replacen(from, to, 1)).unwrap_err().to_string()
    }

    #[test]
    fn bad_configs_name_the_field_and_the_accepted_values() {
        assert_eq!(
            error_of("type = \"RatioPruner\"", "type = \"RandomPruner\""),
            "[algorithm.pruner] type: unknown type \"RandomPruner\"; accepted: \"RatioPruner\""
        );
        assert!(error_of("ratios = [", "ratio = [").contains("[algorithm.pruner] (type \"RatioPruner\"): unknown field `ratio`"));
        assert_eq!(
            error_of("[\"2/12\", 0.5, \"12/12\"]", "[0.5, \"2/12\"]"),
            "[algorithm.pruner] ratios: ratios must be sorted ascending without repeats, got [0.5, 0.16666666666666666]"
        );
        assert_eq!(error_of("0.5, \"12/12\"", "1.5"), "[algorithm.pruner] ratios: ratio 1.5 is outside (0, 1]");
        assert!(error_of("\"2/12\"", "\"two/12\"").contains("`two/12` is not a ratio"));
        assert!(error_of("num_sample_training = 4", "num_sample_training = 1").contains("at least 2"));
        assert!(error_of("type = \"KLDivergence\"", "type = \"MSE\"").contains("accepted: \"KLDivergence\""));
        assert_eq!(
            error_of("type = \"SlimCnn\"\n", ""),
            "[algorithm.architecture]: missing field `type`; accepted: \"SlimCnn\", \"MobileNetV2\", \"ResNet\""
        );
        assert!(error_of("lr = 0.1", "lr = 3.0").contains("[optimizer] lr: must be in (0, 1]"));
        let with_search = |search: &str| Config::parse(&format!("{GOOD}\n[search]\n{search}\n")).map_err(|e| e.to_string());
        let search = with_search("targets = [\"300K\", 1e5]\nconvention = \"mmcv\"").unwrap().search.unwrap();
        assert_eq!(search.targets, vec![300_000, 100_000]);
        assert_eq!(search.convention, crate::cost::Convention::Mmcv);
        assert_eq!(search.bins, 12);
        assert!(with_search("targets = [\"many\"]").unwrap_err().starts_with("[search] targets: `many` is not a positive count"));
        assert!(with_search("targets = [1e5]\nconvention = \"torch\"").unwrap_err().contains("accepted: \"paper\", \"mmcv\""));
        assert!(with_search("targets = []").unwrap_err().contains("at least one FLOPs target"));
        assert!(error_of("work_dir", "workdir").contains("unknown field `workdir`"), "{}", error_of("work_dir", "workdir"));
    }

    #[test]
    fn every_shipped_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
                names.push(path.file_name().unwrap().to_string_lossy().to_string());
            }
        }
        assert!(names.len() >= 7, "{names:?}");
        let subnet = Config::load(&dir.join("autoslim_mbv2_1.5x_subnet_imagenet.toml")).unwrap();
        assert_eq!(subnet.channel_cfg.len(), 3);
        for file in &subnet.channel_cfg {
            assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(file).is_file(), "{}", file.display());
        }
        let supernet = Config::load(&dir.join("autoslim_mbv2_1.5x_supernet_imagenet.toml")).unwrap();
        assert_eq!(supernet.schedule.power, Some(1.0));
        assert_eq!(supernet.data.folder.as_ref().unwrap().min_crop_scale, 0.25);
        assert!(matches!(supernet.architecture, ArchitectureConfig::MobileNetV2(ref c) if c.widen_factor == 1.5));
    }

    #[test]
    fn models_data_and_schedules_are_checked_against_each_other() {
        let arch = |table: &str| GOOD.replace("type = \"SlimCnn\"\nchannels = [16, 32]\nstrides = [1, 2]", table);
        let parse = |text: String| Config::parse(&text).map_err(|e| e.to_string());
        let resnet = parse(arch("type = \"ResNet\"\ndepth = 20\nin_channels = 1\nnum_classes = 10")).unwrap();
        assert!(matches!(resnet.architecture, ArchitectureConfig::ResNet(ref c) if c.depth == 20));
        let err = parse(arch("type = \"ResNet\"\ndepth = 21\nin_channels = 1\nnum_classes = 10")).unwrap_err();
        assert!(err.contains("[algorithm.architecture] depth: 21 is not a ResNet depth"), "{err}");
        let err = parse(arch("type = \"MobileNetV2\"\nsmall_input = true")).unwrap_err();
        assert!(err.contains("[data] type \"FashionMNIST\": one-channel images of 10 classes"), "{err}");
        let err = parse(arch("type = \"MobileNetV2\"\nwiden_factor = 0\nin_channels = 1\nnum_classes = 10")).unwrap_err();
        assert!(err.contains("widen_factor: must be in (0, 4]"), "{err}");
        let err = parse(arch("type = \"MobileNetV2\"\nwidth = 2")).unwrap_err();
        assert!(err.contains("(type \"MobileNetV2\"): unknown field `width`"), "{err}");

        let folder = |data: &str| {
            arch("type = \"MobileNetV2\"\nnum_classes = 5").replace("[data]\ntype = \"FashionMNIST\"", data)
        };
        let config = parse(folder("[data]\ntype = \"ImageFolder\"\nroot = \"x\"\nimage_size = 32")).unwrap();
        let f = config.data.folder.unwrap();
        assert_eq!((f.image_size, f.min_crop_scale, f.mean.len()), (32, 0.08, 3));
        let err = parse(folder("[data]\ntype = \"ImageFolder\"")).unwrap_err();
        assert!(err.starts_with("[data] root: an ImageFolder needs"), "{err}");
        let err = parse(folder("[data]\ntype = \"ImageFolder\"\nroot = \"x\"\nmin_crop_scale = 1.5")).unwrap_err();
        assert!(err.contains("min_crop_scale: must be in (0, 1]"), "{err}");
        let err = parse(folder("[data]\ntype = \"ImageFolder\"\nroot = \"x\"\nmean = [0.5]")).unwrap_err();
        assert!(err.contains("[data] mean, std: three values each"), "{err}");
        let err = parse(GOOD.replace("type = \"FashionMNIST\"", "type = \"FashionMNIST\"\nimage_size = 32")).unwrap_err();
        assert!(err.contains("[data] image_size: only for type \"ImageFolder\""), "{err}");

        let poly = parse(GOOD.replace("type = \"CosineAnnealing\"", "type = \"Poly\"")).unwrap();
        assert_eq!((poly.schedule.kind.as_str(), poly.schedule.power), ("Poly", Some(1.0)));
        let err = parse(GOOD.replace("type = \"CosineAnnealing\"", "type = \"CosineAnnealing\"\npower = 2.0")).unwrap_err();
        assert!(err.contains("[schedule] power: only for type \"Poly\""), "{err}");
        let err = parse(GOOD.replace("epochs = 2", "epochs = 2\nmin_lr = 0.5")).unwrap_err();
        assert!(err.contains("[schedule] min_lr: must be in [0, lr = 0.1)"), "{err}");
        let err = parse(GOOD.replace("num_sample_training = 4", "num_sample_training = 4\nchannel_cfg = [\"a.yaml\"]")).unwrap_err();
        assert!(err.contains("channel_cfg: the subnets to retrain; needs `retraining = true`"), "{err}");
    }
}
