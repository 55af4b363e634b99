//! A depthwise convolution op of this crate's own, forward pass and both gradients: cubecl
//! kernels on burn's CUDA and wgpu backends, parallel loops on burn-ndarray.
//!
//! Why: burn-cubecl 0.21 computes a grouped conv's weight gradient with one conv launch per
//! group (`conv_weight_backward_fallback`; its implicit-GEMM kernels reject `groups != 1`), so
//! one MobileNetV2 sandwich step launches about 16 000 convs (docs/BENCHMARKS.md); here each
//! pass is one kernel launch (two for the weight gradient: per-chunk sums, then their sum).
//! burn-ndarray runs a grouped conv as one small conv per group.
//!
//! - `backend`: the op as two backend traits, and its autodiff backward step;
//! - `cube`: the cubecl kernels (features `wgpu`, `cuda`);
//! - `cpu`: the burn-ndarray loops (feature `ndarray`);
//! - `dispatch`: which backend types have them.

#[cfg(feature = "kernels")]
mod backend;
#[cfg(feature = "ndarray")]
mod cpu;
#[cfg(feature = "cube")]
mod cube;
#[cfg(feature = "kernels")]
mod dispatch;

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;
use burn::tensor::Tensor;

use crate::im2col::{ConvGeometry, add_channel_bias, conv2d_im2col};

/// The default of [`set_depthwise_wgrad_threads`]: on an H200, MobileNetV2-224's sandwich step
/// at batch 128 ran 5 % faster with it than with one band (920 → 967–974 img/s), its plain step
/// 3 % faster, and each width's pass 1–5 % (docs/BENCHMARKS.md, session 26; 1 048 576 was slower
/// than either at the narrow widths). Those figures are of the kernel before session 28's (a
/// thread per image, band of rows, channel and tap); the rewritten one (a cube of 256 per
/// channel and chunk of rows) keeps the target, not re-tuned.
pub const DEFAULT_DEPTHWISE_WGRAD_THREADS: usize = 262_144;

/// The threads the GPU weight gradient of [`depthwise_conv2d`] aims for
/// ([`set_depthwise_wgrad_threads`]); 0: one thread per image, channel and tap.
static WGRAD_THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_DEPTHWISE_WGRAD_THREADS);

/// Sets how many threads the GPU kernels' depthwise weight gradient aims for: each channel's
/// output rows (all images') are split into as many chunks as bring the threads (a cube of
/// 256 per chunk and channel) up to `threads`, at most one chunk per row; the chunks' sums are
/// then added. 0 keeps one chunk, one cube per channel; the default is
/// [`DEFAULT_DEPTHWISE_WGRAD_THREADS`]. Process-wide.
///
/// Why: with one cube per channel a narrow width (fewer channels) leaves most of the GPU idle
/// while each cube walks every image; a kernel of one thread per image, channel and tap took 4.7
/// ms of a 3/12 MobileNetV2-224 pass at batch 128 on an H200 against 6.4 ms of a full one
/// (cubecl's profile, docs/BENCHMARKS.md, session 25).
pub fn set_depthwise_wgrad_threads(threads: usize) {
    WGRAD_THREADS.store(threads, Ordering::Relaxed);
}

/// What [`set_depthwise_wgrad_threads`] set.
pub fn depthwise_wgrad_threads() -> usize {
    WGRAD_THREADS.load(Ordering::Relaxed)
}

/// The chunks each of `channels` channels' `rows` output rows (images × rows) are split into
/// for cubes of `block` threads to reach `threads` (0: one chunk): at least one, at most one
/// per row.
#[cfg(any(feature = "cube", test))]
pub(crate) fn wgrad_chunks(channels: usize, rows: usize, block: usize, threads: usize) -> usize {
    threads.div_ceil((block * channels).max(1)).clamp(1, rows.max(1))
}

/// Whether [`depthwise_conv2d`] runs this crate's kernels on backend `B`: burn's wgpu, CUDA
/// and ndarray backends in f32 (with or without autodiff) when this crate's feature of that
/// name is on, and not under burn's `fusion`.
pub fn has_depthwise_kernels<B: Backend>() -> bool {
    #[cfg(feature = "kernels")]
    {
        dispatch::has_kernels::<B>()
    }
    #[cfg(not(feature = "kernels"))]
    {
        false
    }
}

/// A depthwise convolution of `x` `[n, c, h, w]` with `weight` `[c, 1, kh, kw]` (one group per
/// channel) by this crate's kernels where the backend has them ([`has_depthwise_kernels`]),
/// else as a weighted sum of shifted views ([`conv2d_im2col`]). A weight that is not depthwise
/// for `x` (a channel multiplier above 1) goes to the backend's `conv2d`.
///
/// # Shapes
/// - output: `[n, c, h_out, w_out]`
pub fn depthwise_conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
) -> Tensor<B, 4> {
    let [_, c, _, _] = x.dims();
    let [c_out, in_per_group, _, _] = weight.dims();
    if c_out != c || in_per_group != 1 {
        // burn's conv takes the input in the weight's type (a bf16 activation cast back).
        let dtype = weight.dtype();
        return conv2d(crate::with_dtype(x, dtype), weight, bias, geometry.options(c));
    }
    depthwise_conv2d_active(x, weight, bias, geometry)
}

/// A depthwise convolution of `x` `[n, c, h, w]` with the first `c` channels of `weight` (a
/// slimmable depthwise conv at a width). As [`depthwise_conv2d`] with `weight.slice(0..c)`,
/// but where this crate's kernels run ([`has_depthwise_kernels`]) they read those channels from
/// `weight` in place and write `weight`'s gradient full length (zero beyond `c`): no zero
/// tensor and slice assignment backward (two launches a layer and pass on a GPU).
///
/// # Shapes
/// - `weight`: `[c_max, 1, kh, kw]`, `c ≤ c_max`; `bias`: `[c]`
/// - output: `[n, c, h_out, w_out]`
///
/// # Panics
/// If `weight` is not depthwise (`[_, 1, _, _]`) or has fewer than `c` channels.
///
/// # Example
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::{Distribution, Tensor};
/// use slimmable::{ConvGeometry, depthwise_conv2d_active};
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// // A layer's full weight of 32 filters; at this width its input has 8 channels.
/// let weight = Tensor::<B, 4>::random([32, 1, 3, 3], Distribution::Normal(0.0, 1.0), &device).require_grad();
/// let x = Tensor::<B, 4>::random([2, 8, 10, 10], Distribution::Normal(0.0, 1.0), &device);
/// let same = ConvGeometry { kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad_start: [1, 1], pad_end: [1, 1] };
/// let y = depthwise_conv2d_active(x, weight.clone(), None, &same);
/// assert_eq!(y.dims(), [2, 8, 10, 10]);
/// // The weight's gradient is full length, zero beyond the 8 filters used.
/// let grad = weight.grad(&y.sum().backward()).unwrap();
/// assert_eq!(grad.dims(), [32, 1, 3, 3]);
/// assert_eq!(grad.slice(8..32).abs().sum().into_scalar(), 0.0);
/// ```
pub fn depthwise_conv2d_active<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
) -> Tensor<B, 4> {
    let [_, c, _, _] = x.dims();
    let [c_max, in_per_group, _, _] = weight.dims();
    assert!(in_per_group == 1 && c <= c_max, "depthwise_conv2d_active: a weight of shape {:?} has no depthwise filter for each of the input's {c} channels", weight.dims());
    match kernels(x, weight, geometry) {
        Ok(out) => add_channel_bias(out, bias),
        Err((x, weight)) => {
            let weight = match c < c_max {
                true => weight.slice(0..c),
                false => weight,
            };
            conv2d_im2col(x, weight, bias, geometry, c)
        }
    }
}

/// The kernels' output, or the tensors back when `B` has no kernels.
#[allow(clippy::type_complexity)]
fn kernels<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    geometry: &ConvGeometry,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>)> {
    #[cfg(feature = "kernels")]
    {
        use burn::tensor::TensorPrimitive::Float;
        match dispatch::try_kernels::<B>(x.into_primitive().tensor(), weight.into_primitive().tensor(), geometry) {
            Ok(out) => Ok(Tensor::from_primitive(Float(out))),
            Err((x, weight)) => Err((Tensor::from_primitive(Float(x)), Tensor::from_primitive(Float(weight)))),
        }
    }
    #[cfg(not(feature = "kernels"))]
    {
        let _ = geometry;
        Err((x, weight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NdArrayAd, agrees_with, assert_close, backend_tests, geometry, random};
    use burn::tensor::backend::AutodiffBackend;

    fn ours<B: Backend>(x: Tensor<B, 4>, w: Tensor<B, 4>, b: Option<Tensor<B, 1>>, g: &ConvGeometry) -> Tensor<B, 4> {
        depthwise_conv2d(x, w, b, g)
    }

    fn depthwise_matches_the_backend_with_its_gradients<B: AutodiffBackend>(device: &B::Device) {
        agrees_with::<B>([2, 5, 8, 8], [5, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 5, device, ours);
        agrees_with::<B>([2, 5, 9, 9], [5, 1, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 5, device, ours);
        agrees_with::<B>([2, 6, 10, 9], [6, 1, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 6, device, ours); // `Same`-style
        agrees_with::<B>([3, 4, 7, 6], [4, 1, 5, 5], geometry(5, 1, 1, [2, 2], [2, 2]), 4, device, ours);
        agrees_with::<B>([1, 3, 9, 9], [3, 1, 3, 3], geometry(3, 1, 2, [2, 2], [2, 2]), 3, device, ours); // dilated
        agrees_with::<B>([2, 3, 5, 5], [3, 1, 3, 3], geometry(3, 1, 1, [0, 0], [0, 0]), 3, device, ours); // no padding
        // Rows of several four-position segments, the last short; padding past the taps' reach.
        agrees_with::<B>([2, 3, 5, 19], [3, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 3, device, ours);
        agrees_with::<B>([2, 3, 7, 19], [3, 1, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 3, device, ours);
        agrees_with::<B>([1, 2, 6, 11], [2, 1, 3, 3], geometry(3, 1, 1, [3, 3], [3, 3]), 2, device, ours);
        // A stride that does not divide the four positions of a thread (their taps found at run time).
        agrees_with::<B>([2, 3, 10, 11], [3, 1, 3, 3], geometry(3, 3, 1, [1, 1], [1, 1]), 3, device, ours);
        agrees_with::<B>([2, 4, 6, 6], [8, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 4, device, ours); // multiplier 2: conv2d
        // Unequal strides and kernel sides.
        let g = ConvGeometry { kernel: [3, 1], stride: [2, 1], dilation: [1, 1], pad_start: [1, 0], pad_end: [0, 0] };
        agrees_with::<B>([2, 3, 7, 5], [3, 1, 3, 1], g, 3, device, ours);
    }

    /// A slimmable layer's tensors are channel slices of larger ones: the kernels read them
    /// through their strides, and the gradients reach only the active channels.
    fn sliced_tensors_give_the_gradients_of_the_native_conv<B: AutodiffBackend>(device: &B::Device) {
        let g = geometry(3, 2, 1, [1, 1], [1, 1]);
        let x_full = random::<B, 4>([2, 8, 9, 9], device).require_grad();
        let w_full = random::<B, 4>([8, 1, 3, 3], device).require_grad();
        // Each path slices anew: a backward pass consumes the graph above the leaves.
        let x = || x_full.clone().slice([0..2, 0..5]);
        let w = || w_full.clone().slice(0..5);
        let native = conv2d(x(), w(), None, g.options(5));
        let ours = depthwise_conv2d(x(), w(), None, &g);
        assert_close(ours.clone(), native.clone(), 1e-4);
        let mask = random::<B, 4>(native.dims(), device);
        let grads_native = native.mul(mask.clone()).sum().backward();
        let grads_ours = ours.mul(mask).sum().backward();
        assert_close(x_full.grad(&grads_ours).unwrap(), x_full.grad(&grads_native).unwrap(), 1e-4);
        assert_close(w_full.grad(&grads_ours).unwrap(), w_full.grad(&grads_native).unwrap(), 1e-3);
    }

    /// A full weight with more channels than the input (a slimmable layer's): the active
    /// channels' conv and gradients equal the native conv's on the sliced weight, the weight's
    /// gradient full length with zeros beyond (596 inactive filters: several cubes of them on a
    /// GPU), with the weight gradient in one chunk and in several.
    fn the_active_channels_of_a_full_weight_give_the_native_gradients<B: AutodiffBackend>(device: &B::Device) {
        let before = depthwise_wgrad_threads();
        for (threads, g) in [(0, geometry(3, 1, 1, [1, 1], [1, 1])), (3_000, geometry(3, 2, 1, [1, 1], [1, 1]))] {
            set_depthwise_wgrad_threads(threads);
            let x = random::<B, 4>([2, 5, 9, 9], device).require_grad();
            let w_full = random::<B, 4>([601, 1, 3, 3], device).require_grad();
            let native = conv2d(x.clone(), w_full.clone().slice(0..5), None, g.options(5));
            let ours = depthwise_conv2d_active(x.clone(), w_full.clone(), None, &g);
            assert_close(ours.clone(), native.clone(), 1e-4);
            let mask = random::<B, 4>(native.dims(), device);
            let grads_native = native.mul(mask.clone()).sum().backward();
            let grads_ours = ours.mul(mask).sum().backward();
            assert_close(x.grad(&grads_ours).unwrap(), x.grad(&grads_native).unwrap(), 1e-4);
            let w_grad = w_full.grad(&grads_ours).unwrap();
            assert_eq!(w_grad.dims(), [601, 1, 3, 3]);
            assert_close(w_grad, w_full.grad(&grads_native).unwrap(), 1e-3);
            crate::test_support::assert_inactive_zero(w_full.grad(&grads_ours).unwrap(), &[0..5]);
        }
        set_depthwise_wgrad_threads(before);
    }

    #[test]
    #[should_panic(expected = "no depthwise filter for each of the input's 5 channels")]
    fn a_weight_with_fewer_channels_than_the_input_is_refused() {
        let device = Default::default();
        let _ = depthwise_conv2d_active(random::<NdArrayAd, 4>([1, 5, 4, 4], &device), random::<NdArrayAd, 4>([4, 1, 3, 3], &device), None, &geometry(3, 1, 1, [1, 1], [1, 1]));
    }

    /// Without autodiff (inference) the kernel path gives the same output.
    fn inference_matches_the_backend<B: AutodiffBackend>(device: &B::Device) {
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x = random::<B::InnerBackend, 4>([2, 4, 6, 7], device);
        let w = random::<B::InnerBackend, 4>([4, 1, 3, 3], device);
        let native = conv2d(x.clone(), w.clone(), None, g.options(4));
        assert_close(depthwise_conv2d(x, w, None, &g), native, 1e-4);
    }

    /// A bf16 input (`ActivationPrecision`): the output and the input's gradient are bf16 and
    /// equal the kernels' on the same values in f32 within bf16's rounding of what they write;
    /// the weight's gradient is f32 and agrees closely (its sums are f32 in both). Strided and
    /// sliced inputs too.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_a_bf16_input_gives_a_bf16_output_and_gradient_equal_to_the_f32_ones() {
        use crate::test_support::{CudaAd, assert_close_named};
        use burn::tensor::{DType, FloatDType};
        let device = Default::default();
        for (shape, g) in [([4, 16, 8, 8], geometry(3, 1, 1, [1, 1], [1, 1])), ([4, 24, 9, 9], geometry(3, 2, 1, [1, 1], [1, 1]))] {
            let c = shape[1];
            let x = random::<CudaAd, 4>(shape, &device).cast(FloatDType::BF16).detach();
            // A channel slice, as a slimmable layer reads.
            let (x16, x32) = (x.clone().require_grad(), x.cast(FloatDType::F32).require_grad());
            let w = random::<CudaAd, 4>([c + 4, 1, 3, 3], &device);
            let (w16, w32) = (w.clone().require_grad(), w.require_grad());
            let active = c - 3;
            let out16 = depthwise_conv2d(x16.clone().slice([0..shape[0], 0..active]), w16.clone().slice(0..active), None, &g);
            let out32 = depthwise_conv2d(x32.clone().slice([0..shape[0], 0..active]), w32.clone().slice(0..active), None, &g);
            assert_eq!(out16.dtype(), DType::BF16, "{shape:?}");
            let out16 = out16.cast(FloatDType::F32);
            let largest = |t: Tensor<CudaAd, 4>| -> f32 { t.abs().max().into_scalar() };
            assert_close_named(out16.clone(), out32.clone(), 0.01 * largest(out32.clone()), "the output");
            let probe = random::<CudaAd, 4>(out32.dims(), &device).cast(FloatDType::BF16).cast(FloatDType::F32);
            let (grads16, grads32) = (out16.mul(probe.clone()).sum().backward(), out32.mul(probe).sum().backward());
            let dx16 = x16.grad(&grads16).unwrap();
            assert_eq!(dx16.dtype(), DType::BF16);
            let dx32 = x32.grad(&grads32).unwrap();
            let scale: f32 = dx32.clone().abs().max().into_scalar();
            assert_close_named(dx16.cast(FloatDType::F32), dx32, 0.01 * scale, "the input's gradient");
            let (dw16, dw32) = (w16.grad(&grads16).unwrap(), w32.grad(&grads32).unwrap());
            assert_eq!(dw16.dtype(), DType::F32);
            let scale: f32 = dw32.clone().abs().max().into_scalar();
            assert_close_named(dw16, dw32, 1e-3 * scale, "the weight's gradient");
        }
    }

    /// With the weight gradient in one chunk of rows per channel, in chunks down to one row,
    /// and in chunks of several rows (of several images) whose last is short, every gradient
    /// equals the backend's. (The other tests run with the default target.)
    fn chunked_weight_gradients_match_the_backend<B: AutodiffBackend>(device: &B::Device) {
        let before = depthwise_wgrad_threads();
        // [2, 5, 8, 8]: 16 output rows per channel; 3 000 threads make 3 chunks of 6, 6 and 4
        // rows; [2, 6, 10, 9] stride 2: 10 rows, 2 chunks of 5; a large target one row each.
        for threads in [0, 3_000, 1 << 20] {
            set_depthwise_wgrad_threads(threads);
            agrees_with::<B>([2, 5, 8, 8], [5, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 5, device, ours);
            agrees_with::<B>([2, 6, 10, 9], [6, 1, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 6, device, ours);
        }
        set_depthwise_wgrad_threads(before);
    }

    #[test]
    fn chunks_reach_the_threads_without_exceeding_the_rows() {
        assert_eq!(wgrad_chunks(5, 16, 256, 0), 1);
        // 3 000 threads in cubes of 256: 3 chunks of 5 channels, 2 of 6.
        assert_eq!(wgrad_chunks(5, 16, 256, 3_000), 3);
        assert_eq!(wgrad_chunks(6, 16, 256, 3_000), 2);
        assert_eq!(wgrad_chunks(5, 16, 256, 1 << 20), 16);
        assert_eq!(wgrad_chunks(1_280, 896, 256, 1 << 18), 1);
        // MobileNetV2-224's first depthwise conv at 2/12 and batch 128: 5 channels, 128 × 112 rows.
        assert_eq!(wgrad_chunks(5, 128 * 112, 256, 1 << 18), 205);
    }

    backend_tests!(
        depthwise_matches_the_backend_with_its_gradients,
        sliced_tensors_give_the_gradients_of_the_native_conv,
        inference_matches_the_backend;
        changing_settings: chunked_weight_gradients_match_the_backend, the_active_channels_of_a_full_weight_give_the_native_gradients
    );

    #[test]
    fn kernels_run_on_the_backends_whose_feature_is_on() {
        assert_eq!(has_depthwise_kernels::<NdArrayAd>(), cfg!(feature = "ndarray"));
        assert_eq!(has_depthwise_kernels::<burn::backend::NdArray>(), cfg!(feature = "ndarray"));
        // Not in f64.
        assert!(!has_depthwise_kernels::<burn::backend::NdArray<f64>>());
        #[cfg(feature = "test-wgpu")]
        {
            assert!(has_depthwise_kernels::<crate::test_support::WgpuAd>());
            assert!(has_depthwise_kernels::<burn::backend::Wgpu>());
        }
    }
}
