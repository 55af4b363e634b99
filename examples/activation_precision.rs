//! A MobileNetV2-style block (1×1 conv, BatchNorm + ReLU6, depthwise 3×3 conv, BatchNorm +
//! ReLU6, 1×1 conv, BatchNorm, residual sum) with f32 and with bf16 activations between its
//! layers: the element type of each activation, and how far the two outputs are apart.
//!
//! ```sh
//! cargo run --release --features cuda --example activation_precision   # NVIDIA GPU
//! cargo run --release --example activation_precision                    # ndarray: f32 throughout
//! ```
//!
//! `ActivationPrecision::Bf16` takes effect where the GEMM convs' operands are bf16
//! (`GemmPrecision::Bf16`, the command line's CUDA default): the convs then hand bf16 on, and
//! BatchNorm and the depthwise kernels keep it; their arithmetic, the weights and the
//! gradients of the weights stay f32. The command line's `AUTOSLIM_ACTIVATIONS=bf16` sets it.

use autoslim_cli::backend::{self, Backend};
use burn::backend::Autodiff;
use burn::nn::PaddingConfig2d;
use burn::tensor::{Distribution, Tensor};
use slimmable::{
    Activation, ActivationPrecision, ConvAlgorithm, GemmPrecision, NormMode, SlimBatchNormConfig, SlimConv2dConfig, residual_add, set_activation_precision,
    set_conv_algorithm, set_gemm_precision,
};

type Train = Autodiff<Backend>;

fn main() {
    let device = backend::device();
    set_conv_algorithm(ConvAlgorithm::GemmAll);
    set_gemm_precision(GemmPrecision::Bf16);
    let expand = SlimConv2dConfig::new([32, 192], [1, 1]).init::<Train>(&device);
    let depthwise = SlimConv2dConfig::new([192, 192], [3, 3]).with_groups(192).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init::<Train>(&device);
    let project = SlimConv2dConfig::new([192, 32], [1, 1]).init::<Train>(&device);
    let norms = [192, 192, 32].map(|channels| SlimBatchNormConfig::new(channels).init::<Train>(&device));
    let x = Tensor::<Train, 4>::random([16, 32, 28, 28], Distribution::Normal(0.0, 1.0), &device);

    let mut outputs = Vec::new();
    for precision in ActivationPrecision::ALL {
        set_activation_precision(precision);
        let a = expand.forward(x.clone(), 144);
        let b = norms[0].forward_activation(a.clone(), NormMode::Auto, Activation::Relu6);
        let c = depthwise.forward(b.clone(), 144);
        let d = norms[1].forward_activation(c.clone(), NormMode::Auto, Activation::Relu6);
        let e = project.forward(d.clone(), 32);
        let f = norms[2].forward_activation(e.clone(), NormMode::Auto, Activation::Identity);
        let out = residual_add(f, x.clone());
        let dtypes = [&a, &b, &c, &d, &e].map(|t| format!("{:?}", t.dtype()));
        println!("{:>4} activations: expand {}, norm {}, depthwise {}, norm {}, project {}; block output {:?}", precision.name(), dtypes[0], dtypes[1], dtypes[2], dtypes[3], dtypes[4], out.dtype());
        let grads = out.clone().sum().backward();
        let expand_grad = expand.weight.val().grad(&grads).expect("the expanding conv's weight takes part");
        println!("     its expanding conv's weight gradient: {:?}", expand_grad.dtype());
        outputs.push(out.inner());
    }
    set_activation_precision(ActivationPrecision::default());
    set_gemm_precision(GemmPrecision::default());
    let [with_f32, with_bf16] = <[_; 2]>::try_from(outputs).expect("two precisions");
    let scale: f32 = with_f32.clone().abs().max().into_scalar();
    let diff: f32 = with_bf16.cast(burn::tensor::FloatDType::F32).sub(with_f32).abs().max().into_scalar();
    println!("largest difference of the block's outputs, bf16 − f32 activations, relative to the largest value: {:.2e}", diff / scale);
}
