//! The operands of the implicit-GEMM conv kernels ([`gemm_conv2d`](crate::gemm_conv2d)) on
//! burn's cubecl backends: copies laid out channels-last (NHWC) and contiguous, their channel
//! (and row) counts rounded up with zeros, their elements in the operand format of
//! [`gemm_precision`](crate::gemm_precision) — all written by one kernel in one pass
//! ([`layout_copy_kernel`]), where burn's tensor ops took a concatenation and a copy; and the
//! kernels' channels-last results copied back to row-major (NCHW) by the same kernel.

use burn::tensor::{DType, bf16};
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::ops::{permute_nchw_to_nhwc, permute_nhwc_to_nchw};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeRuntime, FloatElement};
use cubecl::client::ComputeClient;
use cubecl::prelude::*;

use crate::cube_launch::{elementwise_launch, vector_size_along};
use crate::gemm_conv::{aligned, operand_channel_align};
use crate::gemm_precision::{GemmPrecision, gemm_precision};
use crate::im2col::ConvGeometry;
use crate::launch_share::runs;

/// The side of the square tile of (channels × pixels) that one cube of [`layout_copy_kernel`]
/// moves, and the threads along the first axis of its cubes and of [`fold_kernel`]'s.
const TILE: usize = 32;
/// Rows of threads per cube of [`fold_kernel`] (each thread makes `TILE / TILE_ROWS` sums).
const TILE_ROWS: usize = 8;

/// `output` (contiguous; `[rows, height, width, channels]` with `output_channels_inner`, else
/// `[rows, channels, height, width]`) is `input` `[d, c, h, w]` (any strides) converted to `O`,
/// its pixel `(y, x)` at `(top + step.0·y, left + step.1·x)`, and zeros everywhere else: in the
/// rows from `d`, the channels from `c`, around the image and between its pixels. The output
/// may also be smaller than the input (a leading block of its rows and channels).
///
/// Each cube moves a tile of `TILE` channels × `TILE` pixels of one row through shared memory:
/// the threads next to each other read along the input's innermost axis (its pixels, or its
/// channels with `input_channels_inner`) and write along the output's, so that both sides are
/// coalesced whichever of the two layouts each has (a thread per element reading NCHW and
/// writing NHWC touched a new 32-byte sector with every read). Cube `(x, y, z)`: pixel tile
/// `x`, channel tile `y`, rows `z, z + CUBE_COUNT_Z, …`; its `thread_rows` rows of `TILE`
/// threads each move `TILE / thread_rows` values each way
/// ([`set_layout_copy_rows`](crate::set_layout_copy_rows)). With `same_grid` (the output's
/// pixels are the input's, [`is_same_grid`]), no division per value.
#[cube(launch)]
fn layout_copy_kernel<I: Numeric, O: Numeric>(
    input: &Tensor<I>,
    output: &mut Tensor<O>,
    #[comptime] top: usize,
    #[comptime] left: usize,
    #[comptime] step: (usize, usize),
    #[comptime] input_channels_inner: bool,
    #[comptime] output_channels_inner: bool,
    #[comptime] same_grid: bool,
    #[comptime] thread_rows: usize,
) {
    let rows = output.shape(0);
    let channels = if output_channels_inner { output.shape(3) } else { output.shape(1) };
    let height = if output_channels_inner { output.shape(1) } else { output.shape(2) };
    let width = if output_channels_inner { output.shape(2) } else { output.shape(3) };
    let pixels = height * width;
    let p0 = CUBE_POS_X as usize * TILE;
    let c0 = CUBE_POS_Y as usize * TILE;
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let mut tile = SharedMemory::<O>::new(TILE * (TILE + 1));
    let mut row = CUBE_POS_Z as usize;
    while row < rows {
        #[unroll]
        for k in 0..TILE / thread_rows {
            let a = ty + k * thread_rows;
            let cl = if input_channels_inner { tx } else { a };
            let pl = if input_channels_inner { a } else { tx };
            let (c, p) = (c0 + cl, p0 + pl);
            let mut value = O::from_int(0);
            if same_grid {
                // Pixel p of the output is pixel p of the input, whose rows are `w` pixels apart.
                if p < pixels && row < input.shape(0) && c < input.shape(1) {
                    value = O::cast_from(input[row * input.stride(0) + c * input.stride(1) + p * input.stride(3)]);
                }
            } else {
                // Output pixel (y, x) holds input pixel ((y − top) / step.0, (x − left) / step.1)
                // where both divide exactly: `step − 1` zeros between input pixels.
                let y = p / width;
                let x = p % width;
                let inside_y = y >= top && y < top + step.0 * input.shape(2) && (y - top).is_multiple_of(step.0);
                let inside_x = x >= left && x < left + step.1 * input.shape(3) && (x - left).is_multiple_of(step.1);
                if p < pixels && row < input.shape(0) && c < input.shape(1) && inside_y && inside_x {
                    let (yi, xi) = ((y - top) / step.0, (x - left) / step.1);
                    value = O::cast_from(input[row * input.stride(0) + c * input.stride(1) + yi * input.stride(2) + xi * input.stride(3)]);
                }
            }
            tile[cl * (TILE + 1) + pl] = value;
        }
        sync_cube();
        #[unroll]
        for k in 0..TILE / thread_rows {
            let a = ty + k * thread_rows;
            let cl = if output_channels_inner { tx } else { a };
            let pl = if output_channels_inner { a } else { tx };
            let (c, p) = (c0 + cl, p0 + pl);
            if c < channels && p < pixels {
                let at = if output_channels_inner { (row * pixels + p) * channels + c } else { (row * channels + c) * pixels + p };
                output[at] = tile[cl * (TILE + 1) + pl];
            }
        }
        sync_cube();
        row += CUBE_COUNT_Z as usize;
    }
}

/// `output` `[rows, height, width, channels]` (contiguous) is `input` `[d, c, h, w]` (channels
/// innermost, every other stride a multiple of the vector) converted to `O`, its pixel `(y, x)`
/// at `(top + step.0·y, left + step.1·x)`, zeros everywhere else: [`layout_copy_kernel`]'s
/// result for a channels-last input, with one thread per vector of `N` channels of an output
/// pixel (16 bytes of bf16). Channels-last to channels-last needs no transposition, and
/// [`layout_copy_kernel`]'s tiles of 32 channels left half their threads idle on a narrow
/// layer's 16: its padded copies for the weight gradient moved about 1 TB/s on an H200
/// (docs/BENCHMARKS.md, session 21).
#[cube(launch)]
fn shift_kernel<I: Numeric, O: Numeric, N: Size>(
    input: &Tensor<Vector<I, N>>,
    output: &mut Tensor<Vector<O, N>>,
    #[comptime] top: usize,
    #[comptime] left: usize,
    #[comptime] step: (usize, usize),
) {
    if ABSOLUTE_POS >= output.len() {
        terminate!();
    }
    let vectors = output.shape(3) / output.vector_size();
    let ch = (ABSOLUTE_POS % vectors) * output.vector_size();
    let mut rest = ABSOLUTE_POS / vectors;
    let x = rest % output.shape(2);
    rest /= output.shape(2);
    let y = rest % output.shape(1);
    let row = rest / output.shape(1);
    let inside_y = y >= top && y < top + step.0 * input.shape(2) && (y - top).is_multiple_of(step.0);
    let inside_x = x >= left && x < left + step.1 * input.shape(3) && (x - left).is_multiple_of(step.1);
    let mut value = Vector::new(O::from_int(0));
    if row < input.shape(0) && ch < input.shape(1) && inside_y && inside_x {
        let (yi, xi) = ((y - top) / step.0, (x - left) / step.1);
        let at = row * input.stride(0) + ch * input.stride(1) + yi * input.stride(2) + xi * input.stride(3);
        value = Vector::cast_from(input[at / input.vector_size()]);
    }
    output[ABSOLUTE_POS] = value;
}

/// `output` `[n, h_out, w_out, kh, kw, c]` (contiguous) is the unfolded input of a conv:
/// element `(img, oy, ox, i, j, ch)` is `input[img, ch, oy·sh + i·dh − ph, ox·sw + j·dw − pw]`
/// (`input` `[n, c, h, w]`, any strides), zero where that falls in the padding. Read as a
/// `[n·h_out·w_out, kh·kw·c]` matrix it is the unfolded input channels-last, kernel position
/// major. Each thread makes a vector of `N` channels of one position `(img, oy, ox, i, j)`
/// ([`unfold_vector_size`]: 8 bf16 channels, 16 bytes, from the GEMM convs' channels-last
/// operands), so that a warp reads and writes whole lines: with a row of 32 threads per position
/// reading a value each, a narrow layer's 16 channels left half the threads idle and the kernel
/// moved well under 1 TB/s (docs/BENCHMARKS.md, sessions 17–18).
#[cube(launch)]
fn unfold_kernel<E: Numeric, N: Size>(
    input: &Tensor<Vector<E, N>>,
    output: &mut Tensor<Vector<E, N>>,
    #[comptime] stride: (usize, usize),
    #[comptime] dilation: (usize, usize),
    #[comptime] padding: (usize, usize),
) {
    if ABSOLUTE_POS >= output.len() {
        terminate!();
    }
    let vectors = output.shape(5) / output.vector_size();
    let ch = (ABSOLUTE_POS % vectors) * output.vector_size();
    let mut rest = ABSOLUTE_POS / vectors;
    let j = rest % output.shape(4);
    rest /= output.shape(4);
    let i = rest % output.shape(3);
    rest /= output.shape(3);
    let ox = rest % output.shape(2);
    rest /= output.shape(2);
    let oy = rest % output.shape(1);
    let img = rest / output.shape(1);
    // Coordinates in the padded image; inside the input where at least the padding and below it.
    let y = oy * stride.0 + i * dilation.0;
    let x = ox * stride.1 + j * dilation.1;
    let inside = y >= padding.0 && y < padding.0 + input.shape(2) && x >= padding.1 && x < padding.1 + input.shape(3);
    let mut value = Vector::new(E::from_int(0));
    if inside {
        let at = img * input.stride(0) + ch * input.stride(1) + (y - padding.0) * input.stride(2) + (x - padding.1) * input.stride(3);
        value = input[at / input.vector_size()];
    }
    output[ABSOLUTE_POS] = value;
}

/// The vector size [`unfold_kernel`] reads `input` `[n, c, h, w]` with: along the channels,
/// where they are innermost ([`vector_size_along`]); 1 otherwise.
pub(crate) fn unfold_vector_size<R: CubeRuntime>(input: &CubeTensor<R>) -> VectorSize {
    vector_size_along(input, 1)
}

/// Threads of a [`batch_sum_kernel`] cube along the batches, at most (a power of two).
const MAX_BATCH_SPLIT: usize = 16;

/// `output` `[o, i, kh, kw]` (contiguous) is zero but for its first `[c_out, c_in]` block, which
/// holds the sum over the batches of `partials` `[batches, c_out, c_in, kh, kw]` (any strides):
/// a conv's weight gradient, full size, from its matrix products' per-batch partial sums.
///
/// Cube `(x, y)`: `TILE` input channels from `x · TILE`, rows `(o, ky, kx)` of the active
/// block from `y` on (the flattened rows, `CUBE_COUNT_Y` apart); its `CUBE_DIM_Y` rows of
/// threads (a power of two) split the batches, four independent sums each, then add up in
/// shared memory. A thread per output value summing every batch alone — burn's reduction over
/// that axis — was latency-bound where the products are small and the batches many (a narrow
/// width's). The zeros outside the active block are written afterwards by all the cubes'
/// threads, a value each in turn: cubes over the whole weight — most of them summing nothing at
/// a narrow width, 73 728 of 512 threads for the 8-layer net's last layer — made this kernel
/// slower at width 2/12 than at full width (docs/BENCHMARKS.md, session 18).
#[cube(launch)]
fn batch_sum_kernel<E: cubecl::prelude::Float>(partials: &Tensor<E>, output: &mut Tensor<E>) {
    let batches = partials.shape(0);
    let (active_out, active_in) = (partials.shape(1), partials.shape(2));
    let (inputs, kh, kw) = (output.shape(1), output.shape(2), output.shape(3));
    let rows = active_out * kh * kw;
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let split = CUBE_DIM_Y as usize;
    let i = CUBE_POS_X as usize * TILE + tx;
    let step = partials.stride(0);
    let mut shared = SharedMemory::<E>::new(TILE * MAX_BATCH_SPLIT);
    let mut row = CUBE_POS_Y as usize;
    while row < rows {
        let kx = row % kw;
        let ky = (row / kw) % kh;
        let o = row / (kw * kh);
        let (mut s0, mut s1, mut s2, mut s3) = (E::new(0.0), E::new(0.0), E::new(0.0), E::new(0.0));
        if o < active_out && i < active_in {
            let base = o * partials.stride(1) + i * partials.stride(2) + ky * partials.stride(3) + kx * partials.stride(4);
            let mut b = ty;
            while b + 3 * split < batches {
                s0 += partials[base + b * step];
                s1 += partials[base + (b + split) * step];
                s2 += partials[base + (b + 2 * split) * step];
                s3 += partials[base + (b + 3 * split) * step];
                b += 4 * split;
            }
            while b < batches {
                s0 += partials[base + b * step];
                b += split;
            }
        }
        shared[ty * TILE + tx] = (s0 + s1) + (s2 + s3);
        sync_cube();
        let mut half = split / 2;
        while half > 0 {
            if ty < half {
                let other = shared[(ty + half) * TILE + tx];
                shared[ty * TILE + tx] += other;
            }
            sync_cube();
            half /= 2;
        }
        if ty == 0 && i < active_in {
            output[((o * inputs + i) * kh + ky) * kw + kx] = shared[tx];
        }
        sync_cube();
        row += CUBE_COUNT_Y as usize;
    }
    if active_out < output.shape(0) || active_in < inputs {
        let threads = CUBE_COUNT_X as usize * CUBE_COUNT_Y as usize * CUBE_DIM as usize;
        let mut at = (CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize) * CUBE_DIM as usize + UNIT_POS as usize;
        while at < output.len() {
            let plane = at / (kh * kw);
            if plane / inputs >= active_out || plane % inputs >= active_in {
                output[at] = E::new(0.0);
            }
            at += threads;
        }
    }
}

/// A new contiguous `[o, i, kh, kw]` tensor of the backend's float `F`: zeros, but for its first
/// `[c_out, c_in]` block, the sum over the batches of `partials` `[batches, c_out, c_in, kh, kw]`
/// (of `F`, any strides; [`batch_sum_kernel`], one pass). A slimmable conv's weight gradient,
/// full size, from its products' partial sums.
///
/// # Panics
/// If the block does not fit in `shape`.
pub(crate) fn batch_summed<R: CubeRuntime, F: FloatElement>(partials: CubeTensor<R>, shape: [usize; 4]) -> CubeTensor<R> {
    let [batches, c_out, c_in, kh, kw] = partials.meta.shape().dims::<5>();
    assert!(
        c_out <= shape[0] && c_in <= shape[1] && [kh, kw] == [shape[2], shape[3]],
        "batch_summed: a [{c_out}, {c_in}, {kh}, {kw}] block does not fit in {shape:?}"
    );
    let output = empty_device_contiguous_dtype(partials.client.clone(), partials.device.clone(), shape.into(), partials.dtype);
    if shape.iter().product::<usize>() == 0 {
        return output;
    }
    // Cubes over the active block only (one at least, for the zeros around an empty one).
    let rows = (c_out * kh * kw).max(1);
    let max = partials.client.properties().hardware.max_cube_count;
    let count = CubeCount::new_2d(c_in.div_ceil(TILE).max(1) as u32, rows.min(max.1 as usize) as u32);
    // At least eight batches a thread: with one each (16 batches, the 8-layer net's widest
    // layer), a cube summed 512 values behind four rounds of shared-memory sums.
    let split = (batches / 8).max(1).next_power_of_two().min(MAX_BATCH_SPLIT);
    let dim = CubeDim::new_2d(TILE as u32, split as u32);
    let (client, input, out) = (partials.client.clone(), partials.clone().into_tensor_arg(), output.clone().into_tensor_arg());
    if runs("batch sum", &[&partials, &output], ()) {
        batch_sum_kernel::launch::<F, R>(&client, count, dim, input, out);
    }
    output
}

/// `tensor`'s memory seen with `shape` and `strides` (no copy): the caller vouches that every
/// index it reaches lies inside the memory.
pub(crate) fn strided_view<R: CubeRuntime>(tensor: &CubeTensor<R>, shape: Vec<usize>, strides: Vec<usize>) -> CubeTensor<R> {
    let metadata = cubecl::zspace::metadata::Metadata::new(shape, strides);
    CubeTensor::new(tensor.client.clone(), tensor.handle.clone(), metadata, tensor.device.clone(), tensor.dtype)
}

/// The first `[rows, channels]` block of `tensor` `[d, c, h, w]` as a view of the same memory
/// (the same strides, no copy): a slimmable conv's active weight, for a kernel that reads any
/// strides.
pub(crate) fn leading_block<R: CubeRuntime>(tensor: &CubeTensor<R>, rows: usize, channels: usize) -> CubeTensor<R> {
    let [d, c, h, w] = tensor.meta.shape().dims::<4>();
    assert!(rows <= d && channels <= c, "leading_block: [{rows}, {channels}] is not inside [{d}, {c}]");
    strided_view(tensor, vec![rows, channels, h, w], tensor.meta.strides().to_vec())
}

/// The unfolded input of a conv as a contiguous `[n·h_out·w_out, kh·kw·c]` matrix
/// ([`unfold_kernel`], one pass), of `tensor`'s element type (`F` or bf16).
pub(crate) fn unfolded<R: CubeRuntime, F: FloatElement>(tensor: CubeTensor<R>, geometry: &ConvGeometry) -> CubeTensor<R> {
    let [n, c, h, w] = tensor.meta.shape().dims::<4>();
    let [kh, kw] = geometry.kernel;
    let [ho, wo] = geometry.output_size([h, w]);
    assert!(geometry.pad_start == geometry.pad_end, "unfolded: symmetric padding only, got {geometry:?}");
    let output = empty_device_contiguous_dtype(tensor.client.clone(), tensor.device.clone(), [n, ho, wo, kh, kw, c].into(), tensor.dtype);
    if output.meta.num_elements() == 0 {
        return burn_cubecl::ops::reshape(output, [n * ho * wo, kh * kw * c].into());
    }
    let vector_size = unfold_vector_size(&tensor);
    let (count, dim) = elementwise_launch(&output, vector_size);
    let (client, input, out) = (tensor.client.clone(), tensor.clone().into_tensor_arg(), output.clone().into_tensor_arg());
    let stride = (geometry.stride[0], geometry.stride[1]);
    let dilation = (geometry.dilation[0], geometry.dilation[1]);
    let padding = (geometry.pad_start[0], geometry.pad_start[1]);
    if runs("unfold", &[&tensor, &output], (stride, dilation, padding, vector_size)) {
        match tensor.dtype == DType::BF16 {
            false => unfold_kernel::launch::<F, R>(&client, count, dim, vector_size, input, out, stride, dilation, padding),
            true => unfold_kernel::launch::<bf16, R>(&client, count, dim, vector_size, input, out, stride, dilation, padding),
        }
    }
    burn_cubecl::ops::reshape(output, [n * ho * wo, kh * kw * c].into())
}

/// `output` `[n, c, h, w]` (contiguous, row-major) holds from image `first` on the fold of
/// `columns` `[m, h_out, w_out, kh, kw, ch]` (any strides, `ch ≥ c`, channels innermost):
/// element `(first + img, c, y, x)` is the
/// sum of `columns[img, oy, ox, i, j, c]` over every kernel position `(i, j)` and output pixel
/// `(oy, ox)` whose window reads input pixel `(y, x)` — `y + ph = oy·sh + i·dh`, likewise in `x`.
/// The adjoint of [`unfold_kernel`]: a conv's input gradient from the products `dY · W`, with
/// no zeros multiplied.
///
/// Each cube makes a tile of `TILE` pixels × `TILE` channels of one row (image), as
/// [`layout_copy_kernel`] moves one: the sums are formed with neighbouring threads on
/// neighbouring channels (coalesced reads of `columns`), then written through shared memory
/// with neighbouring threads on neighbouring pixels (coalesced writes).
#[cube(launch)]
fn fold_kernel<E: cubecl::prelude::Float>(
    columns: &Tensor<E>,
    output: &mut Tensor<E>,
    first: usize,
    #[comptime] kernel: (usize, usize),
    #[comptime] stride: (usize, usize),
    #[comptime] dilation: (usize, usize),
    #[comptime] padding: (usize, usize),
) {
    let rows = columns.shape(0);
    let channels = output.shape(1);
    let width = output.shape(3);
    let pixels = output.shape(2) * width;
    let (h_out, w_out) = (columns.shape(1), columns.shape(2));
    let p0 = CUBE_POS_X as usize * TILE;
    let c0 = CUBE_POS_Y as usize * TILE;
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let mut tile = SharedMemory::<E>::new(TILE * (TILE + 1));
    let mut row = CUBE_POS_Z as usize;
    while row < rows {
        #[unroll]
        for k in 0..TILE / TILE_ROWS {
            let pl = ty + k * TILE_ROWS;
            let (c, p) = (c0 + tx, p0 + pl);
            let mut sum = E::new(0.0);
            if p < pixels && c < channels {
                // The pixel in the padded image's coordinates.
                let y = p / width + padding.0;
                let x = p % width + padding.1;
                // Kernel positions unrolled (comptime), so that the reads of a pixel's taps
                // are issued together rather than one loop trip at a time.
                #[unroll]
                for i in 0..kernel.0 {
                    if y >= i * dilation.0 {
                        let from_y = y - i * dilation.0;
                        if from_y.is_multiple_of(stride.0) && from_y / stride.0 < h_out {
                            let oy = from_y / stride.0;
                            #[unroll]
                            for j in 0..kernel.1 {
                                if x >= j * dilation.1 {
                                    let from_x = x - j * dilation.1;
                                    if from_x.is_multiple_of(stride.1) && from_x / stride.1 < w_out {
                                        let ox = from_x / stride.1;
                                        let at = row * columns.stride(0) + oy * columns.stride(1) + ox * columns.stride(2) + i * columns.stride(3) + j * columns.stride(4) + c;
                                        sum += columns[at];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            tile[tx * (TILE + 1) + pl] = sum;
        }
        sync_cube();
        #[unroll]
        for k in 0..TILE / TILE_ROWS {
            let cl = ty + k * TILE_ROWS;
            let (c, p) = (c0 + cl, p0 + tx);
            if c < channels && p < pixels {
                output[((first + row) * channels + c) * pixels + p] = tile[cl * (TILE + 1) + tx];
            }
        }
        sync_cube();
        row += CUBE_COUNT_Z as usize;
    }
}

/// Folds ([`fold_kernel`], one pass) the products `columns` `[m·h_out·w_out, kh·kw·ch]` of
/// images `first..first + m` (rows kernel position major, channels inner, of the backend's float
/// `F`; any row stride) into those images of `output` `[n, c, h, w]` (contiguous row-major, of
/// `F`, `c ≤ ch`): their input gradient for a conv of `geometry`.
///
/// # Panics
/// If `columns` is not of that shape, or the tiles outnumber the device's cube counts.
pub(crate) fn fold_into<R: CubeRuntime, F: FloatElement>(
    columns: CubeTensor<R>,
    output: &CubeTensor<R>,
    first: usize,
    channels: usize,
    geometry: &ConvGeometry,
) {
    let [n, c, h, w] = output.meta.shape().dims::<4>();
    let [kh, kw] = geometry.kernel;
    let [ho, wo] = geometry.output_size([h, w]);
    let [rows, k] = columns.meta.shape().dims::<2>();
    let images = rows / (ho * wo).max(1);
    assert!(
        rows == images * ho * wo && first + images <= n && k == kh * kw * channels && channels >= c && columns.meta.strides()[1] == 1,
        "fold_into: columns {:?} (strides {:?}) are not [m·{ho}·{wo}, {kh}·{kw}·{channels}] with unit channel stride for images {first}.. of {n}",
        columns.meta.shape(),
        columns.meta.strides()
    );
    assert!(geometry.pad_start == geometry.pad_end, "fold_into: symmetric padding only, got {geometry:?}");
    assert!(output.is_contiguous(), "fold_into: the output must be contiguous");
    if images * c * h * w == 0 {
        return;
    }
    let row = columns.meta.strides()[0];
    let columns = strided_view(&columns, vec![images, ho, wo, kh, kw, channels], vec![ho * wo * row, wo * row, row, kw * channels, channels, 1]);
    let max = columns.client.properties().hardware.max_cube_count;
    let tiles = [(h * w).div_ceil(TILE), c.div_ceil(TILE)];
    assert!(
        tiles[0] <= max.0 as usize && tiles[1] <= max.1 as usize,
        "fold_into: {h}×{w} pixels × {c} channels are more tiles than the device's cube counts {max:?}"
    );
    let count = CubeCount::new_3d(tiles[0] as u32, tiles[1] as u32, images.min(max.2 as usize) as u32);
    let dim = CubeDim::new_2d(TILE as u32, TILE_ROWS as u32);
    let stride = (geometry.stride[0], geometry.stride[1]);
    let dilation = (geometry.dilation[0], geometry.dilation[1]);
    let padding = (geometry.pad_start[0], geometry.pad_start[1]);
    let (client, input, out) = (columns.client.clone(), columns.clone().into_tensor_arg(), output.clone().into_tensor_arg());
    if runs("fold", &[&columns, output], (stride, dilation, padding)) {
        fold_kernel::launch::<F, R>(&client, count, dim, input, out, first, (kh, kw), stride, dilation, padding);
    }
}

/// The element type the GEMM kernels read on `client`: bf16 when [`GemmPrecision::Bf16`] is
/// chosen and the device has it, else the backend's float `F`.
pub(crate) fn operand_dtype<R: CubeRuntime, F: FloatElement>(client: &ComputeClient<R>) -> DType {
    match gemm_precision() {
        GemmPrecision::Bf16 if client.properties().supports_type(cubecl::ir::StorageType::from(DType::BF16)) => DType::BF16,
        _ => F::dtype(),
    }
}

/// The element type of the activations a GEMM conv hands on (its output, its input's
/// gradient): bf16 where [`ActivationPrecision::Bf16`](crate::ActivationPrecision) is chosen and
/// the operands are bf16 ([`operand_dtype`]), else the backend's float `F`.
pub(crate) fn activation_dtype<R: CubeRuntime, F: FloatElement>(client: &ComputeClient<R>) -> DType {
    match crate::activation_precision() {
        crate::ActivationPrecision::Bf16 if operand_dtype::<R, F>(client) == DType::BF16 => DType::BF16,
        _ => F::dtype(),
    }
}

/// Whether `tensor` `[d, c, h, w]` is laid out channels-last and contiguous (a permuted view of
/// contiguous `[d, h, w, c]` memory).
pub(crate) fn is_channels_last<R: CubeRuntime>(tensor: &CubeTensor<R>) -> bool {
    permute_nchw_to_nhwc(tensor.clone()).is_contiguous()
}

/// `tensor` `[d, c, h, w]` (of the backend's float `F` or bf16) grown with zeros to
/// `[rows, channels, h, w]`, with elements of `dtype` (`F` or bf16), laid out channels-last
/// and contiguous ([`is_channels_last`]). No copy when it is so already.
pub(crate) fn channels_last_padded<R: CubeRuntime, F: FloatElement>(
    tensor: CubeTensor<R>,
    rows: usize,
    channels: usize,
    dtype: DType,
) -> CubeTensor<R> {
    let [d, c, h, w] = tensor.meta.shape().dims::<4>();
    if rows == d && channels == c && dtype == tensor.dtype && is_channels_last(&tensor) {
        return tensor;
    }
    permute_nhwc_to_nchw(nhwc_grown::<R, F>(tensor, [rows, h, w, channels], [0, 0], dtype))
}

/// `tensor` `[d, c, h, w]` (of `F` or bf16, any strides) channels-last, as a `[d, channels, h,
/// w]` view over new contiguous `[d, height, width, channels]` memory of `dtype`: zeros beyond
/// its pixels (below and to the right) and its channels. One pass ([`nhwc_grown`]); the GEMM
/// kernels read the view (they take any strides but the channels'), the stride-1 weight
/// gradient's shifted views the memory.
pub(crate) fn channels_last_in_grid<R: CubeRuntime, F: FloatElement>(tensor: CubeTensor<R>, [height, width]: [usize; 2], channels: usize, dtype: DType) -> CubeTensor<R> {
    let [d, _, h, w] = tensor.meta.shape().dims::<4>();
    let grown = nhwc_grown::<R, F>(tensor, [d, height, width, channels], [0, 0], dtype);
    strided_view(&grown, vec![d, channels, h, w], vec![height * width * channels, 1, width * channels, channels])
}

/// A new contiguous `[rows, height, width, channels]` tensor of `dtype` (`F` or bf16) holding
/// `tensor` `[d, c, h, w]` (of `F` or bf16, any strides) channels-last, its pixel `(y, x)` at
/// `(y + top, x + left)`, zeros elsewhere: [`layout_copy_kernel`], one pass.
///
/// # Panics
/// If the tensor does not fit at that offset.
pub(crate) fn nhwc_grown<R: CubeRuntime, F: FloatElement>(
    tensor: CubeTensor<R>,
    shape: [usize; 4],
    at: [usize; 2],
    dtype: DType,
) -> CubeTensor<R> {
    nhwc_spread::<R, F>(tensor, shape, at, [1, 1], dtype)
}

/// [`nhwc_grown`] with `step − 1` zeros between the pixels along each axis: pixel `(y, x)` of
/// `tensor` at `(top + step[0]·y, left + step[1]·x)` (a strided conv's output gradient spread
/// out for its input gradient as a stride-1 conv).
///
/// # Panics
/// If the tensor does not fit at that offset.
pub(crate) fn nhwc_spread<R: CubeRuntime, F: FloatElement>(
    tensor: CubeTensor<R>,
    [rows, height, width, channels]: [usize; 4],
    [top, left]: [usize; 2],
    step: [usize; 2],
    dtype: DType,
) -> CubeTensor<R> {
    let [d, c, h, w] = tensor.meta.shape().dims::<4>();
    let span = |size: usize, step: usize| step * (size.max(1) - 1) + 1;
    assert!(
        rows >= d && channels >= c && height >= top + span(h, step[0]) && width >= left + span(w, step[1]),
        "nhwc_spread: [{rows}, {height}, {width}, {channels}] does not hold [{d}, {h}, {w}, {c}] at ({top}, {left}) with steps {step:?}"
    );
    layout_copy::<R, F>(tensor, [rows, height, width, channels], true, [top, left], step, dtype)
}

/// A new contiguous tensor of `dtype` (`F` or bf16) of `shape` in its memory order
/// (`[rows, height, width, channels]` with `channels_inner`, else `[rows, channels, height,
/// width]`) holding `tensor` `[d, c, h, w]` (of `F` or bf16, any strides) as
/// [`layout_copy_kernel`] places it: one pass. Contiguous, because burn's
/// `empty_device_dtype` may pad each innermost row (a pitched layout) and the kernel writes
/// the output as a contiguous one.
///
/// # Panics
/// If the pixel or channel tiles outnumber the device's cube counts (more than 65 535 × 32
/// pixels per image on wgpu).
fn layout_copy<R: CubeRuntime, F: FloatElement>(
    tensor: CubeTensor<R>,
    shape: [usize; 4],
    channels_inner: bool,
    [top, left]: [usize; 2],
    step: [usize; 2],
    dtype: DType,
) -> CubeTensor<R> {
    let output = empty_device_contiguous_dtype(tensor.client.clone(), tensor.device.clone(), shape.into(), dtype);
    let vector_size = match channels_inner {
        true => shift_vector_size(&tensor, shape[3], dtype),
        false => 1,
    };
    if vector_size > 1 {
        if output.meta.num_elements() > 0 {
            let (count, dim) = elementwise_launch(&output, vector_size);
            let (client, input, out) = (tensor.client.clone(), tensor.clone().into_tensor_arg(), output.clone().into_tensor_arg());
            let step = (step[0], step[1]);
            if runs("shift copy", &[&tensor, &output], (top, left, step, vector_size)) {
                match (tensor.dtype == DType::BF16, dtype == DType::BF16) {
                    (false, false) => shift_kernel::launch::<F, F, R>(&client, count, dim, vector_size, input, out, top, left, step),
                    (false, true) => shift_kernel::launch::<F, bf16, R>(&client, count, dim, vector_size, input, out, top, left, step),
                    (true, false) => shift_kernel::launch::<bf16, F, R>(&client, count, dim, vector_size, input, out, top, left, step),
                    (true, true) => shift_kernel::launch::<bf16, bf16, R>(&client, count, dim, vector_size, input, out, top, left, step),
                }
            }
        }
        return output;
    }
    let (rows, channels, pixels) = match channels_inner {
        true => (shape[0], shape[3], shape[1] * shape[2]),
        false => (shape[0], shape[1], shape[2] * shape[3]),
    };
    if rows * channels * pixels == 0 {
        return output;
    }
    let max = tensor.client.properties().hardware.max_cube_count;
    let tiles = [pixels.div_ceil(TILE), channels.div_ceil(TILE)];
    assert!(
        tiles[0] <= max.0 as usize && tiles[1] <= max.1 as usize,
        "layout_copy: {pixels} pixels × {channels} channels are more tiles than the device's cube counts {max:?}"
    );
    let count = CubeCount::new_3d(tiles[0] as u32, tiles[1] as u32, rows.min(max.2 as usize) as u32);
    let thread_rows = crate::gemm_conv::layout_copy_rows();
    let dim = CubeDim::new_2d(TILE as u32, thread_rows as u32);
    let input_channels_inner = tensor.meta.strides()[1] == 1;
    let same_grid = is_same_grid(&tensor, shape, channels_inner, [top, left], step);
    let (client, input, out) = (tensor.client.clone(), tensor.clone().into_tensor_arg(), output.clone().into_tensor_arg());
    let (step, l) = ((step[0], step[1]), (input_channels_inner, channels_inner, same_grid, thread_rows));
    if runs("layout copy", &[&tensor, &output], (top, left, step, l)) {
        match (tensor.dtype == DType::BF16, dtype == DType::BF16) {
            (false, false) => layout_copy_kernel::launch::<F, F, R>(&client, count, dim, input, out, top, left, step, l.0, l.1, l.2, l.3),
            (false, true) => layout_copy_kernel::launch::<F, bf16, R>(&client, count, dim, input, out, top, left, step, l.0, l.1, l.2, l.3),
            (true, false) => layout_copy_kernel::launch::<bf16, F, R>(&client, count, dim, input, out, top, left, step, l.0, l.1, l.2, l.3),
            (true, true) => layout_copy_kernel::launch::<bf16, bf16, R>(&client, count, dim, input, out, top, left, step, l.0, l.1, l.2, l.3),
        }
    }
    output
}

/// The vector of channels [`shift_kernel`] moves a channels-last `tensor` `[d, c, h, w]` into
/// a channels-last output of `channels` channels of `dtype` with (both counts and every other stride of the
/// input multiples of it); 1 where the input is not channels-last, and the copy takes
/// [`layout_copy_kernel`].
pub(crate) fn shift_vector_size<R: CubeRuntime>(tensor: &CubeTensor<R>, channels: usize, dtype: DType) -> VectorSize {
    // No wider than the output's element type is written in one access either.
    let widest_out = tensor.client.io_optimized_vector_sizes(dtype.size()).max().unwrap_or(1);
    let mut size = vector_size_along(tensor, 1).min(widest_out);
    while size > 1 && !channels.is_multiple_of(size) {
        size /= 2;
    }
    size
}

/// Whether [`layout_copy_kernel`] may read output pixel `p` as the input's pixel `p` at
/// `p · stride(3)` (its `same_grid` path: no division per value): the output has the input's
/// height and width, the input sits at the origin without gaps, and its rows of pixels are
/// `w` pixels apart (contiguous NCHW, or channels-last: the layouts the GEMM convs copy between).
/// The general path is taken by row-major inputs copied into a larger grid: a stride-1 conv's
/// input into its padded grid (`gemm_operands_padded`) and its output gradient into that grid
/// (`channels_last_in_grid`); on an H200 the former's first 32×32 layer took 254 µs at full
/// width against 184 µs for the same copy without padding (session 21).
fn is_same_grid<R: CubeRuntime>(tensor: &CubeTensor<R>, shape: [usize; 4], channels_inner: bool, at: [usize; 2], step: [usize; 2]) -> bool {
    let [_, _, h, w] = tensor.meta.shape().dims::<4>();
    let strides = tensor.meta.strides();
    let grid = match channels_inner {
        true => [shape[1], shape[2]],
        false => [shape[2], shape[3]],
    };
    grid == [h, w] && at == [0, 0] && step == [1, 1] && (h <= 1 || strides[2] == w * strides[3])
}

/// `tensor` with elements of the backend's float `F` (a copy if they are not).
pub(crate) fn as_float<R: CubeRuntime, F: FloatElement>(tensor: CubeTensor<R>) -> CubeTensor<R> {
    burn_cubecl::kernel::cast(tensor, F::dtype())
}

/// The first `rows` × `channels` block of `tensor` `[d, c, h, w]` (of `F`, any strides: the GEMM
/// kernels' channels-last results), contiguous row-major ([`layout_copy_kernel`], one pass;
/// no copy when it is all of a row-major tensor).
pub(crate) fn unpadded<R: CubeRuntime, F: FloatElement>(tensor: CubeTensor<R>, rows: usize, channels: usize) -> CubeTensor<R> {
    let [d, c, h, w] = tensor.meta.shape().dims::<4>();
    assert!(rows <= d && channels <= c, "unpadded: [{rows}, {channels}] is not inside [{d}, {c}]");
    if rows == d && channels == c && tensor.is_contiguous() {
        return tensor;
    }
    let dtype = tensor.dtype;
    layout_copy::<R, F>(tensor, [rows, channels, h, w], false, [0, 0], [1, 1], dtype)
}

/// The operands of the GEMM kernels: `x` and `weight` channels-last, with the channel counts
/// rounded up to the alignment (`gemm_conv.rs`'s documentation says why), in the operand
/// format.
pub(crate) fn gemm_operands<R: CubeRuntime, F: FloatElement>(x: CubeTensor<R>, weight: CubeTensor<R>) -> (CubeTensor<R>, CubeTensor<R>) {
    let (dtype, [c_out, c_in]) = operand_format::<R, F>(&x, &weight);
    let n = x.meta.shape()[0];
    (channels_last_padded::<R, F>(x, n, c_in, dtype), channels_last_padded::<R, F>(weight, c_out, c_in, dtype))
}

/// [`gemm_operands`] with the input's zero `padding` written in around its pixels:
/// `[n, c, h + 2·ph, w + 2·pw]` channels-last, over contiguous memory of `n + 1` such images,
/// the last all zeros (as the stride-1 weight gradient reads it). One pass, as the unpadded copy.
pub(crate) fn gemm_operands_padded<R: CubeRuntime, F: FloatElement>(x: CubeTensor<R>, weight: CubeTensor<R>, padding: [usize; 2]) -> (CubeTensor<R>, CubeTensor<R>) {
    let (dtype, [c_out, c_in]) = operand_format::<R, F>(&x, &weight);
    let [n, _, h, w] = x.meta.shape().dims::<4>();
    let (hg, wg) = (h + 2 * padding[0], w + 2 * padding[1]);
    let grown = nhwc_grown::<R, F>(x, [n + 1, hg, wg, c_in], padding, dtype);
    let view = strided_view(&grown, vec![n, c_in, hg, wg], vec![hg * wg * c_in, 1, wg * c_in, c_in]);
    (view, channels_last_padded::<R, F>(weight, c_out, c_in, dtype))
}

/// The operands' element type and their aligned `[c_out, c_in]`.
fn operand_format<R: CubeRuntime, F: FloatElement>(x: &CubeTensor<R>, weight: &CubeTensor<R>) -> (DType, [usize; 2]) {
    let dtype = operand_dtype::<R, F>(&x.client);
    let align = operand_channel_align(dtype.size());
    (dtype, [aligned(weight.meta.shape()[0], align), aligned(x.meta.shape()[1], align)])
}

#[cfg(all(test, any(feature = "test-wgpu", feature = "test-cuda")))]
mod tests {
    //! The padded channels-last copies on lavapipe (f32) and on CUDA (f32 and bf16).
    use super::*;
    use crate::test_support::{assert_close_named, random};
    use burn::backend::NdArray;
    use burn::tensor::{Tensor as BurnTensor, TensorPrimitive::Float};
    use burn_cubecl::{BoolElement, CubeBackend};

    /// The copy holds the tensor in its first block and zeros elsewhere, laid out
    /// channels-last, from a row-major input, a channels-last one and a channel slice of a
    /// larger tensor (a strided view, as a slimmable layer's weight is); `tolerance` covers
    /// the rounding to `dtype`.
    fn padded_copies_hold_the_tensor_then_zeros<R: CubeRuntime, BT: BoolElement>(dtype: DType, tolerance: f32) {
        // One tile, and more than one along both the channels and the pixels (42 of 32 each way);
        // channels in whole vectors of four, grown to 16 and kept at 8.
        for ([d, c, h, w], [rows, channels]) in [([3, 5, 4, 6], [4, 6]), ([3, 37, 6, 7], [4, 40]), ([3, 8, 4, 6], [4, 16]), ([2, 8, 5, 3], [2, 8])] {
            padded_copies_of_shape::<R, BT>([d, c, h, w], [rows, channels], dtype, tolerance);
        }
    }

    fn padded_copies_of_shape<R: CubeRuntime, BT: BoolElement>([d, c, h, w]: [usize; 4], [rows, channels]: [usize; 2], dtype: DType, tolerance: f32) {
        type B<R, BT> = CubeBackend<R, f32, i32, BT>;
        let (cpu, gpu) = (Default::default(), Default::default());
        let x = random::<NdArray, 4>([d, c, h, w], &cpu);
        let larger = random::<NdArray, 4>([d + 1, c + 4, h, w], &cpu).slice_assign([0..d, 2..c + 2], x.clone());
        let inputs = [
            ("row-major", BurnTensor::<B<R, BT>, 4>::from_data(x.to_data(), &gpu)),
            ("channels-last", BurnTensor::<B<R, BT>, 4>::from_data(x.clone().permute([0, 2, 3, 1]).into_data(), &gpu).permute([0, 3, 1, 2])),
            ("sliced", BurnTensor::<B<R, BT>, 4>::from_data(larger.into_data(), &gpu).slice([0..d, 2..c + 2])),
        ];
        for (layout, input) in inputs {
            // Six or forty channels: lines of 24 or 160 (f32) bytes, 12 or 80 (bf16), which a
            // pitched layout would pad.
            let padded = channels_last_padded::<R, f32>(input.into_primitive().tensor(), rows, channels, dtype);
            assert_eq!(padded.dtype, dtype);
            assert_eq!(padded.meta.strides().to_vec(), vec![h * w * channels, 1, w * channels, channels], "contiguous channels-last memory of [{rows}, {channels}, {h}, {w}]");
            let padded = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(as_float::<R, f32>(padded)));
            assert_eq!(padded.dims(), [rows, channels, h, w]);
            let block = BurnTensor::<B<R, BT>, 4>::from_data(x.to_data(), &gpu);
            assert_close_named(padded.clone().slice([0..d, 0..c]), block, tolerance, &format!("the tensor's block, {layout} input, {dtype:?}"));
            // (burn's kernels take no empty tensor: nothing to add where no channel or row is.)
            let zeros = |t: BurnTensor<B<R, BT>, 4>| if t.shape().num_elements() == 0 { 0.0 } else { t.abs().sum().into_scalar() };
            let rest = zeros(padded.clone().slice([0..d, c..channels])) + zeros(padded.slice([d..rows]));
            assert_eq!(rest, 0.0, "the added channels and rows are zero ({layout} input, {dtype:?})");
        }
        // Grown around the image and spread, from row-major memory (`layout_copy_kernel`) and
        // from channels-last memory (`shift_kernel` where the channels make whole vectors).
        let layouts = [
            ("row-major", BurnTensor::<B<R, BT>, 4>::from_data(x.to_data(), &gpu)),
            ("channels-last", BurnTensor::<B<R, BT>, 4>::from_data(x.clone().permute([0, 2, 3, 1]).into_data(), &gpu).permute([0, 3, 1, 2])),
        ];
        for (layout, input) in layouts {
            let input = input.into_primitive().tensor();
            let vectors = shift_vector_size(&input, channels, dtype) > 1;
            assert_eq!(vectors, layout == "channels-last" && c % 4 == 0, "vectors of channels from {layout} memory of {c} channels into {channels}");
            let what = format!("{layout} input, {dtype:?}");
            // The pixels at (1, 2), one more row and channel.
            let grown_shape = [rows, h + 3, w + 3, channels];
            let grown = nhwc_grown::<R, f32>(input.clone(), grown_shape, [1, 2], dtype);
            assert_eq!(grown.meta.strides().to_vec(), vec![(h + 3) * (w + 3) * channels, (w + 3) * channels, channels, 1], "contiguous {grown_shape:?}");
            let grown = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(as_float::<R, f32>(grown)));
            let inner = grown.clone().slice([0..d, 1..h + 1, 2..w + 2, 0..c]);
            assert_close_named(inner.clone().permute([0, 3, 1, 2]), BurnTensor::from_data(x.to_data(), &gpu), tolerance, &format!("the image inside the grown copy, {what}"));
            let outside = grown.slice_assign([0..d, 1..h + 1, 2..w + 2, 0..c], inner.zeros_like()).abs().sum().into_scalar();
            assert_eq!(outside, 0.0, "only zeros around the image ({what})");
            // In a larger grid's memory, seen as the tensor.
            let in_grid = channels_last_in_grid::<R, f32>(input.clone(), [h + 2, w + 1], channels, dtype);
            assert_eq!(in_grid.meta.strides().to_vec(), vec![(h + 2) * (w + 1) * channels, 1, (w + 1) * channels, channels], "[{h} + 2, {w} + 1] grid");
            let in_grid = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(as_float::<R, f32>(in_grid)));
            assert_eq!(in_grid.dims(), [d, channels, h, w]);
            assert_close_named(in_grid.slice([0..d, 0..c]), BurnTensor::from_data(x.to_data(), &gpu), tolerance, &format!("the tensor in a larger grid, {what}"));
            // Spread with a zero between pixels (steps 2 and 3), back again by a strided slice.
            let spread_shape = [d, 2 * h + 1, 3 * w, c];
            let spread = nhwc_spread::<R, f32>(input, spread_shape, [1, 0], [2, 3], dtype);
            let spread = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(as_float::<R, f32>(spread)));
            let picked = spread.clone().slice([0..d, 1..2 * h + 1, 0..3 * w]);
            let picked = picked.reshape([d, h, 2, w, 3, c]).slice([0..d, 0..h, 0..1, 0..w, 0..1]).reshape([d, h, w, c]);
            assert_close_named(picked.clone().permute([0, 3, 1, 2]), BurnTensor::from_data(x.to_data(), &gpu), tolerance, &format!("the spread pixels, {what}"));
            let total = spread.abs().sum().into_scalar();
            let kept = picked.abs().sum().into_scalar();
            assert!((total - kept).abs() <= 1e-3 * total.max(1.0), "only zeros between the spread pixels ({what}): {total} against {kept}");
        }
    }

    /// The GEMM kernels' channels-last results back as row-major blocks ([`unpadded`]), across
    /// tile edges, from a channels-last tensor and from a sliced row-major one.
    fn unpadded_blocks_are_row_major<R: CubeRuntime, BT: BoolElement>() {
        type B<R, BT> = CubeBackend<R, f32, i32, BT>;
        let (cpu, gpu) = (Default::default(), Default::default());
        let x = random::<NdArray, 4>([4, 40, 6, 7], &cpu);
        let expected = x.clone().slice([0..3, 0..37]);
        let layouts = [
            ("channels-last", BurnTensor::<B<R, BT>, 4>::from_data(x.clone().permute([0, 2, 3, 1]).into_data(), &gpu).permute([0, 3, 1, 2])),
            ("row-major", BurnTensor::<B<R, BT>, 4>::from_data(x.to_data(), &gpu)),
        ];
        for (layout, tensor) in layouts {
            let block = unpadded::<R, f32>(tensor.into_primitive().tensor(), 3, 37);
            assert_eq!(block.meta.strides().to_vec(), vec![37 * 42, 42, 7, 1], "row-major [3, 37, 6, 7] from {layout}");
            let block = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(block));
            assert_close_named(block, BurnTensor::from_data(expected.to_data(), &gpu), 1e-6, &format!("the block, from {layout}"));
        }
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn unpadded_blocks_on_wgpu() {
        let _settings = crate::test_support::using_settings();
        unpadded_blocks_are_row_major::<burn::backend::wgpu::WgpuRuntime, u32>();
    }

    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_unpadded_blocks() {
        let _settings = crate::test_support::using_settings();
        unpadded_blocks_are_row_major::<cubecl::cuda::CudaRuntime, u8>();
    }

    /// The per-batch partial products summed into the first block of a zero tensor
    /// ([`batch_summed`]), read as a block of larger partials in place, from row-major memory and
    /// from memory laid out as the shifted-view weight gradient's (`[kh, kw, batches, o, i]`); one
    /// batch, a few, and more than the cube's threads take in one round; blocks inside one
    /// tile of channels, across two of three, and the whole weight.
    fn batch_sums_fill_the_block_and_zeros_elsewhere<R: CubeRuntime, BT: BoolElement>() {
        type B<R, BT> = CubeBackend<R, f32, i32, BT>;
        let (cpu, gpu) = (Default::default(), Default::default());
        // (the partials' [o, i], the block's, the weight's)
        let cases = [([5, 7], [3, 4], [6, 9]), ([3, 41], [2, 40], [4, 70]), ([4, 6], [4, 6], [4, 6])];
        for ([po, pi], [bo, bi], [o, i]) in cases {
            for batches in [1, 3, 70] {
                let partials = random::<NdArray, 5>([batches, po, pi, 3, 2], &cpu);
                let expected = partials.clone().slice([0..batches, 0..bo, 0..bi]).sum_dim(0).reshape([bo, bi, 3, 2]);
                let layouts = [
                    ("row-major", BurnTensor::<B<R, BT>, 5>::from_data(partials.to_data(), &gpu)),
                    ("kernel-position major", BurnTensor::<B<R, BT>, 5>::from_data(partials.clone().permute([3, 4, 0, 1, 2]).into_data(), &gpu).permute([2, 3, 4, 0, 1])),
                ];
                for (layout, tensor) in layouts {
                    let tensor = tensor.into_primitive().tensor();
                    let block = strided_view(&tensor, vec![batches, bo, bi, 3, 2], tensor.meta.strides().to_vec());
                    let summed = BurnTensor::<B<R, BT>, 4>::from_primitive(Float(batch_summed::<R, f32>(block, [o, i, 3, 2])));
                    assert_eq!(summed.dims(), [o, i, 3, 2]);
                    let what = format!("[{bo}, {bi}] of [{o}, {i}], {batches} batches, {layout}");
                    assert_close_named(summed.clone().slice([0..bo, 0..bi]), BurnTensor::from_data(expected.to_data(), &gpu), 1e-4, &format!("the block's sums, {what}"));
                    let rest = summed.slice_assign([0..bo, 0..bi], BurnTensor::zeros([bo, bi, 3, 2], &gpu)).abs().sum().into_scalar();
                    assert_eq!(rest, 0.0, "zeros outside the block ({what})");
                }
            }
        }
    }

    /// The unfold reads whole vectors of channels from channels-last operands (the GEMM convs'
    /// copies: every stride but the channels' a multiple of the vector), one value at a time
    /// from anything else.
    #[cfg(feature = "test-wgpu")]
    #[test]
    fn unfold_reads_vectors_of_channels_only_where_they_are_innermost() {
        type W = burn::backend::wgpu::WgpuRuntime;
        type B = CubeBackend<W, f32, i32, u32>;
        let gpu = Default::default();
        let row_major = |shape: [usize; 4]| BurnTensor::<B, 4>::zeros(shape, &gpu).into_primitive().tensor();
        let widest = unfold_vector_size(&channels_last_padded::<W, f32>(row_major([2, 16, 5, 5]), 2, 16, DType::F32));
        assert!(widest > 1, "a vector of channels from a channels-last copy, got {widest}");
        assert_eq!(unfold_vector_size(&channels_last_padded::<W, f32>(row_major([2, 6, 5, 5]), 2, 6, DType::F32)) % 2, 0, "6 channels: pairs at least");
        assert_eq!(unfold_vector_size(&channels_last_padded::<W, f32>(row_major([2, 5, 5, 5]), 2, 5, DType::F32)), 1, "5 channels");
        assert_eq!(unfold_vector_size(&row_major([2, 16, 5, 5])), 1, "row-major: channels not innermost");
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn batch_sums_on_wgpu() {
        let _settings = crate::test_support::using_settings();
        batch_sums_fill_the_block_and_zeros_elsewhere::<burn::backend::wgpu::WgpuRuntime, u32>();
    }

    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_batch_sums() {
        let _settings = crate::test_support::using_settings();
        batch_sums_fill_the_block_and_zeros_elsewhere::<cubecl::cuda::CudaRuntime, u8>();
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn padded_copies_on_wgpu() {
        let _settings = crate::test_support::using_settings();
        padded_copies_hold_the_tensor_then_zeros::<burn::backend::wgpu::WgpuRuntime, u32>(DType::F32, 1e-6);
    }

    /// The copies with one row of threads per tile (32 values per thread), and with 16 and 32
    /// (two values, one); then the default again. Tests running meanwhile copy with whichever
    /// is set, each correct.
    #[cfg(feature = "test-wgpu")]
    #[test]
    fn copies_with_any_rows_of_threads_on_wgpu() {
        let _settings = crate::test_support::changing_settings();
        type W = burn::backend::wgpu::WgpuRuntime;
        for rows in [1, 16, 32, crate::DEFAULT_LAYOUT_COPY_ROWS] {
            crate::set_layout_copy_rows(rows).unwrap();
            padded_copies_of_shape::<W, u32>([3, 37, 6, 7], [4, 40], DType::F32, 1e-6);
            unpadded_blocks_are_row_major::<W, u32>();
        }
    }

    /// bf16 keeps 8 significant bits: standard-normal values (below 5) round by less than 0.02.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_padded_copies_in_f32_and_bf16() {
        let _settings = crate::test_support::using_settings();
        padded_copies_hold_the_tensor_then_zeros::<cubecl::cuda::CudaRuntime, u8>(DType::F32, 1e-6);
        padded_copies_hold_the_tensor_then_zeros::<cubecl::cuda::CudaRuntime, u8>(DType::BF16, 0.02);
    }
}
