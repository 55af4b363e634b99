//! BatchNorm's batch-statistics pass on burn's cubecl backends (CUDA, wgpu) in four kernels,
//! two per direction, instead of a dozen tensor ops that each read and write the whole tensor:
//!
//! - forward: [`chunk_stats_kernel`] (each thread: the mean and the sum of squared deviations
//!   of one chunk of one channel's row), then [`channel_affine_kernel`]
//!   (`y = x · scale[c] + shift[c]`);
//! - backward: [`chunk_grad_sums_kernel`] (each thread: `Σ dy` and `Σ dy · (x − mean)` over a
//!   chunk), then [`channel_affine2_kernel`] (`dx = dy · a[c] + x · b[c] + d[c]`).
//!
//! The per-chunk results, a small `[n, c, chunks]` tensor, are combined by the backend's own
//! ops; so is the per-channel arithmetic between the two kernels. Chunks are equal in length
//! (a divisor of the row length), so the chunk statistics combine exactly (Chan et al.'s
//! pairwise formula): the variance is never the cancellation-prone `E[x²] − E[x]²`.
//!
//! Why: BN's tensor ops make a dozen full passes over the activations per direction, and keep
//! centred and normalised copies of them for the backward pass; these kernels make two and keep
//! none. On an H200 neither the 8-layer net's kernel time nor its peak memory fell with them
//! (their chunk reductions read uncoalesced; docs/BENCHMARKS.md, session 9).

use burn::tensor::{Tensor as BurnTensor, TensorPrimitive};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::*;

use crate::cube_launch::{elementwise_launch, empty_like};

/// The longest chunk of a row one thread reduces.
const MAX_CHUNK: usize = 256;

/// Per (image, channel, chunk) of `x` `[n, c, m]` (contiguous): the chunk's mean and the sum of
/// squared deviations about it. `mean` and `m2` are `[n, c, chunks]`.
#[cube(launch)]
fn chunk_stats_kernel<F: Float>(x: &Tensor<F>, mean: &mut Tensor<F>, m2: &mut Tensor<F>, #[comptime] chunk: usize) {
    if ABSOLUTE_POS >= mean.len() {
        terminate!();
    }
    let start = ABSOLUTE_POS * chunk;
    let mut sum = F::new(0.0);
    for i in 0..chunk {
        sum += x[start + i];
    }
    let chunk_mean = sum / F::cast_from(chunk);
    let mut squares = F::new(0.0);
    for i in 0..chunk {
        let d = x[start + i] - chunk_mean;
        squares += d * d;
    }
    mean[ABSOLUTE_POS] = chunk_mean;
    m2[ABSOLUTE_POS] = squares;
}

/// Per (image, channel, chunk) of `dy` and `x` `[n, c, m]` (contiguous): `Σ dy` and
/// `Σ dy · (x − channel_mean[c])`, into `[n, c, chunks]`.
#[cube(launch)]
fn chunk_grad_sums_kernel<F: Float>(
    dy: &Tensor<F>,
    x: &Tensor<F>,
    channel_mean: &Tensor<F>,
    sum_dy: &mut Tensor<F>,
    sum_dy_xc: &mut Tensor<F>,
    #[comptime] chunk: usize,
) {
    if ABSOLUTE_POS >= sum_dy.len() {
        terminate!();
    }
    let chunks = sum_dy.shape(2);
    let c = (ABSOLUTE_POS / chunks) % sum_dy.shape(1);
    let mu = channel_mean[c];
    let start = ABSOLUTE_POS * chunk;
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    for i in 0..chunk {
        let g = dy[start + i];
        a += g;
        b += g * (x[start + i] - mu);
    }
    sum_dy[ABSOLUTE_POS] = a;
    sum_dy_xc[ABSOLUTE_POS] = b;
}

/// `out = x · scale[c] + shift[c]` over `[n, c, m]` (all contiguous).
#[cube(launch)]
fn channel_affine_kernel<F: Float>(x: &Tensor<F>, scale: &Tensor<F>, shift: &Tensor<F>, out: &mut Tensor<F>) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let c = (ABSOLUTE_POS / out.shape(2)) % out.shape(1);
    out[ABSOLUTE_POS] = x[ABSOLUTE_POS] * scale[c] + shift[c];
}

/// `out = dy · a[c] + x · b[c] + d[c]` over `[n, c, m]` (all contiguous).
#[cube(launch)]
fn channel_affine2_kernel<F: Float>(dy: &Tensor<F>, x: &Tensor<F>, a: &Tensor<F>, b: &Tensor<F>, d: &Tensor<F>, out: &mut Tensor<F>) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let c = (ABSOLUTE_POS / out.shape(2)) % out.shape(1);
    out[ABSOLUTE_POS] = dy[ABSOLUTE_POS] * a[c] + x[ABSOLUTE_POS] * b[c] + d[c];
}

/// The longest divisor of `m` up to [`MAX_CHUNK`]: chunks of equal length tile each row.
fn chunk_length(m: usize) -> usize {
    (1..=MAX_CHUNK.min(m)).rev().find(|d| m.is_multiple_of(*d)).unwrap_or(1)
}

type T<R, F, I, BT, const D: usize> = BurnTensor<CubeBackend<R, F, I, BT>, D>;

/// The batch mean and biased variance per channel of `x` `[n, c, m]`, `[c]` each; and `x` made
/// contiguous.
pub(crate) fn channel_stats<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    x: CubeTensor<R>,
) -> (CubeTensor<R>, T<R, F, I, BT, 1>, T<R, F, I, BT, 1>) {
    let x = into_contiguous(x);
    let [n, c, m] = x.meta.shape().dims::<3>();
    let chunk = chunk_length(m);
    let chunks = m / chunk;
    let (mean, m2) = (empty_like::<R, F>(&x, &[n, c, chunks]), empty_like::<R, F>(&x, &[n, c, chunks]));
    let (count, dim) = elementwise_launch(&mean);
    chunk_stats_kernel::launch::<F, R>(
        &x.client,
        count,
        dim,
        x.clone().into_tensor_arg(),
        mean.clone().into_tensor_arg(),
        m2.clone().into_tensor_arg(),
        chunk,
    );
    let per_channel = |t: CubeTensor<R>| T::<R, F, I, BT, 3>::from_primitive(TensorPrimitive::Float(t)).swap_dims(0, 1).reshape([c, n * chunks]);
    let (chunk_means, m2) = (per_channel(mean), per_channel(m2));
    // Equal-length chunks: the channel mean is the mean of the chunk means, and the squared
    // deviations add up with each chunk's mean offset from it.
    let mean = chunk_means.clone().mean_dim(1);
    let spread = chunk_means.sub(mean.clone()).square().sum_dim(1).mul_scalar(chunk as f64);
    let var = m2.sum_dim(1).add(spread).div_scalar((n * m) as f64);
    (x, mean.reshape([c]), var.reshape([c]))
}

/// `x · scale[c] + shift[c]` for `x` `[n, c, m]` contiguous.
pub(crate) fn channel_affine<R: CubeRuntime, F: FloatElement>(x: &CubeTensor<R>, scale: CubeTensor<R>, shift: CubeTensor<R>) -> CubeTensor<R> {
    let out = empty_like::<R, F>(x, &x.meta.shape().dims::<3>());
    let (count, dim) = elementwise_launch(&out);
    channel_affine_kernel::launch::<F, R>(
        &x.client,
        count,
        dim,
        x.clone().into_tensor_arg(),
        into_contiguous(scale).into_tensor_arg(),
        into_contiguous(shift).into_tensor_arg(),
        out.clone().into_tensor_arg(),
    );
    out
}

/// `Σ dy` and `Σ dy · (x − mean)` per channel, `[c]` each, for `dy` and `x` `[n, c, m]`
/// (`x` contiguous); and `dy` made contiguous.
pub(crate) fn channel_grad_sums<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    dy: CubeTensor<R>,
    x: &CubeTensor<R>,
    mean: CubeTensor<R>,
) -> (CubeTensor<R>, T<R, F, I, BT, 1>, T<R, F, I, BT, 1>) {
    let dy = into_contiguous(dy);
    let [n, c, m] = dy.meta.shape().dims::<3>();
    let chunk = chunk_length(m);
    let (sum_dy, sum_dy_xc) = (empty_like::<R, F>(&dy, &[n, c, m / chunk]), empty_like::<R, F>(&dy, &[n, c, m / chunk]));
    let (count, dim) = elementwise_launch(&sum_dy);
    chunk_grad_sums_kernel::launch::<F, R>(
        &dy.client,
        count,
        dim,
        dy.clone().into_tensor_arg(),
        x.clone().into_tensor_arg(),
        into_contiguous(mean).into_tensor_arg(),
        sum_dy.clone().into_tensor_arg(),
        sum_dy_xc.clone().into_tensor_arg(),
        chunk,
    );
    let per_channel = |t: CubeTensor<R>| T::<R, F, I, BT, 3>::from_primitive(TensorPrimitive::Float(t)).sum_dim(2).sum_dim(0).reshape([c]);
    (dy, per_channel(sum_dy), per_channel(sum_dy_xc))
}

/// `dy · a[c] + x · b[c] + d[c]` for `dy` and `x` `[n, c, m]` contiguous.
pub(crate) fn channel_affine2<R: CubeRuntime, F: FloatElement>(
    dy: &CubeTensor<R>,
    x: &CubeTensor<R>,
    [a, b, d]: [CubeTensor<R>; 3],
) -> CubeTensor<R> {
    let out = empty_like::<R, F>(dy, &dy.meta.shape().dims::<3>());
    let (count, dim) = elementwise_launch(&out);
    channel_affine2_kernel::launch::<F, R>(
        &dy.client,
        count,
        dim,
        dy.clone().into_tensor_arg(),
        x.clone().into_tensor_arg(),
        into_contiguous(a).into_tensor_arg(),
        into_contiguous(b).into_tensor_arg(),
        into_contiguous(d).into_tensor_arg(),
        out.clone().into_tensor_arg(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::chunk_length;

    #[test]
    fn chunks_tile_the_row_and_stay_short() {
        assert_eq!(chunk_length(1024), 256);
        assert_eq!(chunk_length(784), 196);
        assert_eq!(chunk_length(1600), 200);
        assert_eq!(chunk_length(49), 49);
        assert_eq!(chunk_length(257), 1); // a prime above the limit: one value per chunk
        assert_eq!(chunk_length(1), 1);
    }
}
