//! Dense convolution (one group) on burn-ndarray as loops and matrix products: each image's
//! columns (`[c·kh·kw, h_out·w_out]`) written by a loop and multiplied by the weight with
//! `matrixmultiply`'s sgemm, the images in parallel with rayon; backward, the transposed
//! products and a loop that adds the columns' gradient back into place. An op of its own, on
//! burn-ndarray with and without autodiff.
//!
//! Why: by tensor ops ([`conv2d_im2col`](crate::conv2d_im2col): a padded copy, a strided slice
//! per kernel position, their concatenation, a batched product, and the backward of each) a
//! training epoch of the Fashion-MNIST CNN on burn-ndarray spent about half its time in
//! ndarray's generic element loops, a fifth zeroing freshly mapped pages, and under a tenth in
//! the products (perf, docs/BENCHMARKS.md, session 32); burn-ndarray's own conv computes its
//! input gradient with a scalar loop.
//!
//! The tensors are read in place where contiguous ([`crate::ndarray_values`]).

use std::any::TypeId;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use rayon::prelude::*;

use crate::im2col::ConvGeometry;
use crate::ndarray_values::{tensor, with_values};
use crate::type_match::same_type;

/// The conv of `x` `[n, c_in, h, w]` with `weight` `[c_out, c_in, kh, kw]` (one group, no bias)
/// by this module's loops where `B` is burn-ndarray (with or without autodiff) and both are f32;
/// otherwise the tensors back, untouched.
pub(crate) fn try_cpu_conv2d<B: Backend>(x: Tensor<B, 4>, weight: Tensor<B, 4>, geometry: &ConvGeometry) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>)> {
    type Run<B> = fn(FloatTensor<B>, FloatTensor<B>, &ConvGeometry) -> FloatTensor<B>;
    let id = TypeId::of::<B>();
    let run: Option<Run<B>> = match () {
        _ if id == TypeId::of::<Autodiff<NdArray>>() => Some(run_as::<B, Autodiff<NdArray>>),
        _ if id == TypeId::of::<NdArray>() => Some(run_as::<B, NdArray>),
        _ => None,
    };
    match run {
        Some(run) if x.dtype() == DType::F32 && weight.dtype() == DType::F32 && x.dims()[1] == weight.dims()[1] => {
            let out = run(x.into_primitive().tensor(), weight.into_primitive().tensor(), geometry);
            Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
        }
        _ => Err((x, weight)),
    }
}

/// A backend with the op.
trait CpuConv: Backend {
    /// The conv of `x` with `weight` (every filter, every channel), without bias.
    fn cpu_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self>;
}

/// Runs the op of backend `K`; called only when `K` is `B` itself.
fn run_as<B: Backend, K: CpuConv>(x: FloatTensor<B>, weight: FloatTensor<B>, geometry: &ConvGeometry) -> FloatTensor<B> {
    fn cast<S: 'static, T: 'static>(value: S) -> T {
        same_type(value).unwrap_or_else(|_| unreachable!("run_as is called only when K is B"))
    }
    cast(K::cpu_conv(cast(x), cast(weight), geometry))
}

impl CpuConv for NdArray {
    fn cpu_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        let (out, shape) = with_values(&x, |x, x_shape| with_values(&weight, |weight, w_shape| forward(x, x_shape, weight, w_shape, geometry)));
        tensor(out, shape)
    }
}

impl<C: CheckpointStrategy> CpuConv for Autodiff<NdArray, C> {
    fn cpu_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        match CpuConvBackward.prepare::<C>([x.node.clone(), weight.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let weight_id = prep.checkpoint(&weight);
                let out = NdArray::cpu_conv(x.primitive, weight.primitive, geometry);
                prep.finish((x_id, weight_id, *geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(NdArray::cpu_conv(x.primitive, weight.primitive, geometry)),
        }
    }
}

/// The backward step, recorded in the autodiff graph.
#[derive(Debug)]
struct CpuConvBackward;

impl Backward<NdArray, 2> for CpuConvBackward {
    /// The input's and the weight's checkpoints, and the geometry.
    type State = (NodeId, NodeId, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [x_node, weight_node] = ops.parents;
        let grad = grads.consume::<NdArray>(&ops.node);
        let (x_id, weight_id, geometry) = ops.state;
        let x: FloatTensor<NdArray> = checkpointer.retrieve_node_output(x_id);
        let weight: FloatTensor<NdArray> = checkpointer.retrieve_node_output(weight_id);
        let (x_grad, weight_grad) = with_values(&grad, |grad, out_shape| {
            with_values(&x, |x, x_shape| {
                with_values(&weight, |weight, w_shape| {
                    let conv = Conv::new(x_shape, w_shape, &geometry);
                    debug_assert_eq!(out_shape, [x_shape[0], w_shape[0], conv.out[0], conv.out[1]]);
                    let weight_grad = weight_node.is_some().then(|| tensor(conv.weight_grad(grad, x), w_shape));
                    let x_grad = x_node.is_some().then(|| tensor(conv.input_grad(grad, weight), x_shape));
                    (x_grad, weight_grad)
                })
            })
        });
        if let (Some(node), Some(weight_grad)) = (weight_node, weight_grad) {
            grads.register::<NdArray>(node.id, weight_grad);
        }
        if let (Some(node), Some(x_grad)) = (x_node, x_grad) {
            grads.register::<NdArray>(node.id, x_grad);
        }
    }
}

/// The forward pass: `[n, c_out, h_out, w_out]`, and that shape.
fn forward(x: &[f32], x_shape: [usize; 4], weight: &[f32], w_shape: [usize; 4], geometry: &ConvGeometry) -> (Vec<f32>, [usize; 4]) {
    let conv = Conv::new(x_shape, w_shape, geometry);
    let [n, c_out] = [x_shape[0], w_shape[0]];
    let mut out = vec![0.0; n * c_out * conv.pixels()];
    if !out.is_empty() {
        out.par_chunks_mut(c_out * conv.pixels()).enumerate().for_each_init(
            || vec![0.0; conv.depth() * conv.pixels()],
            |columns, (image, out)| {
                conv.columns(&x[image * conv.image_len()..][..conv.image_len()], columns);
                // out [c_out, P] = weight [c_out, K] · columns [K, P]
                product(Operand::rows(weight, conv.depth()), Operand::rows(columns, conv.pixels()), out, [c_out, conv.depth(), conv.pixels()], false);
            },
        );
    }
    (out, [n, c_out, conv.out[0], conv.out[1]])
}

/// `c = a · b` (or `c += a · b` with `accumulate`) for `[m, k, n]`: `a` `[m, k]`, `b` `[k, n]`,
/// `c` `[m, n]` row-major.
fn product(a: Operand, b: Operand, c: &mut [f32], [m, k, n]: [usize; 3], accumulate: bool) {
    assert!(c.len() >= m * n, "the product's output holds {} values, not {m} × {n}", c.len());
    if m == 0 || k == 0 || n == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    assert!(a.reaches([m, k]) && b.reaches([k, n]), "a product's operand is shorter than its sizes [{m}, {k}, {n}]");
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: `a` and `b` hold every element their strides reach for these sizes and `c` holds
    // `m · n` values (all checked above), and none of them overlaps `c` (a distinct `&mut`).
    unsafe {
        matrixmultiply::sgemm(m, k, n, 1.0, a.0.as_ptr(), a.1, a.2, b.0.as_ptr(), b.1, b.2, beta, c.as_mut_ptr(), n as isize, 1);
    }
}

/// One conv's sizes: the input's `[c, h, w]`, the output's `[h_out, w_out]`, the weight's
/// `[c_out, kh, kw]`, and the geometry.
struct Conv {
    channels: usize,
    input: [usize; 2],
    out: [usize; 2],
    filters: usize,
    geometry: ConvGeometry,
}

/// A matrix operand of [`Conv::product`]: values, row stride, column stride.
struct Operand<'a>(&'a [f32], isize, isize);

impl<'a> Operand<'a> {
    /// A row-major matrix whose rows are `row` values apart.
    fn rows(values: &'a [f32], row: usize) -> Self {
        Operand(values, row as isize, 1)
    }

    /// The transpose of a row-major matrix whose rows are `row` values apart.
    fn transposed(values: &'a [f32], row: usize) -> Self {
        Operand(values, 1, row as isize)
    }

    /// Whether every element of a `[rows, columns]` matrix read through the strides lies in the
    /// values (both sizes at least 1).
    fn reaches(&self, [rows, columns]: [usize; 2]) -> bool {
        let last = (rows - 1) as isize * self.1 + (columns - 1) as isize * self.2;
        (last as usize) < self.0.len()
    }
}

impl Conv {
    fn new([_, channels, h, w]: [usize; 4], [filters, _, kh, kw]: [usize; 4], geometry: &ConvGeometry) -> Self {
        debug_assert_eq!(geometry.kernel, [kh, kw]);
        Conv { channels, input: [h, w], out: geometry.output_size([h, w]), filters, geometry: *geometry }
    }

    /// Output pixels of an image.
    fn pixels(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Rows of an image's columns (the products' depth): `c·kh·kw`.
    fn depth(&self) -> usize {
        self.channels * self.geometry.kernel[0] * self.geometry.kernel[1]
    }

    /// Values of one input image.
    fn image_len(&self) -> usize {
        self.channels * self.input[0] * self.input[1]
    }

    /// The output positions along `axis` (of `count`) whose input position at kernel tap `tap`
    /// lies inside an input `len` long, and the input position of the first of them.
    fn inside(&self, tap: usize, axis: usize, count: usize, len: usize) -> (std::ops::Range<usize>, usize) {
        let g = &self.geometry;
        let first = (0..count).find(|&o| g.input_position(o, tap, axis, len).is_some());
        match first {
            Some(first) => {
                let last = (first..count).rev().find(|&o| g.input_position(o, tap, axis, len).is_some()).unwrap_or(first);
                (first..last + 1, g.input_position(first, tap, axis, len).unwrap_or(0))
            }
            None => (0..0, 0),
        }
    }

    /// Calls `f(column row, input index, output pixel, count)` for every run of an image's
    /// columns that reads the input (not the padding): `count` values of row `row`, output
    /// pixels `pixel..pixel + count` reading the input at `at, at + stride, …` along a row of
    /// the input. Row `(ch·kh + i)·kw + j` holds channel `ch` at kernel position `(i, j)` — the
    /// weight's `[c_in, kh, kw]` order.
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let [kh, kw] = self.geometry.kernel;
        let [h, w] = self.input;
        let [ho, wo] = self.out;
        let columns: Vec<_> = (0..kw).map(|j| self.inside(j, 1, wo, w)).collect();
        for i in 0..kh {
            let (rows, y0) = self.inside(i, 0, ho, h);
            for (j, (cols, x0)) in columns.iter().enumerate() {
                if cols.is_empty() {
                    continue;
                }
                for ch in 0..self.channels {
                    let row = (ch * kh + i) * kw + j;
                    for (k, oy) in rows.clone().enumerate() {
                        let y = y0 + k * self.geometry.stride[0];
                        f(row, (ch * h + y) * w + x0, oy * wo + cols.start, cols.len());
                    }
                }
            }
        }
    }

    /// An image's columns `[c·kh·kw, h_out·w_out]` into `columns` (zeros where the kernel reads
    /// the padding).
    fn columns(&self, image: &[f32], columns: &mut [f32]) {
        columns.fill(0.0);
        let (pixels, step) = (self.pixels(), self.geometry.stride[1]);
        self.for_each_run(|row, at, pixel, count| {
            let out = &mut columns[row * pixels + pixel..][..count];
            match step {
                1 => out.copy_from_slice(&image[at..][..count]),
                _ => out.iter_mut().enumerate().for_each(|(k, value)| *value = image[at + k * step]),
            }
        });
    }

    /// The input's gradient `[n, c, h, w]` from the output's `grad` `[n, c_out, h_out, w_out]`:
    /// per image, the columns' gradient `weightᵀ · grad`, added back where each column value
    /// was read.
    fn input_grad(&self, grad: &[f32], weight: &[f32]) -> Vec<f32> {
        let images = grad.len() / (self.filters * self.pixels()).max(1);
        let mut input_grad = vec![0.0; images * self.image_len()];
        if input_grad.is_empty() {
            return input_grad;
        }
        let pixels = self.pixels();
        input_grad.par_chunks_mut(self.image_len()).enumerate().for_each_init(
            || vec![0.0; self.depth() * pixels],
            |columns, (image, input_grad)| {
                let grad = &grad[image * self.filters * pixels..][..self.filters * pixels];
                // columns [K, P] = weightᵀ [K, c_out] · grad [c_out, P]
                product(Operand::transposed(weight, self.depth()), Operand::rows(grad, pixels), columns, [self.depth(), self.filters, pixels], false);
                let step = self.geometry.stride[1];
                self.for_each_run(|row, at, pixel, count| {
                    let from = &columns[row * pixels + pixel..][..count];
                    from.iter().enumerate().for_each(|(k, value)| input_grad[at + k * step] += value);
                });
            },
        );
        input_grad
    }

    /// The weight's gradient `[c_out, c, kh, kw]`: the sum over images of `grad · columnsᵀ`,
    /// in [`WEIGHT_GRAD_RUNS`] runs of images summed in parallel, then the runs' sums added in
    /// order — the same sums, in the same order, however many threads there are, so that a run
    /// of training repeats exactly (a resumed one included).
    fn weight_grad(&self, grad: &[f32], x: &[f32]) -> Vec<f32> {
        let size = self.filters * self.depth();
        let images = x.len() / self.image_len().max(1);
        let pixels = self.pixels();
        let run = images.div_ceil(WEIGHT_GRAD_RUNS).max(1);
        let sums: Vec<Vec<f32>> = (0..images.div_ceil(run))
            .into_par_iter()
            .map(|r| {
                let (mut sum, mut columns) = (vec![0.0; size], vec![0.0; self.depth() * pixels]);
                for image in r * run..((r + 1) * run).min(images) {
                    self.columns(&x[image * self.image_len()..][..self.image_len()], &mut columns);
                    let grad = &grad[image * self.filters * pixels..][..self.filters * pixels];
                    // sum [c_out, K] += grad [c_out, P] · columnsᵀ [P, K]
                    product(Operand::rows(grad, pixels), Operand::transposed(&columns, pixels), &mut sum, [self.filters, pixels, self.depth()], true);
                }
                sum
            })
            .collect();
        sums.into_iter()
            .reduce(|mut total, sum| {
                total.iter_mut().zip(sum).for_each(|(total, value)| *total += value);
                total
            })
            .unwrap_or_else(|| vec![0.0; size])
    }
}

/// Runs of images the weight gradient is summed in (at most): enough for the cores of a
/// workstation, and a number that does not depend on them.
const WEIGHT_GRAD_RUNS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NdArrayAd, agrees_with_ndarray, assert_close, geometry, random};

    /// Tolerance of f32 sums of a few hundred products against burn-ndarray's own conv.
    const TOLERANCE: f32 = 1e-3;

    fn ours<B: Backend>(x: Tensor<B, 4>, w: Tensor<B, 4>, bias: Option<Tensor<B, 1>>, g: &ConvGeometry) -> Tensor<B, 4> {
        let out = try_cpu_conv2d(x, w, g).unwrap_or_else(|_| panic!("no CPU conv for this backend"));
        crate::im2col::add_channel_bias(out, bias)
    }

    /// Output and both gradients against burn-ndarray's `conv2d`, over strides, dilations,
    /// paddings (uneven too), kernels larger than the input's padded side, and 1×1 kernels.
    #[test]
    fn matches_burn_ndarrays_conv_with_its_gradients() {
        let device = Default::default();
        let agrees = |x: [usize; 4], w: [usize; 4], g: ConvGeometry| agrees_with_ndarray::<NdArrayAd>(x, w, g, &device, TOLERANCE, ours);
        agrees([2, 3, 8, 8], [5, 3, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
        agrees([3, 4, 9, 7], [6, 4, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
        agrees([2, 4, 8, 8], [6, 4, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])); // even side
        agrees([2, 5, 9, 9], [4, 5, 3, 3], geometry(3, 1, 2, [2, 2], [2, 2])); // dilated
        agrees([2, 6, 5, 6], [7, 6, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // pointwise
        agrees([2, 3, 7, 7], [4, 3, 5, 5], geometry(5, 2, 1, [2, 2], [2, 2]));
        agrees([1, 2, 6, 6], [3, 2, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1])); // `Same`-style uneven padding
        agrees([2, 2, 3, 3], [3, 2, 5, 5], geometry(5, 1, 1, [2, 2], [2, 2])); // kernel larger than the image
        agrees([2, 3, 6, 6], [4, 3, 3, 3], geometry(3, 1, 1, [0, 0], [0, 0])); // no padding
        // Many more images than threads: each thread's weight-gradient sum takes several.
        agrees([40, 3, 6, 6], [4, 3, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
    }

    /// Slices of larger tensors (a slimmable conv's active block: not contiguous) give the
    /// native conv's output, and gradients that reach only the block.
    #[test]
    fn sliced_tensors_get_gradients_in_their_block() {
        let device = Default::default();
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x_full = random::<NdArrayAd, 4>([2, 6, 7, 7], &device).require_grad();
        let w_full = random::<NdArrayAd, 4>([8, 6, 3, 3], &device).require_grad();
        let block = || (x_full.clone().slice([0..2, 0..4]), w_full.clone().slice([0..5, 0..4]));
        let (x, w) = block();
        let native = burn::tensor::module::conv2d(x, w, None, g.options(1));
        let (x, w) = block();
        let ours = ours(x, w, None, &g);
        assert_close(ours.clone(), native.clone(), TOLERANCE);
        let mask = random::<NdArrayAd, 4>(native.dims(), &device);
        let grads = ours.mul(mask.clone()).sum().backward();
        let expected = native.mul(mask).sum().backward();
        assert_close(w_full.grad(&grads).unwrap(), w_full.grad(&expected).unwrap(), 10.0 * TOLERANCE);
        assert_close(x_full.grad(&grads).unwrap(), x_full.grad(&expected).unwrap(), TOLERANCE);
        crate::test_support::assert_inactive_zero(w_full.grad(&grads).unwrap(), &[0..5, 0..4, 0..3, 0..3]);
    }

    /// The weight gradient's sums do not depend on the threads: bit for bit the same with one
    /// thread and with five (training repeats exactly, a resumed run included).
    #[test]
    fn the_weight_gradient_is_the_same_on_any_number_of_threads() {
        let device = Default::default();
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let values = |shape: [usize; 4]| random::<NdArray, 4>(shape, &device).into_data().into_vec::<f32>().unwrap();
        let (x, grad) = (values([37, 3, 6, 6]), values([37, 4, 6, 6]));
        let conv = Conv::new([37, 3, 6, 6], [4, 3, 3, 3], &g);
        let on = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| conv.weight_grad(&grad, &x));
        assert_eq!(on(1), on(5));
    }

    /// Without autodiff (evaluation), the same output as burn-ndarray's conv.
    #[test]
    fn inference_matches_burn_ndarray() {
        let device = Default::default();
        let g = geometry(3, 2, 1, [1, 1], [1, 1]);
        let x = random::<NdArray, 4>([3, 4, 9, 9], &device);
        let w = random::<NdArray, 4>([5, 4, 3, 3], &device);
        let expected = burn::tensor::module::conv2d(x.clone(), w.clone(), None, g.options(1));
        assert_close(ours(x, w, None, &g), expected, TOLERANCE);
    }

    /// Other backends and element types get their tensors back.
    #[test]
    fn other_backends_and_types_are_declined() {
        let device = Default::default();
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        type Nd64 = burn::backend::NdArray<f64>;
        let x = random::<Nd64, 4>([1, 2, 4, 4], &device);
        let w = random::<Nd64, 4>([2, 2, 3, 3], &device);
        assert!(try_cpu_conv2d(x, w, &g).is_err());
        // A grouped weight (fewer input channels than the input has) is not this op's.
        let x = random::<NdArray, 4>([1, 4, 4, 4], &device);
        let w = random::<NdArray, 4>([4, 2, 3, 3], &device);
        assert!(try_cpu_conv2d(x, w, &g).is_err());
    }
}
