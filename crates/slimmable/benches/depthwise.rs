//! Forward+backward time of one depthwise 3×3 conv (MobileNetV2-sized) three ways: the
//! backend's `conv2d` with one group per channel, this crate's depthwise op
//! (`depthwise_conv2d`: its cubecl kernels on wgpu/CUDA, its loops on ndarray), and the
//! weighted sum of shifted views (`conv2d_im2col`). On ndarray, and on wgpu when built with the
//! `wgpu` feature.
//!
//! ```sh
//! cargo bench -p slimmable --bench depthwise --features ndarray       # ndarray
//! cargo bench -p slimmable --bench depthwise --features ndarray,wgpu  # and wgpu (lavapipe without a GPU)
//! ```
//!
//! The three are timed interleaved, each step ending with a read of the gradients (so the GPU
//! has finished); medians in milliseconds.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::module::conv2d;
use burn::tensor::{Distribution, Tensor};
use slimmable::{ConvGeometry, conv2d_im2col, depthwise_conv2d, has_depthwise_kernels};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// One forward+backward; returns when the gradients are read back.
fn step<B: AutodiffBackend>(
    conv: &impl Fn(Tensor<B, 4>, Tensor<B, 4>) -> Tensor<B, 4>,
    x: &Tensor<B, 4>,
    w: &Tensor<B, 4>,
) {
    let x = x.clone().require_grad();
    let w = w.clone().require_grad();
    let grads = conv(x.clone(), w.clone()).sum().backward();
    let total = x.grad(&grads).unwrap().sum() + w.grad(&grads).unwrap().sum();
    let _ = total.into_scalar();
}

fn bench<B: AutodiffBackend>(backend: &str, device: &B::Device, iters: usize) {
    let g = ConvGeometry { kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad_start: [1, 1], pad_end: [1, 1] };
    for [n, c, hw] in [[32, 96, 28], [32, 384, 7]] {
        let x = Tensor::<B, 4>::random([n, c, hw, hw], Distribution::Default, device);
        let w = Tensor::<B, 4>::random([c, 1, 3, 3], Distribution::Default, device);
        let native = |x, w| conv2d(x, w, None, g.options(c));
        let kernel = |x, w| depthwise_conv2d(x, w, None, &g);
        let sum = |x, w| conv2d_im2col(x, w, None, &g, c);
        let ways: [(&str, &dyn Fn(Tensor<B, 4>, Tensor<B, 4>) -> Tensor<B, 4>); 3] =
            [("conv2d", &native), ("depthwise_conv2d", &kernel), ("weighted sum", &sum)];
        for (_, way) in &ways {
            step::<B>(way, &x, &w);
        }
        let mut times = vec![Vec::new(); ways.len()];
        for _ in 0..iters {
            for (k, (_, way)) in ways.iter().enumerate() {
                let t = Instant::now();
                step::<B>(way, &x, &w);
                times[k].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        for ((name, _), ms) in ways.iter().zip(&medians) {
            println!(
                "| {backend} | [{n},{c},{hw},{hw}] | {name} | {ms:.2} | {:.2} |",
                ms / medians[0]
            );
        }
    }
}

fn main() {
    let iters: usize = std::env::var("ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    println!("| backend | input | depthwise conv as | fwd+bwd ms | vs conv2d |");
    println!("| --- | --- | --- | --- | --- |");
    type Cpu = Autodiff<NdArray>;
    assert!(has_depthwise_kernels::<Cpu>());
    bench::<Cpu>("ndarray", &Default::default(), iters);
    #[cfg(feature = "wgpu")]
    {
        type Gpu = Autodiff<burn::backend::Wgpu>;
        assert!(has_depthwise_kernels::<Gpu>());
        bench::<Gpu>("wgpu", &Default::default(), iters);
    }
}
