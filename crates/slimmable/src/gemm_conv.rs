//! Dense convolution (one group) by cubek's implicit-GEMM kernels, forward pass and both
//! gradients, on burn's cubecl backends: on NVIDIA GPUs these run on the tensor cores (TF32
//! for f32 tensors).
//!
//! Why: burn-cubecl 0.21 without its `autotune` feature computes every convolution with a
//! direct kernel (`ConvStrategy::Direct`: one thread per output element, CUDA cores only), and
//! its backward passes with the same kind of kernel. Turning `autotune` on makes burn time up
//! to eight candidate kernels for every new shape, and a slimmable network meets new shapes
//! at every width (DESIGN.md measured 369 s before the first fast step on an H100). This op
//! calls burn's own implicit-GEMM entry points (`ConvStrategy::ImplicitGemm`) directly, with
//! no tuning: the kernels compile once per shape class and cubecl's kernel cache keeps them
//! ([`kernel_cache` in the command line](https://docs.rs/cubecl)).
//!
//! The inputs are made channels-last (NHWC) and contiguous before the kernels read them, so
//! they load whole lines of channels. Where the GEMM kernels cannot take a shape (no tensor
//! cores, as on lavapipe; an unsupported size) the same call runs burn's direct kernels; the
//! forward pass then gives the tensors back to the caller, which uses the backend's `conv2d`.
//! [`implicit_gemm_fallbacks`] counts those fallbacks.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d;

use crate::im2col::{ConvGeometry, add_channel_bias};

static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// How many times, in this process, a convolution or one of its gradients asked of
/// [`gemm_conv2d`] ran burn's direct kernel because the implicit-GEMM kernels could not take
/// it (on a backend that has them).
pub fn implicit_gemm_fallbacks() -> usize {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Whether [`gemm_conv2d`] tries the implicit-GEMM kernels on backend `B`: burn's CUDA and wgpu
/// backends in f32, with or without autodiff, when this crate's feature of that name is on.
pub fn has_implicit_gemm<B: Backend>() -> bool {
    #[cfg(feature = "cube")]
    {
        cube::dispatch::<B>().is_some()
    }
    #[cfg(not(feature = "cube"))]
    {
        false
    }
}

/// A dense convolution of `x` `[n, c_in, h, w]` with `weight` `[c_out, c_in, kh, kw]` by the
/// implicit-GEMM kernels where the backend has them ([`has_implicit_gemm`]) and the padding is
/// the same on both sides of each axis; otherwise the backend's `conv2d`. A grouped weight
/// goes to the backend's `conv2d`.
///
/// # Shapes
/// - output: `[n, c_out, h_out, w_out]`
pub fn gemm_conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
) -> Tensor<B, 4> {
    let [_, c_in, _, _] = x.dims();
    let grouped = weight.dims()[1] != c_in;
    if grouped || geometry.pad_start != geometry.pad_end {
        let groups = c_in / weight.dims()[1].max(1);
        return conv2d(x, weight, bias, geometry.options(groups.max(1)));
    }
    match kernels(x, weight, geometry) {
        Ok(out) => add_channel_bias(out, bias),
        Err((x, weight)) => conv2d(x, weight, bias, geometry.options(1)),
    }
}

/// The kernels' output, or the tensors back.
#[allow(clippy::type_complexity)]
fn kernels<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    geometry: &ConvGeometry,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>)> {
    #[cfg(feature = "cube")]
    {
        use burn::tensor::DType;
        use burn::tensor::TensorPrimitive::Float;
        let run = match cube::dispatch::<B>() {
            Some(run) if x.dtype() == DType::F32 && weight.dtype() == DType::F32 => run,
            _ => return Err((x, weight)),
        };
        match run(x.into_primitive().tensor(), weight.into_primitive().tensor(), geometry) {
            Ok(out) => Ok(Tensor::from_primitive(Float(out))),
            Err((x, weight)) => Err((Tensor::from_primitive(Float(x)), Tensor::from_primitive(Float(weight)))),
        }
    }
    #[cfg(not(feature = "cube"))]
    {
        let _ = geometry;
        Err((x, weight))
    }
}

#[cfg(feature = "cube")]
mod cube {
    //! The op on `CubeBackend` and on burn's autodiff over it, and which backend types get it.

    use std::any::TypeId;
    use std::sync::atomic::Ordering;

    use burn::backend::Autodiff;
    use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::tensor::TensorMetadata;
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::{ConvOptions, FloatTensor};
    use burn_cubecl::kernel::conv::{ConvStrategy, conv_data_backward, conv_forward, conv_weight_backward};
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::{permute_nchw_to_nhwc, permute_nhwc_to_nchw};
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

    use super::FALLBACKS;
    use crate::im2col::ConvGeometry;
    use crate::type_match::same_type;

    /// The op for tensors of one backend: the output, or the tensors back.
    pub(super) type Run<B> =
        fn(FloatTensor<B>, FloatTensor<B>, &ConvGeometry) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)>;

    /// The op for `B` when `B` is burn's CUDA or wgpu backend in f32, with or without autodiff
    /// (not under burn's `fusion`, whose tensors are its own).
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
    trait GemmConv: Backend {
        fn gemm_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            options: ConvOptions<2>,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)>;
    }

    /// Runs the op of backend `K`; called only when `K` is `B` itself.
    fn run_as<B: Backend, K: GemmConv>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        geometry: &ConvGeometry,
    ) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)> {
        fn cast<S: 'static, T: 'static>(value: S) -> T {
            same_type(value).unwrap_or_else(|_| unreachable!("run_as is called only when K is B"))
        }
        let options = ConvOptions::new(geometry.stride, geometry.pad_start, geometry.dilation, 1);
        K::gemm_conv(cast(x), cast(weight), options).map(cast).map_err(|(x, w)| (cast(x), cast(w)))
    }

    /// `tensor` `[n, c, …]` with its memory laid out channels-last and contiguous, still seen
    /// as `[n, c, …]` (a permuted view): what burn's conv entry points turn into a contiguous
    /// channels-last tensor again without copying.
    fn channels_last<R: CubeRuntime>(tensor: CubeTensor<R>) -> CubeTensor<R> {
        permute_nhwc_to_nchw(into_contiguous(permute_nchw_to_nhwc(tensor)))
    }

    /// The result of `gemm`, or `direct`'s when the GEMM kernels cannot take the shape.
    fn or_direct<T, E>(gemm: Result<T, E>, direct: impl FnOnce() -> Result<T, E>, what: &str) -> T
    where
        E: std::fmt::Debug,
    {
        gemm.or_else(|_| {
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
            direct()
        })
        .unwrap_or_else(|err| panic!("burn's direct {what} kernel failed: {err:?}"))
    }

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> GemmConv for CubeBackend<R, F, I, BT> {
        fn gemm_conv(
            x: CubeTensor<R>,
            weight: CubeTensor<R>,
            options: ConvOptions<2>,
        ) -> Result<CubeTensor<R>, (CubeTensor<R>, CubeTensor<R>)> {
            let (xl, wl) = (channels_last(x.clone()), channels_last(weight.clone()));
            match conv_forward::<R, 2>(xl, wl, None, options, ConvStrategy::ImplicitGemm) {
                Ok(out) => Ok(into_contiguous(out)),
                Err(_) => {
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    Err((x, weight))
                }
            }
        }
    }

    /// The backward step, recorded in the autodiff graph.
    #[derive(Debug)]
    struct GemmConvBackward;

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> Backward<CubeBackend<R, F, I, BT>, 2>
        for GemmConvBackward
    {
        /// The input and the weight, channels-last ([`channels_last`]), and the options.
        type State = (CubeTensor<R>, CubeTensor<R>, ConvOptions<2>);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            type B<R, F, I, BT> = CubeBackend<R, F, I, BT>;
            let [input_node, weight_node] = ops.parents;
            let grad = channels_last(grads.consume::<B<R, F, I, BT>>(&ops.node));
            let (x, weight, options) = ops.state;
            if let Some(node) = weight_node {
                let shape = weight.shape();
                let gemm = conv_weight_backward::<R, 2>(x.clone(), grad.clone(), shape.clone(), options.clone(), ConvStrategy::ImplicitGemm);
                let direct = || conv_weight_backward::<R, 2>(x.clone(), grad.clone(), shape, options.clone(), ConvStrategy::Direct);
                grads.register::<B<R, F, I, BT>>(node.id, into_contiguous(or_direct(gemm, direct, "weight-gradient")));
            }
            if let Some(node) = input_node {
                let shape = x.shape();
                let gemm = conv_data_backward::<R, 2>(grad.clone(), weight.clone(), shape.clone(), options.clone(), ConvStrategy::ImplicitGemm);
                let direct = || conv_data_backward::<R, 2>(grad, weight, shape, options, ConvStrategy::Direct);
                grads.register::<B<R, F, I, BT>>(node.id, into_contiguous(or_direct(gemm, direct, "input-gradient")));
            }
        }
    }

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement, C: CheckpointStrategy> GemmConv
        for Autodiff<CubeBackend<R, F, I, BT>, C>
    {
        fn gemm_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            options: ConvOptions<2>,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)> {
            let (xl, wl) = (channels_last(x.primitive.clone()), channels_last(weight.primitive.clone()));
            let out = match conv_forward::<R, 2>(xl.clone(), wl.clone(), None, options.clone(), ConvStrategy::ImplicitGemm) {
                Ok(out) => into_contiguous(out),
                Err(_) => {
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    return Err((x, weight));
                }
            };
            Ok(match GemmConvBackward.prepare::<C>([x.node.clone(), weight.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((xl, wl, options), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{agrees_with_tolerance, backend_tests, geometry};
    use burn::tensor::backend::AutodiffBackend;

    fn ours<B: Backend>(x: Tensor<B, 4>, w: Tensor<B, 4>, b: Option<Tensor<B, 1>>, g: &ConvGeometry) -> Tensor<B, 4> {
        gemm_conv2d(x, w, b, g)
    }

    /// TF32 products (10-bit mantissa) on tensor cores: relative error about 1e-3 of each
    /// product, over up to 9·c_in terms of unit-variance values.
    const TOLERANCE: f32 = 0.05;

    fn gemm_conv_matches_the_backend_with_its_gradients<B: AutodiffBackend>(device: &B::Device) {
        agrees_with_tolerance::<B>([2, 16, 8, 8], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 1, device, TOLERANCE, ours);
        agrees_with_tolerance::<B>([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 1, device, TOLERANCE, ours);
        agrees_with_tolerance::<B>([3, 3, 12, 12], [16, 3, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 1, device, TOLERANCE, ours); // stem
        agrees_with_tolerance::<B>([2, 20, 6, 6], [12, 20, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0]), 1, device, TOLERANCE, ours); // pointwise
        agrees_with_tolerance::<B>([2, 8, 7, 7], [8, 8, 5, 5], geometry(5, 1, 2, [4, 4], [4, 4]), 1, device, TOLERANCE, ours); // dilated
        agrees_with_tolerance::<B>([2, 6, 9, 9], [8, 6, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 1, device, TOLERANCE, ours); // `Same`: conv2d
        agrees_with_tolerance::<B>([2, 8, 6, 6], [8, 4, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 2, device, TOLERANCE, ours); // grouped: conv2d
    }

    /// A slimmable layer's tensors are channel slices of larger ones: the gradients reach only
    /// the active block of the full weight.
    fn sliced_weights_get_gradients_only_in_the_active_block<B: AutodiffBackend>(device: &B::Device) {
        use crate::test_support::{assert_close, assert_inactive_zero, random};
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x_full = random::<B, 4>([2, 12, 8, 8], device).require_grad();
        let w_full = random::<B, 4>([16, 12, 3, 3], device).require_grad();
        let x = || x_full.clone().slice([0..2, 0..7]);
        let w = || w_full.clone().slice([0..10, 0..7]);
        let native = conv2d(x(), w(), None, g.options(1));
        let ours = gemm_conv2d(x(), w(), None, &g);
        assert_close(ours.clone(), native.clone(), TOLERANCE);
        let mask = random::<B, 4>(native.dims(), device);
        let grads = ours.mul(mask.clone()).sum().backward();
        let grads_native = native.mul(mask).sum().backward();
        let w_grad = w_full.grad(&grads).unwrap();
        assert_close(w_grad.clone(), w_full.grad(&grads_native).unwrap(), TOLERANCE);
        assert_inactive_zero(w_grad, &[0..10, 0..7, 0..3, 0..3]);
        assert_close(x_full.grad(&grads).unwrap(), x_full.grad(&grads_native).unwrap(), TOLERANCE);
    }

    /// Without autodiff (inference) the op gives the same output.
    fn inference_matches_the_backend<B: AutodiffBackend>(device: &B::Device) {
        use crate::test_support::{assert_close, random};
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x = random::<B::InnerBackend, 4>([2, 8, 6, 7], device);
        let w = random::<B::InnerBackend, 4>([16, 8, 3, 3], device);
        let native = conv2d(x.clone(), w.clone(), None, g.options(1));
        assert_close(gemm_conv2d(x, w, None, &g), native, TOLERANCE);
    }

    backend_tests!(
        gemm_conv_matches_the_backend_with_its_gradients,
        sliced_weights_get_gradients_only_in_the_active_block,
        inference_matches_the_backend
    );

    /// The backends that have the kernels are the cubecl ones this crate was built for.
    #[test]
    fn ndarray_has_no_implicit_gemm() {
        assert!(!has_implicit_gemm::<crate::test_support::NdArrayAd>());
        #[cfg(feature = "test-wgpu")]
        assert!(has_implicit_gemm::<crate::test_support::WgpuAd>());
    }
}
