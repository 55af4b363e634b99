//! The stages of the implicit-GEMM conv kernels and the kernel of their weight gradient: one
//! slimmable 3×3 conv's forward and backward pass with bf16 operands, timed with cubek's
//! inferred stage, with the default one and with a named one, with two weight-gradient
//! kernels, and with the weight gradient's products on cubek's stages or on stages fitted to
//! the channels; and how far their results are apart.
//!
//! ```sh
//! cargo run --release --features cuda --example gemm_stages   # NVIDIA GPU
//! cargo run --release --example gemm_stages                    # ndarray: no such kernels, all the same
//! ```
//!
//! On an H200 (docs/results/session12/6_h200_example) one pass of a 96-channel conv over 256
//! 32×32 images took 4.48 ms with cubek's inferred stage and burn's weight-gradient kernel,
//! 4.16 ms with the default stage and 3.63 ms with the default `simple_cyclic/mma` products as
//! well; all four settings gave identical outputs and gradients (bf16 products summed in f32 in
//! the same order).
//!
//! `GemmStages::Default` gives bf16 operands a `128x128x64/4` stage (`slimmable::BF16_TILING`);
//! `WgradStages::Fitted` (the default since session 20) fits the weight gradient's product stages
//! to the channel counts (here 96 of 128, in and out: one stage of 96 × 96 per product). The
//! command line's `AUTOSLIM_GEMM_STAGES`, `AUTOSLIM_GEMM_WGRAD` and `AUTOSLIM_WGRAD_STAGES` set
//! the same as `set_gemm_stages`, `set_wgrad_matmul` and `set_wgrad_stages` do here.

use std::time::Instant;

use autoslim_cli::backend::{self, Backend};
use burn::backend::Autodiff;
use burn::nn::PaddingConfig2d;
use burn::tensor::backend::Backend as _;
use burn::tensor::{Distribution, Tensor};
use slimmable::{
    ConvAlgorithm, GemmPrecision, GemmStages, GemmTiling, SlimConv2dConfig, WgradStages, gemm_tiling_misses, has_implicit_gemm, implicit_gemm_fallbacks,
    set_conv_algorithm, set_gemm_precision, set_gemm_stages, set_wgrad_matmul, set_wgrad_stages,
};

type Train = Autodiff<Backend>;

fn main() {
    let device = backend::device();
    set_conv_algorithm(ConvAlgorithm::KernelGemm);
    set_gemm_precision(GemmPrecision::Bf16);
    let conv = SlimConv2dConfig::new([128, 128], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init::<Train>(&device);
    // A GPU batch where the kernels exist; a small one where every setting runs the same conv.
    let batch = if has_implicit_gemm::<Train>() { 256 } else { 4 };
    let images = Tensor::<Train, 4>::random([batch, 128, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    // 96 of 128 channels in and out: a slimmed width.
    let x = images.slice([0..batch, 0..96]);
    let named = GemmTiling::parse("256x128x64/8").expect("a valid stage name");
    let settings = [
        (GemmStages::Inferred, "simple_cyclic/cmma", WgradStages::Inferred),
        (GemmStages::Default, "simple_cyclic/cmma", WgradStages::Inferred),
        (GemmStages::Default, "simple_cyclic/mma", WgradStages::Inferred),
        (GemmStages::Default, "simple_cyclic/mma", WgradStages::Fitted),
        (GemmStages::Fixed(named), "simple_cyclic/mma", WgradStages::Fitted),
    ];
    let mut results: Vec<(Tensor<Backend, 4>, Tensor<Backend, 4>)> = Vec::new();
    for (stages, wgrad, products) in settings {
        set_gemm_stages(stages);
        set_wgrad_matmul(wgrad).expect("one of slimmable::WGRAD_MATMULS");
        set_wgrad_stages(products);
        let pass = || {
            let out = conv.forward(x.clone(), 96);
            let grads = out.clone().sum().backward();
            (out.inner(), conv.weight.val().grad(&grads).expect("the weight takes part in the sum"))
        };
        let _ = pass(); // compiles the kernels
        Backend::sync(&device).expect("the device runs");
        let reps = 10;
        let start = Instant::now();
        for _ in 0..reps {
            let _ = pass();
        }
        Backend::sync(&device).expect("the device runs");
        let ms = start.elapsed().as_secs_f64() * 1e3 / reps as f64;
        println!("stages {:>14}, weight gradient {:>18} on {:>8} stages: {ms:6.2} ms per forward+backward", stages.name(), wgrad, products.name());
        results.push(pass());
    }
    set_gemm_stages(GemmStages::default());
    set_gemm_precision(GemmPrecision::default());
    let gap = |a: &Tensor<Backend, 4>, b: &Tensor<Backend, 4>| -> f32 { a.clone().sub(b.clone()).abs().max().into_scalar() };
    let (first_out, first_grad) = &results[0];
    for (index, (out, grad)) in results.iter().enumerate().skip(1) {
        println!("setting {index} against setting 0: largest difference of the output {:.2e}, of the weight gradient {:.2e}", gap(out, first_out), gap(grad, first_grad));
    }
    let (misses, why) = gemm_tiling_misses();
    println!("{misses} launches ran cubek's inferred stage instead of a named one{}", why.map(|why| format!(" (the first: {why})")).unwrap_or_default());
    println!("{} passes fell back to burn's direct conv (backend {})", implicit_gemm_fallbacks(), backend::DEFAULT.name());
}
