//! `autoslim bench`: training-step throughput of a slimmable network on the compiled backend —
//! the plain max-width step, the sandwich step, and each uniform width's forward+backward pass —
//! with the time to the first step (compilation and autotuning included).
//!
//! Every figure is printed as a line `RESULT {json}`, which `scripts/bench_gpu.sh` joins with
//! the PyTorch peer's (`scripts/peer/bench_peer.py`, same networks and semantics).

use std::time::Instant;

use anyhow::{Result, bail};
use autoslim::channels::Subnet;
use autoslim::config::DEFAULT_NUM_SAMPLES;
use autoslim::cost::{Convention, Short, count, sandwich_ideal};
use autoslim::data::ImageBatch;
use autoslim::distiller::SelfDistiller;
use autoslim::learner::{AutoSlim, CompilePass, StepPlan, TrainingMode};
use autoslim::model::SlimmableModel;
use autoslim::models::{SlimCnnConfig, SlimMobileNetV2Config};
use autoslim::pruner::{RatioPruner, Sampling};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use burn::train::TrainStep;
use slimmable::NormMode;

use super::common::ratio_arg;
use crate::{backend, warm_up};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// `conv8` (the 8-layer 32×32 net of DESIGN.md), `mobilenet_v2` (×1.0, 224×224, 1000
    /// classes) or `mobilenet_v2_small` (×1.0 with the stride-1 stem, 28×28×1, 10 classes: the
    /// model of `configs/autoslim_mbv2_fashion_mnist.toml`).
    pub model: String,
    /// Images per step.
    pub batch: usize,
    /// Timed steps per measurement (after `warmup` untimed ones).
    pub iters: usize,
    /// Untimed steps before each measurement.
    pub warmup: usize,
    /// `plain`, `sandwich`, `widths`, `host` (any of them; `host`, the host's cost of one tensor
    /// op, first: `host_costs.rs`).
    pub modes: Vec<String>,
    /// Channel divisor of the widths (`None`: exact `round(C·r)`; 8: multiples of 8).
    pub divisor: Option<usize>,
    /// Seed of the sandwich step's random widths.
    pub seed: u64,
    /// The widths mode's width ratios (numbers or fractions such as `2/12`); empty: 2/12,
    /// 3/12 … 12/12, the sandwich step's choices.
    pub width_ratios: Vec<String>,
}

/// Ops per case of the `host` mode (`host_costs.rs`).
const HOST_COST_OPS: usize = 20_000;

/// Runs the benchmark of `settings`, printing one `RESULT` line per figure.
pub fn bench<T: AutodiffBackend>(settings: &BenchSettings) -> Result<()> {
    let started = Instant::now();
    let device: <T as burn::tensor::backend::BackendTypes>::Device = Default::default();
    if settings.modes.iter().any(|mode| mode == "host") {
        let report = |fields: String| println!(r#"RESULT {{"backend":"{}",{fields}}}"#, backend::summary());
        super::host_costs::host_costs::<T>(&device, HOST_COST_OPS, &report)?;
        if settings.modes.iter().all(|mode| mode == "host") {
            return Ok(());
        }
        let modes = settings.modes.iter().filter(|mode| *mode != "host").cloned().collect();
        return bench::<T>(&BenchSettings { modes, ..settings.clone() });
    }
    match settings.model.as_str() {
        "conv8" => {
            let model = SlimCnnConfig::new(vec![64, 64, 128, 128, 256, 256, 512, 512], vec![1, 1, 2, 1, 2, 1, 2, 1])
                .with_in_channels(3)
                .with_num_classes(10)
                .try_init::<T>(&device)
                .map_err(anyhow::Error::msg)?;
            run::<T, _>(model, settings, [3, 32, 32], 10, started)
        }
        "mobilenet_v2" => {
            let model = SlimMobileNetV2Config::new().try_init::<T>(&device).map_err(anyhow::Error::msg)?;
            run::<T, _>(model, settings, [3, 224, 224], 1000, started)
        }
        "mobilenet_v2_small" => {
            let model = SlimMobileNetV2Config::new()
                .with_small_input(true)
                .with_in_channels(1)
                .with_num_classes(10)
                .try_init::<T>(&device)
                .map_err(anyhow::Error::msg)?;
            run::<T, _>(model, settings, [1, 28, 28], 10, started)
        }
        other => bail!("--model: unknown model \"{other}\"; accepted: \"conv8\", \"mobilenet_v2\", \"mobilenet_v2_small\""),
    }
}

fn run<T, M>(model: M, settings: &BenchSettings, image: [usize; 3], classes: usize, started: Instant) -> Result<()>
where
    T: AutodiffBackend,
    M: SlimmableModel<T> + AutodiffModule<T>,
    M::InnerModule: SlimmableModel<T::InnerBackend>,
{
    let device: <T as burn::tensor::backend::BackendTypes>::Device = Default::default();
    let [c, h, w] = image;
    let images = Tensor::<T, 4>::random([settings.batch, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let targets = Tensor::<T, 1, Int>::random([settings.batch], Distribution::Uniform(0.0, classes as f64), &device);
    let batch = ImageBatch { images, targets };
    let ratios: Vec<f64> = (2..=12).map(|i| i as f64 / 12.0).collect();
    let pruner = RatioPruner::new(ratios.clone(), settings.divisor, Sampling::PerGroup).map_err(anyhow::Error::msg)?;
    let width_ratios: Vec<f64> = match settings.width_ratios.is_empty() {
        true => ratios.clone(),
        false => settings.width_ratios.iter().map(|text| ratio_arg(text)).collect::<Result<_>>()?,
    };
    let space = model.space().clone();
    let sync = || T::sync(&device).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    let common = format!(
        r#""backend":"{}","model":"{}","batch":{},"divisor":{}"#,
        backend::summary(),
        settings.model,
        settings.batch,
        settings.divisor.unwrap_or(1)
    );
    let report = |fields: String| println!("RESULT {{{common},{fields}}}");
    println!("{}: {} channel groups, batch {}, {} timed steps after {} warm-up", settings.model, space.groups().len(), settings.batch, settings.iters, settings.warmup);
    // Multiply-accumulates of one image at full width (conv and linear layers), for the
    // arithmetic rate of the plain step: 2 FLOPs each, forward and two backward products.
    let macs = count(&space, &Subnet::max(&space), [h, w], Convention::Paper).flops;
    println!("  full width: {} multiply-accumulates per image (forward)", Short(macs));
    report(format!(r#""mode":"macs","macs_per_image":{macs}"#));
    if settings.modes.iter().any(|mode| mode == "sandwich") {
        // What the sandwich/plain ratio would be if a pass's time scaled with its arithmetic,
        // or with the values it writes (what bounds the copies, normalisation, activations).
        let ideal = sandwich_ideal(&space, &pruner, DEFAULT_NUM_SAMPLES, [h, w], 2000, settings.seed);
        println!(
            "  a sandwich step over a plain one, if time followed the arithmetic: {:.2}×; the values written: {:.2}× (expected over 2000 draws)",
            ideal.arithmetic, ideal.values
        );
        report(format!(r#""mode":"sandwich_ideal","arithmetic":{:.4},"values":{:.4}"#, ideal.arithmetic, ideal.values));
    }

    let mut optimizer = slimmable::FusedSgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(true)))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
        .init::<T, AutoSlim<T, M>>();
    let memory_release = crate::backend::memory_release().map_err(anyhow::Error::msg)?;
    let plan = |training: TrainingMode| StepPlan { mode: training, label_smoothing: None, valid_subnets: Vec::new(), valid_norm: NormMode::Auto, memory_release };
    let sandwich = || TrainingMode::Supernet { pruner: pruner.clone(), distiller: SelfDistiller::default(), num_samples: DEFAULT_NUM_SAMPLES };

    // The widths the modes meet first, for the warm-up processes (crate::warm_up).
    let steps = warm_up::current_steps().map_err(anyhow::Error::msg)?;
    let mut upcoming: Vec<Subnet> = Vec::new();
    for mode in &settings.modes {
        let subnets = match mode.as_str() {
            "plain" => vec![Subnet::max(&space)],
            "sandwich" => AutoSlim::<T, M>::new(model.clone(), plan(sandwich()), settings.seed).upcoming_subnets(steps),
            "widths" => width_ratios.iter().rev().map(|&r| Subnet::uniform(&space, r, settings.divisor)).collect::<Result<_, _>>().map_err(anyhow::Error::msg)?,
            other => bail!("--mode: unknown mode \"{other}\"; accepted: \"plain\", \"sandwich\", \"widths\", \"host\""),
        };
        subnets.into_iter().for_each(|s| if !upcoming.contains(&s) { upcoming.push(s) });
    }
    if let Some(shard) = warm_up::Shard::current().map_err(anyhow::Error::msg)? {
        return warm_up::compile_share(shard, &model, &CompilePass::training(&upcoming, settings.batch), image, classes);
    }
    if let Some(warm) = warm_up::start(upcoming.len(), None, crate::kernel_cache::dir().as_deref()).map_err(anyhow::Error::msg)? {
        warm.finish();
    }

    let mut first_step = true;
    let mut current = Some(model);
    for mode in &settings.modes {
        let training = match mode.as_str() {
            "plain" => TrainingMode::Retrain { subnets: vec![("max".into(), Subnet::max(&space))] },
            "sandwich" => sandwich(),
            "widths" => {
                let model = current.take().expect("the model is put back after each mode");
                let ce = CrossEntropyLossConfig::new().init(&device);
                for &ratio in &width_ratios {
                    let subnet = Subnet::uniform(&space, ratio, settings.divisor).map_err(anyhow::Error::msg)?;
                    let pass = || {
                        let logits = model.forward_subnet(batch.images.clone(), &subnet, NormMode::Auto);
                        let _ = ce.forward(logits, batch.targets.clone()).backward();
                    };
                    for _ in 0..settings.warmup {
                        pass();
                    }
                    sync()?;
                    #[cfg(feature = "host-profile")]
                    let profile = crate::host_profile::HostProfile::start(&format!("width{ratio:.3}"))?;
                    let t = Instant::now();
                    let mut queued = std::time::Duration::ZERO;
                    for _ in 0..settings.iters {
                        let q = Instant::now();
                        pass();
                        queued += q.elapsed();
                    }
                    sync()?;
                    let ms = t.elapsed().as_secs_f64() * 1e3 / settings.iters as f64;
                    #[cfg(feature = "host-profile")]
                    if let Some(profile) = profile {
                        profile.finish()?;
                    }
                    // The calling thread's time to queue a pass (autodiff graph, burn's ops and
                    // the launch requests); the GPU and cubecl's server thread work behind it.
                    let queued_ms = queued.as_secs_f64() * 1e3 / settings.iters as f64;
                    println!("  width {ratio:.3}: forward+backward {ms:.2} ms (queued in {queued_ms:.2} ms)");
                    report(format!(r#""mode":"width","ratio":{ratio:.4},"ms":{ms:.3},"queued_ms":{queued_ms:.3}"#));
                }
                current = Some(model);
                continue;
            }
            other => unreachable!("mode \"{other}\" was checked above"),
        };
        let mut learner = AutoSlim::new(current.take().expect("the model is put back after each mode"), plan(training), settings.seed);
        let mut step = |learner: AutoSlim<T, M>| {
            let output = TrainStep::step(&learner, batch.clone());
            let grads: GradientsParams = output.grads;
            optimizer.step(0.01, learner, grads)
        };
        let t = Instant::now();
        learner = step(learner);
        sync()?;
        let first_ms = t.elapsed().as_secs_f64() * 1e3;
        if first_step {
            let since_start = started.elapsed().as_secs_f64();
            println!("  time to the first step (process start to the end of a {mode} step): {since_start:.1} s");
            report(format!(r#""mode":"first_step","s":{since_start:.3}"#));
            first_step = false;
        }
        for _ in 1..settings.warmup {
            learner = step(learner);
        }
        sync()?;
        // Each timed step ends with a sync, as a training step ends reading its loss; a step
        // that compiles kernels for new shapes shows as an outlier, which the median leaves out.
        let mut steps_ms = Vec::with_capacity(settings.iters);
        #[cfg(feature = "host-profile")]
        let profile = crate::host_profile::HostProfile::start(mode)?;
        let t = Instant::now();
        let mut queued = std::time::Duration::ZERO;
        // The most memory cubecl's pool held at the end of a timed step (CUDA): a step's
        // releases come before its passes, so what a step took is still held when it ends.
        let mut reserved = None;
        // The high-water mark of CUDA's memory pool, from here over the timed steps (what it
        // was before: the warm-up steps and the first one).
        let before_timed = backend::cuda_pool_peak(true);
        for _ in 0..settings.iters {
            let s = Instant::now();
            learner = step(learner);
            queued += s.elapsed();
            sync()?;
            let step_ms = s.elapsed().as_secs_f64() * 1e3;
            reserved = reserved.max(backend::reserved_memory());
            // One line per step, so that cubecl's logs (compilation, memory pages), when
            // turned on, show which step met what.
            println!("  {mode} step {}: {step_ms:.1} ms", steps_ms.len() + 1);
            steps_ms.push(step_ms);
        }
        let queued_ms = queued.as_secs_f64() * 1e3 / settings.iters as f64;
        let ms = t.elapsed().as_secs_f64() * 1e3 / settings.iters as f64;
        #[cfg(feature = "host-profile")]
        if let Some(profile) = profile {
            profile.finish()?;
        }
        let median_ms = median(&steps_ms);
        let images_per_s = settings.batch as f64 / (ms / 1e3);
        println!(
            "  {mode} step: {ms:.1} ms, {images_per_s:.1} img/s; median {median_ms:.1} ms, {:.1} img/s (first step {first_ms:.0} ms); queued in {queued_ms:.1} ms",
            settings.batch as f64 / (median_ms / 1e3)
        );
        if mode == "plain" {
            let tflops = 6.0 * macs as f64 * settings.batch as f64 / (median_ms / 1e3) / 1e12;
            println!("  plain step arithmetic: {tflops:.2} TFLOP/s (6 FLOPs per multiply-accumulate and image, median step)");
            report(format!(r#""mode":"plain_tflops","tflops":{tflops:.3}"#));
        }
        if let Some(bytes) = reserved {
            let mib = bytes as f64 / (1u64 << 20) as f64;
            println!("  {mode} step: cubecl's memory pool held at most {mib:.0} MiB at a step's end");
            report(format!(r#""mode":"reserved_{mode}","mib":{mib:.1}"#));
        }
        if let (Some(before), Some(timed)) = (before_timed, backend::cuda_pool_peak(false)) {
            let [before, timed] = [before, timed].map(|bytes| bytes as f64 / (1u64 << 20) as f64);
            println!("  {mode} step: CUDA's memory pool peaked at {timed:.0} MiB over the timed steps ({before:.0} MiB before them)");
            report(format!(r#""mode":"cuda_pool_{mode}","mib":{timed:.1},"before_mib":{before:.1}"#));
        }
        let steps: Vec<String> = steps_ms.iter().map(|ms| format!("{ms:.1}")).collect();
        report(format!(
            r#""mode":"{mode}","ms":{ms:.3},"img_per_s":{images_per_s:.1},"median_ms":{median_ms:.3},"first_ms":{first_ms:.1},"queued_ms":{queued_ms:.3},"steps_ms":[{}]"#,
            steps.join(",")
        ));
        current = Some(learner.model);
    }
    let fallbacks = slimmable::implicit_gemm_fallbacks();
    if fallbacks > 0 {
        println!("  {fallbacks} conv passes fell back from implicit GEMM to burn's direct kernel");
    }
    report(format!(r#""mode":"gemm_fallbacks","count":{fallbacks}"#));
    let (misses, why) = slimmable::gemm_tiling_misses();
    if let Some(why) = why {
        println!("  {misses} kernel launches ran cubek's inferred stage instead of the one AUTOSLIM_GEMM_STAGES names or AUTOSLIM_WGRAD_STAGES fits; the first because {why}");
    }
    Ok(())
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_takes_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[8470.9, 541.0, 600.0]), 600.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
