//! A slimmable 3×3 conv on the tensor cores with TF32 and with bf16 operands, and how far the
//! two results are apart.
//!
//! ```sh
//! cargo run --release --features cuda --example gemm_precision   # NVIDIA GPU
//! cargo run --release --example gemm_precision                    # ndarray: no tensor cores, both the same
//! ```
//!
//! On an H100 (docs/results/session11/8_h100_example) bf16 and TF32 differed by 2.6e-3 of the
//! largest output and 1.9e-3 of the largest weight-gradient value.
//!
//! `kernel-gemm` (the CUDA default) runs dense convs as implicit GEMMs; `GemmPrecision::Bf16`
//! hands their operands to the tensor cores as bfloat16 with f32 sums and results, as the command
//! line's `AUTOSLIM_GEMM_PRECISION=bf16` does. The weights stay f32 either way.

use autoslim_cli::backend::{self, Backend};
use burn::backend::Autodiff;
use burn::nn::PaddingConfig2d;
use burn::tensor::{Distribution, Tensor};
use slimmable::{ConvAlgorithm, GemmPrecision, SlimConv2dConfig, has_implicit_gemm, set_conv_algorithm, set_gemm_precision};

type Train = Autodiff<Backend>;

fn main() {
    let device = backend::device();
    set_conv_algorithm(ConvAlgorithm::KernelGemm);
    let conv = SlimConv2dConfig::new([64, 128], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init::<Train>(&device);
    let images = Tensor::<Train, 4>::random([32, 64, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    // 48 of 64 input channels, 96 of 128 output ones: a slimmed width.
    let x = images.slice([0..32, 0..48]);
    let mut results = Vec::new();
    for precision in GemmPrecision::ALL {
        set_gemm_precision(precision);
        let out = conv.forward(x.clone(), 96);
        let grads = out.clone().sum().backward();
        let weight_grad = conv.weight.val().grad(&grads).expect("the weight takes part in the sum");
        println!("{:>4} operands: output {:?}, weight gradient {:?}", precision.name(), out.dims(), weight_grad.dims());
        results.push((out.inner(), weight_grad));
    }
    set_gemm_precision(GemmPrecision::default());
    let gap = |a: Tensor<Backend, 4>, b: Tensor<Backend, 4>| {
        let scale: f32 = b.clone().abs().max().into_scalar();
        let diff: f32 = a.sub(b).abs().max().into_scalar();
        diff / scale
    };
    let [(out_tf32, grad_tf32), (out_bf16, grad_bf16)] = <[_; 2]>::try_from(results).expect("two precisions");
    let (out_gap, grad_gap) = (gap(out_bf16, out_tf32), gap(grad_bf16, grad_tf32));
    println!("largest difference bf16 − TF32, relative to the largest value: output {out_gap:.2e}, weight gradient {grad_gap:.2e}");
    if out_gap == 0.0 {
        let why = match has_implicit_gemm::<Train>() {
            true => "this device has no tensor cores or no bf16, so the kernels fell back to f32",
            false => "this backend has no implicit-GEMM kernels",
        };
        println!("(backend {}: {why}; both ran the same f32 conv)", backend::DEFAULT.name());
    }
}
