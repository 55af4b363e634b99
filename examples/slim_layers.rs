//! A small CNN built from slimmable layers, run at three widths.
//!
//! ```sh
//! cargo run --release --example slim_layers
//! ```
//!
//! One set of weights serves every width: each forward pass takes the width it runs at, and
//! uses the first channels of every layer. Then a few training steps at the largest and the
//! smallest width together (their losses summed), updated by `FusedSgd` (burn's SGD with
//! momentum, one kernel per parameter on the GPU backends).

use autoslim_cli::backend::{self, Backend};
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Distribution, Int, Tensor};
use slimmable::{
    Activation, FusedSgdConfig, NormMode, SlimBatchNorm, SlimBatchNormConfig, SlimConv2d, SlimConv2dConfig, SlimLinear,
    SlimLinearConfig, channels_for_ratio,
};

/// conv(1→32) → BN → ReLU → conv(32→64, stride 2) → BN → ReLU → global pool → linear(64→10).
#[derive(Module, Debug)]
struct SmallCnn<B: burn::tensor::backend::Backend> {
    conv1: SlimConv2d<B>,
    bn1: SlimBatchNorm<B>,
    conv2: SlimConv2d<B>,
    bn2: SlimBatchNorm<B>,
    head: SlimLinear<B>,
}

impl<B: burn::tensor::backend::Backend> SmallCnn<B> {
    fn new(device: &B::Device) -> Self {
        let conv = |c_in, c_out, stride| {
            SlimConv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
        };
        Self {
            conv1: conv(1, 32, 1),
            bn1: SlimBatchNormConfig::new(32).init(device),
            conv2: conv(32, 64, 2),
            bn2: SlimBatchNormConfig::new(64).init(device),
            head: SlimLinearConfig::new(64, 10).init(device),
        }
    }

    /// Channels of the two hidden layers at a width ratio. The input's channel and the
    /// classifier's outputs are never slimmed.
    fn widths(ratio: f64) -> [usize; 2] {
        [32, 64].map(|c| channels_for_ratio(c, ratio, None).expect("ratio in (0, 1]"))
    }

    fn forward(&self, images: Tensor<B, 4>, ratio: f64) -> Tensor<B, 2> {
        let [c1, c2] = Self::widths(ratio);
        // BN then ReLU, in BN's own kernels on the GPU backends (as `relu(bn.forward(x))`).
        let x = self.bn1.forward_activation(self.conv1.forward(images, c1), NormMode::Auto, Activation::Relu);
        let x = self.bn2.forward_activation(self.conv2.forward(x, c2), NormMode::Auto, Activation::Relu);
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.forward(x, 10)
    }

    /// Parameters in use at a width ratio (weights, biases and BN γ/β of the active prefix).
    fn params_in_use(ratio: f64) -> usize {
        let [c1, c2] = Self::widths(ratio);
        let conv1 = c1 * 9;
        let conv2 = c2 * c1 * 9;
        let norms = 2 * c1 + 2 * c2;
        let head = c2 * 10 + 10;
        conv1 + conv2 + norms + head
    }
}

fn main() {
    let device = backend::device();
    let model = SmallCnn::<Backend>::new(&device);
    let images = Tensor::<Backend, 4>::random([8, 1, 28, 28], Distribution::Default, &device);
    println!("backend: {}; parameters stored (incl. BN statistics): {}", backend::DEFAULT.name(), model.num_params());
    for ratio in [0.25, 0.5, 1.0] {
        let [c1, c2] = SmallCnn::<Backend>::widths(ratio);
        let logits = model.forward(images.clone(), ratio);
        println!(
            "width {ratio:>4}: channels {c1:>2}-{c2:>2}, logits {:?}, parameters in use {}",
            logits.dims(),
            SmallCnn::<Backend>::params_in_use(ratio)
        );
    }

    // Training: the widest and the narrowest subnet share the weights; their losses are summed
    // and one optimizer step updates every channel either of them used.
    type Training = burn::backend::Autodiff<Backend>;
    let mut model = SmallCnn::<Training>::new(&device);
    let mut optimizer = FusedSgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0)))
        .init::<Training, SmallCnn<Training>>();
    let images = Tensor::<Training, 4>::random([16, 1, 28, 28], Distribution::Default, &device);
    let labels = Tensor::<Training, 1, Int>::arange(0..16, &device).remainder_scalar(10);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    for step in 1..=5 {
        let losses = [1.0, 0.25].map(|ratio| loss_fn.forward(model.forward(images.clone(), ratio), labels.clone()));
        let values = losses.clone().map(|loss| loss.into_scalar());
        println!("step {step}: loss at width 1.0 {:.4}, at width 0.25 {:.4}", values[0], values[1]);
        let [wide, narrow] = losses;
        let grads = GradientsParams::from_grads((wide + narrow).backward(), &model);
        model = optimizer.step(0.05, model, grads);
    }
}
