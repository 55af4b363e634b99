//! Dense convolution (one group) on burn's cubecl backends by cubek's implicit-GEMM kernels
//! (the forward pass and the input gradient; on NVIDIA GPUs these run on the tensor cores,
//! TF32 for f32 tensors, or bf16 with [`GemmPrecision::Bf16`](crate::GemmPrecision)) and by
//! matrix products (the weight gradient: over shifted views of
//! the padded input for a stride-1 conv, `weight_grad_shifted`, else over the unfolded input,
//! `weight_grad_im2col`; burn's GEMM one came out wrong on an H200). A strided conv's input
//! gradient is a matrix product with the weight followed by a fold (`strided_input_grad`).
//!
//! Why: burn-cubecl 0.21 without its `autotune` feature computes every convolution with a
//! direct kernel (`ConvStrategy::Direct`: one thread per output element, CUDA cores only), and
//! its backward passes with the same kind of kernel. Turning `autotune` on makes burn time up
//! to eight candidate kernels for every new shape, and a slimmable network meets new shapes
//! at every width (DESIGN.md measured 369 s before the first fast step on an H100). This op
//! launches cubek's implicit-GEMM kernels (the ones under burn's `ConvStrategy::ImplicitGemm`)
//! itself, with no tuning: the kernels compile once per shape class, and cubecl's compilation
//! cache (which the command line turns on, `src/kernel_cache.rs`) keeps them across runs.
//!
//! Which of cubek's implicit-GEMM kernels runs is a process-wide setting
//! ([`set_gemm_kernel`](crate::set_gemm_kernel), `src/gemm_kernel.rs`); the default is burn's
//! own loads with the `mma` tile on CUDA and burn's own kernel elsewhere
//! ([`GemmKernel::default_for`](crate::GemmKernel::default_for)).
//!
//! The inputs are made channels-last (NHWC) and contiguous before the kernels read them, so
//! they load whole lines of channels (`gemm_operands.rs`: one kernel writes each copy, with its
//! padding and its conversion to the operand format). Where a stride-1 conv's weight gradient
//! reads shifted views of the zero-padded input, the forward copy writes that padded grid and
//! the forward kernel runs unpadded over it; the backward pass reuses it, and writes the output
//! gradient once into the same grid (the input-gradient kernel reads it as a strided view). Where the GEMM kernels cannot take a shape (no tensor
//! cores, as on lavapipe; an unsupported size) the same call runs burn's direct kernels; the
//! forward pass then gives the tensors back to the caller, which uses the backend's `conv2d`.
//! [`implicit_gemm_fallbacks`] counts those fallbacks.
//!
//! A slimmable network's channel counts are rarely multiples of four (53 of 64 channels), and
//! cubecl's kernels read a tensor a line of four floats at a time only where its innermost
//! axis allows it: otherwise one float at a time. So the channel-last copies the kernels read
//! carry both channel counts rounded up to a multiple of [`gemm_channel_align`], the extra
//! channels zero (the weight's too), and the results are sliced back; the zeros add nothing to
//! any sum.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d;

use crate::activation_precision::with_dtype;
use crate::im2col::{ConvGeometry, add_channel_bias, conv2d_im2col};

static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// The channel alignment of the GEMM kernels' operands ([`set_gemm_channel_align`]); 0 until
/// set: 16 bytes' worth of the operands' elements.
static CHANNEL_ALIGN: AtomicUsize = AtomicUsize::new(0);

/// Four f32 values, the widest line cubecl's CUDA and wgpu kernels read (16 bytes): the
/// default alignment of f32 operands (bf16 ones: eight, the same 16 bytes).
pub const DEFAULT_CHANNEL_ALIGN: usize = 4;

/// Rounds the channel counts the implicit-GEMM kernels see up to multiples of `align` (1: as
/// they are), whatever the operands' format; by default 16 bytes' worth of elements
/// ([`DEFAULT_CHANNEL_ALIGN`] f32 values, eight bf16 ones). Process-wide, like the conv
/// algorithm.
///
/// # Panics
/// If `align` is 0.
pub fn set_gemm_channel_align(align: usize) {
    assert!(align > 0, "the GEMM channel alignment must be at least 1");
    CHANNEL_ALIGN.store(align, Ordering::Relaxed);
}

/// The default of [`set_wgrad_max_batches`]: on an H200 the 8-layer bench net's passes were
/// 0–2.5 % faster at every width with at most 256 batches than with one per image (its batch of
/// 1 024), and its sandwich step 2 % faster (64: in between; docs/BENCHMARKS.md, session 16).
pub const DEFAULT_WGRAD_MAX_BATCHES: usize = 256;

/// The most image batches a conv's weight gradient is split into ([`set_wgrad_max_batches`]).
static WGRAD_MAX_BATCHES: AtomicUsize = AtomicUsize::new(DEFAULT_WGRAD_MAX_BATCHES);

/// Caps how many image batches the weight gradient of [`gemm_conv2d`] is split into (each batch
/// one matrix product whose partial sums are then added; default
/// [`DEFAULT_WGRAD_MAX_BATCHES`]): fewer batches are longer products and fewer partial sums, but
/// fewer tiles for the GPU at narrow widths. The partial products' size (64 Mi values) limits
/// them too. Process-wide.
///
/// # Panics
/// If `most` is 0.
pub fn set_wgrad_max_batches(most: usize) {
    assert!(most > 0, "the weight gradient needs at least one batch");
    WGRAD_MAX_BATCHES.store(most, Ordering::Relaxed);
}

/// The default of [`set_layout_copy_rows`]. (Four rows, eight values per thread each way, made
/// the copies 9–13 % slower than eight rows on an H200: docs/BENCHMARKS.md, session 17.)
pub const DEFAULT_LAYOUT_COPY_ROWS: usize = 8;

/// Rows of threads per tile of the GEMM convs' layout copies ([`set_layout_copy_rows`]).
static LAYOUT_COPY_ROWS: AtomicUsize = AtomicUsize::new(DEFAULT_LAYOUT_COPY_ROWS);

/// Sets how many rows of 32 threads move each 32 × 32 tile (channels × pixels) of the layout
/// copies around [`gemm_conv2d`]'s kernels (default [`DEFAULT_LAYOUT_COPY_ROWS`]): each thread
/// moves `32 / rows` values each way. More rows are more threads in flight and fewer values
/// per thread. Process-wide.
///
/// # Errors
/// If `rows` is not a power of two from 1 to 32.
pub fn set_layout_copy_rows(rows: usize) -> Result<(), String> {
    match rows.is_power_of_two() && rows <= 32 {
        true => {
            LAYOUT_COPY_ROWS.store(rows, Ordering::Relaxed);
            Ok(())
        }
        false => Err(format!("rows of threads per layout-copy tile: a power of two from 1 to 32, got {rows}")),
    }
}

/// The rows of threads per layout-copy tile now ([`set_layout_copy_rows`]).
#[cfg(feature = "cube")]
pub(crate) fn layout_copy_rows() -> usize {
    LAYOUT_COPY_ROWS.load(Ordering::Relaxed)
}

/// The channel alignment [`gemm_conv2d`] uses now, for operands in the format of
/// [`gemm_precision`](crate::gemm_precision).
pub fn gemm_channel_align() -> usize {
    operand_channel_align(match crate::gemm_precision() {
        crate::GemmPrecision::Tf32 => 4,
        crate::GemmPrecision::Bf16 => 2,
    })
}

/// The channel alignment for operands of `bytes` bytes each: the one set, or 16 bytes' worth.
pub(crate) fn operand_channel_align(bytes: usize) -> usize {
    match CHANNEL_ALIGN.load(Ordering::Relaxed) {
        0 => 16 / bytes.clamp(1, 16),
        align => align,
    }
}

/// `channels` rounded up to a multiple of `align`.
#[cfg_attr(not(feature = "cube"), allow(dead_code))]
pub(crate) fn aligned(channels: usize, align: usize) -> usize {
    channels.div_ceil(align) * align
}

/// The default of [`set_gemm_min_channels`]: convs with a kernel larger than 1×1 and fewer
/// input channels (a network's stem, on RGB or grey images) take [`conv2d_im2col`]. On an H200
/// the bench net's 3-channel stem on the implicit-GEMM kernels (its channels padded to eight)
/// made its passes 0.1 ms (width 2/12) to 0.8 ms (full width) slower than by im2col
/// (docs/BENCHMARKS.md, session 20). Pointwise convs take the kernels at any width: by im2col,
/// MobileNetV2-224's thin pointwise convs at 2/12 (3 to 5 input channels at 112² and 56²) cost
/// 3 ms of burn's f32 products a pass; on the kernels the pass took 0.6 ms less GPU time, the
/// same wall time (session 27).
pub const DEFAULT_GEMM_MIN_CHANNELS: usize = 8;

/// Convs (larger than 1×1) with fewer input channels than this take [`conv2d_im2col`].
static GEMM_MIN_CHANNELS: AtomicUsize = AtomicUsize::new(DEFAULT_GEMM_MIN_CHANNELS);

/// Sends dense convs with a kernel larger than 1×1 and fewer than `channels` input channels to
/// [`conv2d_im2col`] rather than to the implicit-GEMM kernels (default
/// [`DEFAULT_GEMM_MIN_CHANNELS`]; 1: every dense conv to the kernels, thin inputs padded like
/// any other). Pointwise convs always take the kernels. Process-wide.
///
/// # Panics
/// If `channels` is 0.
pub fn set_gemm_min_channels(channels: usize) {
    assert!(channels > 0, "the GEMM path's minimum of input channels is at least 1");
    GEMM_MIN_CHANNELS.store(channels, Ordering::Relaxed);
}

/// The fewest input channels a dense conv larger than 1×1 needs for the implicit-GEMM kernels
/// now ([`set_gemm_min_channels`]).
pub fn gemm_min_channels() -> usize {
    GEMM_MIN_CHANNELS.load(Ordering::Relaxed)
}

/// How a stride-1 conv's weight gradient orders its batched products (`weight_grad_shifted`:
/// one product per image batch and kernel position), [`set_wgrad_order`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgradOrder {
    /// Image batches outermost: the kernel positions of one image batch are neighbouring
    /// products, launched side by side, which read the same output-gradient rows and
    /// overlapping input rows. The default: on an H200 the bench net's passes were 0–1.2 %
    /// faster, 0.9 % summed over its widths (docs/BENCHMARKS.md, session 20).
    ImagesOuter,
    /// Kernel positions outermost (until session 20): each image batch's operands are read
    /// again by every kernel position, far apart in time.
    PositionsOuter,
}

impl WgradOrder {
    /// Both orders.
    pub const ALL: [WgradOrder; 2] = [WgradOrder::ImagesOuter, WgradOrder::PositionsOuter];

    /// The name `AUTOSLIM_WGRAD_ORDER` takes.
    pub fn name(self) -> &'static str {
        match self {
            WgradOrder::ImagesOuter => "images-outer",
            WgradOrder::PositionsOuter => "positions-outer",
        }
    }

    /// The order named `name`; the error lists the accepted names.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|o| o.name() == name.trim()).ok_or_else(|| {
            let names: Vec<String> = Self::ALL.iter().map(|o| format!("\"{}\"", o.name())).collect();
            format!("unknown weight-gradient order \"{name}\"; accepted: {}", names.join(", "))
        })
    }
}

static WGRAD_ORDER: AtomicUsize = AtomicUsize::new(WgradOrder::ImagesOuter as usize);

/// Sets how stride-1 weight gradients order their products (default
/// [`WgradOrder::ImagesOuter`]). Process-wide.
pub fn set_wgrad_order(order: WgradOrder) {
    WGRAD_ORDER.store(order as usize, Ordering::Relaxed);
}

/// The weight-gradient order now ([`set_wgrad_order`]).
pub fn wgrad_order() -> WgradOrder {
    WgradOrder::ALL[WGRAD_ORDER.load(Ordering::Relaxed)]
}

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

/// A convolution of `x` `[n, c_in, h, w]` with `weight` `[c_out, c_in, kh, kw]` by the
/// implicit-GEMM kernels where the backend has them ([`has_implicit_gemm`]) and the padding is
/// the same on both sides of each axis; otherwise the backend's `conv2d`. A grouped weight
/// goes to the backend's `conv2d`, a kernel larger than 1×1 on fewer than
/// [`gemm_min_channels`] input channels to [`conv2d_im2col`].
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
    let [c_out, per_group, _, _] = weight.dims();
    if per_group != c_in {
        let groups = c_in / per_group.max(1);
        return conv2d(x, weight, bias, geometry.options(groups.max(1)));
    }
    gemm_conv2d_active(x, weight, c_out, bias, geometry)
}

/// A dense convolution of `x` `[n, c_in, h, w]` with the active block of `weight`: its first
/// `out_channels` filters over its first `c_in` input channels (a slimmable conv at a width).
/// As [`gemm_conv2d`] with `weight.slice([0..out_channels, 0..c_in])`, but where the
/// implicit-GEMM kernels run, the block is read from `weight` in place and `weight`'s gradient
/// is written full size in one pass (zero outside the block): no copy of the block forward, no
/// zero tensor and slice assignment backward.
///
/// # Shapes
/// - `weight`: `[c_out_max, c_in_max, kh, kw]`, `out_channels ≤ c_out_max`, `c_in ≤ c_in_max`
/// - output: `[n, out_channels, h_out, w_out]`
pub fn gemm_conv2d_active<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    out_channels: usize,
    bias: Option<Tensor<B, 1>>,
    geometry: &ConvGeometry,
) -> Tensor<B, 4> {
    let [_, c_in, _, _] = x.dims();
    let [c_out_max, c_in_max, _, _] = weight.dims();
    assert!(
        out_channels <= c_out_max && c_in <= c_in_max,
        "gemm_conv2d_active: {out_channels} filters of {c_in} channels is not a block of a [{c_out_max}, {c_in_max}] weight"
    );
    let block = |weight: Tensor<B, 4>| match [out_channels, c_in] == [c_out_max, c_in_max] {
        true => weight,
        false => weight.slice([0..out_channels, 0..c_in]),
    };
    // burn's conv takes the input in the weight's type (a bf16 activation cast back).
    let dtype = weight.dtype();
    if geometry.pad_start != geometry.pad_end {
        return conv2d(with_dtype(x, dtype), block(weight), bias, geometry.options(1));
    }
    if c_in < gemm_min_channels() && geometry.kernel != [1, 1] {
        return conv2d_im2col(x, block(weight), bias, geometry, 1);
    }
    match kernels(x, weight, out_channels, geometry) {
        Ok(out) => add_channel_bias(out, bias),
        Err((x, weight)) => conv2d(with_dtype(x, dtype), block(weight), bias, geometry.options(1)),
    }
}

/// The kernels' output, or the tensors back.
#[allow(clippy::type_complexity)]
fn kernels<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    out_channels: usize,
    geometry: &ConvGeometry,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>)> {
    #[cfg(feature = "cube")]
    {
        use burn::tensor::DType;
        use burn::tensor::TensorPrimitive::Float;
        let run = match cube::dispatch::<B>() {
            // The input f32, or bf16 from a conv before it (`ActivationPrecision`).
            Some(run) if matches!(x.dtype(), DType::F32 | DType::BF16) && weight.dtype() == DType::F32 => run,
            _ => return Err((x, weight)),
        };
        match run(x.into_primitive().tensor(), weight.into_primitive().tensor(), out_channels, geometry) {
            Ok(out) => Ok(Tensor::from_primitive(Float(out))),
            Err((x, weight)) => Err((Tensor::from_primitive(Float(x)), Tensor::from_primitive(Float(weight)))),
        }
    }
    #[cfg(not(feature = "cube"))]
    {
        let _ = (out_channels, geometry);
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
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::{ConvOptions, FloatTensor};
    use burn::tensor::{DType, Tensor, TensorMetadata, TensorPrimitive::Float};
    use burn_cubecl::kernel::conv::{ConvStrategy, conv_data_backward};
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

    use super::FALLBACKS;
    use crate::gemm_kernel::launch;
    use crate::gemm_operands::{
        activation_dtype, as_float, batch_summed, channels_last_in_grid, channels_last_padded, fold_into, gemm_operands, gemm_operands_padded, is_channels_last, leading_block, nhwc_grown, strided_view, unfolded, unpadded,
    };
    use crate::im2col::ConvGeometry;
    use crate::type_match::same_type;

    /// The op for tensors of one backend (input, weight, active filters, geometry): the
    /// output, or the tensors back.
    pub(super) type Run<B> =
        fn(FloatTensor<B>, FloatTensor<B>, usize, &ConvGeometry) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)>;

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

    /// A backend with the op: the conv of `x` with the first `out_channels` filters of
    /// `weight` over `x`'s channels.
    trait GemmConv: Backend {
        fn gemm_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            out_channels: usize,
            options: ConvOptions<2>,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)>;
    }

    /// Runs the op of backend `K`; called only when `K` is `B` itself.
    fn run_as<B: Backend, K: GemmConv>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        out_channels: usize,
        geometry: &ConvGeometry,
    ) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)> {
        fn cast<S: 'static, T: 'static>(value: S) -> T {
            same_type(value).unwrap_or_else(|_| unreachable!("run_as is called only when K is B"))
        }
        let options = ConvOptions::new(geometry.stride, geometry.pad_start, geometry.dilation, 1);
        K::gemm_conv(cast(x), cast(weight), out_channels, options).map(cast).map_err(|(x, w)| (cast(x), cast(w)))
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
            c_out: usize,
            options: ConvOptions<2>,
        ) -> Result<CubeTensor<R>, (CubeTensor<R>, CubeTensor<R>)> {
            let [n, c_in] = [x.shape()[0], x.shape()[1]];
            let (xl, wl) = gemm_operands::<R, F>(x.clone(), leading_block(&weight, c_out, c_in));
            let out_dtype = activation_dtype::<R, F>(&x.client);
            match launch::forward(xl, wl, &options, out_dtype) {
                Ok(out) => Ok(unpadded::<R, F>(out, n, c_out)),
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
        /// The input and the weight's active block as the kernels read them
        /// ([`gemm_operands`]: channels-last, channel counts aligned, in the operand format;
        /// the input as [`SavedInput`] says), the options, the true `[c_out, c_in]`, the
        /// full weight's shape, and the input's element type (its gradient's).
        type State = (SavedInput<R>, CubeTensor<R>, ConvOptions<2>, [usize; 2], [usize; 4], DType);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            let [input_node, weight_node] = ops.parents;
            let (saved, weight, options, [c_out, c_in], full_shape, input_dtype) = ops.state;
            let shape = saved.input_shape(&options);
            let n = shape[0];
            let grad = grads.consume::<CubeBackend<R, F, I, BT>>(&ops.node);
            // The output gradient as an operand like the forward pass's; beside a padded input,
            // in memory of the padded input's pixel grid as the weight gradient's shifted views
            // read it (zeros beyond the output's pixels), in the same one pass.
            let grad = match &saved {
                SavedInput::Padded(x) => {
                    let [_, _, hg, wg] = x.shape().dims::<4>();
                    channels_last_in_grid::<R, F>(grad, [hg, wg], weight.shape()[0], weight.dtype)
                }
                SavedInput::Plain(_) => channels_last_padded::<R, F>(grad, n, weight.shape()[0], weight.dtype),
            };
            if let Some(node) = weight_node {
                // The active block, full size: zeros for the padded channels and the inactive
                // filters and channels alike.
                let weight_grad = weight_grad::<R, F, I, BT>(saved, grad.clone(), weight.shape().dims::<4>(), [c_out, c_in], full_shape, &options);
                grads.register::<CubeBackend<R, F, I, BT>>(node.id, weight_grad);
            }
            if let Some(node) = input_node {
                let input_grad = match options.stride == [1, 1] {
                    true => {
                        let gemm = launch::input_grad(grad.clone(), weight.clone(), shape, &options, input_dtype);
                        let direct = || conv_data_backward::<R, 2>(as_float::<R, F>(grad), as_float::<R, F>(weight), shape.into(), options, ConvStrategy::Direct);
                        or_direct(gemm, direct, "input-gradient")
                    }
                    false => strided_input_grad::<R, F, I, BT>(grad, weight, shape, c_in, &options, MAX_COLUMNS),
                };
                // In the input's type (the direct kernel and the fold write `F`).
                let input_grad = match input_grad.dtype == input_dtype {
                    true => input_grad,
                    false => burn_cubecl::kernel::cast(input_grad, input_dtype),
                };
                grads.register::<CubeBackend<R, F, I, BT>>(node.id, unpadded::<R, F>(input_grad, n, c_in));
            }
        }
    }

    /// The weight gradient: [`weight_grad_shifted`] for a stride-1 conv whose padded image is
    /// at most [`MAX_GRID_GROWTH`] times its output, [`weight_grad_im2col`] otherwise. Of the
    /// operands' `weight_shape` (channel counts aligned), the `active` `[c_out, c_in]` block is
    /// returned in a new zero tensor of `full_shape` (the slimmable conv's whole weight).
    fn weight_grad<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
        saved: SavedInput<R>,
        grad: CubeTensor<R>,
        weight_shape: [usize; 4],
        active: [usize; 2],
        full_shape: [usize; 4],
        options: &ConvOptions<2>,
    ) -> CubeTensor<R> {
        let [_, _, h, w] = saved.input_shape(options);
        let [_, _, ho, wo] = grad.shape().dims::<4>();
        let order = super::wgrad_order();
        match saved {
            SavedInput::Padded(padded) => weight_grad_shifted::<R, F>(padded, true, grad, weight_shape, active, full_shape, options, order),
            SavedInput::Plain(x) => match shifted_weight_grad(options, [h, w], [ho, wo]) {
                true => weight_grad_shifted::<R, F>(x, false, grad, weight_shape, active, full_shape, options, order),
                false => weight_grad_im2col::<R, F, I, BT>(x, grad, weight_shape, active, full_shape, options),
            },
        }
    }

    /// Whether a conv's weight gradient is [`weight_grad_shifted`]'s: stride 1, and its padded
    /// image at most [`MAX_GRID_GROWTH`] times its output (`input` and `output` `[h, w]`).
    fn shifted_weight_grad(options: &ConvOptions<2>, [h, w]: [usize; 2], [ho, wo]: [usize; 2]) -> bool {
        let grid = (h + 2 * options.padding[0]) * (w + 2 * options.padding[1]);
        options.stride == [1, 1] && grid as f64 <= MAX_GRID_GROWTH * (ho * wo) as f64
    }

    /// The input as the op keeps it for the backward pass, as the forward pass's kernel read it.
    #[derive(Debug, Clone)]
    enum SavedInput<R: CubeRuntime> {
        /// `[n, c, h, w]` channels-last ([`gemm_operands`]).
        Plain(CubeTensor<R>),
        /// `[n, c, h + 2·ph, w + 2·pw]` channels-last with the conv's zero padding written in,
        /// over the memory of `n + 1` such images (the last all zeros), as
        /// [`weight_grad_shifted`] reads it: the forward kernel ran without padding over it, and
        /// the backward pass makes no padded copy of its own (a pass over the input less: 272 µs
        /// for the 8-layer net's first 32×32 layer at full width on an H200, session 20).
        Padded(CubeTensor<R>),
    }

    impl<R: CubeRuntime> SavedInput<R> {
        /// The shape of the conv's input (its channels aligned).
        fn input_shape(&self, options: &ConvOptions<2>) -> [usize; 4] {
            match self {
                SavedInput::Plain(x) => x.shape().dims::<4>(),
                SavedInput::Padded(x) => {
                    let [n, c, hg, wg] = x.shape().dims::<4>();
                    [n, c, hg - 2 * options.padding[0], wg - 2 * options.padding[1]]
                }
            }
        }
    }

    /// How much larger than the output the padded image of a stride-1 conv may be for
    /// [`weight_grad_shifted`], which multiplies over every position of the padded image
    /// (1.13× the output's at 32×32 with padding 1, 1.56× at 8×8, 2.25× at 4×4): beyond this,
    /// unfolding the input costs less than the wasted products.
    const MAX_GRID_GROWTH: f64 = 1.6;

    /// The weight gradient of a stride-1 conv as one batched matrix product over shifted
    /// views of the padded input, with nothing unfolded.
    ///
    /// Lay the input out channels-last and zero-padded, `[n, hg, wg, c_in]`, as a matrix of
    /// `P = n·hg·wg` rows; and the output gradient as a matrix of the same rows, each output
    /// pixel `(y, x)` at the row of padded pixel `(y, x)`, zeros elsewhere. Kernel position
    /// `(i, j)` multiplies output pixel `(y, x)` with padded pixel `(y + d·i, x + d·j)`: the row
    /// `d·(i·wg + j)` further on. So `dW[:, :, i, j] = dYᵀ · X[d·(i·wg + j) ..][..P]`, where the
    /// second factor is a view of the padded input with a row offset: all kernel positions are
    /// one strided view `[kh, kw, P, c_in]` with strides `[d·wg·c_in, d·c_in, c_in, 1]` (an
    /// extra zero image at the end keeps the last shifts in bounds). As in
    /// [`weight_grad_im2col`], `P` is split over image batches whose partial products are summed.
    /// It reads and writes about 1.1× the input, where unfolding writes `kh·kw` times it.
    /// `order` says which of the products' batch axes is outermost ([`super::WgradOrder`]).
    /// With `x_padded`, `x` is that padded input already, as [`SavedInput::Padded`] holds it,
    /// and `grad` the output gradient in that grid's memory (`channels_last_in_grid`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn weight_grad_shifted<R: CubeRuntime, F: FloatElement>(
        x: CubeTensor<R>,
        x_padded: bool,
        grad: CubeTensor<R>,
        weight_shape: [usize; 4],
        active: [usize; 2],
        full_shape: [usize; 4],
        options: &ConvOptions<2>,
        order: super::WgradOrder,
    ) -> CubeTensor<R> {
        let [c_out, c_in, kh, kw] = weight_shape;
        let [n, _, h, w] = x.shape().dims::<4>();
        let [_, _, ho, wo] = grad.shape().dims::<4>();
        let [ph, pw] = options.padding;
        let [dh, dw] = options.dilation;
        let (hg, wg) = match x_padded {
            true => (h, w),
            false => (h + 2 * ph, w + 2 * pw),
        };
        debug_assert!(ho <= hg && wo <= wg);
        // A 1×1 kernel without padding reads no shifted pixel and needs no zeros: the input and
        // the gradient as the op hands them over (channels-last, contiguous) are the views'
        // memory. (Copying them cost MobileNetV2-224's 34 pointwise convs 68 launches a pass,
        // 1.1 ms of an H200's time at full width: docs/BENCHMARKS.md, session 32.)
        let pointwise = kh == 1 && kw == 1 && [ph, pw] == [0, 0] && is_channels_last(&x) && is_channels_last(&grad);
        // Otherwise each a single pass of `shift_kernel`, in the operands' own format.
        let (x_dtype, dy_dtype) = (x.dtype, grad.dtype);
        let (padded, dy) = match x_padded || pointwise {
            true => (
                strided_view(&x, vec![n + usize::from(x_padded), hg, wg, c_in], vec![hg * wg * c_in, wg * c_in, c_in, 1]),
                strided_view(&grad, vec![n, hg, wg, c_out], vec![hg * wg * c_out, wg * c_out, c_out, 1]),
            ),
            false => (nhwc_grown::<R, F>(x, [n + 1, hg, wg, c_in], [ph, pw], x_dtype), nhwc_grown::<R, F>(grad, [n, hg, wg, c_out], [0, 0], dy_dtype)),
        };
        let batches = image_batches(n, c_out * c_in * kh * kw);
        let rows = n / batches * hg * wg;
        let (dy_batch, x_batch, x_row, x_col) = (rows * c_out, rows * c_in, dh * wg * c_in, dw * c_in);
        // cubek launches the products in row-major order of their batch axes, the last fastest.
        let partials = match order {
            super::WgradOrder::ImagesOuter => {
                // dYᵀ per batch: [batches, 1, 1, c_out, rows], column-major; the input's views
                // [batches, kh, kw, rows, c_in]; the products [batches, kh, kw, c_out, c_in].
                let lhs = strided_view(&dy, vec![batches, 1, 1, c_out, rows], vec![dy_batch, 0, 0, 1, c_out]);
                let rhs = strided_view(&padded, vec![batches, kh, kw, rows, c_in], vec![x_batch, x_row, x_col, c_in, 1]);
                let products = products_f32::<R, F>(lhs, rhs);
                let st = products.meta.strides().to_vec();
                strided_view(&products, vec![batches, active[0], active[1], kh, kw], vec![st[0], st[3], st[4], st[1], st[2]])
            }
            super::WgradOrder::PositionsOuter => {
                let lhs = strided_view(&dy, vec![1, 1, batches, c_out, rows], vec![0, 0, dy_batch, 1, c_out]);
                let rhs = strided_view(&padded, vec![kh, kw, batches, rows, c_in], vec![x_row, x_col, x_batch, c_in, 1]);
                let products = products_f32::<R, F>(lhs, rhs);
                let st = products.meta.strides().to_vec();
                strided_view(&products, vec![batches, active[0], active[1], kh, kw], vec![st[2], st[3], st[4], st[0], st[1]])
            }
        };
        // Seen as [batches, c_out, c_in, kh, kw] (the active block), summed over the batches.
        batch_summed::<R, F>(partials, full_shape)
    }

    /// The weight gradient as matrix products over the unfolded input: with `P = n·h_out·w_out`
    /// output positions, `dW [c_out, kh·kw·c_in] = dYᵀ [c_out, P] · columns [P, kh·kw·c_in]`,
    /// both matrices channels-last (the output gradient a reshape, the columns written in one
    /// pass by `gemm_operands::unfolded`). `P` is split over images into batches whose partial
    /// products are summed, so that a long `P` (a million for the 8-layer net) still spreads
    /// over the GPU without a `[n, c_out, kh·kw·c_in]` intermediate.
    ///
    /// Why not burn's GEMM weight gradient (`conv_weight_backward` with `ImplicitGemm`): on an
    /// H200 it came out wrong (max difference 88 from burn-ndarray's for a `[4, 16, 16, 16]`
    /// input and a `[32, 16, 3, 3]` weight; 47 for a 3-channel input), and burn's direct one
    /// computes it as a convolution whose kernel is the whole image (slow).
    pub(super) fn weight_grad_im2col<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
        x: CubeTensor<R>,
        grad: CubeTensor<R>,
        weight_shape: [usize; 4],
        active: [usize; 2],
        full_shape: [usize; 4],
        options: &ConvOptions<2>,
    ) -> CubeTensor<R> {
        let [c_out, c_in, kh, kw] = weight_shape;
        let [n, _, ho, wo] = grad.shape().dims::<4>();
        let geometry = ConvGeometry::from_options([kh, kw], options);
        let k = kh * kw * c_in;
        // [n·h_out·w_out, kh·kw·c_in], kernel position major, as the weight [c_out, kh, kw, c_in]:
        // one pass of `unfold_kernel`, in the operand's own format.
        let columns = Tensor::<CubeBackend<R, F, I, BT>, 2>::from_primitive(Float(unfolded::<R, F>(x, &geometry)));
        let dy = Tensor::<CubeBackend<R, F, I, BT>, 4>::from_primitive(Float(grad));
        let batches = image_batches(n, c_out * k);
        let rows = n * ho * wo / batches;
        let columns = columns.reshape([batches, rows, k]);
        let dy = dy.permute([0, 2, 3, 1]).reshape([batches, rows, c_out]).swap_dims(1, 2);
        // [batches, c_out, kh·kw·c_in], its active block seen as [batches, c_out, c_in, kh, kw].
        let products = products_f32::<R, F>(dy.into_primitive().tensor(), columns.into_primitive().tensor());
        let st = products.meta.strides().to_vec();
        let partials = strided_view(&products, vec![batches, active[0], active[1], kh, kw], vec![st[0], st[1], st[2], kw * c_in * st[2], c_in * st[2]]);
        batch_summed::<R, F>(partials, full_shape)
    }

    /// The batched matrix product `lhs · rhs` by cubek's matmul kernel
    /// ([`crate::wgrad_matmul`]), its sums and result in the backend's float `F` whatever the
    /// operands' format (f32 or bf16).
    fn products_f32<R: CubeRuntime, F: FloatElement>(lhs: CubeTensor<R>, rhs: CubeTensor<R>) -> CubeTensor<R> {
        launch::products(lhs, rhs, F::dtype())
            .unwrap_or_else(|err| panic!("the weight gradient's matrix product ({}) failed: {err:?}", crate::wgrad_matmul()))
    }

    /// How many batches (a divisor of `n`) the images are split into so that the partial
    /// products, `batches × size` values, stay within 64 Mi values, and at most
    /// [`set_wgrad_max_batches`](super::set_wgrad_max_batches)'s cap (default 256). (Fewer
    /// batches of at least 16 Ki rows each, 64 for the bench net's 32×32 layers, made its
    /// sandwich step 9 % slower on an H100 in session 11, when burn's reduction added the
    /// partial sums; with the batch-sum kernel, 64 and 256 batches were both faster than 1 024
    /// on an H200, docs/BENCHMARKS.md, session 16.)
    fn image_batches(n: usize, size: usize) -> usize {
        let most = ((1usize << 26) / size.max(1)).max(1);
        largest_divisor_at_most(n, most.min(super::WGRAD_MAX_BATCHES.load(Ordering::Relaxed)))
    }

    /// The largest divisor of `n` that is at most `most` (1 at least).
    fn largest_divisor_at_most(n: usize, most: usize) -> usize {
        (1..=n).rev().find(|d| n.is_multiple_of(*d) && *d <= most).unwrap_or(1)
    }

    /// The most values of columns [`strided_input_grad`] makes at once in the op: 64 Mi (256 MB
    /// of f32).
    pub(super) const MAX_COLUMNS: usize = 1 << 26;

    /// The input gradient of a strided conv, `[n, channels, h, w]` (row-major), by one matrix
    /// product and a fold: with `P = n·h_out·w_out` output positions, the columns
    /// `dY [P, c_out] · W [c_out, kh·kw·c_in]` hold each output pixel's contribution to every input
    /// pixel its window covers, and [`folded`] sums them into place. `grad` `[n, c_out, h_out,
    /// w_out]` and `weight` `[c_out, c_in, kh, kw]` are the GEMM operands (channels-last, of one
    /// element type): the weight read as the forward pass's operand, unchanged.
    ///
    /// Why: a transposed conv run as a stride-1 conv over the output gradient spread out with
    /// `stride − 1` zeros between its values (this op's first form) multiplies the zeros too —
    /// 4× the arithmetic of a stride-2 conv, three quarters of it wasted: a fifth of the
    /// arithmetic of a full-width pass of the 8-layer net; burn's own input gradient
    /// for a stride above 1 is a direct kernel (54 % of that net's plain step on an H200), and
    /// cubek's implicit-GEMM one does not check that a position divides by the stride.
    /// The columns (`kh·kw·c_in / (sh·sw·c_in)` times the input gradient's size, 2.25× for a 3×3
    /// stride-2 conv) are written once and read once.
    ///
    /// The columns are made for at most `max_columns` values at a time (the op passes
    /// [`MAX_COLUMNS`]).
    pub(super) fn strided_input_grad<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
        grad: CubeTensor<R>,
        weight: CubeTensor<R>,
        input_shape: [usize; 4],
        channels: usize,
        options: &ConvOptions<2>,
        max_columns: usize,
    ) -> CubeTensor<R> {
        let [n, c_out, ho, wo] = grad.shape().dims::<4>();
        let [_, c_in, kh, kw] = weight.shape().dims::<4>();
        // Both channels-last and contiguous (no copy when they are so already, as the op's are).
        let dtype = grad.dtype;
        let grad = channels_last_padded::<R, F>(grad, n, c_out, dtype);
        let weight = channels_last_padded::<R, F>(weight, c_out, c_in, dtype);
        let k = kh * kw * c_in;
        let rhs = strided_view(&weight, vec![1, c_out, k], vec![0, k, 1]);
        let geometry = ConvGeometry::from_options([kh, kw], options);
        let [_, _, h, w] = input_shape;
        let output = empty_device_contiguous_dtype(grad.client.clone(), grad.device.clone(), [n, channels, h, w].into(), F::dtype());
        // Images a few at a time (a divisor of n, at most `max_columns` values of columns each):
        // the columns of all of them at once (600 MB for the 8-layer net's first strided conv at
        // batch 1024) would take a new 9 GB page of cubecl's memory pool on an H200, whose
        // 2.2 GB pages hold slices of up to 561 MB.
        let chunk = largest_divisor_at_most(n, max_columns / (ho * wo * k).max(1));
        for first in (0..n).step_by(chunk) {
            // Images `first..first + chunk` of the output gradient: a view (its memory is
            // channels-last, images outermost) where the offset is aligned, else a copy.
            let dy = Tensor::<CubeBackend<R, F, I, BT>, 4>::from_primitive(Float(grad.clone())).narrow(0, first, chunk);
            let dy = channels_last_padded::<R, F>(dy.into_primitive().tensor(), chunk, c_out, dtype);
            let lhs = strided_view(&dy, vec![1, chunk * ho * wo, c_out], vec![0, c_out, 1]);
            let columns = products_f32::<R, F>(lhs, rhs.clone());
            let strides = columns.meta.strides().to_vec();
            fold_into::<R, F>(strided_view(&columns, vec![chunk * ho * wo, k], strides[1..].to_vec()), &output, first, c_in, &geometry);
        }
        output
    }

    impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement, C: CheckpointStrategy> GemmConv
        for Autodiff<CubeBackend<R, F, I, BT>, C>
    {
        fn gemm_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            c_out: usize,
            options: ConvOptions<2>,
        ) -> Result<FloatTensor<Self>, (FloatTensor<Self>, FloatTensor<Self>)> {
            let [n, c_in, h, w] = x.primitive.shape().dims::<4>();
            let full_shape = weight.primitive.shape().dims::<4>();
            let [kh, kw] = [full_shape[2], full_shape[3]];
            let geometry = ConvGeometry::from_options([kh, kw], &options);
            // The input padded once for both passes where the weight gradient reads it so.
            let pre_padded = options.padding != [0, 0] && shifted_weight_grad(&options, [h, w], geometry.output_size([h, w]));
            let (xl, wl, saved, forward_options) = match pre_padded {
                true => {
                    let (xl, wl) = gemm_operands_padded::<R, F>(x.primitive.clone(), leading_block(&weight.primitive, c_out, c_in), options.padding);
                    let unpadded_options = ConvOptions::new(options.stride, [0, 0], options.dilation, 1);
                    (xl.clone(), wl, SavedInput::Padded(xl), unpadded_options)
                }
                false => {
                    let (xl, wl) = gemm_operands::<R, F>(x.primitive.clone(), leading_block(&weight.primitive, c_out, c_in));
                    (xl.clone(), wl, SavedInput::Plain(xl), options.clone())
                }
            };
            let input_dtype = x.primitive.dtype;
            let out = match launch::forward(xl, wl.clone(), &forward_options, activation_dtype::<R, F>(&x.primitive.client)) {
                Ok(out) => unpadded::<R, F>(out, n, c_out),
                Err(_) => {
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    return Err((x, weight));
                }
            };
            Ok(match GemmConvBackward.prepare::<C>([x.node.clone(), weight.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((saved, wl, options, [c_out, c_in], full_shape, input_dtype), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            })
        }
    }
}

#[cfg(all(test, any(feature = "test-wgpu", feature = "test-cuda")))]
mod spread_tests {
    //! The strided input gradient's and the weight gradient's arithmetic, on lavapipe (the
    //! matrix products on cubek's kernel without tensor cores) and, for the former, on CUDA
    //! (TF32 products). The reference is burn-ndarray's conv gradient: burn's wgpu backend
    //! itself gave an all-zero input gradient for a 1×1 stride-2 conv of an 8×7 input.
    use super::cube::{MAX_COLUMNS, strided_input_grad};
    use crate::gemm_operands::channels_last_padded;
    use crate::test_support::{NdArrayAd, assert_close_named, random};
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{DType, Tensor, TensorPrimitive::Float};
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime};

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn strided_input_gradient_equals_burn_ndarrays() {
        let _settings = crate::test_support::using_settings();
        strided_input_gradient_on::<burn::backend::wgpu::WgpuRuntime, u32>(1e-3);
    }

    /// TF32 products: about 1e-3 of each of up to `kh·kw·c_out / (sh·sw)` terms.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_strided_input_gradient_equals_burn_ndarrays() {
        let _settings = crate::test_support::using_settings();
        strided_input_gradient_on::<cubecl::cuda::CudaRuntime, u8>(0.05);
    }

    fn strided_input_gradient_on<R: CubeRuntime, BT: BoolElement>(tolerance: f32) {
        type G<R, BT> = CubeBackend<R, f32, i32, BT>;
        let (cpu, gpu) = (Default::default(), Default::default());
        let cases = [
            ([2, 5, 9, 9], [6, 5, 3, 3], [2, 2], [1, 1], [1, 1]),
            ([2, 5, 8, 8], [6, 5, 3, 3], [2, 2], [1, 1], [1, 1]),
            ([1, 4, 8, 7], [3, 4, 1, 1], [2, 2], [0, 0], [1, 1]), // downsampling shortcut
            ([2, 3, 11, 10], [4, 3, 5, 5], [3, 2], [2, 2], [1, 1]),
            ([1, 2, 9, 9], [3, 2, 3, 3], [2, 2], [2, 2], [2, 2]), // dilated
            ([2, 37, 8, 8], [40, 37, 3, 3], [2, 2], [1, 1], [1, 1]), // more than a tile of channels
            ([1, 3, 10, 9], [2, 3, 2, 2], [3, 3], [0, 0], [1, 1]), // pixels no window reads
        ];
        for (x_shape, w_shape, stride, padding, dilation) in cases {
            let options = ConvOptions::new(stride, padding, dilation, 1);
            let x = random::<NdArrayAd, 4>(x_shape, &cpu).require_grad();
            let w = random::<NdArrayAd, 4>(w_shape, &cpu);
            let y = conv2d(x.clone(), w.clone(), None, options.clone());
            let dy = random::<NdArrayAd, 4>(y.dims(), &cpu);
            let expected = x.grad(&y.mul(dy.clone()).sum().backward()).unwrap();
            let to_gpu = |t: &Tensor<NdArrayAd, 4>| Tensor::<G<R, BT>, 4>::from_data(t.to_data(), &gpu).into_primitive().tensor();
            let expected = Tensor::<G<R, BT>, 4>::from_data(expected.into_data(), &gpu);
            // Row-major operands (made channels-last inside), then the operands as the op hands
            // them over: channels-last, channel counts rounded up to 4 with zeros.
            let ours = strided_input_grad::<R, f32, i32, BT>(to_gpu(&dy), to_gpu(&w), x_shape, x_shape[1], &options, MAX_COLUMNS);
            let ours = Tensor::<G<R, BT>, 4>::from_primitive(Float(ours));
            assert_eq!(ours.dims(), x_shape);
            assert_close_named(ours, expected.clone(), tolerance, &format!("input gradient, x {x_shape:?}, {options:?}"));
            let [n, c_in, h, w_in] = x_shape;
            let (c_out4, c_in4) = (w_shape[0].div_ceil(4) * 4, c_in.div_ceil(4) * 4);
            let dyp = channels_last_padded::<_, f32>(to_gpu(&dy), n, c_out4, DType::F32);
            let wp = channels_last_padded::<_, f32>(to_gpu(&w), c_out4, c_in4, DType::F32);
            let ours = strided_input_grad::<R, f32, i32, BT>(dyp.clone(), wp.clone(), [n, c_in4, h, w_in], c_in, &options, MAX_COLUMNS);
            let ours = Tensor::<G<R, BT>, 4>::from_primitive(Float(ours));
            assert_eq!(ours.dims(), x_shape, "the real channels only");
            assert_close_named(ours, expected.clone(), tolerance, &format!("input gradient, padded channels, x {x_shape:?}, {options:?}"));
            // One image's columns at a time: the images' output gradients are views (or copies)
            // of the whole, each folded into its own image.
            let ours = strided_input_grad::<R, f32, i32, BT>(dyp, wp, [n, c_in4, h, w_in], c_in, &options, 1);
            let ours = Tensor::<G<R, BT>, 4>::from_primitive(Float(ours));
            assert_close_named(ours, expected, tolerance, &format!("input gradient, an image at a time, x {x_shape:?}, {options:?}"));
        }
    }

    /// The weight gradient by matrix products (unfolded, and over shifted views for stride 1),
    /// against burn-ndarray's, with the tensors laid out channels-last as the op keeps them.
    #[cfg(feature = "test-wgpu")]
    #[test]
    fn weight_gradients_by_matrix_products_equal_burn_ndarrays() {
        let _settings = crate::test_support::using_settings();
        use super::WgradOrder;
        use super::cube::{weight_grad_im2col, weight_grad_shifted};
        use crate::type_match::WgpuCube;
        let (cpu, gpu) = (Default::default(), Default::default());
        let cases = [
            ([2, 5, 9, 9], [6, 5, 3, 3], [1, 1], [1, 1], [1, 1]),
            ([4, 16, 16, 16], [32, 16, 3, 3], [1, 1], [1, 1], [1, 1]),
            ([2, 5, 8, 8], [6, 5, 3, 3], [2, 2], [1, 1], [1, 1]),
            ([2, 3, 11, 10], [4, 3, 5, 5], [3, 2], [2, 2], [1, 1]),
            ([1, 2, 9, 9], [3, 2, 3, 3], [1, 1], [2, 2], [2, 2]), // dilated
            ([2, 6, 7, 7], [4, 6, 1, 1], [1, 1], [0, 0], [1, 1]), // pointwise: no copies
            ([2, 6, 7, 7], [4, 6, 1, 1], [1, 1], [1, 1], [1, 1]), // 1×1 with padding: copies
            ([3, 8, 6, 9], [12, 8, 3, 5], [1, 1], [0, 2], [1, 1]), // no padding in height
            ([3, 7, 10, 8], [5, 7, 3, 3], [1, 1], [1, 1], [2, 1]), // dilated in height only
        ];
        for (x_shape, w_shape, stride, padding, dilation) in cases {
            let options = ConvOptions::new(stride, padding, dilation, 1);
            let x = random::<NdArrayAd, 4>(x_shape, &cpu);
            let w = random::<NdArrayAd, 4>(w_shape, &cpu).require_grad();
            let y = conv2d(x.clone(), w.clone(), None, options.clone());
            let dy = random::<NdArrayAd, 4>(y.dims(), &cpu);
            let expected = w.grad(&y.mul(dy.clone()).sum().backward()).unwrap();
            let expected = Tensor::<WgpuCube, 4>::from_data(expected.into_data(), &gpu);
            // NHWC memory seen as NCHW, as the op's `channels_last` makes it.
            let channels_last = |t: &Tensor<NdArrayAd, 4>| {
                let nhwc = Tensor::<WgpuCube, 4>::from_data(t.clone().permute([0, 2, 3, 1]).into_data(), &gpu);
                nhwc.permute([0, 3, 1, 2]).into_primitive().tensor()
            };
            let [c_out, c_in, kh, kw] = w_shape;
            let unfolded = weight_grad_im2col::<_, f32, i32, u32>(channels_last(&x), channels_last(&dy), w_shape, [c_out, c_in], w_shape, &options);
            let what = format!("x {x_shape:?}, {options:?}");
            assert_close_named(Tensor::<WgpuCube, 4>::from_primitive(Float(unfolded)), expected.clone(), 1e-2, &format!("unfolded weight gradient, {what}"));
            // The operands as the op hands them over: channel counts rounded up to 4, zeros
            // added; the gradient is the real block of a larger zero tensor (a slimmable conv's
            // whole weight).
            let padded = |t: &Tensor<NdArrayAd, 4>, rows: usize, channels: usize| {
                let t = Tensor::<WgpuCube, 4>::from_data(t.to_data(), &gpu).into_primitive().tensor();
                channels_last_padded::<_, f32>(t, rows, channels, DType::F32)
            };
            let (c_out4, c_in4) = (c_out.div_ceil(4) * 4, c_in.div_ceil(4) * 4);
            let (xp, dyp) = (padded(&x, x_shape[0], c_in4), padded(&dy, x_shape[0], c_out4));
            let full = [c_out4 + 3, c_in4 + 2, kh, kw];
            let check = |dw: burn::tensor::ops::FloatTensor<WgpuCube>, name: &str| {
                let dw = Tensor::<WgpuCube, 4>::from_primitive(Float(dw));
                assert_eq!(dw.dims(), full, "{name}: the whole weight's shape");
                assert_close_named(dw.clone().slice([0..c_out, 0..c_in]), expected.clone(), 1e-2, &format!("{name}, padded channels, {what}"));
                let rest = dw.slice_assign([0..c_out, 0..c_in], Tensor::zeros([c_out, c_in, kh, kw], &gpu)).abs().sum().into_scalar();
                assert_eq!(rest, 0.0, "{name}: zeros outside the active block, {what}");
            };
            let unfolded = weight_grad_im2col::<_, f32, i32, u32>(xp.clone(), dyp.clone(), [c_out4, c_in4, kh, kw], [c_out, c_in], full, &options);
            check(unfolded, "unfolded weight gradient");
            if stride == [1, 1] {
                for order in WgradOrder::ALL {
                    let shifted = weight_grad_shifted::<_, f32>(channels_last(&x), false, channels_last(&dy), w_shape, [c_out, c_in], w_shape, &options, order);
                    assert_close_named(Tensor::<WgpuCube, 4>::from_primitive(Float(shifted)), expected.clone(), 1e-2, &format!("shifted-view weight gradient, {order:?}, {what}"));
                    let shifted = weight_grad_shifted::<_, f32>(xp.clone(), false, dyp.clone(), [c_out4, c_in4, kh, kw], [c_out, c_in], full, &options, order);
                    check(shifted, &format!("shifted-view weight gradient, {order:?}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{agrees_with_ndarray, agrees_with_tolerance, backend_tests, geometry, is_cuda};
    use burn::tensor::backend::AutodiffBackend;

    fn ours<B: Backend>(x: Tensor<B, 4>, w: Tensor<B, 4>, b: Option<Tensor<B, 1>>, g: &ConvGeometry) -> Tensor<B, 4> {
        gemm_conv2d(x, w, b, g)
    }

    #[test]
    fn layout_copy_rows_outside_powers_of_two_up_to_32_are_errors() {
        for bad in [0, 3, 12, 64] {
            let err = set_layout_copy_rows(bad).unwrap_err();
            assert!(err.contains("power of two") && err.contains(&bad.to_string()), "{err}");
        }
    }

    /// TF32 products (10-bit mantissa) on tensor cores: relative error about 1e-3 of each
    /// product, over up to 9·c_in terms of unit-variance values. (On ndarray and lavapipe,
    /// which have no such kernels, both sides are burn's conv and agree exactly; these tests
    /// check the op's kernels on CUDA: `--features test-cuda`.)
    const TOLERANCE: f32 = 0.05;

    fn gemm_conv_matches_the_backend_with_its_gradients<B: AutodiffBackend>(device: &B::Device) {
        let agrees = |x: [usize; 4], w: [usize; 4], g: ConvGeometry| agrees_with_ndarray::<B>(x, w, g, device, TOLERANCE, ours);
        agrees([2, 16, 8, 8], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
        agrees([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
        agrees([2, 16, 8, 8], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])); // even side
        agrees([3, 3, 12, 12], [16, 3, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])); // stem: im2col
        agrees([2, 20, 6, 6], [12, 20, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // pointwise
        agrees([2, 3, 6, 6], [12, 3, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // thin pointwise: kernels, padded
        agrees([2, 5, 7, 7], [3, 5, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // thin both sides
        agrees([2, 8, 7, 7], [8, 8, 5, 5], geometry(5, 1, 2, [4, 4], [4, 4])); // dilated
        agrees([3, 8, 12, 12], [16, 8, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
        agrees([4, 16, 16, 16], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
        // Channel counts that are not multiples of the alignment: padded for the kernels.
        agrees([2, 10, 8, 8], [13, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
        agrees([2, 11, 9, 9], [6, 11, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
        agrees([2, 9, 6, 6], [7, 9, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0]));
        agrees([2, 16, 8, 8], [13, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])); // only the output channels padded
        agrees([2, 10, 8, 8], [16, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])); // only the input channels padded
        agrees([2, 16, 9, 9], [13, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
        if is_cuda::<B>() {
            // A downsampling shortcut. Where the op falls back to burn's own conv (lavapipe),
            // burn's input gradient of it is wrong (`spread_tests`), so it is checked only here.
            agrees([2, 16, 8, 8], [24, 16, 1, 1], geometry(1, 2, 1, [0, 0], [0, 0]));
        }
        // `Same` padding and groups: the backend's conv2d, against itself.
        agrees_with_tolerance::<B>([2, 6, 9, 9], [8, 6, 3, 3], geometry(3, 2, 1, [0, 0], [1, 1]), 1, device, TOLERANCE, ours);
        agrees_with_tolerance::<B>([2, 8, 6, 6], [8, 4, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]), 2, device, TOLERANCE, ours);
    }

    /// A slimmable layer's tensors are channel slices of larger ones: the gradients reach only
    /// the active block of the full weight, whether the block is sliced out first
    /// ([`gemm_conv2d`]) or read in place ([`gemm_conv2d_active`]).
    fn sliced_weights_get_gradients_only_in_the_active_block<B: AutodiffBackend>(device: &B::Device) {
        use crate::test_support::{assert_close, assert_inactive_zero, random};
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x_full = random::<B, 4>([2, 12, 8, 8], device).require_grad();
        let w_full = random::<B, 4>([16, 12, 3, 3], device).require_grad();
        // 9 input channels (at least the default GEMM minimum) and 10 output ones: neither aligned.
        let x = || x_full.clone().slice([0..2, 0..9]);
        let w = || w_full.clone().slice([0..10, 0..9]);
        let native = conv2d(x(), w(), None, g.options(1));
        let mask = random::<B, 4>(native.dims(), device);
        let grads_native = native.clone().mul(mask.clone()).sum().backward();
        for (form, ours) in [("sliced", gemm_conv2d(x(), w(), None, &g)), ("in place", gemm_conv2d_active(x(), w_full.clone(), 10, None, &g))] {
            assert_close(ours.clone(), native.clone(), TOLERANCE);
            let grads = ours.mul(mask.clone()).sum().backward();
            let w_grad = w_full.grad(&grads).unwrap_or_else(|| panic!("{form}: no weight gradient"));
            assert_eq!(w_grad.dims(), [16, 12, 3, 3], "{form}: the gradient has the full weight's shape");
            assert_close(w_grad.clone(), w_full.grad(&grads_native).unwrap(), TOLERANCE);
            assert_inactive_zero(w_grad, &[0..10, 0..9, 0..3, 0..3]);
            assert_close(x_full.grad(&grads).unwrap(), x_full.grad(&grads_native).unwrap(), TOLERANCE);
        }
        // The whole weight in place is the plain conv.
        let whole = gemm_conv2d_active(x_full.clone(), w_full.clone(), 16, None, &g);
        assert_close(whole, conv2d(x_full.clone(), w_full.clone(), None, g.options(1)), TOLERANCE);
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

    /// Every verified implicit-GEMM kernel ([`crate::VERIFIED_GEMM_KERNELS`]) gives
    /// burn-ndarray's output and gradients, or falls back to burn's direct kernel (counted, and
    /// correct). CUDA only; holds the settings (the kernel is process-wide).
    /// `AUTOSLIM_TEST_GEMM_KERNELS` (names, comma-separated) tries others instead; those
    /// outside the verified list are reported, not asserted. A kernel that fails at run time
    /// leaves the CUDA context broken for every later one: try such kernels one per process.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_every_gemm_kernel_agrees_with_ndarray() {
        let _settings = crate::test_support::changing_settings();
        use crate::GemmKernel;
        use crate::test_support::CudaAd;
        let device = Default::default();
        let names = std::env::var("AUTOSLIM_TEST_GEMM_KERNELS").unwrap_or_else(|_| crate::VERIFIED_GEMM_KERNELS.join(","));
        let kernels: Vec<GemmKernel> = names.split(',').map(|name| GemmKernel::parse(name).unwrap()).collect();
        let mut report = Vec::new();
        for kernel in kernels {
            crate::set_gemm_kernel(kernel);
            let before = implicit_gemm_fallbacks();
            let agrees = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let agrees = |x: [usize; 4], w: [usize; 4], g: ConvGeometry| agrees_with_ndarray::<CudaAd>(x, w, g, &device, TOLERANCE, ours);
                agrees([2, 16, 8, 8], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
                agrees([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
                agrees([2, 10, 8, 8], [13, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
            }))
            .is_ok();
            report.push((kernel.name(), agrees, implicit_gemm_fallbacks() - before));
        }
        crate::reset_gemm_kernel();
        for (name, agrees, fallbacks) in &report {
            println!("{name:32} {} ({fallbacks} passes fell back)", if *agrees { "agrees" } else { "DISAGREES" });
        }
        // Kernels outside the verified list may be tried (the variable) and are only reported.
        let wrong: Vec<&String> = report.iter().filter(|r| !r.1 && crate::VERIFIED_GEMM_KERNELS.contains(&r.0.as_str())).map(|r| &r.0).collect();
        assert!(wrong.is_empty(), "verified kernels whose results differ from burn-ndarray's: {wrong:?}");
    }

    /// Whether the op gives burn-ndarray's output and gradients on CUDA for every
    /// `(input, weight, geometry)` of `cases` within `tolerance` (a disagreement is a panic
    /// inside, caught here, so that the caller can report every setting it tries).
    #[cfg(feature = "test-cuda")]
    fn agrees_on_cuda(cases: &[([usize; 4], [usize; 4], ConvGeometry)], tolerance: f32) -> bool {
        use crate::test_support::CudaAd;
        let device = Default::default();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (x, w, g) in cases {
                agrees_with_ndarray::<CudaAd>(*x, *w, *g, &device, scaled_tolerance(tolerance, *w), ours);
            }
        }))
        .is_ok()
    }

    /// `tolerance`, set for sums of up to 144 products (16 channels × 9 taps), grown with the
    /// square root of the longest sum the op makes for `weight` `[c_out, c_in, kh, kw]` (the
    /// output over `c_in·kh·kw`, the input gradient over `c_out·kh·kw`): rounding errors of
    /// TF32 and bf16 operands add up like a random walk (152 output channels: 3.1× as large).
    #[cfg(feature = "test-cuda")]
    fn scaled_tolerance(tolerance: f32, [c_out, c_in, kh, kw]: [usize; 4]) -> f32 {
        let terms = (c_out.max(c_in) * kh * kw) as f32;
        tolerance * (terms / 144.0).sqrt().max(1.0)
    }

    /// Convs whose products meet the stages' edges: rows, columns and depth that are, and are
    /// not, multiples of a stage's.
    #[cfg(feature = "test-cuda")]
    fn stage_cases() -> [([usize; 4], [usize; 4], ConvGeometry); 5] {
        [
            ([4, 16, 16, 16], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
            ([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])), // strided, rows not a multiple of the stage
            ([2, 10, 8, 8], [13, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])), // padded channels
            // More output (and, for the input gradient, input) channels than one stage holds.
            ([2, 136, 6, 6], [144, 136, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])),
            ([2, 40, 6, 6], [152, 40, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])), // channels between powers of two
        ]
    }

    /// With more bounds checks compiled in than the products need ([`crate::GemmChecks`]'s
    /// `Always`, `AllOrNone` and `Channels`) the default stages and the weight gradient's fitted ones give
    /// burn-ndarray's output and gradients, with bf16 and TF32 operands, and are really used (no
    /// bf16 launch fell back to an inferred stage). CUDA only; the checks are process-wide and
    /// put back.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_extra_bounds_checks_agree_with_ndarray() {
        let _settings = crate::test_support::changing_settings();
        use crate::{GemmChecks, GemmPrecision, GemmStages, gemm_tiling_misses, set_gemm_checks, set_gemm_precision, set_gemm_stages};
        set_gemm_stages(GemmStages::Default);
        let mut wrong = Vec::new();
        for checks in [GemmChecks::Always, GemmChecks::AllOrNone, GemmChecks::Channels] {
            set_gemm_checks(checks);
            for (precision, tolerance) in [(GemmPrecision::Bf16, 0.25), (GemmPrecision::Tf32, TOLERANCE)] {
                set_gemm_precision(precision);
                let misses = gemm_tiling_misses().0;
                let agrees = agrees_on_cuda(&stage_cases(), tolerance);
                let used = gemm_tiling_misses().0 == misses;
                println!("checks {:11} {:5} {} {}", checks.name(), precision.name(), if agrees { "agrees" } else { "DISAGREES" }, if used { "" } else { "(not used)" });
                if !agrees || (!used && precision == GemmPrecision::Bf16) {
                    wrong.push(format!("{} {}", checks.name(), precision.name()));
                }
            }
        }
        set_gemm_checks(GemmChecks::AsNeeded);
        assert!(wrong.is_empty(), "wrong with extra bounds checks: {wrong:?}");
    }

    /// Named stage shapes ([`crate::GemmTiling`]) give burn-ndarray's output and gradients in
    /// both operand formats, and with bf16 operands they are really used (no launch ran cubek's
    /// inferred stage instead, none fell back to burn's direct kernel); with f32 ones cubek may
    /// refuse them, and the op then runs the inferred stage (reported, with cubek's reason).
    /// CUDA only; holds the settings (the stages are process-wide).
    /// `AUTOSLIM_TEST_GEMM_TILINGS` (names, comma-separated) tries others, on the kernel
    /// `AUTOSLIM_TEST_GEMM_KERNEL` names (default [`crate::GemmKernel::CUDA_DEFAULT`]).
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_named_tilings_agree_with_ndarray() {
        let _settings = crate::test_support::changing_settings();
        use crate::{BF16_TILING, GemmColumns, GemmPrecision, GemmStages, GemmTiling, gemm_tiling_misses, set_gemm_columns, set_gemm_precision, set_gemm_stages};
        let cases = stage_cases();
        let names = std::env::var("AUTOSLIM_TEST_GEMM_TILINGS").unwrap_or_else(|_| format!("{},128x128x32/4,256x128x32/8+double,128x64x64/4,128x128x64/2x2+swizzle", BF16_TILING.name()));
        let kernel = std::env::var("AUTOSLIM_TEST_GEMM_KERNEL").map_or(crate::GemmKernel::CUDA_DEFAULT, |name| crate::GemmKernel::parse(&name).unwrap());
        crate::set_gemm_kernel(kernel);
        println!("kernel {}", kernel.name());
        let mut wrong = Vec::new();
        for name in names.split(',') {
            let tiling = GemmTiling::parse(name).unwrap();
            for (precision, tolerance) in [(GemmPrecision::Tf32, TOLERANCE), (GemmPrecision::Bf16, 0.25)] {
                set_gemm_stages(GemmStages::Fixed(tiling));
                set_gemm_precision(precision);
                let (misses, fallbacks) = (gemm_tiling_misses().0, implicit_gemm_fallbacks());
                let agrees = agrees_on_cuda(&cases, tolerance);
                let used = gemm_tiling_misses().0 == misses && implicit_gemm_fallbacks() == fallbacks;
                let why = if used { String::new() } else { format!("(not used: {:?})", gemm_tiling_misses().1) };
                println!("{:24} {:5} {} {why}", tiling.name(), precision.name(), if agrees { "agrees" } else { "DISAGREES" });
                if !agrees || (!used && precision == GemmPrecision::Bf16) {
                    wrong.push(format!("{} {}", tiling.name(), precision.name()));
                }
            }
        }
        // The default stage with its columns fitted to the channels (40 and 152 in two stages of 80).
        for columns in [GemmColumns::Multiple(8), GemmColumns::Multiple(16)] {
            set_gemm_stages(GemmStages::Default);
            set_gemm_precision(GemmPrecision::Bf16);
            set_gemm_columns(columns);
            let misses = gemm_tiling_misses().0;
            let agrees = agrees_on_cuda(&cases, 0.25);
            let used = gemm_tiling_misses().0 == misses;
            println!("default, columns {:5} bf16 {} {}", columns.name(), if agrees { "agrees" } else { "DISAGREES" }, if used { "" } else { "(not used)" });
            if !agrees || !used {
                wrong.push(format!("default stages, columns {}", columns.name()));
            }
        }
        set_gemm_columns(GemmColumns::PowerOfTwo);
        // A swizzled stage on the cmma tile is refused before anything launches and the inferred
        // stage runs instead (right, and counted; unswizzled, this stage is cmma's bf16 default).
        crate::set_gemm_kernel(crate::GemmKernel::DEFAULT);
        set_gemm_stages(GemmStages::Fixed(GemmTiling { swizzle: true, ..BF16_TILING }));
        set_gemm_precision(GemmPrecision::Bf16);
        let misses = gemm_tiling_misses().0;
        let agrees = agrees_on_cuda(&cases, 0.25);
        let refused = gemm_tiling_misses().0 > misses;
        println!("cmma with +swizzle: {} {}", if agrees { "agrees" } else { "DISAGREES" }, if refused { "(refused, as it should be)" } else { "(NOT refused)" });
        if !agrees || !refused {
            wrong.push(format!("cmma with +swizzle: agrees {agrees}, refused {refused}"));
        }
        set_gemm_stages(GemmStages::Default);
        set_gemm_precision(GemmPrecision::Tf32);
        crate::reset_gemm_kernel();
        assert!(wrong.is_empty(), "tilings that differ from burn-ndarray or were not used with bf16: {wrong:?}");
    }

    /// Every weight-gradient matrix-product kernel ([`crate::WGRAD_MATMULS`]) gives
    /// burn-ndarray's gradients, over shifted views (stride 1) and over the unfolded input
    /// (stride 2), in both operand formats. CUDA only; holds the settings (the kernel is
    /// process-wide).
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_every_weight_gradient_kernel_agrees_with_ndarray() {
        let _settings = crate::test_support::changing_settings();
        use crate::{DEFAULT_WGRAD_MATMUL, GemmPrecision, WGRAD_MATMULS, WgradStages, gemm_tiling_misses, set_gemm_precision, set_wgrad_matmul, set_wgrad_stages};
        let cases = [
            ([4, 16, 16, 16], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
            ([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])),
            ([2, 10, 8, 8], [13, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
            // Channels between powers of two (a slimmable network's widths).
            ([2, 40, 8, 8], [80, 40, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
            ([2, 40, 9, 9], [152, 40, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])),
            // Fitted stages of 96 × 96 (shifted views) and of 128 × 128 (unfolded, 9 × 304).
            ([2, 152, 8, 8], [152, 152, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
            ([1, 304, 4, 4], [304, 304, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])),
        ];
        let mut wrong = Vec::new();
        for stages in WgradStages::ALL {
            set_wgrad_stages(stages);
            for name in WGRAD_MATMULS {
                for (precision, tolerance) in [(GemmPrecision::Tf32, TOLERANCE), (GemmPrecision::Bf16, 0.25)] {
                    set_wgrad_matmul(name).unwrap();
                    set_gemm_precision(precision);
                    let misses = gemm_tiling_misses().0;
                    let agrees = agrees_on_cuda(&cases, tolerance);
                    let used = gemm_tiling_misses().0 == misses;
                    let why = if used { String::new() } else { format!("(a stage refused: {:?})", gemm_tiling_misses().1) };
                    println!("{name:24} {:5} {:8} {} {why}", precision.name(), stages.name(), if agrees { "agrees" } else { "DISAGREES" });
                    if !agrees || !used {
                        wrong.push(format!("{name} {} {}", precision.name(), stages.name()));
                    }
                }
            }
        }
        // Back to the defaults, which the later tests of this process run with.
        set_wgrad_stages(WgradStages::Fitted);
        set_wgrad_matmul(DEFAULT_WGRAD_MATMUL).unwrap();
        set_gemm_precision(GemmPrecision::Tf32);
        assert!(wrong.is_empty(), "weight-gradient kernels that differ from burn-ndarray: {wrong:?}");
    }

    /// With bf16 operands ([`crate::GemmPrecision::Bf16`]) the op still gives burn-ndarray's
    /// output and gradients within bf16's rounding (8-bit mantissa: about 0.2 % of each operand,
    /// over up to 9·c_in products summed in f32; the shapes' outputs are about 12 in size), and
    /// it does run in bf16: its output differs from the TF32 one by more than TF32's rounding
    /// would. CUDA only; holds the settings (the precision is process-wide).
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_bf16_operands_agree_with_ndarray_within_their_rounding() {
        let _settings = crate::test_support::changing_settings();
        use crate::test_support::{CudaAd, random};
        use crate::{GemmPrecision, set_gemm_precision};
        const BF16_TOLERANCE: f32 = 0.25;
        let device = Default::default();
        let g = geometry(3, 1, 1, [1, 1], [1, 1]);
        let x = random::<CudaAd, 4>([2, 16, 8, 8], &device);
        let w = random::<CudaAd, 4>([32, 16, 3, 3], &device);
        set_gemm_precision(GemmPrecision::Bf16);
        let agreed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let agrees = |x: [usize; 4], w: [usize; 4], g: ConvGeometry| agrees_with_ndarray::<CudaAd>(x, w, g, &device, scaled_tolerance(BF16_TOLERANCE, w), ours);
            agrees([2, 16, 8, 8], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
            agrees([4, 16, 16, 16], [32, 16, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1]));
            agrees([2, 16, 9, 9], [24, 16, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1])); // strided
            agrees([2, 10, 8, 8], [13, 10, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])); // padded channels
            agrees([2, 11, 9, 9], [6, 11, 3, 3], geometry(3, 2, 1, [1, 1], [1, 1]));
            agrees([2, 20, 6, 6], [12, 20, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // pointwise
        agrees([2, 3, 6, 6], [12, 3, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // thin pointwise: kernels, padded
        agrees([2, 5, 7, 7], [3, 5, 1, 1], geometry(1, 1, 1, [0, 0], [0, 0])); // thin both sides
            agrees([2, 16, 8, 8], [24, 16, 1, 1], geometry(1, 2, 1, [0, 0], [0, 0])); // downsampling shortcut
            agrees([2, 8, 7, 7], [8, 8, 5, 5], geometry(5, 1, 2, [4, 4], [4, 4])); // dilated
            agrees([2, 40, 6, 6], [152, 40, 3, 3], geometry(3, 1, 1, [1, 1], [1, 1])); // stages of 40 and 80 columns
            gemm_conv2d(x.clone().inner(), w.clone().inner(), None, &g)
        }));
        set_gemm_precision(GemmPrecision::Tf32);
        let in_bf16 = agreed.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let in_tf32 = gemm_conv2d(x.inner(), w.inner(), None, &g);
        let diff: f32 = in_bf16.sub(in_tf32).abs().max().into_scalar();
        assert!(diff > 1e-3 && diff < BF16_TOLERANCE, "bf16 and TF32 outputs differ by {diff}: bf16 was not used, or is wrong");
    }

    /// The backends that have the kernels are the cubecl ones this crate was built for.
    #[test]
    fn ndarray_has_no_implicit_gemm() {
        assert!(!has_implicit_gemm::<crate::test_support::NdArrayAd>());
        #[cfg(feature = "test-wgpu")]
        assert!(has_implicit_gemm::<crate::test_support::WgpuAd>());
    }
}
