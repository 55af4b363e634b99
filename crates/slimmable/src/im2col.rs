//! Convolution written as tensor operations — shifted views of the padded input, then a matrix
//! product (dense convs) or a weighted sum (depthwise convs) — instead of a backend's conv kernel.
//!
//! Why: the backward pass of a backend's own convolution can be far slower than its matrix
//! product. burn-ndarray 0.21 computes the input gradient of `conv2d` with a scalar loop (about
//! 85 s for one sandwich step of ResNet-20 on 64 images, on 2 cores), and burn's CUDA backend
//! without its `autotune` feature runs a direct convolution kernel. Every operation used here
//! (pad, narrow, reshape, concatenation, batched matmul, multiply-add) has a fast kernel and a
//! fast backward on every backend. The price is memory: a k×k dense conv materialises k² views
//! of its input.
//!
//! Which algorithm [`SlimConv2d`](crate::SlimConv2d) uses is a process-wide setting
//! ([`set_conv_algorithm`]), like PyTorch's `torch.backends.cudnn.benchmark`: it changes speed
//! and memory, never the result (beyond float rounding).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Slice, Tensor, TensorData};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PaddedConvOptions};

use crate::im2col_columns::kernel_columns;

/// How [`SlimConv2d`](crate::SlimConv2d) computes its convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvAlgorithm {
    /// The backend's own `conv2d` (the default).
    Native,
    /// Views of the padded input and a matrix product ([`conv2d_im2col`]) for dense convs, this
    /// crate's depthwise op for depthwise convs ([`depthwise_conv2d`](crate::depthwise_conv2d):
    /// kernels on ndarray, wgpu and CUDA, a weighted sum of the views elsewhere); other grouped
    /// convs use the backend's `conv2d`.
    Im2col,
    /// The backend's `conv2d` for dense and grouped convs, and a weighted sum of shifted views
    /// for depthwise convs. burn's cubecl backends (CUDA, wgpu) without autotuning compute a
    /// grouped conv's weight gradient with one conv launch per group — hundreds of launches for
    /// one MobileNetV2 layer — where the weighted sum costs a few elementwise kernels.
    DepthwiseSum,
    /// The backend's `conv2d` for dense and grouped convs, and one batched matrix product over
    /// the unfolded input for depthwise convs ([`depthwise_conv2d_matmul`]): its weight gradient
    /// is one matrix product instead of a reduction per kernel position.
    DepthwiseMatmul,
    /// Matrix products for both: dense convs as [`Im2col`](Self::Im2col), depthwise convs as
    /// [`DepthwiseMatmul`](Self::DepthwiseMatmul).
    Matmul,
    /// The backend's `conv2d` for dense and grouped convs, and this crate's depthwise kernels
    /// ([`depthwise_conv2d`](crate::depthwise_conv2d)) for depthwise convs: one launch per
    /// pass on burn's wgpu and CUDA backends, parallel loops on ndarray; elsewhere the
    /// weighted sum of [`DepthwiseSum`](Self::DepthwiseSum).
    DepthwiseKernel,
    /// This crate's depthwise kernels for depthwise convs, one matrix product for each
    /// pointwise conv (1×1, stride 1: no shifted views to build), and the backend's `conv2d`
    /// for the other dense convs (a stem, a strided shortcut).
    KernelMatmul,
    /// As [`KernelMatmul`](Self::KernelMatmul) for depthwise and pointwise convs, and burn's
    /// implicit-GEMM kernels for the other dense convs ([`gemm_conv2d`](crate::gemm_conv2d):
    /// tensor cores on NVIDIA GPUs), where the backend has them; the backend's `conv2d`
    /// elsewhere.
    KernelGemm,
    /// As [`KernelGemm`](Self::KernelGemm), with the pointwise convs on the implicit-GEMM
    /// kernels too (channels-last operands in [`gemm_precision`](crate::gemm_precision)'s
    /// format, bf16 on the tensor cores) instead of a matrix product in f32.
    GemmAll,
}

/// How a depthwise conv is computed under a [`ConvAlgorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthwiseForm {
    /// The backend's `conv2d` with one group per channel.
    Native,
    /// A weighted sum of the shifted views.
    WeightedSum,
    /// A batched matrix product over the unfolded input.
    Matmul,
    /// This crate's depthwise op ([`depthwise_conv2d`](crate::depthwise_conv2d)).
    Kernel,
}

impl ConvAlgorithm {
    /// Every algorithm, in the order of [`name`](Self::name)'s list.
    pub const ALL: [ConvAlgorithm; 9] = [
        Self::Native,
        Self::Im2col,
        Self::DepthwiseSum,
        Self::DepthwiseMatmul,
        Self::Matmul,
        Self::DepthwiseKernel,
        Self::KernelMatmul,
        Self::KernelGemm,
        Self::GemmAll,
    ];

    /// The algorithm's name as `AUTOSLIM_CONV` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Im2col => "im2col",
            Self::DepthwiseSum => "depthwise-sum",
            Self::DepthwiseMatmul => "depthwise-matmul",
            Self::Matmul => "matmul",
            Self::DepthwiseKernel => "depthwise-kernel",
            Self::KernelMatmul => "kernel-matmul",
            Self::KernelGemm => "kernel-gemm",
            Self::GemmAll => "gemm-all",
        }
    }

    /// The algorithm of a [`name`](Self::name); the error lists the accepted names.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
            let names: Vec<String> = Self::ALL.iter().map(|a| format!("\"{}\"", a.name())).collect();
            format!("unknown conv algorithm \"{name}\"; accepted: {}", names.join(", "))
        })
    }

    /// Whether a dense conv with this kernel and stride is a matrix product over the shifted
    /// views.
    pub fn dense_as_matmul(self, kernel: [usize; 2], stride: [usize; 2]) -> bool {
        match self {
            Self::Im2col | Self::Matmul => true,
            Self::KernelMatmul | Self::KernelGemm => kernel == [1, 1] && stride == [1, 1],
            Self::Native | Self::DepthwiseSum | Self::DepthwiseMatmul | Self::DepthwiseKernel | Self::GemmAll => false,
        }
    }

    /// Whether dense convs go to [`gemm_conv2d`](crate::gemm_conv2d).
    pub fn dense_as_gemm(self) -> bool {
        matches!(self, Self::KernelGemm | Self::GemmAll)
    }

    /// How depthwise convs are computed.
    pub fn depthwise(self) -> DepthwiseForm {
        match self {
            Self::Native => DepthwiseForm::Native,
            Self::DepthwiseSum => DepthwiseForm::WeightedSum,
            Self::DepthwiseMatmul | Self::Matmul => DepthwiseForm::Matmul,
            Self::Im2col | Self::DepthwiseKernel | Self::KernelMatmul | Self::KernelGemm | Self::GemmAll => DepthwiseForm::Kernel,
        }
    }
}

static ALGORITHM: AtomicU8 = AtomicU8::new(0);

/// Sets the convolution algorithm of every [`SlimConv2d`](crate::SlimConv2d) in the process.
pub fn set_conv_algorithm(algorithm: ConvAlgorithm) {
    ALGORITHM.store(algorithm as u8, Ordering::Relaxed);
}

/// The convolution algorithm in use.
pub fn conv_algorithm() -> ConvAlgorithm {
    let stored = ALGORITHM.load(Ordering::Relaxed);
    ConvAlgorithm::ALL.into_iter().find(|a| *a as u8 == stored).expect("only set_conv_algorithm stores a value")
}

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvGeometry {
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[height, width]`.
    pub stride: [usize; 2],
    /// Dilation `[height, width]`.
    pub dilation: [usize; 2],
    /// Padding before `[top, left]`.
    pub pad_start: [usize; 2],
    /// Padding after `[bottom, right]`.
    pub pad_end: [usize; 2],
}

impl ConvGeometry {
    /// The output size for an input of `[height, width]` (at least 1 along each axis when the
    /// kernel fits).
    pub fn output_size(&self, input: [usize; 2]) -> [usize; 2] {
        std::array::from_fn(|a| {
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            (input[a] + self.pad_start[a] + self.pad_end[a]).saturating_sub(span) / self.stride[a] + 1
        })
    }

    /// The input position along `axis` (0: rows, 1: columns) that output position `out` reads
    /// at kernel tap `tap`, if it lies inside an input `len` long (not in the padding).
    #[cfg(feature = "ndarray")]
    pub(crate) fn input_position(&self, out: usize, tap: usize, axis: usize, len: usize) -> Option<usize> {
        (out * self.stride[axis] + tap * self.dilation[axis]).checked_sub(self.pad_start[axis]).filter(|&p| p < len)
    }

    /// The same convolution as burn's options, for the native path.
    pub fn options(&self, groups: usize) -> PaddedConvOptions<2> {
        PaddedConvOptions::asymmetric(self.stride, self.pad_start, self.pad_end, self.dilation, groups)
    }

    /// The geometry of a `kernel` `[height, width]` conv with burn's (symmetric) `options`.
    pub fn from_options(kernel: [usize; 2], options: &ConvOptions<2>) -> ConvGeometry {
        ConvGeometry { kernel, stride: options.stride, dilation: options.dilation, pad_start: options.padding, pad_end: options.padding }
    }
}

/// `x` with `g`'s zero padding around its two spatial axes: a zero tensor (a kernel on the GPU
/// backends) with `x` written into it. (burn's `pad` builds its zero tensor with `full`, which
/// burn 0.21's autodiff backend creates on the host and uploads: on CUDA an upload from pageable
/// memory that first waits for the GPU to finish all queued work.)
fn zero_pad<B: Backend>(x: Tensor<B, 4>, g: &ConvGeometry) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let [top, left] = g.pad_start;
    let padded = [n, c, top + h + g.pad_end[0], left + w + g.pad_end[1]];
    Tensor::zeros(padded, (&x.device(), x.dtype())).slice_assign([0..n, 0..c, top..top + h, left..left + w], x)
}

/// The `kh·kw` shifted views of `x` `[n, c, h, w]` that a convolution reads, each
/// `[n, c, h_out, w_out]`, in kernel order (row by row): strided slices of the padded input.
/// (Reshaping a narrowed view gave wrong values on burn's wgpu backend, so strides are taken
/// by stepped slices and no view is reshaped.)
pub(crate) fn shifted_views<B: Backend>(x: Tensor<B, 4>, g: &ConvGeometry) -> Vec<Tensor<B, 4>> {
    let [n, c, h, w] = x.dims();
    let [ho, wo] = g.output_size([h, w]);
    let padded = if g.pad_start == [0, 0] && g.pad_end == [0, 0] {
        x
    } else {
        zero_pad(x, g)
    };
    let [_, _, hp, wp] = padded.dims();
    if g.kernel == [1, 1] && g.stride == [1, 1] && [ho, wo] == [hp, wp] {
        return vec![padded];
    }
    // Positions `offset, offset + stride, …` along one axis, `out` of them.
    let axis = |offset: usize, a: usize, out: usize| {
        Slice::new(offset as isize, Some((offset + g.stride[a] * (out - 1) + 1) as isize), g.stride[a] as isize)
    };
    let mut views = Vec::with_capacity(g.kernel[0] * g.kernel[1]);
    for i in 0..g.kernel[0] {
        for j in 0..g.kernel[1] {
            let rows = axis(i * g.dilation[0], 0, ho);
            let cols = axis(j * g.dilation[1], 1, wo);
            views.push(padded.clone().slice([Slice::from(0..n), Slice::from(0..c), rows, cols]));
        }
    }
    views
}

/// Every `stride`-th row and column of `x` `[n, c, h, w]`, from the first: `[n, c, ⌈h/sh⌉,
/// ⌈w/sw⌉]`, a new tensor (picked with `select`, whose gradient is a scatter), not a strided
/// view.
///
/// Why: a 1×1 conv with stride `s` is a stride-1 conv of this. burn 0.21's cubecl backends
/// compute the input gradient of a strided 1×1 conv with a transposed-conv kernel that gave
/// wrong values (lavapipe: max difference 9.4 from burn-ndarray's for a `[2, 16, 8, 8]` input;
/// the test below); a ResNet's downsampling shortcut is such a conv.
pub fn subsample<B: Backend>(x: Tensor<B, 4>, stride: [usize; 2]) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let device = x.device();
    let pick = |x: Tensor<B, 4>, axis: usize, size: usize, step: usize| {
        if step == 1 {
            return x;
        }
        let indices: Vec<i64> = (0..size).step_by(step).map(|i| i as i64).collect();
        let count = indices.len();
        x.select(axis, Tensor::<B, 1, Int>::from_data(TensorData::new(indices, [count]), &device))
    };
    let rows = pick(x, 2, h, stride[0]);
    pick(rows, 3, w, stride[1])
}

/// `out` `[n, c, h, w]` plus one bias value per channel, if there is a bias.
pub(crate) fn add_channel_bias<B: Backend>(out: Tensor<B, 4>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 4> {
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            // In the output's type (a bf16 activation: `ActivationPrecision`); burn's binary
            // kernels would read an f32 bias as the output's type.
            let dtype = out.dtype();
            out.add(crate::with_dtype(bias, dtype).reshape([1, channels, 1, 1]))
        }
        None => out,
    }
}

/// A convolution of `x` `[n, c_in, h, w]` with `weight` `[c_out, c_in / groups, kh, kw]` as
/// tensor operations: a batched matrix product over the shifted views for a dense conv
/// (`groups == 1`), a weighted sum of the views for a depthwise conv (one input channel per
/// group, `c_out == c_in`), and the backend's `conv2d` for any other grouping and for strided
/// 1×1 convs. On burn's wgpu and CUDA backends, a dense conv larger than 1×1 of an input that
/// autodiff does not track (a stem on its images) gets its column matrix from one kernel, and its
/// products split into runs of output rows ([`set_im2col_batches`]).
///
/// # Shapes
/// - output: `[n, c_out, h_out, w_out]`
pub fn conv2d_im2col<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
    groups: usize,
) -> Tensor<B, 4> {
    // In the weight's type (a bf16 activation cast back: `ActivationPrecision`).
    let x = crate::with_dtype(x, weight.dtype());
    let [n, c_in, h, w] = x.dims();
    let [c_out, in_per_group, kh, kw] = weight.dims();
    let depthwise = groups == c_in && in_per_group == 1 && c_out == c_in;
    // A strided 1×1 conv has a single strided view, which would have to be reshaped (wrong
    // values on burn's wgpu backend); it is cheap, so the backend computes it.
    let strided_pointwise = kh * kw == 1 && geometry.stride != [1, 1];
    if (groups != 1 && !depthwise) || strided_pointwise {
        return conv2d(x, weight, bias, geometry.options(groups));
    }
    let [ho, wo] = geometry.output_size([h, w]);
    let out = if depthwise {
        // Σ over kernel positions of view · weight[c, 0, i, j] (taps `[1, c, 1, 1]`).
        let taps = weight.swap_dims(0, 1);
        shifted_views(x, geometry)
            .into_iter()
            .enumerate()
            .map(|(p, view)| {
                let (i, j) = (p / kw, p % kw);
                view.mul(taps.clone().slice([0..1, 0..c_in, i..i + 1, j..j + 1]))
            })
            .reduce(|sum, term| sum.add(term))
            .expect("a kernel has at least one position")
    } else {
        // On burn-ndarray, loops and matrix products of its own (`cpu_conv.rs`).
        #[cfg(feature = "ndarray")]
        let (x, weight) = match crate::cpu_conv::try_cpu_conv2d(x, weight, geometry) {
            Ok(out) => return add_channel_bias(out, bias),
            Err(tensors) => tensors,
        };
        let k = kh * kw * c_in;
        // The weight in the columns' order: [c_out, kh·kw·c_in].
        let matrix = weight.permute([0, 2, 3, 1]).reshape([c_out, k]);
        // The columns by one kernel where no gradient flows back to the input (a stem on its
        // images) and there is more than one view (a pointwise conv's columns are its input,
        // reshaped); else the views concatenated along channels, [n, kh·kw·c_in, ho·wo].
        let segments = row_segments(n, ho, im2col_batches());
        let by_kernel = match kh * kw > 1 {
            true => kernel_columns(x, geometry, segments),
            false => Err(x),
        };
        match by_kernel {
            // [n, segments, k, pixels]: one product per image and run of rows, so that the
            // weight gradient's products (burn's, per batch) are many and short.
            Ok(columns) if segments > 1 => {
                let out = matrix.reshape([1, 1, c_out, k]).matmul(columns);
                out.swap_dims(1, 2).reshape([n, c_out, ho, wo])
            }
            // [n, k, pixels]: one product per image.
            by_kernel => {
                let columns = by_kernel.map(|columns| columns.reshape([n, k, ho * wo])).unwrap_or_else(|x| view_columns(x, geometry));
                matrix.unsqueeze::<3>().matmul(columns).reshape([n, c_out, ho, wo])
            }
        }
    };
    add_channel_bias(out, bias)
}

/// The default of [`set_im2col_batches`]: one product per image. Split for 1 024 batches
/// (MobileNetV2-224 at batch 128: 8 runs of 14 rows), the stem's weight gradient took 123 µs
/// instead of 560 at width 2/12 and 396 instead of 783 at full width on an H200, but the copies
/// of the output and its gradient took 155 µs at 2/12 and 974 µs at full width: the full-width
/// pass 0.8 ms slower (docs/BENCHMARKS.md, session 30).
pub const DEFAULT_IM2COL_BATCHES: usize = 1;

/// The batches [`conv2d_im2col`]'s products aim for ([`set_im2col_batches`]).
static IM2COL_BATCHES: AtomicUsize = AtomicUsize::new(DEFAULT_IM2COL_BATCHES);

/// Sets how many matrix products [`conv2d_im2col`] splits a conv on the columns kernel into
/// (an input not tracked by autodiff, on burn's wgpu or CUDA backend: a network's stem): each
/// image's output rows are split into runs (a divisor of the rows) until images × runs reach
/// `batches`; 0 or 1 keeps one product per image. Default [`DEFAULT_IM2COL_BATCHES`].
/// Process-wide.
///
/// Why: burn's autodiff computes the weight's gradient as one product per batch, here per image:
/// MobileNetV2-224's stem at batch 128 was 128 products of `c_out × 27` over 12 544 pixels, one
/// cube each, 560 µs at width 2/12 and 783 µs at full width on an H200 (0.4 TB/s;
/// docs/BENCHMARKS.md, session 30). The split costs copies of the output forward (the runs'
/// products are laid out `[n, runs, c_out, pixels]`) and of its gradient backward, which cost
/// more than it saves at full width (see [`DEFAULT_IM2COL_BATCHES`]).
pub fn set_im2col_batches(batches: usize) {
    IM2COL_BATCHES.store(batches, Ordering::Relaxed);
}

/// What [`set_im2col_batches`] set.
pub fn im2col_batches() -> usize {
    IM2COL_BATCHES.load(Ordering::Relaxed)
}

/// The runs `rows` output rows are split into for `images` × runs to reach `batches`: the
/// largest divisor of `rows` not above `batches / images` (rounded up), at least 1.
pub(crate) fn row_segments(images: usize, rows: usize, batches: usize) -> usize {
    let wanted = batches.div_ceil(images.max(1)).clamp(1, rows.max(1));
    (1..=wanted).rev().find(|runs| rows.is_multiple_of(*runs)).unwrap_or(1)
}

/// The columns of `x` `[n, c, h, w]` for a conv of `geometry` by tensor ops: its shifted views
/// concatenated along the channels, `[n, kh·kw·c, h_out·w_out]`, kernel position major.
pub(crate) fn view_columns<B: Backend>(x: Tensor<B, 4>, geometry: &ConvGeometry) -> Tensor<B, 3> {
    let [n, c, h, w] = x.dims();
    let [kh, kw] = geometry.kernel;
    let [ho, wo] = geometry.output_size([h, w]);
    let mut views = shifted_views(x, geometry);
    let columns = match views.len() {
        1 => views.pop().expect("one view"), // a pointwise conv reads its input as is
        _ => Tensor::cat(views, 1),
    };
    columns.reshape([n, kh * kw * c, ho * wo])
}

/// A depthwise convolution (`weight` `[c, 1, kh, kw]`, one group per channel of `x`
/// `[n, c, h, w]`) as one batched matrix product: per channel, the `1 × kh·kw` kernel times the
/// `kh·kw × n·h_out·w_out` matrix of the unfolded input. Its backward is two batched matrix
/// products (the weight gradient is one of them) plus the views' slice gradients. The price is
/// memory: the unfolded input is `kh·kw` times the input. A weight that is not depthwise for
/// `x` (a channel multiplier above 1) goes to the backend's `conv2d`.
///
/// # Shapes
/// - output: `[n, c, h_out, w_out]`
pub fn depthwise_conv2d_matmul<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
) -> Tensor<B, 4> {
    // In the weight's type (a bf16 activation cast back: `ActivationPrecision`).
    let x = crate::with_dtype(x, weight.dtype());
    let [n, c, h, w] = x.dims();
    let [c_out, in_per_group, kh, kw] = weight.dims();
    if c_out != c || in_per_group != 1 {
        return conv2d(x, weight, bias, geometry.options(c));
    }
    let [ho, wo] = geometry.output_size([h, w]);
    let taps = kh * kw;
    // [c, taps, n, ho, wo]: each view channels first, stacked along the kernel positions.
    let views = shifted_views(x, geometry).into_iter().map(|view| view.swap_dims(0, 1).unsqueeze_dim::<5>(1)).collect();
    let columns = Tensor::cat(views, 1).reshape([c, taps, n * ho * wo]);
    let out = weight.reshape([c, 1, taps]).matmul(columns).reshape([c, n, ho, wo]).swap_dims(0, 1);
    add_channel_bias(out, bias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{agrees_with_ndarray, agrees_with_tolerance, backend_tests, geometry, matmul_tolerance};
    use burn::tensor::backend::AutodiffBackend;

    /// Output, input gradient and weight gradient of `conv2d_im2col` and the backend's conv
    /// agree (within TF32 rounding where matrix products use it).
    fn agrees<B: AutodiffBackend>(x_shape: [usize; 4], w_shape: [usize; 4], g: ConvGeometry, groups: usize, device: &B::Device) {
        let tolerance = matmul_tolerance::<B>(0.02);
        agrees_with_tolerance::<B>(x_shape, w_shape, g, groups, device, tolerance, |x, w, b, g| conv2d_im2col(x, w, b, g, groups));
    }

    /// A bias is added in the output's type, and its gradient comes back in its own (f32)
    /// type: here an f64 output stands in for a bf16 activation (ndarray has no bf16).
    #[test]
    fn a_bias_is_added_in_the_outputs_type() {
        use crate::test_support::{NdArrayAd, assert_close, random};
        use burn::tensor::DType;
        let device = Default::default();
        let out = random::<NdArrayAd, 4>([2, 3, 4, 4], &device);
        let bias = random::<NdArrayAd, 1>([3], &device).require_grad();
        let wide = crate::with_dtype(out.clone(), DType::F64);
        let sum = add_channel_bias(wide, Some(bias.clone()));
        assert_eq!(sum.dtype(), DType::F64);
        let expected = out.add(bias.clone().reshape([1, 3, 1, 1]));
        assert_close(crate::with_dtype(sum.clone(), DType::F32), expected, 1e-6);
        let grads = sum.sum().backward();
        let grad = bias.grad(&grads).expect("the bias takes part in the sum");
        assert_eq!(grad.dtype(), DType::F32);
        // Each bias value is added to 2 images × 16 pixels.
        assert_close(grad, Tensor::full([3], 32.0, &device), 1e-9);
    }

    fn dense_convs_match_the_backend_with_their_gradients<B: AutodiffBackend>(device: &B::Device) {
        agrees::<B>([2, 3, 7, 6], [5, 3, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 1, device);
        agrees::<B>([2, 4, 9, 8], [6, 4, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 1, device);
        agrees::<B>([1, 3, 8, 8], [4, 3, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 1, device); // `Same`-style
        agrees::<B>([2, 2, 9, 9], [3, 2, 3, 3], geometry(3, 1, 2, [2, 2], [2, 2]), 1, device); // dilated
        agrees::<B>([2, 6, 5, 5], [7, 6, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0]), 1, device); // pointwise
        agrees::<B>([2, 6, 7, 7], [7, 6, 1, 1], geometry(1, 2, 1, [0, 0], [0, 0]), 1, device); // downsampling shortcut
        agrees::<B>([1, 3, 11, 11], [8, 3, 7, 7], geometry(7, 2, 1, [3, 3], [3, 3]), 1, device); // ResNet stem
    }

    fn depthwise_and_grouped_convs_match_the_backend_with_their_gradients<B: AutodiffBackend>(device: &B::Device) {
        agrees::<B>([2, 5, 8, 8], [5, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 5, device);
        agrees::<B>([2, 5, 9, 9], [5, 1, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 5, device);
        agrees::<B>([2, 4, 6, 6], [6, 2, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 2, device); // falls back
    }

    fn depthwise_matmul_matches_the_backend_with_its_gradients<B: AutodiffBackend>(device: &B::Device) {
        let matmul = |x, w, b, g: &ConvGeometry| depthwise_conv2d_matmul(x, w, b, g);
        let tolerance = matmul_tolerance::<B>(0.02);
        let agrees_with = |x, w, g, groups, device, f| agrees_with_tolerance::<B>(x, w, g, groups, device, tolerance, f);
        agrees_with([2, 5, 8, 8], [5, 1, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 5, device, matmul);
        agrees_with([2, 5, 9, 9], [5, 1, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]), 5, device, matmul);
        agrees_with([3, 4, 7, 6], [4, 1, 5, 5], geometry(5, 1, 1, [2, 2], [2, 2]), 4, device, matmul);
        agrees_with([1, 3, 8, 8], [3, 1, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 3, device, matmul); // `Same`-style
    }

    /// A strided 1×1 conv as a 1×1 conv of the subsampled input, against burn-ndarray's
    /// strided conv; burn's own conv on the backend under test is not the reference, since
    /// its input gradient of this conv is wrong on wgpu.
    fn strided_pointwise_conv_as_subsample_matches_ndarray<B: AutodiffBackend>(device: &B::Device) {
        let ours = |x, w, b, g: &ConvGeometry| {
            let g1 = ConvGeometry { stride: [1, 1], ..*g };
            conv2d(subsample(x, g.stride), w, b, g1.options(1))
        };
        let tolerance = matmul_tolerance::<B>(0.02);
        agrees_with_ndarray::<B>([2, 16, 8, 8], [8, 16, 1, 1], geometry(1, 2, 1, [0, 0], [0, 0]), device, tolerance, ours);
        agrees_with_ndarray::<B>([2, 6, 9, 7], [5, 6, 1, 1], geometry(1, 2, 1, [0, 0], [0, 0]), device, tolerance, ours);
        let g = ConvGeometry { kernel: [1, 1], stride: [3, 1], dilation: [1, 1], pad_start: [0, 0], pad_end: [0, 0] };
        agrees_with_ndarray::<B>([1, 4, 10, 5], [3, 4, 1, 1], g, device, tolerance, ours);
    }

    backend_tests!(
        strided_pointwise_conv_as_subsample_matches_ndarray,
        dense_convs_match_the_backend_with_their_gradients,
        depthwise_and_grouped_convs_match_the_backend_with_their_gradients,
        depthwise_matmul_matches_the_backend_with_its_gradients
    );

    #[test]
    fn the_algorithm_is_a_process_wide_setting() {
        let _settings = crate::test_support::changing_settings();
        // The only test that changes it; it restores the default.
        assert_eq!(conv_algorithm(), ConvAlgorithm::Native);
        set_conv_algorithm(ConvAlgorithm::Im2col);
        assert_eq!(conv_algorithm(), ConvAlgorithm::Im2col);
        set_conv_algorithm(ConvAlgorithm::DepthwiseSum);
        assert_eq!(conv_algorithm(), ConvAlgorithm::DepthwiseSum);
        set_conv_algorithm(ConvAlgorithm::Matmul);
        assert_eq!(conv_algorithm(), ConvAlgorithm::Matmul);
        set_conv_algorithm(ConvAlgorithm::Native);
    }

    #[test]
    fn algorithms_parse_from_their_names() {
        for algorithm in ConvAlgorithm::ALL {
            assert_eq!(ConvAlgorithm::parse(algorithm.name()), Ok(algorithm));
        }
        let err = ConvAlgorithm::parse("winograd").unwrap_err();
        assert!(err.contains("\"winograd\"") && err.contains("\"depthwise-matmul\""), "{err}");
        assert_eq!(ConvAlgorithm::Matmul.depthwise(), DepthwiseForm::Matmul);
        assert!(!ConvAlgorithm::DepthwiseMatmul.dense_as_matmul([1, 1], [1, 1]));
        assert!(ConvAlgorithm::KernelMatmul.dense_as_matmul([1, 1], [1, 1]));
        assert!(!ConvAlgorithm::KernelMatmul.dense_as_matmul([3, 3], [1, 1]));
        assert!(!ConvAlgorithm::KernelMatmul.dense_as_matmul([1, 1], [2, 2]));
        assert_eq!(ConvAlgorithm::KernelMatmul.depthwise(), DepthwiseForm::Kernel);
        assert!(ConvAlgorithm::KernelGemm.dense_as_gemm());
        assert!(ConvAlgorithm::KernelGemm.dense_as_matmul([1, 1], [1, 1]));
        assert!(!ConvAlgorithm::KernelGemm.dense_as_matmul([3, 3], [1, 1]));
        assert!(!ConvAlgorithm::KernelMatmul.dense_as_gemm());
        assert_eq!(ConvAlgorithm::KernelGemm.depthwise(), DepthwiseForm::Kernel);
        assert!(ConvAlgorithm::GemmAll.dense_as_gemm());
        assert!(!ConvAlgorithm::GemmAll.dense_as_matmul([1, 1], [1, 1]));
        assert_eq!(ConvAlgorithm::GemmAll.depthwise(), DepthwiseForm::Kernel);
    }
}
