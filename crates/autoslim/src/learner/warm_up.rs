//! Running a run's passes once ahead of training, so that a GPU backend compiles (and caches on
//! disk) the kernels they need before the first step.
//!
//! A slimmable network meets new kernels at each new width: on an H200 the 8-layer bench net's
//! first sandwich step spent ~40 s compiling them on an empty cache, one kernel after another.
//! The command line splits [`AutoSlim::upcoming_subnets`](super::AutoSlim::upcoming_subnets)
//! over several processes that each call [`compile_passes`] on their share, all writing to the
//! same on-disk cache, then trains.

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor};
use slimmable::NormMode;

use crate::channels::Subnet;
use crate::model::SlimmableModel;

/// One pass a warm-up runs to meet its kernels.
#[derive(Debug, Clone, PartialEq)]
pub enum CompilePass {
    /// A training pass: forward with batch statistics, cross-entropy, backward.
    Train {
        /// The widths.
        subnet: Subnet,
        /// Images in the batch.
        batch: usize,
    },
    /// A validation pass: forward only, without autodiff, normalising as `norm` says.
    Valid {
        /// The widths.
        subnet: Subnet,
        /// Images in the batch.
        batch: usize,
        /// The statistics BatchNorm uses (the run's
        /// [`StepPlan::valid_norm`](super::StepPlan::valid_norm)).
        norm: NormMode,
    },
}

impl CompilePass {
    /// The passes of a training run: a training pass of each of `upcoming` (the run's
    /// [`AutoSlim::upcoming_subnets`](super::AutoSlim::upcoming_subnets)) at `batch` images (at
    /// `train_images` when fewer);
    /// when the training set's last batch is shorter (`train_images % batch`), a training pass of
    /// the first and last of `upcoming` at that size (the kernels a GEMM launches follow its
    /// rows; the widths of the epoch's last step are not known ahead); and a validation pass of
    /// each of `valid` at `batch` and at the validation set's last, shorter batch.
    pub fn for_run(upcoming: &[Subnet], batch: usize, train_images: usize, valid: &[Subnet], valid_images: usize, norm: NormMode) -> Vec<CompilePass> {
        let batch = batch.max(1);
        // A set smaller than a batch is one shorter batch.
        let first = batch.min(train_images.max(1));
        let mut passes: Vec<CompilePass> = upcoming.iter().map(|subnet| CompilePass::Train { subnet: subnet.clone(), batch: first }).collect();
        let last = train_images % batch;
        if last > 0 && train_images > batch {
            let ends = upcoming.first().into_iter().chain(upcoming.last().filter(|_| upcoming.len() > 1));
            passes.extend(ends.map(|subnet| CompilePass::Train { subnet: subnet.clone(), batch: last }));
        }
        let valid_batches = [Some(batch.min(valid_images)), Some(valid_images % batch).filter(|&n| n > 0 && valid_images > batch)];
        for size in valid_batches.into_iter().flatten().filter(|&n| n > 0) {
            passes.extend(valid.iter().map(|subnet| CompilePass::Valid { subnet: subnet.clone(), batch: size, norm }));
        }
        passes
    }

    /// A training pass of each of `subnets` at `batch` images (a benchmark's passes).
    pub fn training(subnets: &[Subnet], batch: usize) -> Vec<CompilePass> {
        subnets.iter().map(|subnet| CompilePass::Train { subnet: subnet.clone(), batch }).collect()
    }
}

/// Runs each of `passes` on a random batch of `image` (`[channels, height, width]`) and `classes`
/// classes, then waits for the device. Nothing is kept: the gradients are dropped, and
/// BatchNorm's running statistics move as a training pass moves them, so the model is one to
/// throw away.
pub fn compile_passes<B, M>(model: &M, passes: &[CompilePass], image: [usize; 3], classes: usize) -> Result<(), String>
where
    B: AutodiffBackend,
    M: SlimmableModel<B> + AutodiffModule<B>,
    M::InnerModule: SlimmableModel<B::InnerBackend>,
{
    let device: B::Device = Default::default();
    let [c, h, w] = image;
    let loss = CrossEntropyLossConfig::new().init(&device);
    let inner = passes.iter().any(|pass| matches!(pass, CompilePass::Valid { .. })).then(|| (model.valid(), CrossEntropyLossConfig::new().init(&device)));
    for pass in passes {
        match pass {
            CompilePass::Train { subnet, batch } => {
                let images = Tensor::<B, 4>::random([*batch, c, h, w], Distribution::Normal(0.0, 1.0), &device);
                let targets = Tensor::<B, 1, Int>::random([*batch], Distribution::Uniform(0.0, classes as f64), &device);
                let logits = model.forward_subnet(images, subnet, NormMode::Auto);
                let _ = loss.forward(logits, targets).backward();
            }
            CompilePass::Valid { subnet, batch, norm } => {
                let (inner, inner_loss) = inner.as_ref().expect("made when a pass validates");
                let images = Tensor::<B::InnerBackend, 4>::random([*batch, c, h, w], Distribution::Normal(0.0, 1.0), &device);
                let targets = Tensor::<B::InnerBackend, 1, Int>::random([*batch], Distribution::Uniform(0.0, classes as f64), &device);
                let logits = inner.forward_subnet(images, subnet, *norm);
                let _ = inner_loss.forward(logits, targets).into_scalar();
            }
        }
    }
    <B as Backend>::sync(&device).map_err(|err| format!("device error: {err:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{SlimCnn, SlimCnnConfig};
    use crate::pruner::RatioPruner;
    use burn::backend::{Autodiff, NdArray};

    #[test]
    fn the_passes_run_at_each_subnet_and_leave_the_weights_alone() {
        let device = Default::default();
        let model: SlimCnn<Autodiff<NdArray>> = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).init(&device);
        let pruner = RatioPruner::autoslim_default();
        let subnets = [pruner.max_subnet(model.space()), pruner.min_subnet(model.space())];
        let before = model.convs[0].weight.val().into_data();
        let passes = CompilePass::for_run(&subnets, 4, 10, &subnets[..1], 6, NormMode::BatchStats);
        compile_passes(&model, &passes, [1, 12, 12], 10).unwrap();
        assert_eq!(model.convs[0].weight.val().into_data(), before);
        // A batch the model cannot take is an error of the pass, not a silent success.
        for passes in [CompilePass::training(&subnets, 4), passes[passes.len() - 1..].to_vec()] {
            let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compile_passes(&model, &passes, [3, 12, 12], 10)));
            assert!(wrong.is_err() || wrong.unwrap().is_err());
        }
    }

    #[test]
    fn a_run_s_passes_add_its_shorter_last_batches_and_its_validation() {
        let model: SlimCnn<Autodiff<NdArray>> = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).init(&Default::default());
        let pruner = RatioPruner::autoslim_default();
        let (max, mid, min) = (pruner.max_subnet(model.space()), pruner.uniform_subnet(model.space(), 0.5), pruner.min_subnet(model.space()));
        let upcoming = [max.clone(), mid.clone(), min.clone()];
        let train = |subnet: &Subnet, batch| CompilePass::Train { subnet: subnet.clone(), batch };
        let valid = |subnet: &Subnet, batch| CompilePass::Valid { subnet: subnet.clone(), batch, norm: NormMode::BatchStats };
        // 4000 training images in batches of 128 end with 32, 1000 validation images with 104.
        let passes = CompilePass::for_run(&upcoming, 128, 4000, &[max.clone(), min.clone()], 1000, NormMode::BatchStats);
        let expected = vec![train(&max, 128), train(&mid, 128), train(&min, 128), train(&max, 32), train(&min, 32), valid(&max, 128), valid(&min, 128), valid(&max, 104), valid(&min, 104)];
        assert_eq!(passes, expected);
        // Whole batches: no shorter ones; a set smaller than a batch is one short batch.
        let passes = CompilePass::for_run(&upcoming, 100, 4000, std::slice::from_ref(&max), 60, NormMode::Auto);
        assert_eq!(passes[3..], [CompilePass::Valid { subnet: max.clone(), batch: 60, norm: NormMode::Auto }]);
        assert_eq!(CompilePass::for_run(&upcoming[..1], 128, 100, &[], 0, NormMode::Auto), vec![train(&max, 100)]);
        // A training set smaller than a batch leaves the validation's batches alone.
        let passes = CompilePass::for_run(&upcoming[..1], 128, 100, std::slice::from_ref(&min), 1000, NormMode::BatchStats);
        assert_eq!(passes, vec![train(&max, 100), valid(&min, 128), valid(&min, 104)]);
        assert_eq!(CompilePass::training(&upcoming[..2], 7), vec![train(&max, 7), train(&mid, 7)]);
    }
}
