//! The depthwise op on burn's cubecl backends (CUDA, wgpu): kernels written in cubecl, one per
//! pass:
//!
//! - forward: one thread per four outputs of a row (`ROW_SEGMENT`), summing their `kh·kw`
//!   taps, each row of taps' input values loaded once for the four;
//! - input gradient: at stride 1 the forward kernel over the output gradient with the weight
//!   turned half a circle; otherwise one thread per four inputs of a row, summing the output
//!   gradients that read them;
//! - weight gradient: one cube per channel and chunk of output rows (as many chunks as bring
//!   the threads up to the target of [`super::set_depthwise_wgrad_threads`]), each thread
//!   keeping one sum per tap over its row segments, the cube adding its threads'; then one
//!   thread per value of the weight's gradient, full length (a slimmable layer's weight has more
//!   channels than the input: zeros beyond them), adds its chunks' sums.
//!
//! Every load reads a valid address and the padding's zeros are selected after it, so a
//! thread's loads issue together rather than each behind its bounds test.
//!
//! Tensors are read through their strides (a slimmable layer's inputs are often channel
//! slices); outputs are contiguous. The activations (input, output and their gradients) are f32
//! or bf16 (`ActivationPrecision`), the weight and its gradient f32; every sum is f32. All three take the geometry of [`ConvGeometry`]: the
//! padding before each axis is explicit, the padding after it is implied by the output size.

use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, bf16};
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement, tensor::CubeTensor};
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

use super::backend::{DepthwiseBackward, DepthwiseForward};
use crate::cube_launch::{elementwise_launch, empty_like, empty_of, run_total};
use crate::launch_share::runs;
use crate::im2col::ConvGeometry;

/// The runtime part of a geometry as the kernels take it (the column stride and dilation are
/// comptime).
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Strides2d {
    stride_h: usize,
    dilation_h: usize,
    pad_h: usize,
    pad_w: usize,
}

/// Positions each thread of the forward and input-gradient kernels computes along an output
/// (input) row, and each thread of the weight gradient sums at a time: a thread's index
/// arithmetic and its weights serve four outputs, and neighbouring taps' input values are
/// loaded once for all four (MobileNetV2-224's depthwise kernels with one output per thread
/// ran at 0.3–0.5 TB/s on an H200, bound by their per-element index arithmetic and
/// bounds-checked loads: docs/BENCHMARKS.md, session 28).
const ROW_SEGMENT: usize = 4;

/// Threads per cube of the weight gradient (one cube per channel and chunk of output rows).
const WGRAD_BLOCK: usize = 256;

/// Input values a row segment reads along one row of taps: the columns of `ROW_SEGMENT`
/// outputs `step` apart, each `kernel_w` taps `dilation` apart.
fn span(kernel_w: usize, (step, dilation): (usize, usize)) -> usize {
    (ROW_SEGMENT - 1) * step + (kernel_w - 1) * dilation + 1
}

/// The input values of one row of taps for a row segment: `values[t]` is the input at padded
/// column `first_col + t` of padded row `row`, zero in the padding.
#[cube]
fn load_span<F: Float, A: Float>(
    input: &Tensor<A>,
    values: &mut Array<F>,
    in_base: usize,
    row: usize,
    first_col: usize,
    geo: &Strides2d,
    #[comptime] span: usize,
) {
    let in_h = input.shape(2);
    let in_w = input.shape(3);
    let row_ok = row >= geo.pad_h && row - geo.pad_h < in_h;
    // Every load reads a valid address (the padding's zeros are selected afterwards), so the
    // loads of a span issue together instead of one behind each bounds test.
    let in_row = in_base + (select(row_ok, row, geo.pad_h) - geo.pad_h) * input.stride(2);
    #[unroll]
    for t in 0..span {
        let col = first_col + t;
        let ok = row_ok && col >= geo.pad_w && col - geo.pad_w < in_w;
        let at = in_row + (select(ok, col, geo.pad_w) - geo.pad_w) * input.stride(3);
        values[t] = select(ok, F::cast_from(input[at]), F::new(0.0));
    }
}

/// `ROW_SEGMENT` outputs of a row per thread, each the sum of its `kh·kw` taps. `cols` is the
/// output's column step and the taps' dilation along a row, `(stride_w, dilation_w)`. With
/// `flip`, tap `(i, j)` takes the weight's `(kh−1−i, kw−1−j)`: a stride-1 conv's input gradient
/// is this kernel over the output gradient with the weight turned half a circle
/// (`input_grad`).
#[cube(launch)]
fn forward_kernel<F: Float, A: Float>(
    input: &Tensor<A>,
    weight: &Tensor<F>,
    output: &mut Tensor<A>,
    geo: &Strides2d,
    #[comptime] kernel_h: usize,
    #[comptime] kernel_w: usize,
    #[comptime] cols: (usize, usize),
    #[comptime] flip: bool,
) {
    let out_w = output.shape(3);
    let out_h = output.shape(2);
    let channels = output.shape(1);
    let segments = out_w.div_ceil(ROW_SEGMENT);
    let rows = output.len() / out_w;
    if ABSOLUTE_POS >= rows * segments {
        terminate!();
    }
    let out_row = ABSOLUTE_POS / segments;
    let ox0 = (ABSOLUTE_POS % segments) * ROW_SEGMENT;
    let oy = out_row % out_h;
    let c = (out_row / out_h) % channels;
    let n = out_row / (out_h * channels);
    let in_base = n * input.stride(0) + c * input.stride(1);
    let w_base = c * weight.stride(0);

    let mut sums = Array::<F>::new(ROW_SEGMENT);
    #[unroll]
    for k in 0..ROW_SEGMENT {
        sums[k] = F::new(0.0);
    }
    let mut values = Array::<F>::new(comptime!(span(kernel_w, cols)));
    #[unroll]
    for i in 0..kernel_h {
        load_span::<F, A>(input, &mut values, in_base, oy * geo.stride_h + i * geo.dilation_h, ox0 * cols.0, geo, comptime!(span(kernel_w, cols)));
        #[unroll]
        for j in 0..kernel_w {
            let wi = if flip { kernel_h - 1 - i } else { i };
            let wj = if flip { kernel_w - 1 - j } else { j };
            let w = weight[w_base + wi * weight.stride(2) + wj * weight.stride(3)];
            #[unroll]
            for k in 0..ROW_SEGMENT {
                sums[k] += values[k * cols.0 + j * cols.1] * w;
            }
        }
    }
    #[unroll]
    for k in 0..ROW_SEGMENT {
        if ox0 + k < out_w {
            output[out_row * out_w + ox0 + k] = A::cast_from(sums[k]);
        }
    }
}

/// Adds tap weight `w` times the output gradient at column `(col − shift_w) / stride_w` of
/// `grad_row` to `sums[k]` when `reaches` and that column is inside the output (the load reads a
/// valid address either way).
#[cube]
#[allow(clippy::too_many_arguments)]
fn add_tap<F: Float, A: Float>(
    sums: &mut Array<F>,
    k: usize,
    grad: &Tensor<A>,
    grad_row: usize,
    col: usize,
    shift_w: usize,
    reaches: bool,
    w: F,
    #[comptime] stride_w: usize,
) {
    let ok = reaches && (col - shift_w) / stride_w < grad.shape(3);
    let at = grad_row + select(ok, (col - shift_w) / stride_w, 0) * grad.stride(3);
    sums[k] += select(ok, F::cast_from(grad[at]), F::new(0.0)) * w;
}

/// `ROW_SEGMENT` input positions of a row per thread, each summing the output gradients that
/// read it (a strided conv's: a stride-1 one runs `forward_kernel` flipped). The strides are
/// comptime (1 or 2 in practice): the test of which output positions read an input element
/// divides by them at every tap, and a division by a runtime value made the one-element kernel
/// twice as slow as the forward one (MobileNetV2 on an H200, docs/BENCHMARKS.md session 14).
/// `cols` is `(stride_w, dilation_w, pad_w % stride_w)`: when the stride divides `ROW_SEGMENT`,
/// every thread's first column is a multiple of it, so which taps reach which of its four
/// positions is known when the kernel compiles, and a tap that does not is never loaded (at
/// stride 2, 6 loads of 36 remain).
#[cube(launch)]
fn input_grad_kernel<F: Float, A: Float>(
    grad: &Tensor<A>,
    weight: &Tensor<F>,
    input_grad: &mut Tensor<A>,
    geo: &Strides2d,
    #[comptime] kernel_h: usize,
    #[comptime] kernel_w: usize,
    #[comptime] stride_h: usize,
    #[comptime] cols: (usize, usize, usize),
) {
    let in_w = input_grad.shape(3);
    let in_h = input_grad.shape(2);
    let channels = input_grad.shape(1);
    let segments = in_w.div_ceil(ROW_SEGMENT);
    let rows = input_grad.len() / in_w;
    if ABSOLUTE_POS >= rows * segments {
        terminate!();
    }
    let in_row = ABSOLUTE_POS / segments;
    let ix0 = (ABSOLUTE_POS % segments) * ROW_SEGMENT;
    let iy = in_row % in_h;
    let c = (in_row / in_h) % channels;
    let n = in_row / (in_h * channels);
    let out_h = grad.shape(2);
    let grad_base = n * grad.stride(0) + c * grad.stride(1);
    let w_base = c * weight.stride(0);
    // This row's position in the padded input.
    let row = iy + geo.pad_h;

    let mut sums = Array::<F>::new(ROW_SEGMENT);
    #[unroll]
    for k in 0..ROW_SEGMENT {
        sums[k] = F::new(0.0);
    }
    #[unroll]
    for i in 0..kernel_h {
        // Output row `oy` reads padded row `oy·stride + i·dilation`.
        let shift_h = i * geo.dilation_h;
        let row_ok = row >= shift_h && (row - shift_h).is_multiple_of(stride_h) && (row - shift_h) / stride_h < out_h;
        let grad_row = grad_base + select(row_ok, (row - shift_h) / stride_h, 0) * grad.stride(2);
        #[unroll]
        for j in 0..kernel_w {
            let w = weight[w_base + i * weight.stride(2) + j * weight.stride(3)];
            let shift_w = j * cols.1;
            #[unroll]
            for k in 0..ROW_SEGMENT {
                let col = ix0 + k + geo.pad_w;
                if comptime!(ROW_SEGMENT.is_multiple_of(cols.0)) {
                    // The thread's first column is a multiple of the stride: whether tap `j`
                    // reaches position `k` is known here, and a tap that does not is not compiled.
                    if (k + comptime!(cols.2 + cols.0 * kernel_w * cols.1) - shift_w).is_multiple_of(cols.0) {
                        add_tap::<F, A>(&mut sums, k, grad, grad_row, col, shift_w, row_ok && col >= shift_w, w, cols.0);
                    }
                } else {
                    let divides = (col - shift_w).is_multiple_of(cols.0);
                    add_tap::<F, A>(&mut sums, k, grad, grad_row, col, shift_w, row_ok && col >= shift_w && divides, w, cols.0);
                }
            }
        }
    }
    #[unroll]
    for k in 0..ROW_SEGMENT {
        if ix0 + k < in_w {
            input_grad[in_row * in_w + ix0 + k] = A::cast_from(sums[k]);
        }
    }
}

/// One cube per (chunk of output rows, channel): its threads walk the chunk's rows
/// `ROW_SEGMENT` outputs at a time, each keeping one sum per tap, and the cube adds its
/// threads' sums. `partial` is `[c, kh·kw, chunks]` ([`chunk_sum_kernel`] adds its last axis);
/// the chunks split the `n · out_h` output rows evenly (the last may be short, or empty).
#[cube(launch)]
fn weight_grad_kernel<F: Float, A: Float>(
    grad: &Tensor<A>,
    input: &Tensor<A>,
    partial: &mut Tensor<F>,
    geo: &Strides2d,
    #[comptime] kernel_h: usize,
    #[comptime] kernel_w: usize,
    #[comptime] cols: (usize, usize),
) {
    let chunk = CUBE_POS_X as usize;
    let c = CUBE_POS_Y as usize;
    let unit = UNIT_POS as usize;
    let chunks = partial.shape(2);
    let taps = comptime!(kernel_h * kernel_w);
    let out_h = grad.shape(2);
    let out_w = grad.shape(3);
    let segments = out_w.div_ceil(ROW_SEGMENT);
    let rows = grad.shape(0) * out_h;
    let per_chunk = rows.div_ceil(chunks);
    let first_row = min(chunk * per_chunk, rows);
    let end_row = min(first_row + per_chunk, rows);

    let mut sums = Array::<F>::new(taps);
    #[unroll]
    for t in 0..taps {
        sums[t] = F::new(0.0);
    }
    let mut g = Array::<F>::new(ROW_SEGMENT);
    let mut values = Array::<F>::new(comptime!(span(kernel_w, cols)));
    let mut at = first_row * segments + unit;
    let end = end_row * segments;
    while at < end {
        let out_row = at / segments;
        let ox0 = (at % segments) * ROW_SEGMENT;
        let oy = out_row % out_h;
        let n = out_row / out_h;
        let grad_row = n * grad.stride(0) + c * grad.stride(1) + oy * grad.stride(2);
        #[unroll]
        for k in 0..ROW_SEGMENT {
            let ok = ox0 + k < out_w;
            g[k] = select(ok, F::cast_from(grad[grad_row + select(ok, ox0 + k, 0) * grad.stride(3)]), F::new(0.0));
        }
        let in_base = n * input.stride(0) + c * input.stride(1);
        #[unroll]
        for i in 0..kernel_h {
            load_span::<F, A>(input, &mut values, in_base, oy * geo.stride_h + i * geo.dilation_h, ox0 * cols.0, geo, comptime!(span(kernel_w, cols)));
            #[unroll]
            for j in 0..kernel_w {
                #[unroll]
                for k in 0..ROW_SEGMENT {
                    sums[i * kernel_w + j] += g[k] * values[k * cols.0 + j * cols.1];
                }
            }
        }
        at += WGRAD_BLOCK;
    }

    // The cube's sum of each tap, one tap at a time through one shared row.
    let mut shared = SharedMemory::<F>::new(WGRAD_BLOCK);
    #[unroll]
    for t in 0..taps {
        shared[unit] = sums[t];
        sync_cube();
        let mut half = (WGRAD_BLOCK / 2).runtime();
        while half > 0 {
            if unit < half {
                let other = shared[unit + half];
                shared[unit] += other;
            }
            sync_cube();
            half /= 2;
        }
        if unit == 0 {
            partial[(c * taps + t) * chunks + chunk] = shared[0];
        }
        sync_cube();
    }
}

/// One thread per value of `weight_grad` `[c_max · kh·kw]` (a weight of `c_max` channels): the
/// sum of its chunks' partial sums `partial` `[c, kh·kw, chunks]` for the input's `c` channels,
/// zero beyond. The weight's gradient full length in one launch: burn's reduction and a zero
/// tensor with a slice assignment (a sliced weight's backward) were three.
#[cube(launch)]
fn chunk_sum_kernel<F: Float>(partial: &Tensor<F>, weight_grad: &mut Tensor<F>) {
    let at = ABSOLUTE_POS;
    if at >= weight_grad.len() {
        terminate!();
    }
    let chunks = partial.shape(2);
    let mut sum = F::new(0.0);
    if at < partial.shape(0) * partial.shape(1) {
        sum = run_total(partial, at * chunks, chunks);
    }
    weight_grad[at] = sum;
}

fn strides_arg<R: CubeRuntime>(g: &ConvGeometry) -> Strides2dLaunch<R> {
    Strides2dLaunch::new(g.stride[0], g.dilation[0], g.pad_start[0], g.pad_start[1])
}

fn dims4<R: CubeRuntime>(tensor: &CubeTensor<R>) -> [usize; 4] {
    let shape = tensor.meta.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// One thread per `ROW_SEGMENT` positions of each row of `output` `[n, c, h, w]`.
fn row_segment_launch<R: CubeRuntime>(output: &CubeTensor<R>) -> (CubeCount, CubeDim) {
    let [n, c, h, w] = dims4(output);
    let threads = n * c * h * w.div_ceil(ROW_SEGMENT);
    let cube_dim = CubeDim::new(&output.client, threads);
    (calculate_cube_count_elemwise(&output.client, threads, cube_dim), cube_dim)
}

/// `forward_kernel` over `input` into a new `[n, c, out_h, out_w]` tensor of the input's type.
fn forward_into<R: CubeRuntime, F: FloatElement>(
    input: CubeTensor<R>,
    weight: CubeTensor<R>,
    out_size: [usize; 2],
    geo: Strides2dLaunch<R>,
    kernel: [usize; 2],
    cols: (usize, usize),
    flip: bool,
) -> CubeTensor<R> {
    let [n, c, _, _] = dims4(&input);
    let output = empty_of(&input, &[n, c, out_size[0], out_size[1]], input.dtype);
    let (count, dim) = row_segment_launch(&output);
    let launch = match input.dtype == DType::BF16 {
        true => forward_kernel::launch::<F, bf16, R>,
        false => forward_kernel::launch::<F, F, R>,
    };
    if runs("depthwise forward", &[&input, &weight, &output], (kernel, cols, flip)) {
        launch(
            &output.client,
            count,
            dim,
            input.into_tensor_arg(),
            weight.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            geo,
            kernel[0],
            kernel[1],
            cols,
            flip,
        );
    }
    output
}

/// The depthwise convolution of `input` `[n, c, h, w]` with `weight` `[c, 1, kh, kw]`.
fn forward<R: CubeRuntime, F: FloatElement>(
    input: CubeTensor<R>,
    weight: CubeTensor<R>,
    geometry: &ConvGeometry,
) -> CubeTensor<R> {
    let [_, _, h, w] = dims4(&input);
    let cols = (geometry.stride[1], geometry.dilation[1]);
    forward_into::<R, F>(input, weight, geometry.output_size([h, w]), strides_arg(geometry), geometry.kernel, cols, false)
}

/// The gradient of [`forward`] with respect to its input of `input_shape`.
fn input_grad<R: CubeRuntime, F: FloatElement>(
    grad: CubeTensor<R>,
    weight: CubeTensor<R>,
    input_shape: [usize; 4],
    geometry: &ConvGeometry,
) -> CubeTensor<R> {
    let [kh, kw] = geometry.kernel;
    let [dh, dw] = geometry.dilation;
    let [pad_h, pad_w] = geometry.pad_start;
    // Stride 1: the forward kernel over the output gradient with the weight flipped, padded by
    // what the taps reach beyond the input less the input's own padding.
    if geometry.stride == [1, 1] && pad_h <= (kh - 1) * dh && pad_w <= (kw - 1) * dw {
        let flipped = Strides2dLaunch::new(1, dh, (kh - 1) * dh - pad_h, (kw - 1) * dw - pad_w);
        let out_size = [input_shape[2], input_shape[3]];
        return forward_into::<R, F>(grad, weight, out_size, flipped, geometry.kernel, (1, dw), true);
    }
    let input_grad = empty_of(&grad, &input_shape, grad.dtype);
    let (count, dim) = row_segment_launch(&input_grad);
    let launch = match grad.dtype == DType::BF16 {
        true => input_grad_kernel::launch::<F, bf16, R>,
        false => input_grad_kernel::launch::<F, F, R>,
    };
    if runs("depthwise input gradient", &[&grad, &weight, &input_grad], (geometry.kernel, geometry.stride, geometry.dilation, geometry.pad_start)) {
        launch(
            &input_grad.client,
            count,
            dim,
            grad.into_tensor_arg(),
            weight.into_tensor_arg(),
            input_grad.clone().into_tensor_arg(),
            strides_arg(geometry),
            kh,
            kw,
            geometry.stride[0],
            (geometry.stride[1], dw, pad_w % geometry.stride[1]),
        );
    }
    input_grad
}

/// The gradient of [`forward`] with respect to its weight of `channels` channels, at least the
/// input's, zero beyond them: `[channels, 1, kh, kw]`, by [`weight_grad_kernel`] per chunk of
/// output rows, then [`chunk_sum_kernel`].
fn weight_grad<R: CubeRuntime, F: FloatElement>(
    grad: CubeTensor<R>,
    input: CubeTensor<R>,
    geometry: &ConvGeometry,
    channels: usize,
) -> CubeTensor<R> {
    let [n, c, out_h, _] = dims4(&grad);
    let taps = geometry.kernel[0] * geometry.kernel[1];
    let chunks = super::wgrad_chunks(c, n * out_h, WGRAD_BLOCK, super::depthwise_wgrad_threads());
    // Both activations of one type for the kernel.
    let grad = match grad.dtype == input.dtype {
        true => grad,
        false => burn_cubecl::kernel::cast(grad, input.dtype),
    };
    let partial = empty_like::<R, F>(&input, &[c, taps, chunks]);
    let launch = match input.dtype == DType::BF16 {
        true => weight_grad_kernel::launch::<F, bf16, R>,
        false => weight_grad_kernel::launch::<F, F, R>,
    };
    if runs("depthwise weight gradient", &[&grad, &input, &partial], (geometry.kernel, geometry.stride, geometry.dilation, geometry.pad_start)) {
        launch(
            &partial.client,
            CubeCount::new_2d(chunks as u32, c as u32),
            CubeDim::new_1d(WGRAD_BLOCK as u32),
            grad.into_tensor_arg(),
            input.into_tensor_arg(),
            partial.clone().into_tensor_arg(),
            strides_arg(geometry),
            geometry.kernel[0],
            geometry.kernel[1],
            (geometry.stride[1], geometry.dilation[1]),
        );
    }
    let weight_grad = empty_like::<R, F>(&partial, &[channels, 1, geometry.kernel[0], geometry.kernel[1]]);
    let (count, dim) = elementwise_launch(&weight_grad, 1);
    if runs("depthwise weight gradient sum", &[&partial, &weight_grad], ()) {
        chunk_sum_kernel::launch::<F, R>(&weight_grad.client, count, dim, partial.into_tensor_arg(), weight_grad.clone().into_tensor_arg());
    }
    weight_grad
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> DepthwiseForward for CubeBackend<R, F, I, BT> {
    fn depthwise_forward(input: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        forward::<R, F>(input, weight, geometry)
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> DepthwiseBackward for CubeBackend<R, F, I, BT> {
    fn depthwise_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        input_shape: [usize; 4],
        geometry: &ConvGeometry,
    ) -> FloatTensor<Self> {
        input_grad::<R, F>(grad, weight, input_shape, geometry)
    }

    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, geometry: &ConvGeometry, channels: usize) -> FloatTensor<Self> {
        weight_grad::<R, F>(grad, input, geometry, channels)
    }
}
