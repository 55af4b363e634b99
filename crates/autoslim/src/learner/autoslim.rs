//! [`AutoSlim`]: a slimmable model wrapped with what one training step needs.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use rand::SeedableRng;
use rand::rngs::StdRng;
use slimmable::NormMode;

use super::output::{WidthEntry, WidthOutputs};
use crate::channels::Subnet;
use crate::data::ImageBatch;
use crate::distiller::SelfDistiller;
use crate::model::SlimmableModel;
use crate::pruner::RatioPruner;

/// What a training step trains.
#[derive(Debug, Clone)]
pub enum TrainingMode {
    /// Slimmable (supernet) training with the sandwich rule: max width with cross-entropy,
    /// min width and `num_samples − 2` random widths distilled from the max width's logits;
    /// gradients summed, one optimizer step.
    Supernet {
        /// Picks the widths.
        pruner: RatioPruner,
        /// The small widths' loss.
        distiller: SelfDistiller,
        /// Subnets per step, `n ≥ 2`.
        num_samples: usize,
    },
    /// Retraining fixed subnets from scratch with plain cross-entropy: one subnet, or several
    /// jointly (their losses summed, one optimizer step), each normalised by its own set of
    /// switchable BatchNorms (its [`Subnet::norm_set`]).
    Retrain {
        /// Labelled subnets; the first is the main one of the progress output.
        subnets: Vec<(String, Subnet)>,
    },
}

/// The step's settings: the mode, label smoothing, and the widths validation reports.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// What the step trains.
    pub mode: TrainingMode,
    /// Label smoothing of the max width's cross-entropy (`None`: none).
    pub label_smoothing: Option<f32>,
    /// Labelled subnets validation reports, the first being the main one (accuracy and loss
    /// of the `Accuracy`/`Loss` metrics).
    pub valid_subnets: Vec<(String, Subnet)>,
    /// BatchNorm statistics for validation: batch statistics evaluate every width without
    /// recalibration (the shared running statistics mix widths during supernet training).
    pub valid_norm: NormMode,
    /// When the device's memory pool hands its free pages back during a step with several
    /// passes ([`MemoryRelease`]).
    pub memory_release: MemoryRelease,
}

/// When a step with several widths' passes asks the device's memory pool to hand its free
/// pages back (burn's `Backend::memory_cleanup`; nothing on the CPU backends).
///
/// cubecl merges a page's free slices only then, and its pools sort tensors by size into pages
/// of a few fixed sizes: a narrower pass's tensors fall into smaller classes than the widest
/// pass's, whose pages stay held but empty unless handed back. On an H100 (docs/BENCHMARKS.md,
/// session 34) the 8-layer bench net's sandwich step peaked at 1.418× its plain step's memory
/// (CUDA's pool high-water mark) with `EachStep` and 1.235× with `EachPass`, at the same speed
/// (what is left: the random-width passes' backward fragments the pages, and a release between
/// forward and backward did not help); MobileNetV2-224's at 1.037× and 1.017×, as fast. A
/// release before every pass costs little only where CUDA's pool keeps the pages handed back
/// (the command line's `AUTOSLIM_CUDA_POOL=keep`, its default): where they go back to the
/// driver, MobileNetV2's step was 24 % slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryRelease {
    /// Never: the pool keeps every page it took.
    Never,
    /// Once per step, before its first (widest) pass.
    EachStep,
    /// Before the step's first (widest) pass and again after it, before the narrower passes:
    /// they take pages of their own sizes instead of adding them to the widest pass's.
    AroundWidest,
    /// Before every pass: the least memory; the default.
    #[default]
    EachPass,
}

impl MemoryRelease {
    /// Whether the pages go back before a step's pass number `pass` (0 the first, the widest).
    pub fn before_pass(self, pass: usize) -> bool {
        match self {
            Self::Never => false,
            Self::EachStep => pass == 0,
            Self::AroundWidest => pass <= 1,
            Self::EachPass => true,
        }
    }

    /// `never`, `step`, `widest` or `pass`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim() {
            "never" => Ok(Self::Never),
            "step" => Ok(Self::EachStep),
            "widest" => Ok(Self::AroundWidest),
            "pass" => Ok(Self::EachPass),
            other => Err(format!("memory release \"{other}\": expected \"never\", \"step\", \"widest\" or \"pass\"")),
        }
    }
}

/// A [`SlimmableModel`] with its step plan and random state: what burn-train's learner trains.
#[derive(Module, Debug)]
pub struct AutoSlim<B: Backend, M: Module<B>> {
    /// The slimmable model.
    pub model: M,
    plan: StepPlan,
    rng: Arc<Mutex<StdRng>>,
    /// Training steps taken (shared by clones, as the sampler), for error messages.
    steps: Arc<AtomicUsize>,
    backend: PhantomData<B>,
}

impl<B: Backend, M: SlimmableModel<B>> AutoSlim<B, M> {
    /// Wraps `model`; `seed` drives the random widths.
    pub fn new(model: M, plan: StepPlan, seed: u64) -> Self {
        Self {
            model,
            plan,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            steps: Arc::new(AtomicUsize::new(0)),
            backend: PhantomData,
        }
    }

    /// Advances the width sampler past `steps` training steps, as if they had run: a run
    /// resumed after `k` epochs draws the widths the uninterrupted run draws from then on.
    pub fn skip_steps(&self, steps: usize) {
        for _ in 0..steps {
            let _ = self.next_subnets();
        }
        self.steps.fetch_add(steps, Ordering::Relaxed);
    }

    /// The step plan.
    pub fn plan(&self) -> &StepPlan {
        &self.plan
    }

    /// The subnets of the next step, in order (max first in supernet mode).
    pub fn next_subnets(&self) -> Vec<Subnet> {
        match &self.plan.mode {
            TrainingMode::Supernet { pruner, num_samples, .. } => {
                let mut rng = self.rng.lock().expect("the width sampler's lock is never poisoned");
                pruner.sandwich(self.model.space(), *num_samples, &mut *rng)
            }
            TrainingMode::Retrain { subnets } => subnets.iter().map(|(_, subnet)| subnet.clone()).collect(),
        }
    }

    /// The subnets of the next `steps` steps, without drawing them (the sampler is not
    /// advanced), then, in supernet mode, each uniform width of the pruner's ratios; each
    /// subnet once, in that order. What [`compile_passes`](super::compile_passes) warms up
    /// ahead of a run.
    pub fn upcoming_subnets(&self, steps: usize) -> Vec<Subnet> {
        let mut subnets: Vec<Subnet> = Vec::new();
        let mut add = |subnet: Subnet| {
            if !subnets.contains(&subnet) {
                subnets.push(subnet);
            }
        };
        match &self.plan.mode {
            TrainingMode::Supernet { pruner, num_samples, .. } => {
                let mut rng = self.rng.lock().expect("the width sampler's lock is never poisoned").clone();
                for _ in 0..steps {
                    pruner.sandwich(self.model.space(), *num_samples, &mut rng).into_iter().for_each(&mut add);
                }
                pruner.ratios().iter().rev().for_each(|&ratio| add(pruner.uniform_subnet(self.model.space(), ratio)));
            }
            TrainingMode::Retrain { subnets } => subnets.iter().for_each(|(_, subnet)| add(subnet.clone())),
        }
        subnets
    }

    /// Hands the device's free memory pages back before the step's pass number `pass` (0 the
    /// first), when the plan's [`StepPlan::memory_release`] asks for it there.
    fn release_memory(&self, batch: &ImageBatch<B>, pass: usize) {
        if self.plan.memory_release.before_pass(pass) {
            B::memory_cleanup(&batch.images.device());
        }
    }

    fn cross_entropy(&self, logits: burn::tensor::Tensor<B, 2>, targets: burn::tensor::Tensor<B, 1, burn::tensor::Int>) -> burn::tensor::Tensor<B, 1> {
        CrossEntropyLossConfig::new()
            .with_smoothing(self.plan.label_smoothing)
            .init(&logits.device())
            .forward(logits, targets)
    }
}

impl<B, M> TrainStep for AutoSlim<B, M>
where
    B: AutodiffBackend,
    M: SlimmableModel<B> + AutodiffModule<B>,
    M::InnerModule: SlimmableModel<B::InnerBackend>,
{
    type Input = ImageBatch<B>;
    type Output = WidthOutputs<B>;

    fn step(&self, batch: ImageBatch<B>) -> TrainOutput<WidthOutputs<B>> {
        let subnets = self.next_subnets();
        let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
        let mut accumulator = GradientsAccumulator::<Self>::new();
        let mut entries = Vec::with_capacity(2);
        // Each width's loss, checked once the step's passes are queued: one read from the
        // device per step, instead of one wait for the GPU after every forward pass.
        let mut losses = Vec::with_capacity(subnets.len());

        match &self.plan.mode {
            TrainingMode::Supernet { distiller, .. } => {
                self.release_memory(&batch, 0);
                // The max width learns from the labels...
                let logits = self.model.forward_subnet(batch.images.clone(), &subnets[0], NormMode::Auto);
                let loss = self.cross_entropy(logits.clone(), batch.targets.clone());
                losses.push(("max", &subnets[0], loss.clone()));
                accumulator.accumulate(self, GradientsParams::from_grads(loss.backward(), self));
                let teacher = logits.clone().detach();
                entries.push(WidthEntry { label: "max".into(), logits: logits.detach(), loss: loss.detach() });

                // ...and the smaller widths from the max width's predictions.
                for (i, subnet) in subnets.iter().enumerate().skip(1) {
                    self.release_memory(&batch, i);
                    let logits = self.model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
                    let loss = distiller.loss(logits.clone(), teacher.clone(), batch.targets.clone());
                    losses.push((if i == 1 { "min" } else { "random" }, subnet, loss.clone()));
                    accumulator.accumulate(self, GradientsParams::from_grads(loss.backward(), self));
                    if i == 1 {
                        entries.push(WidthEntry { label: "min".into(), logits: logits.detach(), loss: loss.detach() });
                    }
                }
            }
            TrainingMode::Retrain { subnets: labelled } => {
                // Every subnet learns from the labels, with its own BatchNorm set.
                for (i, ((label, _), subnet)) in labelled.iter().zip(&subnets).enumerate() {
                    if labelled.len() > 1 {
                        self.release_memory(&batch, i);
                    }
                    let logits = self.model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
                    let loss = self.cross_entropy(logits.clone(), batch.targets.clone());
                    losses.push((label.as_str(), subnet, loss.clone()));
                    accumulator.accumulate(self, GradientsParams::from_grads(loss.backward(), self));
                    entries.push(WidthEntry { label: label.clone(), logits: logits.detach(), loss: loss.detach() });
                }
            }
        }
        check_finite(losses, step);
        TrainOutput { grads: accumulator.grads(), item: WidthOutputs { entries, targets: batch.targets } }
    }
}

/// The message a non-finite loss stops training with.
pub const NON_FINITE_LOSS: &str = "training stopped: the loss is not finite";

/// Stops training (a panic, which ends burn-train's loop before the epoch's checkpoint is
/// written and before the optimizer applies this step, so the last good checkpoint stays the
/// newest) when a width's loss is NaN or infinite, naming the step and the first such width.
/// All losses are read in one transfer.
fn check_finite<B: Backend>(losses: Vec<(&str, &Subnet, burn::tensor::Tensor<B, 1>)>, step: usize) {
    let Some(first) = losses.first() else { return };
    let device = first.2.device();
    let values = burn::tensor::Tensor::cat(losses.iter().map(|(_, _, loss)| loss.clone()).collect(), 0)
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .unwrap_or_else(|err| panic!("reading the step's losses from {device:?}: {err:?}"));
    if let Some(((width, subnet, _), value)) = losses.iter().zip(values).find(|(_, value)| !value.is_finite()) {
        panic!(
            "{NON_FINITE_LOSS} ({value}) at step {step}, width `{width}` (channels per group {:?}); \
             the newest checkpoint is from before it: lower the learning rate and --resume",
            subnet.as_slice()
        );
    }
}

impl<B: Backend, M: SlimmableModel<B>> InferenceStep for AutoSlim<B, M> {
    type Input = ImageBatch<B>;
    type Output = WidthOutputs<B>;

    fn step(&self, batch: ImageBatch<B>) -> WidthOutputs<B> {
        let entries = self
            .plan
            .valid_subnets
            .iter()
            .map(|(label, subnet)| {
                let logits = self.model.forward_subnet(batch.images.clone(), subnet, self.plan.valid_norm);
                let loss = self.cross_entropy(logits.clone(), batch.targets.clone());
                WidthEntry { label: label.clone(), logits, loss }
            })
            .collect();
        WidthOutputs { entries, targets: batch.targets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageBatcher, ImageDataset, Split, default_fashion_mnist_dir};
    use crate::models::{SlimCnn, SlimCnnConfig};
    use burn::backend::{Autodiff, NdArray};
    use burn::data::dataloader::batcher::Batcher;
    use burn::data::dataset::Dataset;
    use burn::module::Param;
    use burn::optim::{Optimizer, SgdConfig};
    use burn::tensor::{ElementConversion, Tensor};

    type Ad = Autodiff<NdArray>;

    #[test]
    fn memory_release_names_parse_a_bad_one_is_named_and_each_says_before_which_passes() {
        assert_eq!(MemoryRelease::parse("never"), Ok(MemoryRelease::Never));
        assert_eq!(MemoryRelease::parse(" step "), Ok(MemoryRelease::EachStep));
        assert_eq!(MemoryRelease::parse("widest"), Ok(MemoryRelease::AroundWidest));
        assert_eq!(MemoryRelease::parse("pass"), Ok(MemoryRelease::EachPass));
        assert_eq!(MemoryRelease::default(), MemoryRelease::EachPass);
        let before = |release: MemoryRelease| (0..4).map(|pass| release.before_pass(pass)).collect::<Vec<_>>();
        assert_eq!(before(MemoryRelease::Never), [false; 4]);
        assert_eq!(before(MemoryRelease::EachStep), [true, false, false, false]);
        assert_eq!(before(MemoryRelease::AroundWidest), [true, true, false, false]);
        assert_eq!(before(MemoryRelease::EachPass), [true; 4]);
        let err = MemoryRelease::parse("always").unwrap_err();
        assert!(err.contains("\"always\"") && err.contains("\"widest\""), "{err}");
    }

    fn max_diff<const D: usize>(a: Tensor<NdArray, D>, b: Tensor<NdArray, D>) -> f64 {
        a.sub(b).abs().max().into_scalar().elem()
    }

    /// The trainable tensors of the model, flattened, with their ids.
    fn params(model: &SlimCnn<Ad>) -> Vec<(burn::module::ParamId, Tensor<NdArray, 1>)> {
        let flat4 = |p: &Param<Tensor<Ad, 4>>| (p.id, p.val().inner().flatten(0, 3));
        let flat2 = |p: &Param<Tensor<Ad, 2>>| (p.id, p.val().inner().flatten(0, 1));
        let flat1 = |p: &Param<Tensor<Ad, 1>>| (p.id, p.val().inner());
        let mut out: Vec<_> = model.convs.iter().map(|c| flat4(&c.weight)).collect();
        out.extend(model.norms.iter().flat_map(|n| [flat1(&n.norms[0].gamma), flat1(&n.norms[0].beta)]));
        out.push(flat2(&model.head.weight));
        out.push(flat1(model.head.bias.as_ref().unwrap()));
        out
    }

    fn grad_of(grads: &GradientsParams, model: &SlimCnn<Ad>, id: burn::module::ParamId) -> Tensor<NdArray, 1> {
        // Find the param's rank by where it lives in the model.
        if model.convs.iter().any(|c| c.weight.id == id) {
            grads.get::<NdArray, 4>(id).unwrap().flatten(0, 3)
        } else if model.head.weight.id == id {
            grads.get::<NdArray, 2>(id).unwrap().flatten(0, 1)
        } else {
            grads.get::<NdArray, 1>(id).unwrap()
        }
    }

    #[test]
    fn a_sandwich_step_sums_the_per_width_gradients_and_steps_once() {
        let device = Default::default();
        <Ad as burn::tensor::backend::Backend>::seed(&device, 7);
        let model: SlimCnn<Ad> = SlimCnnConfig::new(vec![12, 24], vec![1, 2]).init(&device);
        let data = ImageDataset::load_idx_dir(&default_fashion_mnist_dir(), Split::Train).unwrap().take(16);
        let batch: ImageBatch<Ad> = ImageBatcher::fashion_mnist().batch(data.iter().collect(), &device);
        // Use every parameter once so that lazily initialised ones hold their values in clones.
        let _ = model.forward_subnet(batch.images.clone(), &Subnet::max(model.space()), NormMode::Auto);

        let distiller = SelfDistiller { tau: 2.0, loss_weight: 1.0, ce_weight: 0.0 };
        let plan = StepPlan {
            mode: TrainingMode::Supernet { pruner: RatioPruner::autoslim_default(), distiller: distiller.clone(), num_samples: 4 },
            label_smoothing: Some(0.1),
            valid_subnets: vec![],
            valid_norm: NormMode::BatchStats,
            // Releases before every pass (a no-op on ndarray): the step's arithmetic is the same.
            memory_release: MemoryRelease::EachPass,
        };
        let learner = AutoSlim::new(model.clone(), plan.clone(), 11);
        let output = TrainStep::step(&learner, batch.clone());

        // The same widths, drawn by a sampler with the same seed, and the losses summed by hand.
        let subnets = AutoSlim::new(model.clone(), plan, 11).next_subnets();
        assert_eq!(subnets.len(), 4);
        assert_eq!(subnets[0], Subnet::max(model.space()));
        let logits = model.forward_subnet(batch.images.clone(), &subnets[0], NormMode::Auto);
        let mut total = CrossEntropyLossConfig::new()
            .with_smoothing(Some(0.1))
            .init(&device)
            .forward(logits.clone(), batch.targets.clone());
        for subnet in &subnets[1..] {
            let student = model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
            total = total.add(distiller.loss(student, logits.clone().detach(), batch.targets.clone()));
        }
        let expected = GradientsParams::from_grads(total.backward(), &model);

        let mut got_by_id = output.grads;
        for (id, _) in params(&model) {
            let a = grad_of(&got_by_id, &model, id);
            let b = grad_of(&expected, &model, id);
            assert!(a.clone().abs().sum().into_scalar().elem::<f64>() > 0.0);
            assert!(max_diff(a, b) < 1e-6, "gradients of {id} differ");
        }

        // One optimizer step with the summed gradients: w' = w − lr · g.
        let before = params(&model);
        let lr = 0.05;
        let mut optimizer = SgdConfig::new().init::<Ad, AutoSlim<Ad, SlimCnn<Ad>>>();
        let grads_for_step = std::mem::replace(&mut got_by_id, GradientsParams::new());
        let stepped = optimizer.step(lr, learner, grads_for_step);
        for ((id, old), (_, new)) in before.into_iter().zip(params(&stepped.model)) {
            let g = grad_of(&expected, &model, id);
            assert!(max_diff(new, old.sub(g.mul_scalar(lr))) < 1e-6, "parameter {id} did not take one SGD step");
        }
    }
    #[test]
    fn a_joint_retraining_step_sums_the_subnets_losses_and_each_trains_its_own_batchnorm_set() {
        let device = Default::default();
        <Ad as burn::tensor::backend::Backend>::seed(&device, 3);
        let model: SlimCnn<Ad> = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).with_norm_sets(2).init(&device);
        let data = ImageDataset::load_idx_dir(&default_fashion_mnist_dir(), Split::Train).unwrap().take(12);
        let batch: ImageBatch<Ad> = ImageBatcher::fashion_mnist().batch(data.iter().collect(), &device);
        let large = Subnet::new(model.space(), vec![8, 12]).unwrap();
        let small = Subnet::new(model.space(), vec![4, 6]).unwrap().with_norm_set(1);
        // Use every parameter once so that lazily initialised ones hold their values in clones.
        for subnet in [&large, &small] {
            let _ = model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
        }
        let plan = StepPlan {
            mode: TrainingMode::Retrain { subnets: vec![("large".into(), large.clone()), ("small".into(), small.clone())] },
            label_smoothing: None,
            valid_subnets: vec![],
            valid_norm: NormMode::Auto,
            memory_release: MemoryRelease::Never,
        };
        let output = TrainStep::step(&AutoSlim::new(model.clone(), plan, 0), batch.clone());
        let labels: Vec<&str> = output.item.entries.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["large", "small"]);

        let ce = |subnet: &Subnet| {
            let logits = model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
            CrossEntropyLossConfig::new().init(&device).forward(logits, batch.targets.clone())
        };
        let grads_of = |loss: Tensor<Ad, 1>| GradientsParams::from_grads(loss.backward(), &model);
        let (both, only_large, only_small) = (grads_of(ce(&large).add(ce(&small))), grads_of(ce(&large)), grads_of(ce(&small)));
        let got = output.grads;

        // Shared conv weights: the sum of both subnets' gradients.
        let conv = model.convs[1].weight.id;
        let g = |grads: &GradientsParams| grads.get::<NdArray, 4>(conv).unwrap().flatten::<1>(0, 3);
        assert!(max_diff(g(&got), g(&both)) < 1e-6);
        // Each BatchNorm set: only its own subnet's gradient.
        for (set, alone) in [(0, &only_large), (1, &only_small)] {
            let gamma = model.norms[1].norms[set].gamma.id;
            let got_gamma = got.get::<NdArray, 1>(gamma).unwrap();
            assert!(max_diff(got_gamma.clone(), alone.get::<NdArray, 1>(gamma).unwrap()) < 1e-6, "set {set}");
            assert!(got_gamma.abs().sum().into_scalar().elem::<f64>() > 0.0, "set {set} got no gradient");
        }
    }

    #[test]
    #[should_panic(expected = "training stopped: the loss is not finite (NaN) at step 1, width `max`")]
    fn a_non_finite_loss_stops_training_naming_the_step_and_the_width() {
        let device = Default::default();
        let mut model: SlimCnn<Ad> = SlimCnnConfig::new(vec![4, 8], vec![1, 2]).init(&device);
        // Diverged weights (NaN in images would vanish in the ReLUs).
        model.head.weight = Param::from_tensor(Tensor::full(model.head.weight.dims(), f32::NAN, &device));
        let plan = StepPlan {
            mode: TrainingMode::Supernet { pruner: RatioPruner::autoslim_default(), distiller: SelfDistiller::default(), num_samples: 3 },
            label_smoothing: None,
            valid_subnets: vec![],
            valid_norm: NormMode::BatchStats,
            memory_release: MemoryRelease::Never,
        };
        let images = Tensor::<Ad, 4>::ones([2, 1, 8, 8], &device);
        let targets = Tensor::<Ad, 1, burn::tensor::Int>::from_ints([1, 2], &device);
        let _ = TrainStep::step(&AutoSlim::new(model, plan, 0), ImageBatch { images, targets });
    }

    #[test]
    fn skipping_steps_replays_the_width_draws() {
        let device = Default::default();
        let model: SlimCnn<Ad> = SlimCnnConfig::new(vec![12, 24], vec![1, 2]).init(&device);
        let plan = StepPlan {
            mode: TrainingMode::Supernet { pruner: RatioPruner::autoslim_default(), distiller: SelfDistiller::default(), num_samples: 4 },
            label_smoothing: None,
            valid_subnets: vec![],
            valid_norm: NormMode::BatchStats,
            memory_release: MemoryRelease::Never,
        };
        let uninterrupted = AutoSlim::new(model.clone(), plan.clone(), 5);
        for _ in 0..7 {
            let _ = uninterrupted.next_subnets();
        }
        let resumed = AutoSlim::new(model, plan, 5);
        resumed.skip_steps(7);
        for _ in 0..3 {
            assert_eq!(resumed.next_subnets(), uninterrupted.next_subnets());
        }
    }

    #[test]
    fn upcoming_subnets_are_the_next_steps_draws_then_the_uniform_widths_without_drawing() {
        let device = Default::default();
        let model: SlimCnn<Ad> = SlimCnnConfig::new(vec![12, 24], vec![1, 2]).init(&device);
        let pruner = RatioPruner::autoslim_default();
        let plan = StepPlan {
            mode: TrainingMode::Supernet { pruner: pruner.clone(), distiller: SelfDistiller::default(), num_samples: 4 },
            label_smoothing: None,
            valid_subnets: vec![],
            valid_norm: NormMode::BatchStats,
            memory_release: MemoryRelease::Never,
        };
        let learner = AutoSlim::new(model.clone(), plan.clone(), 9);
        let upcoming = learner.upcoming_subnets(3);
        // The sampler did not move: the next three steps draw what was listed, in order.
        let mut drawn: Vec<Subnet> = Vec::new();
        for _ in 0..3 {
            for subnet in learner.next_subnets() {
                if !drawn.contains(&subnet) {
                    drawn.push(subnet);
                }
            }
        }
        assert_eq!(&upcoming[..drawn.len()], &drawn[..]);
        // Then every uniform width not drawn yet, each subnet once.
        let space = &model.space().clone();
        for &ratio in pruner.ratios() {
            assert!(upcoming.contains(&pruner.uniform_subnet(space, ratio)), "ratio {ratio}");
        }
        for (i, subnet) in upcoming.iter().enumerate() {
            assert!(!upcoming[..i].contains(subnet), "{subnet:?} listed twice");
        }
        assert!(upcoming.len() > drawn.len());
        let retrain = StepPlan { mode: TrainingMode::Retrain { subnets: vec![("a".into(), pruner.min_subnet(space))] }, ..plan };
        assert_eq!(AutoSlim::new(model, retrain, 9).upcoming_subnets(5), vec![pruner.min_subnet(space)]);
    }
}
