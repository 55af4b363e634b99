//! Running a run's passes once ahead of training, so that a GPU backend compiles (and caches on
//! disk) the kernels they need before the first step.
//!
//! A slimmable network meets new kernels at each new width: on an H200 the 8-layer bench net's
//! first sandwich step spent ~40 s compiling them on an empty cache, one kernel after another.
//! The command line splits [`AutoSlim::upcoming_subnets`](super::AutoSlim::upcoming_subnets)
//! over several processes that each call [`compile_passes`] on their share, all writing to the
//! same on-disk cache, then trains.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use slimmable::NormMode;

use crate::channels::Subnet;
use crate::model::SlimmableModel;

/// Runs a forward pass (batch statistics, as training does), a cross-entropy loss and a backward
/// pass of each subnet on a random batch of `batch` images of `image` (`[channels, height,
/// width]`) and `classes` classes, then waits for the device. Nothing is kept: the gradients are
/// dropped, and BatchNorm's running statistics move as a training pass moves them, so the model
/// is one to throw away.
pub fn compile_passes<B, M>(model: &M, subnets: &[Subnet], batch: usize, image: [usize; 3], classes: usize) -> Result<(), String>
where
    B: AutodiffBackend,
    M: SlimmableModel<B>,
{
    let device: B::Device = Default::default();
    let [c, h, w] = image;
    let images = Tensor::<B, 4>::random([batch, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let targets = Tensor::<B, 1, Int>::random([batch], Distribution::Uniform(0.0, classes as f64), &device);
    let loss = CrossEntropyLossConfig::new().init(&device);
    for subnet in subnets {
        let logits = model.forward_subnet(images.clone(), subnet, NormMode::Auto);
        let _ = loss.forward(logits, targets.clone()).backward();
    }
    B::sync(&device).map_err(|err| format!("device error: {err:?}"))
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
        compile_passes(&model, &subnets, 4, [1, 12, 12], 10).unwrap();
        assert_eq!(model.convs[0].weight.val().into_data(), before);
        // A batch the model cannot take is an error of the pass, not a silent success.
        let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compile_passes(&model, &subnets, 4, [3, 12, 12], 10)));
        assert!(wrong.is_err() || wrong.unwrap().is_err());
    }
}
