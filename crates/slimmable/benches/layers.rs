//! Forward+backward time of each slimmable layer at width ratio r against the plain burn layer
//! built at that width (same weights), on ndarray.
//!
//! ```sh
//! cargo bench -p slimmable --bench layers
//! ```
//!
//! The two are timed interleaved (slim, plain, slim, plain, …) so that drift in the machine
//! affects both alike; the median of each is reported with the ratio slim / plain.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Distribution, Tensor};
use slimmable::{SlimBatchNormConfig, SlimConv2dConfig, SlimLinearConfig, channels_for_ratio};

type B = Autodiff<NdArray>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Times `slim` and `plain` interleaved; returns median milliseconds of each.
fn race(iters: usize, mut slim: impl FnMut(), mut plain: impl FnMut()) -> (f64, f64) {
    for _ in 0..3 {
        slim();
        plain();
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..iters {
        let t = Instant::now();
        slim();
        a.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        plain();
        b.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(a), median(b))
}

fn report(layer: &str, r: f64, shape: &str, (slim, plain): (f64, f64)) {
    println!("| {layer} | {r:.3} | {shape} | {slim:.3} | {plain:.3} | {:.3} |", slim / plain);
}

fn main() {
    let device = Default::default();
    let iters: usize = std::env::var("ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    println!("| layer | r | active shape | slim ms | plain ms | slim / plain |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in [0.25, 0.5, 0.75, 1.0] {
        // 3x3 conv 128 -> 128 at 16x16, batch 32.
        let conv = SlimConv2dConfig::new([128, 128], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init::<B>(&device);
        let c = channels_for_ratio(128, r, None).unwrap();
        let plain = conv.to_plain(c, c).unwrap();
        let x = Tensor::<B, 4>::random([32, c, 16, 16], Distribution::Default, &device);
        let t = race(
            iters,
            || drop(conv.forward(x.clone(), c).sum().backward()),
            || drop(plain.forward(x.clone()).sum().backward()),
        );
        report("SlimConv2d 3x3", r, &format!("[32,{c},16,16]→{c}"), t);

        // Depthwise 3x3 on 256 channels at 16x16.
        let dw = SlimConv2dConfig::new([256, 256], [3, 3])
            .with_groups(256)
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init::<B>(&device);
        let c = channels_for_ratio(256, r, None).unwrap();
        let plain = dw.to_plain(c, c).unwrap();
        let x = Tensor::<B, 4>::random([32, c, 16, 16], Distribution::Default, &device);
        let t = race(
            iters,
            || drop(dw.forward(x.clone(), c).sum().backward()),
            || drop(plain.forward(x.clone()).sum().backward()),
        );
        report("SlimConv2d depthwise", r, &format!("[32,{c},16,16]"), t);

        // BatchNorm (training mode) on 256 channels at 16x16.
        let bn = SlimBatchNormConfig::new(256).init::<B>(&device);
        let plain = bn.to_plain(c).unwrap();
        let t = race(
            iters,
            || drop(bn.forward(x.clone()).sum().backward()),
            || drop(plain.forward(x.clone()).sum().backward()),
        );
        report("SlimBatchNorm", r, &format!("[32,{c},16,16]"), t);

        // Linear 1024 -> 1024, batch 256.
        let fc = SlimLinearConfig::new(1024, 1024).init::<B>(&device);
        let d = channels_for_ratio(1024, r, None).unwrap();
        let plain = fc.to_plain(d, d).unwrap();
        let x = Tensor::<B, 2>::random([256, d], Distribution::Default, &device);
        let t = race(
            iters,
            || drop(fc.forward(x.clone(), d).sum().backward()),
            || drop(plain.forward(x.clone()).sum().backward()),
        );
        report("SlimLinear", r, &format!("[256,{d}]→{d}"), t);
    }
}
