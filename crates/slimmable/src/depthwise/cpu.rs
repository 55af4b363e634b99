//! The depthwise op on burn-ndarray: plain loops over each (image, channel) plane, in parallel
//! with rayon. burn-ndarray 0.21 runs a grouped conv as one small conv per group, and the
//! weighted sum of shifted views costs nine full-size temporaries forward and more backward
//! (docs/BENCHMARKS.md); a depthwise 3×3 conv is nine multiply-adds per output.
//!
//! The tensors are read in place where contiguous, through a row-major copy where not (a
//! channel slice of a larger tensor; [`crate::ndarray_values`]).

use burn::backend::NdArray;
use burn::tensor::ops::FloatTensor;
use rayon::prelude::*;

use super::backend::{DepthwiseBackward, DepthwiseForward};
use crate::im2col::ConvGeometry;
use crate::ndarray_values::{tensor, with_values};

/// Calls `f(input index, output index, tap index)` for every (output, tap) pair of one plane
/// whose input position is inside the input.
fn for_each_tap(g: &ConvGeometry, input: [usize; 2], output: [usize; 2], mut f: impl FnMut(usize, usize, usize)) {
    let [kh, kw] = g.kernel;
    for oy in 0..output[0] {
        for i in 0..kh {
            let Some(row) = g.input_position(oy, i, 0, input[0]) else { continue };
            for ox in 0..output[1] {
                for j in 0..kw {
                    if let Some(col) = g.input_position(ox, j, 1, input[1]) {
                        f(row * input[1] + col, oy * output[1] + ox, i * kw + j);
                    }
                }
            }
        }
    }
}

impl DepthwiseForward for NdArray {
    fn depthwise_forward(input: FloatTensor<Self>, weight: FloatTensor<Self>, g: &ConvGeometry) -> FloatTensor<Self> {
        with_values(&input, |x, [n, c, h, w]| {
            with_values(&weight, |weight, _| {
                let [ho, wo] = g.output_size([h, w]);
                let taps = g.kernel[0] * g.kernel[1];
                let mut out = vec![0.0; n * c * ho * wo];
                out.par_chunks_mut(ho * wo).enumerate().for_each(|(plane, out)| {
                    let x = &x[plane * h * w..][..h * w];
                    let k = &weight[(plane % c) * taps..][..taps];
                    for_each_tap(g, [h, w], [ho, wo], |src, dst, tap| out[dst] += x[src] * k[tap]);
                });
                tensor(out, [n, c, ho, wo])
            })
        })
    }
}

impl DepthwiseBackward for NdArray {
    fn depthwise_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        [n, c, h, w]: [usize; 4],
        g: &ConvGeometry,
    ) -> FloatTensor<Self> {
        with_values(&grad, |grad, [_, _, ho, wo]| {
            with_values(&weight, |weight, _| {
                let taps = g.kernel[0] * g.kernel[1];
                let mut input_grad = vec![0.0; n * c * h * w];
                input_grad.par_chunks_mut(h * w).enumerate().for_each(|(plane, input_grad)| {
                    let grad = &grad[plane * ho * wo..][..ho * wo];
                    let k = &weight[(plane % c) * taps..][..taps];
                    for_each_tap(g, [h, w], [ho, wo], |src, dst, tap| input_grad[src] += grad[dst] * k[tap]);
                });
                tensor(input_grad, [n, c, h, w])
            })
        })
    }

    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, g: &ConvGeometry, channels: usize) -> FloatTensor<Self> {
        with_values(&grad, |grad, [_, _, ho, wo]| {
            with_values(&input, |x, [n, c, h, w]| {
                let taps = g.kernel[0] * g.kernel[1];
                // Zero beyond the input's channels.
                let mut weight_grad = vec![0.0; channels * taps];
                // One channel per task, summing over the images: no two tasks write the same value.
                weight_grad[..c * taps].par_chunks_mut(taps).enumerate().for_each(|(channel, k)| {
                    for image in 0..n {
                        let plane = image * c + channel;
                        let x = &x[plane * h * w..][..h * w];
                        let grad = &grad[plane * ho * wo..][..ho * wo];
                        for_each_tap(g, [h, w], [ho, wo], |src, dst, tap| k[tap] += grad[dst] * x[src]);
                    }
                });
                tensor(weight_grad, [channels, 1, g.kernel[0], g.kernel[1]])
            })
        })
    }
}
