//! A dense convolution of few input channels — a network's stem on RGB or grey images — by two
//! direct kernels on burn's cubecl backends: the output with one thread per output value, and
//! the weight gradient with one sum per kernel tap in each thread (partial sums per image chunk,
//! then added up as the GEMM convs' are). The input must need no gradient (an image batch): a
//! stem's input never does; any other conv takes [`conv2d_im2col`](crate::conv2d_im2col).
//!
//! Why: the GEMM kernels read eight channels where a stem has three (the stem on them was
//! 0.1–0.8 ms a pass slower than im2col on an H200, session 20), and im2col makes nine shifted
//! copies, a concatenation, a batched product over the images, and, backward, a reduction of
//! per-image weight gradients over the batch: about 0.5 ms of every pass of the 8-layer net at
//! batch 1024 whatever the width, an eighth of a narrow pass (docs/BENCHMARKS.md, session 21).
//! Three input channels read from a 3×3 window are 27 products per output value: the kernels
//! are bound by writing the output and reading the output gradient.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::im2col::ConvGeometry;

/// The most kernel taps (input channels × kernel positions) a direct conv takes: each thread of
/// the weight-gradient kernel keeps a sum per tap in registers, and its cube adds them up in
/// shared memory (`taps × 256` values). A 3-channel 3×3 stem has 27.
pub const MAX_DIRECT_TAPS: usize = 32;

/// The conv of `x` `[n, c_in, h, w]` with the active block of `weight` (its first
/// `out_channels` filters over `c_in` channels, read in place) by the direct kernels, where the
/// backend has them (burn's CUDA and wgpu backends in f32, with or without autodiff), the conv
/// has at most [`MAX_DIRECT_TAPS`] taps and symmetric padding, and `x` needs no gradient; the
/// weight's gradient is full size, zero outside the block. Otherwise the tensors back.
#[allow(clippy::type_complexity)]
pub(crate) fn direct_conv2d_active<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    out_channels: usize,
    geometry: &ConvGeometry,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>)> {
    let [_, c_in, _, _] = x.dims();
    let [_, _, kh, kw] = weight.dims();
    if c_in * kh * kw > MAX_DIRECT_TAPS || geometry.pad_start != geometry.pad_end {
        return Err((x, weight));
    }
    #[cfg(feature = "cube")]
    {
        use burn::tensor::DType;
        use burn::tensor::TensorPrimitive::Float;
        let run = match cube::dispatch::<B>() {
            Some(run) if x.dtype() == DType::F32 && weight.dtype() == DType::F32 => run,
            _ => return Err((x, weight)),
        };
        match run(x.into_primitive().tensor(), weight.into_primitive().tensor(), out_channels, geometry) {
            Ok(out) => Ok(Tensor::from_primitive(Float(out))),
            Err((x, weight)) => Err((Tensor::from_primitive(Float(x)), Tensor::from_primitive(Float(weight)))),
        }
    }
    #[cfg(not(feature = "cube"))]
    {
        let _ = out_channels;
        Err((x, weight))
    }
}

#[cfg(feature = "cube")]
pub(crate) mod cube {
    //! The kernels, and the op on `CubeBackend` and on burn's autodiff over it.

    use std::any::TypeId;

    use burn::backend::Autodiff;
    use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::FloatTensor;
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
    use cubecl::prelude::*;

    use crate::cube_launch::{elementwise_launch, empty_like};
    use crate::gemm_operands::batch_summed;
    use crate::im2col::ConvGeometry;
    use crate::type_match::same_type;

    /// Threads per cube of [`weight_grad_kernel`].
    const THREADS: usize = 256;
    /// Output pixels each thread of [`weight_grad_kernel`] adds up (a chunk of the batch's
    /// pixels per cube: 16 Ki, 64 chunks for a batch of 1 024 32×32 images).
    const PIXELS_PER_THREAD: usize = 64;

    /// `output` `[n, c_out, h_out, w_out]` (contiguous) is the conv of `input` `[n, channels, h,
    /// w]` with the first `c_out` filters of `weight` `[≥ c_out, ≥ channels, kh, kw]` (both any
    /// strides): one thread per output value, `channels·kh·kw` products.
    #[cube(launch)]
    fn forward_kernel<F: Float>(
        input: &Tensor<F>,
        weight: &Tensor<F>,
        output: &mut Tensor<F>,
        #[comptime] channels: usize,
        #[comptime] kernel: (usize, usize),
        #[comptime] stride: (usize, usize),
        #[comptime] dilation: (usize, usize),
        #[comptime] padding: (usize, usize),
    ) {
        if ABSOLUTE_POS >= output.len() {
            terminate!();
        }
        let (c_out, ho, wo) = (output.shape(1), output.shape(2), output.shape(3));
        let ox = ABSOLUTE_POS % wo;
        let oy = (ABSOLUTE_POS / wo) % ho;
        let co = (ABSOLUTE_POS / (wo * ho)) % c_out;
        let img = ABSOLUTE_POS / (wo * ho * c_out);
        let mut sum = F::new(0.0);
        #[unroll]
        for ci in 0..channels {
            #[unroll]
            for i in 0..kernel.0 {
                #[unroll]
                for j in 0..kernel.1 {
                    // Coordinates in the padded image; inside the input where at least the padding.
                    let y = oy * stride.0 + i * dilation.0;
                    let x = ox * stride.1 + j * dilation.1;
                    if y >= padding.0 && y < padding.0 + input.shape(2) && x >= padding.1 && x < padding.1 + input.shape(3) {
                        let at = img * input.stride(0) + ci * input.stride(1) + (y - padding.0) * input.stride(2) + (x - padding.1) * input.stride(3);
                        let tap = co * weight.stride(0) + ci * weight.stride(1) + i * weight.stride(2) + j * weight.stride(3);
                        sum += input[at] * weight[tap];
                    }
                }
            }
        }
        output[ABSOLUTE_POS] = sum;
    }

    /// `partials` `[chunks, c_out, channels, kh, kw]` (contiguous): for cube `(chunk, co)`, the
    /// weight gradient of filter `co` summed over the chunk's `per_chunk` output pixels of the
    /// batch (flat over images and pixels) — `grad[img, co, oy, ox] · input[img, ci, …]` at
    /// each tap. Each thread sums every `THREADS`-th pixel of the chunk, one register per tap;
    /// the cube adds the threads' sums through shared memory.
    #[cube(launch)]
    fn weight_grad_kernel<F: Float>(
        input: &Tensor<F>,
        grad: &Tensor<F>,
        partials: &mut Tensor<F>,
        per_chunk: usize,
        #[comptime] channels: usize,
        #[comptime] kernel: (usize, usize),
        #[comptime] stride: (usize, usize),
        #[comptime] dilation: (usize, usize),
        #[comptime] padding: (usize, usize),
    ) {
        let taps = comptime!(channels * kernel.0 * kernel.1);
        let chunk = CUBE_POS_X as usize;
        let co = CUBE_POS_Y as usize;
        let (ho, wo) = (grad.shape(2), grad.shape(3));
        let pixels = ho * wo;
        let start = chunk * per_chunk;
        let end = min(start + per_chunk, grad.shape(0) * pixels);
        let mut sums = Array::<F>::new(taps);
        #[unroll]
        for t in 0..taps {
            sums[t] = F::new(0.0);
        }
        let mut p = start + UNIT_POS as usize;
        while p < end {
            let img = p / pixels;
            let oy = (p % pixels) / wo;
            let ox = p % wo;
            let g = grad[img * grad.stride(0) + co * grad.stride(1) + oy * grad.stride(2) + ox * grad.stride(3)];
            #[unroll]
            for ci in 0..channels {
                #[unroll]
                for i in 0..kernel.0 {
                    #[unroll]
                    for j in 0..kernel.1 {
                        let y = oy * stride.0 + i * dilation.0;
                        let x = ox * stride.1 + j * dilation.1;
                        if y >= padding.0 && y < padding.0 + input.shape(2) && x >= padding.1 && x < padding.1 + input.shape(3) {
                            let at = img * input.stride(0) + ci * input.stride(1) + (y - padding.0) * input.stride(2) + (x - padding.1) * input.stride(3);
                            sums[(ci * kernel.0 + i) * kernel.1 + j] += g * input[at];
                        }
                    }
                }
            }
            p += THREADS;
        }
        let mut shared = SharedMemory::<F>::new(taps * THREADS);
        #[unroll]
        for t in 0..taps {
            shared[t * THREADS + UNIT_POS as usize] = sums[t];
        }
        sync_cube();
        let t = UNIT_POS as usize;
        if t < taps {
            let mut sum = F::new(0.0);
            for k in 0..THREADS {
                sum += shared[t * THREADS + k];
            }
            partials[(chunk * grad.shape(1) + co) * taps + t] = sum;
        }
    }

    /// The output `[n, c_out, h_out, w_out]` of [`forward_kernel`].
    pub(crate) fn forward<R: CubeRuntime, F: FloatElement>(x: CubeTensor<R>, weight: CubeTensor<R>, c_out: usize, g: &ConvGeometry) -> CubeTensor<R> {
        let [n, c_in, h, w] = x.meta.shape().dims::<4>();
        let [kh, kw] = [weight.meta.shape()[2], weight.meta.shape()[3]];
        let [ho, wo] = g.output_size([h, w]);
        let output = empty_like::<R, F>(&x, &[n, c_out, ho, wo]);
        if n * c_out * ho * wo == 0 {
            return output;
        }
        let (count, dim) = elementwise_launch(&output, 1);
        let (client, input, weights, out) = (x.client.clone(), x.into_tensor_arg(), weight.into_tensor_arg(), output.clone().into_tensor_arg());
        let (kernel, stride, dilation, padding) = ((kh, kw), (g.stride[0], g.stride[1]), (g.dilation[0], g.dilation[1]), (g.pad_start[0], g.pad_start[1]));
        forward_kernel::launch::<F, R>(&client, count, dim, input, weights, out, c_in, kernel, stride, dilation, padding);
        output
    }

    /// The weight gradient, full size (`full_shape`, zero outside the first `[c_out, c_in]`
    /// block), of the conv of `x` whose output gradient is `grad` `[n, c_out, h_out, w_out]`:
    /// [`weight_grad_kernel`]'s partial sums, added up by `batch_summed`.
    pub(crate) fn weight_grad<R: CubeRuntime, F: FloatElement>(x: CubeTensor<R>, grad: CubeTensor<R>, full_shape: [usize; 4], g: &ConvGeometry) -> CubeTensor<R> {
        let c_in = x.meta.shape()[1];
        let [n, c_out, ho, wo] = grad.meta.shape().dims::<4>();
        let [kh, kw] = [full_shape[2], full_shape[3]];
        let per_chunk = THREADS * PIXELS_PER_THREAD;
        let chunks = (n * ho * wo).div_ceil(per_chunk).max(1);
        if c_out == 0 || n * ho * wo == 0 {
            // No filter or no pixel: nothing to sum.
            return burn_cubecl::ops::numeric::zeros_client::<R>(x.client.clone(), x.device.clone(), full_shape.into(), F::dtype());
        }
        let partials = empty_like::<R, F>(&x, &[chunks, c_out, c_in, kh, kw]);
        let count = CubeCount::new_2d(chunks as u32, c_out as u32);
        let dim = CubeDim::new_1d(THREADS as u32);
        let (client, input, dy, out) = (x.client.clone(), x.into_tensor_arg(), grad.into_tensor_arg(), partials.clone().into_tensor_arg());
        let (kernel, stride, dilation, padding) = ((kh, kw), (g.stride[0], g.stride[1]), (g.dilation[0], g.dilation[1]), (g.pad_start[0], g.pad_start[1]));
        weight_grad_kernel::launch::<F, R>(&client, count, dim, input, dy, out, per_chunk, c_in, kernel, stride, dilation, padding);
        batch_summed::<R, F>(partials, full_shape)
    }

    /// The op for tensors of one backend (input, weight, active filters, geometry): the output,
    /// or the tensors back.
    pub(super) type Run<B> = fn(FloatTensor<B>, FloatTensor<B>, usize, &ConvGeometry) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)>;

    /// The op for `B` when `B` is burn's CUDA or wgpu backend in f32, with or without autodiff.
    pub(super) fn dispatch<B: Backend>() -> Option<Run<B>> {
        #[allow(unused_mut)]
        let mut list: Vec<(TypeId, Run<B>)> = Vec::new();
        #[cfg(feature = "cuda")]
        {
            use crate::type_match::CudaCube;
            list.push((TypeId::of::<CudaCube>(), run_as::<B, CudaCube>));
            list.push((TypeId::of::<Autodiff<CudaCube>>(), run_as::<B, Autodiff<CudaCube>>));
        }
        #[cfg(feature = "wgpu")]
        {
            use crate::type_match::WgpuCube;
            list.push((TypeId::of::<WgpuCube>(), run_as::<B, WgpuCube>));
            list.push((TypeId::of::<Autodiff<WgpuCube>>(), run_as::<B, Autodiff<WgpuCube>>));
        }
        list.into_iter().find(|(id, _)| *id == TypeId::of::<B>()).map(|(_, run)| run)
    }

    /// A backend with the op.
    trait DirectConv: Backend {
        fn direct_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            out_channels: usize,
            geometry: &ConvGeometry,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)>;
    }

    /// Runs the op of backend `K`; called only when `K` is `B` itself.
    fn run_as<B: Backend, K: DirectConv>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        out_channels: usize,
        geometry: &ConvGeometry,
    ) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)> {
        fn cast<S: 'static, T: 'static>(value: S) -> T {
            same_type(value).unwrap_or_else(|_| unreachable!("run_as is called only when K is B"))
        }
        K::direct_conv(cast(x), cast(weight), out_channels, geometry).map(cast).map_err(|(x, w)| (cast(x), cast(w)))
    }

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> DirectConv for CubeBackend<R, F, I, BT> {
        fn direct_conv(x: CubeTensor<R>, weight: CubeTensor<R>, c_out: usize, geometry: &ConvGeometry) -> Result<CubeTensor<R>, (CubeTensor<R>, CubeTensor<R>)> {
            Ok(forward::<R, F>(x, weight, c_out, geometry))
        }
    }

    /// The backward step, recorded in the autodiff graph: the weight's gradient only.
    #[derive(Debug)]
    struct DirectConvBackward;

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> Backward<CubeBackend<R, F, I, BT>, 1> for DirectConvBackward {
        /// The input, the full weight's shape and the geometry.
        type State = (CubeTensor<R>, [usize; 4], ConvGeometry);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            let [weight_node] = ops.parents;
            let grad = grads.consume::<CubeBackend<R, F, I, BT>>(&ops.node);
            let (x, full_shape, geometry) = ops.state;
            if let Some(node) = weight_node {
                grads.register::<CubeBackend<R, F, I, BT>>(node.id, weight_grad::<R, F>(x, grad, full_shape, &geometry));
            }
        }
    }

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement, C: CheckpointStrategy> DirectConv for Autodiff<CubeBackend<R, F, I, BT>, C> {
        fn direct_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            c_out: usize,
            geometry: &ConvGeometry,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)> {
            // The kernels have no input gradient: an input that needs one takes im2col.
            if !x.node.requirement.is_none() {
                return Err((x, weight));
            }
            let full_shape = weight.primitive.meta.shape().dims::<4>();
            let out = forward::<R, F>(x.primitive.clone(), weight.primitive.clone(), c_out, geometry);
            Ok(match DirectConvBackward.prepare::<C>([weight.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, full_shape, *geometry), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            })
        }
    }
}

#[cfg(all(test, any(feature = "test-wgpu", feature = "test-cuda")))]
mod tests {
    //! The kernels against burn-ndarray's conv and its weight gradient, on lavapipe and CUDA.
    use super::*;
    use crate::test_support::{NdArrayAd, assert_close_named, assert_inactive_zero, geometry, random};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::module::conv2d;

    /// The output and the weight gradient of the active block (read in place from a larger
    /// weight) agree with burn-ndarray's conv of the sliced weight, the gradient is zero outside
    /// the block, and the direct path did run (an input that needs a gradient does not take it,
    /// and still gets burn-ndarray's gradients).
    fn agrees_with_ndarray<B: AutodiffBackend>(device: &B::Device, tolerance: f32) {
        let cpu = Default::default();
        // (input, full weight, active filters, geometry): the 8-layer net's stem; a strided,
        // padded 5×5 on one channel; a dilated one; a narrow width; more pixels than a chunk.
        let cases = [
            ([2, 3, 9, 9], [8, 3, 3, 3], 8, geometry(3, 1, 1, [1, 1], [1, 1])),
            ([3, 1, 11, 10], [6, 2, 5, 5], 4, geometry(5, 2, 1, [2, 2], [2, 2])),
            ([2, 3, 12, 12], [5, 4, 3, 3], 3, geometry(3, 1, 2, [2, 2], [2, 2])),
            ([2, 3, 8, 8], [16, 3, 3, 3], 3, geometry(3, 2, 1, [0, 0], [0, 0])),
            ([20, 3, 32, 32], [16, 3, 3, 3], 12, geometry(3, 1, 1, [1, 1], [1, 1])),
        ];
        for (x_shape, w_shape, active, g) in cases {
            let x = random::<NdArrayAd, 4>(x_shape, &cpu);
            let weight = random::<NdArrayAd, 4>(w_shape, &cpu).require_grad();
            let block = weight.clone().slice([0..active, 0..x_shape[1]]);
            let expected = conv2d(x.clone(), block, None, g.options(1));
            let mask = random::<NdArrayAd, 4>(expected.dims(), &cpu);
            let expected_grad = weight.grad(&expected.clone().mul(mask.clone()).sum().backward()).unwrap();
            let xb = Tensor::<B, 4>::from_data(x.to_data(), device);
            let wb = Tensor::<B, 4>::from_data(weight.to_data(), device).require_grad();
            let what = format!("x {x_shape:?}, weight {w_shape:?}, {active} filters, {g:?}");
            let out = direct_conv2d_active(xb.clone(), wb.clone(), active, &g).unwrap_or_else(|_| panic!("the direct kernels took no {what}"));
            let to_cpu = |t: Tensor<B::InnerBackend, 4>| Tensor::<burn::backend::NdArray, 4>::from_data(t.into_data(), &cpu);
            assert_close_named(to_cpu(out.clone().inner()), expected.inner(), tolerance, &format!("output, {what}"));
            let grad = wb.grad(&out.mul(Tensor::from_data(mask.to_data(), device)).sum().backward()).unwrap();
            assert_eq!(grad.dims(), w_shape, "the gradient has the full weight's shape");
            // Each a sum over the batch's output pixels, in another order than ndarray's: f32
            // rounding grows with the square root of their count.
            let pixels = (mask.dims()[0] * mask.dims()[2] * mask.dims()[3]) as f32;
            assert_close_named(to_cpu(grad.clone()), expected_grad, tolerance * pixels.sqrt(), &format!("weight gradient, {what}"));
            assert_inactive_zero(grad, &[0..active, 0..x_shape[1], 0..w_shape[2], 0..w_shape[3]]);
        }
        let x = random::<B, 4>([2, 3, 6, 6], device).require_grad();
        let w = random::<B, 4>([4, 3, 3, 3], device);
        assert!(direct_conv2d_active(x, w, 4, &geometry(3, 1, 1, [1, 1], [1, 1])).is_err(), "an input that needs a gradient takes im2col");
        let (x, w) = (random::<B, 4>([2, 4, 6, 6], device), random::<B, 4>([4, 4, 3, 3], device));
        assert!(direct_conv2d_active(x, w, 4, &geometry(3, 1, 1, [1, 1], [1, 1])).is_err(), "36 taps are more than MAX_DIRECT_TAPS");
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn direct_conv_on_wgpu_agrees_with_ndarray() {
        agrees_with_ndarray::<crate::test_support::WgpuAd>(&Default::default(), 1e-4);
    }

    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_direct_conv_agrees_with_ndarray() {
        agrees_with_ndarray::<crate::test_support::CudaAd>(&Default::default(), 1e-4);
    }
}
