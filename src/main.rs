//! `autoslim`: train slimmable networks with AutoSlim from a TOML config.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use autoslim::config::Config;
use autoslim_cli::{commands, with_backend};

/// mimalloc instead of glibc's allocator: each op of a training step allocates and frees
/// small objects on two threads (burn's autodiff graph, cubecl's launch requests and their
/// server), and the host's time per op is what bounds a narrow pass (docs/BENCHMARKS.md,
/// session 28).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "autoslim", version, about = "Slimmable networks and AutoSlim on burn")]
struct Cli {
    /// The backend to run on, among those this binary was built with (cargo features
    /// `ndarray`, `wgpu`, `cuda`); default: the first of cuda, wgpu, ndarray built in.
    #[arg(long, global = true, env = "AUTOSLIM_BACKEND")]
    backend: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// The arguments `train` and `retrain` share.
#[derive(Args)]
struct TrainingArgs {
    /// The TOML config.
    #[arg(long)]
    config: PathBuf,
    /// Continue from the last checkpoint in the work directory.
    #[arg(long)]
    resume: bool,
    /// Override the config's work directory.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Override the data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Override the number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a slimmable network (or retrain a subnet) from a config, then report accuracy at
    /// every width ratio as a table and a plot.
    Train {
        #[command(flatten)]
        run: TrainingArgs,
        /// The subnet to retrain (MMRazor channel YAML); needs `retraining = true`.
        #[arg(long)]
        subnet: Option<PathBuf>,
    },
    /// Retrain subnets from scratch with plain cross-entropy (the config's `retraining` is
    /// forced on), then deploy each as a plain model in `{work_dir}/deployed`. Several subnets
    /// are retrained jointly in one network with one BatchNorm set per subnet (switchable BN,
    /// as MMRazor's subnet config), or with `--separately` one after another, each in
    /// `{work_dir}/{file stem}`.
    Retrain {
        #[command(flatten)]
        run: TrainingArgs,
        /// The subnets (MMRazor channel YAML), as `search` writes them (default: the config's
        /// `[algorithm] channel_cfg`).
        #[arg(long, num_args = 1..)]
        subnet: Vec<PathBuf>,
        /// Retrain several subnets one after another instead of jointly.
        #[arg(long)]
        separately: bool,
    },
    /// Greedy channel search on a trained supernet: one channel file per FLOPs target of the
    /// config's `[search]`, in `{work_dir}/search`; rerunning continues an interrupted search.
    Search {
        /// The TOML config (with a `[search]` table).
        #[arg(long)]
        config: PathBuf,
        /// The supernet checkpoint (`model.mpk` of `train`).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Start afresh instead of continuing a saved search state.
        #[arg(long)]
        restart: bool,
        /// Override the config's work directory.
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Deploy a subnet of a checkpoint as a plain burn model: `{out}.mpk` (burn record),
    /// `{out}.safetensors` (PyTorch names) and `{out}.json` (its config).
    Export {
        /// The TOML config naming the model.
        #[arg(long)]
        config: PathBuf,
        /// The checkpoint (`model.mpk`).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The subnet (MMRazor channel YAML).
        #[arg(long)]
        subnet: PathBuf,
        /// Output path without extension.
        #[arg(long)]
        out: PathBuf,
        /// Recompute the subnet's BatchNorm statistics first (for a supernet checkpoint).
        #[arg(long)]
        recalibrate: bool,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Accuracy, FLOPs and parameters of a checkpoint at subnets or uniform width ratios
    /// (default: the config's `[evaluation] ratios`).
    Eval {
        /// The TOML config naming the model.
        #[arg(long)]
        config: PathBuf,
        /// The checkpoint (`model.mpk`).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Subnets (MMRazor channel YAML).
        #[arg(long, num_args = 1..)]
        subnet: Vec<PathBuf>,
        /// Uniform width ratios (numbers or fractions such as 6/12).
        #[arg(long, num_args = 1..)]
        ratio: Vec<String>,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Training-step throughput on the compiled backend: the plain max-width step, the
    /// sandwich step and each uniform width's pass, with the time to the first step; one
    /// `RESULT {json}` line per figure (scripts/bench_gpu.sh runs it beside a PyTorch peer).
    Bench {
        /// `conv8` (8 conv layers, 32×32), `mobilenet_v2` (×1.0, 224×224) or `mobilenet_v2_small`
        /// (×1.0, stride-1 stem, 28×28×1: the Fashion-MNIST config's model).
        #[arg(long, default_value = "conv8")]
        model: String,
        /// Images per step.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Timed steps per measurement.
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Untimed steps before each measurement.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// What to measure, in order: plain, sandwich, widths; and host (the host's cost of one
        /// tensor op: an allocation, a launch, an autodiff op), first.
        #[arg(long, num_args = 1.., default_values_t = ["plain".to_string(), "sandwich".to_string(), "widths".to_string()])]
        mode: Vec<String>,
        /// Round every width to a multiple of this (8 aligns widths for GPUs).
        #[arg(long)]
        divisor: Option<usize>,
        /// Seed of the sandwich step's random widths (the same seed meets the same widths).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The widths mode's uniform width ratios (numbers or fractions such as 2/12); default
        /// 2/12, 3/12 … 12/12.
        #[arg(long, num_args = 1..)]
        ratio: Vec<String>,
    },
    /// Write the channel configuration (MMRazor YAML) of a uniform-width subnet of the
    /// config's model: every channel group at `--ratio`.
    Subnet {
        /// The TOML config naming the model.
        #[arg(long)]
        config: PathBuf,
        /// Width ratio in (0, 1], a number or a fraction such as 6/12.
        #[arg(long)]
        ratio: String,
        /// Where to write the YAML.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Loads a config and applies the command line's overrides.
fn load_config(path: &Path, work_dir: Option<PathBuf>, data_dir: Option<PathBuf>, epochs: Option<usize>) -> Result<Config> {
    let mut config = Config::load(path)?;
    if let Some(dir) = work_dir {
        config.work_dir = dir;
    }
    if let Some(dir) = data_dir {
        config.data.root = Some(dir);
    }
    if let Some(epochs) = epochs {
        anyhow::ensure!(epochs > 0, "--epochs: must be at least 1");
        config.schedule.epochs = epochs;
    }
    Ok(config)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let kind = autoslim_cli::backend::configure(cli.backend.as_deref()).map_err(anyhow::Error::msg)?;
    #[cfg(feature = "cuda")]
    if kind == autoslim_cli::backend::BackendKind::Cuda {
        eprintln!("{}", autoslim_cli::kernel_cache::configure());
    }
    autoslim_cli::backend::apply_cuda_pool_setting().map_err(anyhow::Error::msg)?;
    with_backend!(kind, |T, _B| run::<T>(cli.command))
}

/// Runs one subcommand on training backend `T` (inference on its inner backend).
fn run<T: burn::tensor::backend::AutodiffBackend>(command: Command) -> Result<()> {
    match command {
        Command::Train { run, subnet } => {
            let config = load_config(&run.config, run.work_dir, run.data_dir, run.epochs)?;
            let subnets: Vec<PathBuf> = match subnet {
                Some(file) => vec![file],
                None => config.channel_cfg.clone(),
            };
            commands::train::<T>(&config, run.resume, &subnets).context("train")
        }
        Command::Retrain { run, subnet, separately } => {
            let resume = run.resume;
            let mut config = load_config(&run.config, run.work_dir, run.data_dir, run.epochs)?;
            config.retraining = true;
            let subnet = if subnet.is_empty() { config.channel_cfg.clone() } else { subnet };
            anyhow::ensure!(
                !subnet.is_empty(),
                "retrain: name the subnets to retrain with --subnet FILE..., or list them in the config's [algorithm] channel_cfg"
            );
            if !separately || subnet.len() == 1 {
                return commands::train::<T>(&config, resume, &subnet).context("retrain");
            }
            let root = config.work_dir.clone();
            for file in &subnet {
                let stem = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                config.work_dir = root.join(stem);
                println!("== retraining {} in {}", file.display(), config.work_dir.display());
                commands::train::<T>(&config, resume, std::slice::from_ref(file)).with_context(|| format!("retrain {}", file.display()))?;
            }
            Ok(())
        }
        Command::Search { config, checkpoint, restart, work_dir, data_dir } => {
            let config = load_config(&config, work_dir, data_dir, None)?;
            commands::search::<T::InnerBackend>(&config, &checkpoint, restart).context("search")
        }
        Command::Export { config, checkpoint, subnet, out, recalibrate, data_dir } => {
            let config = load_config(&config, None, data_dir, None)?;
            commands::export::<T::InnerBackend>(&config, &checkpoint, &subnet, &out, recalibrate).context("export")
        }
        Command::Eval { config, checkpoint, subnet, ratio, data_dir } => {
            let config = load_config(&config, None, data_dir, None)?;
            commands::eval::<T::InnerBackend>(&config, &checkpoint, &subnet, &ratio).context("eval")
        }
        Command::Bench { model, batch, iters, warmup, mode, divisor, seed, ratio } => {
            anyhow::ensure!(batch > 0 && iters > 0, "--batch and --iters must be at least 1");
            commands::bench::<T>(&commands::BenchSettings { model, batch, iters, warmup, modes: mode, divisor, seed, width_ratios: ratio }).context("bench")
        }
        Command::Subnet { config, ratio, out } => {
            let config = Config::load(&config)?;
            commands::write_uniform_subnet::<T::InnerBackend>(&config, &ratio, &out).context("subnet")
        }
    }
}
