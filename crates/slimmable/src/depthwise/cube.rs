//! The depthwise op on burn's cubecl backends (CUDA, wgpu): kernels written in cubecl, one per
//! pass:
//!
//! - forward: one thread per output element, summing its `kh·kw` taps;
//! - input gradient: one thread per input element, summing the output gradients that read it;
//! - weight gradient: one thread per (image, band of output rows, channel, tap), summing over
//!   the band's output positions (as many bands as bring the threads up to the target of
//!   [`super::set_depthwise_wgrad_threads`]); the partial sums, laid out channel and tap first,
//!   are then added by the backend's own reduction over their contiguous last axis.
//!
//! Tensors are read through their strides (a slimmable layer's inputs are often channel
//! slices); outputs are contiguous. The activations (input, output and their gradients) are f32
//! or bf16 (`ActivationPrecision`), the weight and its gradient f32; every sum is f32. All three take the geometry of [`ConvGeometry`]: the
//! padding before each axis is explicit, the padding after it is implied by the output size.

use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{DType, Shape, TensorMetadata, bf16};
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement, tensor::CubeTensor};
use cubecl::prelude::*;

use super::backend::{DepthwiseBackward, DepthwiseForward};
use crate::cube_launch::{elementwise_launch, empty_like, empty_of};
use crate::im2col::ConvGeometry;

/// The runtime part of a geometry as the kernels take it.
#[derive(CubeLaunch, CubeType, Clone, Copy)]
struct Strides2d {
    stride_h: usize,
    stride_w: usize,
    dilation_h: usize,
    dilation_w: usize,
    pad_h: usize,
    pad_w: usize,
}

#[cube(launch)]
fn forward_kernel<F: Float, A: Float>(
    input: &Tensor<A>,
    weight: &Tensor<F>,
    output: &mut Tensor<A>,
    geo: &Strides2d,
    #[comptime] kernel_h: usize,
    #[comptime] kernel_w: usize,
) {
    if ABSOLUTE_POS >= output.len() {
        terminate!();
    }
    let out_w = output.shape(3);
    let out_h = output.shape(2);
    let channels = output.shape(1);
    let ox = ABSOLUTE_POS % out_w;
    let oy = (ABSOLUTE_POS / out_w) % out_h;
    let c = (ABSOLUTE_POS / (out_w * out_h)) % channels;
    let n = ABSOLUTE_POS / (out_w * out_h * channels);
    let in_h = input.shape(2);
    let in_w = input.shape(3);
    let in_base = n * input.stride(0) + c * input.stride(1);
    let w_base = c * weight.stride(0);

    let mut sum = F::new(0.0);
    #[unroll]
    for i in 0..kernel_h {
        // The row in the padded input; the input's own row is `row - pad_h`.
        let row = oy * geo.stride_h + i * geo.dilation_h;
        if row >= geo.pad_h && row - geo.pad_h < in_h {
            let in_row = in_base + (row - geo.pad_h) * input.stride(2);
            #[unroll]
            for j in 0..kernel_w {
                let col = ox * geo.stride_w + j * geo.dilation_w;
                if col >= geo.pad_w && col - geo.pad_w < in_w {
                    sum += F::cast_from(input[in_row + (col - geo.pad_w) * input.stride(3)])
                        * weight[w_base + i * weight.stride(2) + j * weight.stride(3)];
                }
            }
        }
    }
    output[ABSOLUTE_POS] = A::cast_from(sum);
}

/// The stride is comptime (1 or 2 in practice): the test of which output positions read an
/// input element divides by it at every tap, and a division by a runtime value made this
/// kernel twice as slow as the forward one (MobileNetV2 on an H200, docs/BENCHMARKS.md
/// session 14).
#[cube(launch)]
fn input_grad_kernel<F: Float, A: Float>(
    grad: &Tensor<A>,
    weight: &Tensor<F>,
    input_grad: &mut Tensor<A>,
    geo: &Strides2d,
    #[comptime] kernel_h: usize,
    #[comptime] kernel_w: usize,
    #[comptime] stride: (usize, usize),
) {
    if ABSOLUTE_POS >= input_grad.len() {
        terminate!();
    }
    let in_w = input_grad.shape(3);
    let in_h = input_grad.shape(2);
    let channels = input_grad.shape(1);
    let ix = ABSOLUTE_POS % in_w;
    let iy = (ABSOLUTE_POS / in_w) % in_h;
    let c = (ABSOLUTE_POS / (in_w * in_h)) % channels;
    let n = ABSOLUTE_POS / (in_w * in_h * channels);
    let out_h = grad.shape(2);
    let out_w = grad.shape(3);
    let grad_base = n * grad.stride(0) + c * grad.stride(1);
    let w_base = c * weight.stride(0);
    // This element's position in the padded input.
    let row = iy + geo.pad_h;
    let col = ix + geo.pad_w;

    let mut sum = F::new(0.0);
    #[unroll]
    for i in 0..kernel_h {
        // Output row `oy` reads padded row `oy·stride + i·dilation`.
        let shift_h = i * geo.dilation_h;
        if row >= shift_h && (row - shift_h).is_multiple_of(stride.0) {
            let oy = (row - shift_h) / stride.0;
            if oy < out_h {
                #[unroll]
                for j in 0..kernel_w {
                    let shift_w = j * geo.dilation_w;
                    if col >= shift_w && (col - shift_w).is_multiple_of(stride.1) {
                        let ox = (col - shift_w) / stride.1;
                        if ox < out_w {
                            sum += F::cast_from(grad[grad_base + oy * grad.stride(2) + ox * grad.stride(3)])
                                * weight[w_base + i * weight.stride(2) + j * weight.stride(3)];
                        }
                    }
                }
            }
        }
    }
    input_grad[ABSOLUTE_POS] = A::cast_from(sum);
}

#[cube(launch)]
fn weight_grad_kernel<F: Float, A: Float>(
    grad: &Tensor<A>,
    input: &Tensor<A>,
    partial: &mut Tensor<F>,
    geo: &Strides2d,
    #[comptime] kernel_w: usize,
) {
    // `partial` is [c, kh·kw, n·bands]: one sum per channel, tap, image and band of output rows;
    // the bands split the output rows evenly (the last may be short, or empty). Neighbouring
    // threads take neighbouring taps (they read the same rows), and the sums to be added lie
    // side by side, for the reduction that follows.
    if ABSOLUTE_POS >= partial.len() {
        terminate!();
    }
    let taps = partial.shape(1);
    let channels = partial.shape(0);
    let image_bands = partial.shape(2);
    let bands = image_bands / grad.shape(0);
    let tap = ABSOLUTE_POS % taps;
    let c = (ABSOLUTE_POS / taps) % channels;
    let image_band = ABSOLUTE_POS / (taps * channels);
    let n = image_band / bands;
    let band = image_band % bands;
    let i = tap / kernel_w;
    let j = tap % kernel_w;
    let out_h = grad.shape(2);
    let out_w = grad.shape(3);
    let in_h = input.shape(2);
    let in_w = input.shape(3);
    let grad_base = n * grad.stride(0) + c * grad.stride(1);
    let in_base = n * input.stride(0) + c * input.stride(1);
    let band_rows = out_h.div_ceil(bands);
    let first_row = band * band_rows;
    let mut end_row = first_row + band_rows;
    if end_row > out_h {
        end_row = out_h;
    }

    let mut sum = F::new(0.0);
    for oy in first_row..end_row {
        let row = oy * geo.stride_h + i * geo.dilation_h;
        if row >= geo.pad_h && row - geo.pad_h < in_h {
            let in_row = in_base + (row - geo.pad_h) * input.stride(2);
            let grad_row = grad_base + oy * grad.stride(2);
            for ox in 0..out_w {
                let col = ox * geo.stride_w + j * geo.dilation_w;
                if col >= geo.pad_w && col - geo.pad_w < in_w {
                    sum += F::cast_from(grad[grad_row + ox * grad.stride(3)]) * F::cast_from(input[in_row + (col - geo.pad_w) * input.stride(3)]);
                }
            }
        }
    }
    partial[(c * taps + tap) * image_bands + image_band] = sum;
}

fn strides_arg<R: CubeRuntime>(g: &ConvGeometry) -> Strides2dLaunch<R> {
    Strides2dLaunch::new(g.stride[0], g.stride[1], g.dilation[0], g.dilation[1], g.pad_start[0], g.pad_start[1])
}

fn dims4<R: CubeRuntime>(tensor: &CubeTensor<R>) -> [usize; 4] {
    let shape = tensor.meta.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The depthwise convolution of `input` `[n, c, h, w]` with `weight` `[c, 1, kh, kw]`.
fn forward<R: CubeRuntime, F: FloatElement>(
    input: CubeTensor<R>,
    weight: CubeTensor<R>,
    geometry: &ConvGeometry,
) -> CubeTensor<R> {
    let [n, c, h, w] = dims4(&input);
    let [ho, wo] = geometry.output_size([h, w]);
    let output = empty_of(&input, &[n, c, ho, wo], input.dtype);
    let (count, dim) = elementwise_launch(&output, 1);
    let launch = match input.dtype == DType::BF16 {
        true => forward_kernel::launch::<F, bf16, R>,
        false => forward_kernel::launch::<F, F, R>,
    };
    launch(
        &output.client,
        count,
        dim,
        input.into_tensor_arg(),
        weight.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        strides_arg(geometry),
        geometry.kernel[0],
        geometry.kernel[1],
    );
    output
}

/// The gradient of [`forward`] with respect to its input of `input_shape`.
fn input_grad<R: CubeRuntime, F: FloatElement>(
    grad: CubeTensor<R>,
    weight: CubeTensor<R>,
    input_shape: [usize; 4],
    geometry: &ConvGeometry,
) -> CubeTensor<R> {
    let input_grad = empty_of(&grad, &input_shape, grad.dtype);
    let (count, dim) = elementwise_launch(&input_grad, 1);
    let launch = match grad.dtype == DType::BF16 {
        true => input_grad_kernel::launch::<F, bf16, R>,
        false => input_grad_kernel::launch::<F, F, R>,
    };
    launch(
        &input_grad.client,
        count,
        dim,
        grad.into_tensor_arg(),
        weight.into_tensor_arg(),
        input_grad.clone().into_tensor_arg(),
        strides_arg(geometry),
        geometry.kernel[0],
        geometry.kernel[1],
        (geometry.stride[0], geometry.stride[1]),
    );
    input_grad
}

/// The gradient of [`forward`] with respect to its weight, per image and band of output rows:
/// `[c, kh·kw, n·bands]` (the caller sums over the last axis).
fn weight_grad_per_image<R: CubeRuntime, F: FloatElement>(
    grad: CubeTensor<R>,
    input: CubeTensor<R>,
    geometry: &ConvGeometry,
) -> CubeTensor<R> {
    let [n, c, _, _] = dims4(&input);
    let taps = geometry.kernel[0] * geometry.kernel[1];
    let bands = super::wgrad_row_bands(n * c * taps, dims4(&grad)[2], super::depthwise_wgrad_threads());
    // Both activations of one type for the kernel.
    let grad = match grad.dtype == input.dtype {
        true => grad,
        false => burn_cubecl::kernel::cast(grad, input.dtype),
    };
    let partial = empty_like::<R, F>(&input, &[c, taps, n * bands]);
    let (count, dim) = elementwise_launch(&partial, 1);
    let launch = match input.dtype == DType::BF16 {
        true => weight_grad_kernel::launch::<F, bf16, R>,
        false => weight_grad_kernel::launch::<F, F, R>,
    };
    launch(
        &partial.client,
        count,
        dim,
        grad.into_tensor_arg(),
        input.into_tensor_arg(),
        partial.clone().into_tensor_arg(),
        strides_arg(geometry),
        geometry.kernel[1],
    );
    partial
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

    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        let channels = input.shape().dims::<4>()[1];
        let per_image = weight_grad_per_image::<R, F>(grad, input, geometry);
        // Along the last, contiguous axis: along the first, burn's reduction of these few long
        // columns took up to 50 µs a layer on an H200, and the whole weight gradient twice as
        // long at full width (docs/BENCHMARKS.md, session 27).
        let summed = Self::float_sum_dim(per_image, 2);
        Self::float_reshape(summed, Shape::new([channels, 1, geometry.kernel[0], geometry.kernel[1]]))
    }
}
