//! The column matrix of [`conv2d_im2col`](crate::conv2d_im2col) written by one kernel on
//! burn's cubecl backends, for an input no gradient flows back to: a network's stem on its
//! images.
//!
//! Why: by tensor ops the columns are a padded copy of the input, a strided slice per kernel
//! position, a concatenation (an empty tensor and a slice assignment per position), and on
//! CUDA one more copy of the whole matrix — cubecl pads each innermost row of a new tensor to
//! a multiple of 512 bytes, so the concatenation of 112-pixel rows cannot be seen as one
//! `[n, k, pixels]` matrix without copying it. MobileNetV2-224's 3-channel stem at batch 128
//! spent 21 launches and about 0.8 ms of GPU time a pass on that, at every width (Nsight
//! Compute on an H200, docs/BENCHMARKS.md, session 28's log read in session 30). Here it is
//! one launch writing the contiguous matrix. The kernel has no backward pass: an input that
//! needs its gradient keeps the tensor-op path.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::im2col::ConvGeometry;

/// The columns of `x` `[n, c, h, w]` for a conv of `geometry`, its output pixels split into
/// `segments` runs of whole rows (`segments` divides `h_out`): `[n, segments, kh·kw·c,
/// h_out·w_out / segments]`, row `(i·kw + j)·c + ch` of segment `s` holding channel `ch` read
/// at kernel position `(i, j)` for the segment's output pixels (zero in the padding) — with one
/// segment, the order of `conv2d_im2col`'s concatenated views. By the kernel where `x` is f32,
/// is not tracked by autodiff, and lives on burn's wgpu or CUDA backend (with or without
/// autodiff); otherwise `x` back, untouched.
pub(crate) fn kernel_columns<B: Backend>(x: Tensor<B, 4>, geometry: &ConvGeometry, segments: usize) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    #[cfg(feature = "cube")]
    return on_cube::kernel_columns(x, geometry, segments);
    #[cfg(not(feature = "cube"))]
    {
        let _ = (geometry, segments);
        Err(x)
    }
}

#[cfg(feature = "cube")]
mod on_cube {
    use burn::backend::Autodiff;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::tensor::backend::{AutodiffBackend, Backend};
    use burn::tensor::ops::FloatTensor;
    use burn::tensor::{DType, Tensor as BurnTensor, TensorPrimitive};
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeRuntime};
    use cubecl::prelude::*;

    use crate::cube_launch::{elementwise_launch, empty_like};
    use crate::im2col::ConvGeometry;
    use crate::type_match::{AutodiffOp, CubeOp, same_type};

    /// `output` `[n, segments, kh·kw·c, pixels]` (contiguous; `pixels` = `h_out·w_out /
    /// segments`) holds the columns of `input` `[n, c, h, w]` (any strides): element `(img, s,
    /// (i·kw + j)·c + ch, q)` is `input[img, ch, oy·sh + i·dh − ph, ox·sw + j·dw − pw]` for output
    /// pixel `s·pixels + q = oy·w_out + ox`, zero where that falls outside the input. A thread per
    /// element, neighbouring threads on neighbouring output pixels (coalesced writes). Every
    /// divisor is a comptime constant (the stem's shapes), so that the index arithmetic compiles
    /// to multiplications: session 21's direct stem kernels were bound by their run-time
    /// divisions.
    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    fn columns_kernel<F: Float>(
        input: &Tensor<F>,
        output: &mut Tensor<F>,
        #[comptime] channels: usize,
        #[comptime] kernel: (usize, usize),
        #[comptime] out_width: usize,
        #[comptime] segments: usize,
        #[comptime] pixels: usize,
        #[comptime] stride: (usize, usize),
        #[comptime] dilation: (usize, usize),
        #[comptime] padding: (usize, usize),
    ) {
        if ABSOLUTE_POS >= output.len() {
            terminate!();
        }
        let rows = kernel.0 * kernel.1 * channels;
        let q = ABSOLUTE_POS % pixels;
        let row = ABSOLUTE_POS / pixels;
        let k = row % rows;
        let run = row / rows;
        let segment = run % segments;
        let img = run / segments;
        let position = k / channels;
        let ch = k % channels;
        let (i, j) = (position / kernel.1, position % kernel.1);
        let pixel = segment * pixels + q;
        let (oy, ox) = (pixel / out_width, pixel % out_width);
        // Coordinates in the padded image; inside the input where at least the padding and below it.
        let y = oy * stride.0 + i * dilation.0;
        let x = ox * stride.1 + j * dilation.1;
        let inside = y >= padding.0 && y < padding.0 + input.shape(2) && x >= padding.1 && x < padding.1 + input.shape(3);
        let mut value = F::new(0.0);
        if inside {
            value = input[img * input.stride(0) + ch * input.stride(1) + (y - padding.0) * input.stride(2) + (x - padding.1) * input.stride(3)];
        }
        output[ABSOLUTE_POS] = value;
    }

    /// [`columns_kernel`]'s launch: the columns of `x` `[n, c, h, w]` (f32) for `geometry`, in
    /// `segments` runs of output rows.
    pub(super) fn columns<R: CubeRuntime>(x: CubeTensor<R>, geometry: &ConvGeometry, segments: usize) -> CubeTensor<R> {
        let [n, c, h, w] = x.meta.shape().dims::<4>();
        let [kh, kw] = geometry.kernel;
        let [ho, wo] = geometry.output_size([h, w]);
        assert!(segments > 0 && ho.is_multiple_of(segments), "columns: {segments} segments do not divide {ho} output rows");
        let pixels = ho / segments * wo;
        let output = empty_like::<R, f32>(&x, &[n, segments, kh * kw * c, pixels]);
        if output.meta.num_elements() == 0 {
            return output;
        }
        let (count, dim) = elementwise_launch(&output, 1);
        let pair = |v: [usize; 2]| (v[0], v[1]);
        if crate::launch_share::runs("stem columns", &[&x, &output], (geometry.kernel, geometry.stride, geometry.dilation, geometry.pad_start, segments)) {
            columns_kernel::launch::<f32, R>(
                &x.client,
                count,
                dim,
                x.clone().into_tensor_arg(),
                output.clone().into_tensor_arg(),
                c,
                pair(geometry.kernel),
                wo,
                segments,
                pixels,
                pair(geometry.stride),
                pair(geometry.dilation),
                pair(geometry.pad_start),
            );
        }
        output
    }

    /// [`super::kernel_columns`] on the cubecl backends.
    pub(super) fn kernel_columns<B: Backend>(x: BurnTensor<B, 4>, geometry: &ConvGeometry, segments: usize) -> Result<BurnTensor<B, 4>, BurnTensor<B, 4>> {
        if x.dtype() != DType::F32 {
            return Err(x);
        }
        let op = Columns::<B> { x: x.into_primitive().tensor(), geometry: *geometry, segments };
        let tensor = |t: FloatTensor<B>| BurnTensor::<B, 4>::from_primitive(TensorPrimitive::Float(t));
        // The plain cubecl backends, then burn's autodiff over them.
        let op = match crate::type_match::on_cube::<B, _>(op) {
            Ok(done) => return Ok(tensor(done)),
            Err(op) => op,
        };
        match crate::type_match::on_autodiff::<B, _>(op) {
            Ok(Ok(done)) => Ok(tensor(done)),
            Ok(Err(x)) => Err(tensor(x)),
            Err(op) => Err(tensor(op.x)),
        }
    }

    /// The op's input, of backend `B`.
    pub(super) struct Columns<B: Backend> {
        pub(super) x: FloatTensor<B>,
        pub(super) geometry: ConvGeometry,
        pub(super) segments: usize,
    }

    impl<B: Backend> CubeOp<B> for Columns<B> {
        type Output = FloatTensor<B>;

        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            let x: CubeTensor<R> = same_type(self.x).unwrap_or_else(|_| unreachable!("run is called only when B is a cubecl backend"));
            same_type(columns(x, &self.geometry, self.segments)).unwrap_or_else(|_| unreachable!("run is called only when B is a cubecl backend"))
        }
    }

    impl<B: Backend> AutodiffOp<B> for Columns<B> {
        /// The columns, or the input back where the wrapped backend has no kernel (ndarray).
        type Output = Result<FloatTensor<B>, FloatTensor<B>>;

        fn run<I: Backend, C: CheckpointStrategy>(self) -> Self::Output {
            let x: FloatTensor<Autodiff<I, C>> = same_type(self.x).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
            let back = |t: FloatTensor<Autodiff<I, C>>| same_type::<_, FloatTensor<B>>(t).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
            // Tracked: a parameter, or computed from one (burn's `is_require_grad` is true for
            // the former only), so the gradient must flow back through the tensor ops.
            if x.is_tracked() {
                return Err(back(x));
            }
            // No gradient flows through `x`: the columns are a constant of the graph, made on
            // the wrapped backend.
            let inner = Columns::<I> { x: Autodiff::<I, C>::inner(x), geometry: self.geometry, segments: self.segments };
            match crate::type_match::on_cube::<I, _>(inner) {
                Ok(columns) => Ok(back(Autodiff::<I, C>::from_inner(columns))),
                Err(op) => Err(back(Autodiff::<I, C>::from_inner(op.x))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Tensor;
    use burn::tensor::backend::{AutodiffBackend, Backend};
    use burn::tensor::module::conv2d;

    use super::kernel_columns;
    use crate::im2col::{ConvGeometry, conv2d_im2col, view_columns};
    use crate::test_support::{NdArrayAd, assert_close_named, backend_tests, geometry, matmul_tolerance, random};

    /// Stems and other geometries: stride 2 with padding 1 (MobileNetV2's), `Same`-style
    /// padding at the end only, dilation, stride 1, a 7×7 stride-2 stem (ResNet's), and a
    /// rectangular input.
    fn geometries() -> Vec<([usize; 4], ConvGeometry)> {
        vec![
            ([2, 3, 15, 13], geometry(3, 2, 1, [1, 1], [1, 1])),
            ([1, 3, 8, 8], geometry(3, 2, 1, [0, 0], [1, 1])),
            ([2, 2, 9, 9], geometry(3, 1, 2, [2, 2], [2, 2])),
            ([3, 1, 6, 7], geometry(3, 1, 1, [1, 1], [1, 1])),
            ([1, 3, 11, 11], geometry(7, 2, 1, [3, 3], [3, 3])),
            ([2, 4, 5, 12], ConvGeometry { kernel: [3, 5], stride: [1, 2], dilation: [1, 1], pad_start: [1, 2], pad_end: [1, 2] }),
        ]
    }

    /// Whether `B` is one of burn's cubecl backends (with or without autodiff), where the
    /// kernel runs.
    fn is_cube<B: Backend>() -> bool {
        std::any::type_name::<B>().contains("CubeBackend")
    }

    /// The kernel's columns equal the concatenated views exactly, in one run of rows and in
    /// several, on the backend with autodiff and on the one it wraps; the backends without the
    /// kernel (ndarray) and an input autodiff tracks get the input back.
    fn kernel_columns_are_the_views<B: AutodiffBackend>(device: &B::Device) {
        for (shape, g) in geometries() {
            let x = random::<B, 4>(shape, device);
            let [n, _, ho, wo] = conv2d(x.clone(), random::<B, 4>([1, shape[1], g.kernel[0], g.kernel[1]], device), None, g.options(1)).dims();
            let views = view_columns(x.clone(), &g);
            let k = views.dims()[1];
            for runs in (1..=ho).filter(|runs| ho.is_multiple_of(*runs)) {
                let expected = views.clone().reshape([n, k, runs, ho / runs * wo]).swap_dims(1, 2);
                let what = format!("{runs} runs, {g:?}");
                match (kernel_columns(x.clone(), &g, runs), is_cube::<B>()) {
                    (Ok(columns), true) => assert_close_named(columns, expected.clone(), 1e-9, &format!("columns with autodiff, {what}")),
                    (Err(back), false) => assert_close_named(back, x.clone(), 1e-9, "the input given back"),
                    (result, cube) => panic!("kernel path taken: {}, on a cubecl backend: {cube} ({what})", result.is_ok()),
                }
                match (kernel_columns(x.clone().inner(), &g, runs), is_cube::<B::InnerBackend>()) {
                    (Ok(columns), true) => assert_close_named(columns, expected.inner(), 1e-9, &format!("columns, {what}")),
                    (Err(_), false) => {}
                    (result, cube) => panic!("kernel path taken: {}, on a cubecl backend: {cube} ({what})", result.is_ok()),
                }
            }
            let leaf = x.require_grad();
            assert!(kernel_columns(leaf.clone(), &g, 1).is_err(), "an input that needs its gradient keeps the tensor ops");
            let computed = leaf.mul_scalar(2.0);
            assert!(kernel_columns(computed, &g, 1).is_err(), "an input computed from one that needs its gradient keeps the tensor ops");
        }
    }

    /// `conv2d_im2col` on an input without gradient (the kernel's columns on the cubecl
    /// backends) gives burn-ndarray's conv output and weight and bias gradients, with one
    /// product per image (the default) and split into runs of rows (`set_im2col_batches`).
    fn a_stem_on_images_matches_ndarray<B: AutodiffBackend>(device: &B::Device) {
        for batches in [crate::DEFAULT_IM2COL_BATCHES, 1024, 7] {
            crate::set_im2col_batches(batches);
            stem_matches_ndarray::<B>(device);
        }
        crate::set_im2col_batches(crate::DEFAULT_IM2COL_BATCHES);
    }

    fn stem_matches_ndarray<B: AutodiffBackend>(device: &B::Device) {
        let cpu = Default::default();
        let tolerance = matmul_tolerance::<B>(0.02);
        for (shape, g) in geometries() {
            let w_shape = [5, shape[1], g.kernel[0], g.kernel[1]];
            let x = random::<NdArrayAd, 4>(shape, &cpu);
            let weight = random::<NdArrayAd, 4>(w_shape, &cpu).require_grad();
            let bias = random::<NdArrayAd, 1>([5], &cpu).require_grad();
            let expected = conv2d(x.clone(), weight.clone(), Some(bias.clone()), g.options(1));
            let mask = random::<NdArrayAd, 4>(expected.dims(), &cpu);
            let grads_expected = expected.clone().mul(mask.clone()).sum().backward();
            let to_b = |t: Tensor<NdArrayAd, 4>| Tensor::<B, 4>::from_data(t.into_data(), device);
            let (xb, wb) = (to_b(x), to_b(weight.clone()).require_grad());
            let bb = Tensor::<B, 1>::from_data(bias.clone().into_data(), device).require_grad();
            let actual = conv2d_im2col(xb, wb.clone(), Some(bb.clone()), &g, 1);
            let g = format!("{g:?}, {} batches", crate::im2col_batches());
            let grads = actual.clone().mul(to_b(mask)).sum().backward();
            let to_cpu = |t: Tensor<B::InnerBackend, 4>| Tensor::<burn::backend::NdArray, 4>::from_data(t.into_data(), &cpu);
            assert_close_named(to_cpu(actual.inner()), expected.inner(), tolerance, &format!("output, {g}"));
            let weight_grad = to_cpu(wb.grad(&grads).expect("the weight has a gradient"));
            assert_close_named(weight_grad, weight.grad(&grads_expected).unwrap(), 10.0 * tolerance, &format!("weight gradient, {g}"));
            let bias_grad = Tensor::<burn::backend::NdArray, 1>::from_data(bb.grad(&grads).unwrap().into_data(), &cpu);
            assert_close_named(bias_grad, bias.grad(&grads_expected).unwrap(), 10.0 * tolerance, &format!("bias gradient, {g}"));
        }
    }

    /// An input computed from a tracked tensor (not itself marked to need its gradient) gets
    /// its gradient through `conv2d_im2col` as through the backend's conv: the kernel, which
    /// has no backward pass, must not take it.
    fn a_computed_input_gets_its_gradient<B: AutodiffBackend>(device: &B::Device) {
        let tolerance = matmul_tolerance::<B>(0.02);
        for (shape, g) in geometries() {
            let leaf = random::<B, 4>(shape, device).require_grad();
            let weight = random::<B, 4>([4, shape[1], g.kernel[0], g.kernel[1]], device);
            // Each side its own graph (a backward pass consumes the one it walks).
            let ours = conv2d_im2col(leaf.clone().mul_scalar(1.5), weight.clone(), None, &g, 1);
            let native = conv2d(leaf.clone().mul_scalar(1.5), weight, None, g.options(1));
            let mask = random::<B, 4>(native.dims(), device);
            let grad_ours = leaf.grad(&ours.mul(mask.clone()).sum().backward()).expect("the input has a gradient through the im2col conv");
            let grad_native = leaf.grad(&native.mul(mask).sum().backward()).expect("the input has a gradient through the native conv");
            assert_close_named(grad_ours, grad_native, tolerance, &format!("input gradient, {g:?}"));
        }
    }

    #[test]
    fn rows_split_into_runs_that_divide_them() {
        use crate::im2col::row_segments;
        assert_eq!(row_segments(128, 112, 1024), 8);
        assert_eq!(row_segments(32, 112, 1024), 28); // 32 wanted, 28 the largest divisor below
        assert_eq!(row_segments(1024, 32, 1024), 1);
        assert_eq!(row_segments(2, 7, 1024), 7); // at most one run per row
        assert_eq!(row_segments(128, 112, 0), 1);
        assert_eq!(row_segments(128, 112, 1), 1);
        assert_eq!(row_segments(0, 5, 1024), 5);
    }

    backend_tests!(kernel_columns_are_the_views, a_computed_input_gets_its_gradient; changing_settings: a_stem_on_images_matches_ndarray);
}
