//! BatchNorm's batch-statistics pass on burn's cubecl backends (CUDA, wgpu) in two or three
//! kernels per direction, the per-channel arithmetic included:
//!
//! - forward: [`channel_partials_kernel`] (each cube: the sums of `x − K` and `(x − K)²` over
//!   one segment of one channel, `K` the channel's first value), [`stats_finish_kernel`] (a row
//!   of threads per channel: mean, variance, `1/σ`, the affine's scale and shift, and the running
//!   statistics after this batch, inactive channels copied), then [`channel_affine_kernel`]
//!   (`y = x · scale[c] + shift[c]`);
//! - backward: [`channel_partials_kernel`] again (`Σ dy` and `Σ dy · (x − mean)`),
//!   [`grad_finish_kernel`] (the coefficients of `dx`, and `dγ`, `dβ` over the full parameter
//!   length, zero beyond the active channels), then [`channel_affine2_kernel`]
//!   (`dx = dy · a[c] + x · b[c] + d[c]`).
//!
//! Where a channel has few values (small images, or a small batch: at most
//! [`batch_norm_one_cube_max`](crate::batch_norm_one_cube_max)), one cube sums each channel whole
//! and finishes it in the same launch ([`channel_stats_kernel`], [`channel_grad_stats_kernel`]):
//! two kernels per direction.
//!
//! An activation that is a clamp (ReLU, ReLU6: [`crate::Activation`]) rides along: the forward
//! pass clamps where it writes, and the backward pass zeroes `dy` where the pre-activation,
//! recomputed from `x` and the statistics, was clamped.
//!
//! Why: written with tensor ops, BN makes a dozen passes over the activations per direction;
//! the first version of these kernels (session 9) made two, but still left the per-channel
//! arithmetic, the running statistics and the parameter slices to about 45 small tensor ops per
//! layer and pass: most of the 648 launches of a slimmed 8-layer pass, which at batch 128 took
//! 7 ms at every width (docs/BENCHMARKS.md, session 13). The sums are shifted by each channel's
//! first value, so the variance `Σd²/N − (Σd/N)²` does not cancel catastrophically when the
//! mean is far from zero.

use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeRuntime, FloatElement};
use cubecl::prelude::*;

use burn::tensor::{DType, bf16};

use crate::cube_launch::{elementwise_launch, empty_like, empty_of, vector_size_along};
use crate::launch_share::runs;

/// Threads per cube of [`channel_partials_kernel`] (a power of two: the tree sum halves it).
const BLOCK: usize = 256;
/// Values one cube of [`channel_partials_kernel`] sums at least (eight per thread), and the most
/// segments a channel is split into ([`stats_finish_kernel`] adds them, `LANES` threads a channel).
const SEGMENT_MIN: usize = 8 * BLOCK;
const MAX_SEGMENTS: usize = 128;
/// Threads that add one channel's segment sums together in the finishing kernels
/// ([`segment_totals`]), and channels (rows of such threads) per cube of them.
const LANES: usize = 32;
const FINISH_ROWS: usize = BLOCK / LANES;

/// The output gradient `dy` (a vector of pixels of channel `c`) of a BatchNorm followed by a
/// clamp to `[low, high]`, passed back through the clamp: `dy` where the pre-activation
/// `x · scale[c] + shift[c]` (rows 3 and 4 of `stats` `[5, channels]`) lies strictly inside,
/// else zero.
#[cube]
fn passed<F: Float, N: Size>(dy: Vector<F, N>, x: Vector<F, N>, stats: &Tensor<F>, c: usize, channels: usize, low: F, high: F) -> Vector<F, N> {
    let y = x * Vector::new(stats[3 * channels + c]) + Vector::new(stats[4 * channels + c]);
    let inside = y.greater_than(Vector::new(low)).and(y.less_than(Vector::new(high)));
    select_many(inside, dy, Vector::new(F::new(0.0)))
}

/// The sum of a vector's lanes.
#[cube]
fn lanes_sum<F: Float, N: Size>(v: Vector<F, N>) -> F {
    let mut total = F::new(0.0);
    #[unroll]
    for lane in 0..v.vector_size() {
        total += v[lane];
    }
    total
}

/// One value's terms of [`cube_channel_sums`] at vector `at`: forward `(d, d²)`, `d = x − shift`;
/// backward `(dy, dy · (x − shift))`, `dy` first passed back through the clamp with `clamped`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn value_terms<F: Float, A: Float, N: Size>(
    first: &Tensor<Vector<A, N>>,
    second: &Tensor<Vector<A, N>>,
    centre: &Tensor<F>,
    at: usize,
    shift: Vector<F, N>,
    c: usize,
    low: F,
    high: F,
    #[comptime] gradient: bool,
    #[comptime] clamped: bool,
) -> (Vector<F, N>, Vector<F, N>) {
    if gradient {
        let mut g = Vector::<F, N>::cast_from(first[at]);
        let x = Vector::<F, N>::cast_from(second[at]);
        if clamped {
            g = passed(g, x, centre, c, first.shape(1), low, high);
        }
        (g, g * (x - shift))
    } else {
        let d = Vector::<F, N>::cast_from(first[at]) - shift;
        (d, d * d)
    }
}

/// The sums of `u` and `v` over images `start..end` of channel `c` of `first` `[n, c, m]`
/// (contiguous), by the cube's `block` threads together (a power of two), left in `shared_u[0]` and
/// `shared_v[0]` for every thread. Forward (`gradient` false): `u = x − K`, `v = u²`, `K` the
/// channel's first value. Backward: `first` is `dy`, `second` is `x`, `centre` the statistics
/// `[5, c]`, `u = dy`, `v = dy · (x − mean[c])`; with `clamped`, `dy` first passed back through
/// the clamp ([`passed`]).
///
/// The threads walk a channel's plane of each image `block` pixels at a time, or, when an image
/// has fewer pixels than a cube has threads, `block / m` images side by side: each thread works
/// out where it starts once (two divisions), not per value. A thread takes four of its images
/// at a time into four pairs of sums, so that four loads are in flight at once: with one pair,
/// every load waited for the add before it, and where one cube sums a whole 14² channel of a
/// batch (26 images a thread) a launch took 11–19 µs on an H200 (docs/BENCHMARKS.md, session 30).
#[cube]
#[allow(clippy::too_many_arguments)]
fn cube_channel_sums<F: Float, A: Float, N: Size>(
    first: &Tensor<Vector<A, N>>,
    second: &Tensor<Vector<A, N>>,
    centre: &Tensor<F>,
    c: usize,
    start: usize,
    end: usize,
    low: F,
    high: F,
    shared_u: &mut SharedMemory<F>,
    shared_v: &mut SharedMemory<F>,
    #[comptime] gradient: bool,
    #[comptime] clamped: bool,
    #[comptime] block: usize,
) {
    let unit = UNIT_POS as usize;
    let channels = first.shape(1);
    // A plane's length in vectors (the launch picks a vector size that divides it).
    let m = first.shape(2) / first.vector_size();
    // Images side by side, and this thread's image among them and its first vector.
    let side_by_side = max(block / m, 1);
    let lane_image = unit / m;
    let first_pixel = unit % m;
    let shift = if gradient { Vector::new(centre[c]) } else { Vector::new(F::cast_from(first[c * m][0])) };
    let mut u0 = Vector::<F, N>::new(F::new(0.0));
    let mut u1 = Vector::<F, N>::new(F::new(0.0));
    let mut u2 = Vector::<F, N>::new(F::new(0.0));
    let mut u3 = Vector::<F, N>::new(F::new(0.0));
    let mut v0 = Vector::<F, N>::new(F::new(0.0));
    let mut v1 = Vector::<F, N>::new(F::new(0.0));
    let mut v2 = Vector::<F, N>::new(F::new(0.0));
    let mut v3 = Vector::<F, N>::new(F::new(0.0));
    // The threads beyond the last whole image of a row of images side by side sit out.
    let mut image = if lane_image < side_by_side { start + lane_image } else { end };
    // A plane's distance to the same channel of the image `side_by_side` further on.
    let step = side_by_side * channels * m;
    while image + 3 * side_by_side < end {
        let base = (image * channels + c) * m;
        let mut pixel = first_pixel;
        while pixel < m {
            let at = base + pixel;
            let (a0, b0) = value_terms(first, second, centre, at, shift, c, low, high, gradient, clamped);
            let (a1, b1) = value_terms(first, second, centre, at + step, shift, c, low, high, gradient, clamped);
            let (a2, b2) = value_terms(first, second, centre, at + 2 * step, shift, c, low, high, gradient, clamped);
            let (a3, b3) = value_terms(first, second, centre, at + 3 * step, shift, c, low, high, gradient, clamped);
            u0 += a0;
            u1 += a1;
            u2 += a2;
            u3 += a3;
            v0 += b0;
            v1 += b1;
            v2 += b2;
            v3 += b3;
            pixel += block;
        }
        image += 4 * side_by_side;
    }
    while image < end {
        let base = (image * channels + c) * m;
        let mut pixel = first_pixel;
        while pixel < m {
            let (a, b) = value_terms(first, second, centre, base + pixel, shift, c, low, high, gradient, clamped);
            u0 += a;
            v0 += b;
            pixel += block;
        }
        image += side_by_side;
    }
    let u = (u0 + u1) + (u2 + u3);
    let v = (v0 + v1) + (v2 + v3);
    pairwise_sums(shared_u, shared_v, 0, unit, lanes_sum(u), lanes_sum(v), block);
}

/// The sums of `a` and `b` over the `count` threads (a power of two) at `first..first + count`
/// of `shared_a` and `shared_b` (this thread at `first + index`), left at `first`: halves added
/// pairwise into the lower half. Every thread of the cube calls it (it waits for them all).
#[cube]
#[allow(clippy::too_many_arguments)]
fn pairwise_sums<F: Float>(
    shared_a: &mut SharedMemory<F>,
    shared_b: &mut SharedMemory<F>,
    first: usize,
    index: usize,
    a: F,
    b: F,
    #[comptime] count: usize,
) {
    let at = first + index;
    shared_a[at] = a;
    shared_b[at] = b;
    sync_cube();
    let mut half = (count / 2).runtime();
    while half > 0 {
        if index < half {
            let other_a = shared_a[at + half];
            let other_b = shared_b[at + half];
            shared_a[at] += other_a;
            shared_b[at] += other_b;
        }
        sync_cube();
        half /= 2;
    }
}

/// Per (segment, channel) of `first` `[n, c, m]` (contiguous): [`cube_channel_sums`] over the
/// segment's images, into `sum_u` and `sum_v` `[c, segments]` (cube `(s, c)`; a segment is a
/// run of whole images).
#[cube(launch)]
fn channel_partials_kernel<F: Float, A: Float, N: Size>(
    first: &Tensor<Vector<A, N>>,
    second: &Tensor<Vector<A, N>>,
    centre: &Tensor<F>,
    sum_u: &mut Tensor<F>,
    sum_v: &mut Tensor<F>,
    low: InputScalar,
    high: InputScalar,
    #[comptime] gradient: bool,
    #[comptime] clamped: bool,
) {
    let segment = CUBE_POS_X as usize;
    let c = CUBE_POS_Y as usize;
    let images = first.shape(0);
    let segments = sum_u.shape(1);
    let per_segment = images.div_ceil(segments);
    let start = segment * per_segment;
    let end = min(start + per_segment, images);
    let mut shared_u = SharedMemory::<F>::new(BLOCK);
    let mut shared_v = SharedMemory::<F>::new(BLOCK);
    cube_channel_sums(first, second, centre, c, start, end, low.get::<F>(), high.get::<F>(), &mut shared_u, &mut shared_v, gradient, clamped, BLOCK);
    if UNIT_POS == 0 {
        sum_u[c * segments + segment] = shared_u[0];
        sum_v[c * segments + segment] = shared_v[0];
    }
}

/// The totals over the segment sums `first` and `second` `[c, segments]` of
/// [`channel_partials_kernel`] of this thread's channel in a launch of [`finish_launch`], by
/// the `LANES` threads of its row of the cube together: each adds every `LANES`-th segment's
/// sums, then the row adds its threads' sums in shared memory. Gives this thread's lane in its
/// row, the channel (`c`: row `r` of cube `x` takes channel `x · FINISH_ROWS + r`; an inactive
/// one, `c ≥ first.shape(0)`, adds nothing) and the two totals, in every thread of the row.
/// Every thread of the cube calls it (it waits for them all).
///
/// Why a row of threads a channel: with one thread adding a channel's 128 segment sums (even
/// four at a time, [`run_total`](crate::cube_launch::run_total)), [`stats_finish_kernel`] took
/// 7.5–8.6 µs a launch on an H200, most of it waiting on 64 loads in turn (docs/BENCHMARKS.md,
/// session 30).
#[cube]
fn segment_totals<F: Float>(first: &Tensor<F>, second: &Tensor<F>) -> (usize, usize, F, F) {
    let (lane, row) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    let c = CUBE_POS_X as usize * FINISH_ROWS + row;
    let segments = first.shape(1);
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if c < first.shape(0) {
        let mut segment = lane;
        while segment < segments {
            a += first[c * segments + segment];
            b += second[c * segments + segment];
            segment += LANES;
        }
    }
    let mut shared_a = SharedMemory::<F>::new(BLOCK);
    let mut shared_b = SharedMemory::<F>::new(BLOCK);
    pairwise_sums(&mut shared_a, &mut shared_b, row * LANES, lane, a, b, LANES);
    (lane, c, shared_a[row * LANES], shared_b[row * LANES])
}

/// Active channel `c`'s statistics (of `active`) from `a = Σ(x − K)` and `b = Σ(x − K)²` over
/// its `count` values, `K` its first value `first`, into the rows of `stats` `[5, active]`:
/// mean, biased variance, `1/σ`, the affine's scale `γ/σ` and shift `β − μγ/σ`; with `running`,
/// the running statistics after this batch, `(1 − momentum) · old + momentum · batch`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn finish_stats<F: Float>(
    c: usize,
    a: F,
    b: F,
    first: F,
    count: F,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    running_mean: &Tensor<F>,
    running_var: &Tensor<F>,
    stats: &mut Tensor<F>,
    new_mean: &mut Tensor<F>,
    new_var: &mut Tensor<F>,
    epsilon: F,
    momentum: F,
    #[comptime] running: bool,
) {
    let active = stats.shape(1);
    let offset = a / count;
    let mean = first + offset;
    let var = max(b / count - offset * offset, F::new(0.0));
    let inv_std = F::new(1.0) / F::sqrt(var + epsilon);
    let scale = gamma[c] * inv_std;
    stats[c] = mean;
    stats[active + c] = var;
    stats[2 * active + c] = inv_std;
    stats[3 * active + c] = scale;
    stats[4 * active + c] = beta[c] - mean * scale;
    if running {
        new_mean[c] = (F::new(1.0) - momentum) * running_mean[c] + momentum * mean;
        new_var[c] = (F::new(1.0) - momentum) * running_var[c] + momentum * var;
    }
}

/// A row of `LANES` threads per channel of the full parameters (`gamma.len()`;
/// [`finish_launch`]): for the active channels (`c < sums.shape(0)`) [`finish_stats`] from the
/// segment sums ([`segment_totals`]); with `running`, the inactive channels' running statistics
/// copied.
#[cube(launch)]
fn stats_finish_kernel<F: Float, A: Float>(
    x: &Tensor<A>,
    sum_d: &Tensor<F>,
    sum_d2: &Tensor<F>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    running_mean: &Tensor<F>,
    running_var: &Tensor<F>,
    stats: &mut Tensor<F>,
    new_mean: &mut Tensor<F>,
    new_var: &mut Tensor<F>,
    epsilon: InputScalar,
    momentum: InputScalar,
    #[comptime] running: bool,
) {
    let (lane, c, a, b) = segment_totals(sum_d, sum_d2);
    if lane == 0 && c < gamma.len() {
        if c < sum_d.shape(0) {
            let m = x.shape(2);
            let count = F::cast_from(x.shape(0) * m);
            finish_stats(c, a, b, F::cast_from(x[c * m]), count, gamma, beta, running_mean, running_var, stats, new_mean, new_var, epsilon.get::<F>(), momentum.get::<F>(), running);
        } else if running {
            new_mean[c] = running_mean[c];
            new_var[c] = running_var[c];
        }
    }
}

/// The inactive channel this thread of cube `cube` handles, in a launch of [`one_cube_launch`]
/// over `active` active channels: the cubes after the active channels' take `block` inactive
/// channels each, a thread each (the caller tests it against the parameters' length).
#[cube]
fn inactive_channel(cube: usize, active: usize, #[comptime] block: usize) -> usize {
    active + (cube - active) * block + UNIT_POS as usize
}

/// One cube per active channel (`c < x.shape(1)`): the sums of [`cube_channel_sums`] over the
/// whole batch, then [`finish_stats`] by the first thread; with `running`, the inactive
/// channels' running statistics copied by the cubes after them ([`inactive_channel`]).
/// [`channel_partials_kernel`] and [`stats_finish_kernel`] in one launch, for channels few
/// enough values for one cube ([`batch_norm_one_cube_max`](crate::batch_norm_one_cube_max)).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn channel_stats_kernel<F: Float, A: Float, N: Size>(
    x: &Tensor<Vector<A, N>>,
    gamma: &Tensor<F>,
    beta: &Tensor<F>,
    running_mean: &Tensor<F>,
    running_var: &Tensor<F>,
    stats: &mut Tensor<F>,
    new_mean: &mut Tensor<F>,
    new_var: &mut Tensor<F>,
    epsilon: InputScalar,
    momentum: InputScalar,
    #[comptime] running: bool,
    #[comptime] block: usize,
) {
    let c = CUBE_POS_X as usize;
    if c < x.shape(1) {
        let mut shared_u = SharedMemory::<F>::new(block);
        let mut shared_v = SharedMemory::<F>::new(block);
        let zero = F::new(0.0);
        cube_channel_sums(x, x, stats, c, 0, x.shape(0), zero, zero, &mut shared_u, &mut shared_v, false, false, block);
        if UNIT_POS == 0 {
            let m = x.shape(2) / x.vector_size();
            let count = F::cast_from(x.shape(0) * x.shape(2));
            let first = F::cast_from(x[c * m][0]);
            finish_stats(c, shared_u[0], shared_v[0], first, count, gamma, beta, running_mean, running_var, stats, new_mean, new_var, epsilon.get::<F>(), momentum.get::<F>(), running);
        }
    } else if running {
        let inactive = inactive_channel(c, x.shape(1), block);
        if inactive < gamma.len() {
            new_mean[inactive] = running_mean[inactive];
            new_var[inactive] = running_var[inactive];
        }
    }
}

/// Active channel `c`'s gradients (of `active`) from `g = Σ dy` and `h = S = Σ dy · (x − μ)`
/// over its `n` values, with the statistics `stats` `[5, active]` (`s = 1/σ`): the coefficients
/// of `dx = dy · a + x · b + d` (`a = γs`, `b = −γs³S/N`, `d = −a·Σdy/N − b·μ`, rows of
/// `coefficients` `[3, active]`), and `dγ = s·S`, `dβ = Σ dy`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn finish_grads<F: Float>(
    c: usize,
    g: F,
    h: F,
    n: F,
    stats: &Tensor<F>,
    gamma: &Tensor<F>,
    coefficients: &mut Tensor<F>,
    grad_gamma: &mut Tensor<F>,
    grad_beta: &mut Tensor<F>,
) {
    let active = coefficients.shape(1);
    let mean = stats[c];
    let s = stats[2 * active + c];
    let a = gamma[c] * s;
    let b = F::new(0.0) - a * s * s * h / n;
    coefficients[c] = a;
    coefficients[active + c] = b;
    coefficients[2 * active + c] = F::new(0.0) - a * g / n - b * mean;
    grad_gamma[c] = s * h;
    grad_beta[c] = g;
}

/// A row of `LANES` threads per channel of the full parameters (`gamma.len()`;
/// [`finish_launch`]): for the active channels [`finish_grads`] from the segment sums of `Σ dy`
/// and `Σ dy · (x − μ)` over `count` values ([`segment_totals`]); `dγ`, `dβ` zero for the
/// inactive channels.
#[cube(launch)]
fn grad_finish_kernel<F: Float>(
    sum_dy: &Tensor<F>,
    sum_dy_xc: &Tensor<F>,
    stats: &Tensor<F>,
    gamma: &Tensor<F>,
    coefficients: &mut Tensor<F>,
    grad_gamma: &mut Tensor<F>,
    grad_beta: &mut Tensor<F>,
    count: InputScalar,
) {
    let (lane, c, g, h) = segment_totals(sum_dy, sum_dy_xc);
    if lane == 0 && c < gamma.len() {
        if c < sum_dy.shape(0) {
            finish_grads(c, g, h, count.get::<F>(), stats, gamma, coefficients, grad_gamma, grad_beta);
        } else {
            grad_gamma[c] = F::new(0.0);
            grad_beta[c] = F::new(0.0);
        }
    }
}

/// One cube per active channel (`c < dy.shape(1)`): the sums of [`cube_channel_sums`]
/// (backward, through the clamp with `clamped`) over the whole batch, then [`finish_grads`] by
/// the first thread; `dγ`, `dβ` zero for the inactive channels, set by the cubes after them
/// ([`inactive_channel`]). [`channel_partials_kernel`] and [`grad_finish_kernel`] in one
/// launch, for channels few enough values for one cube ([`batch_norm_one_cube_max`](crate::batch_norm_one_cube_max)).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn channel_grad_stats_kernel<F: Float, A: Float, N: Size>(
    dy: &Tensor<Vector<A, N>>,
    x: &Tensor<Vector<A, N>>,
    stats: &Tensor<F>,
    gamma: &Tensor<F>,
    coefficients: &mut Tensor<F>,
    grad_gamma: &mut Tensor<F>,
    grad_beta: &mut Tensor<F>,
    low: InputScalar,
    high: InputScalar,
    #[comptime] clamped: bool,
    #[comptime] block: usize,
) {
    let c = CUBE_POS_X as usize;
    if c < dy.shape(1) {
        let mut shared_u = SharedMemory::<F>::new(block);
        let mut shared_v = SharedMemory::<F>::new(block);
        cube_channel_sums(dy, x, stats, c, 0, dy.shape(0), low.get::<F>(), high.get::<F>(), &mut shared_u, &mut shared_v, true, clamped, block);
        if UNIT_POS == 0 {
            let n = F::cast_from(dy.shape(0) * dy.shape(2));
            finish_grads(c, shared_u[0], shared_v[0], n, stats, gamma, coefficients, grad_gamma, grad_beta);
        }
    } else {
        let inactive = inactive_channel(c, dy.shape(1), block);
        if inactive < gamma.len() {
            grad_gamma[inactive] = F::new(0.0);
            grad_beta[inactive] = F::new(0.0);
        }
    }
}

/// `out = x · scale[c] + shift[c]` over `[n, c, m]` (all contiguous, a vector of pixels per
/// thread), `scale` and `shift` rows 3 and 4 of `stats` `[5, c]`; with `clamped`, clamped to
/// `[low, high]`.
#[cube(launch)]
fn channel_affine_kernel<F: Float, A: Float, N: Size>(
    x: &Tensor<Vector<A, N>>,
    stats: &Tensor<F>,
    out: &mut Tensor<Vector<A, N>>,
    low: InputScalar,
    high: InputScalar,
    #[comptime] clamped: bool,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let channels = out.shape(1);
    let c = (ABSOLUTE_POS * out.vector_size() / out.shape(2)) % channels;
    let y = Vector::<F, N>::cast_from(x[ABSOLUTE_POS]) * Vector::new(stats[3 * channels + c]) + Vector::new(stats[4 * channels + c]);
    if clamped {
        out[ABSOLUTE_POS] = Vector::cast_from(min(max(y, Vector::new(low.get::<F>())), Vector::new(high.get::<F>())));
    } else {
        out[ABSOLUTE_POS] = Vector::cast_from(y);
    }
}

/// `out = dy · a[c] + x · b[c] + d[c]` over `[n, c, m]` (all contiguous, a vector of pixels per
/// thread), `a`, `b`, `d` the rows of `coefficients` `[3, c]`; with `clamped`, `dy` first passed
/// back through the clamp ([`passed`], with the statistics `stats` `[5, c]`).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn channel_affine2_kernel<F: Float, A: Float, N: Size>(
    dy: &Tensor<Vector<A, N>>,
    x: &Tensor<Vector<A, N>>,
    coefficients: &Tensor<F>,
    stats: &Tensor<F>,
    out: &mut Tensor<Vector<A, N>>,
    low: InputScalar,
    high: InputScalar,
    #[comptime] clamped: bool,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let channels = out.shape(1);
    let c = (ABSOLUTE_POS * out.vector_size() / out.shape(2)) % channels;
    let xv = Vector::<F, N>::cast_from(x[ABSOLUTE_POS]);
    let mut g = Vector::<F, N>::cast_from(dy[ABSOLUTE_POS]);
    if clamped {
        g = passed(g, xv, stats, c, channels, low.get::<F>(), high.get::<F>());
    }
    out[ABSOLUTE_POS] = Vector::cast_from(g * Vector::new(coefficients[c]) + xv * Vector::new(coefficients[channels + c]) + Vector::new(coefficients[2 * channels + c]));
}

/// The vector size the elementwise and partial-sum kernels read `[n, c, m]` tensors with (all
/// contiguous): the widest the device loads in one access that divides `m`, so that a vector
/// never straddles two channels' planes. (Reading one float per thread, BatchNorm's kernels
/// moved 1.6–2.0 TB/s on an H200 at conv8's full width, under half its bandwidth:
/// docs/BENCHMARKS.md, session 15.)
fn plane_vector_size<R: CubeRuntime>(tensor: &CubeTensor<R>) -> VectorSize {
    vector_size_along(tensor, 2)
}

/// How many segments (runs of whole images) the `n` images of `m` values each are split into
/// per channel for [`channel_partials_kernel`]: segments of at least [`SEGMENT_MIN`] values,
/// at most [`MAX_SEGMENTS`] of them, and no more than there are images.
fn segment_count(n: usize, m: usize) -> usize {
    (n * m).div_ceil(SEGMENT_MIN).clamp(1, MAX_SEGMENTS).min(n.max(1))
}

/// The per-segment sums of [`channel_partials_kernel`] for `first` (and `second`, `centre`)
/// `[n, c, m]` contiguous, read `vector_size` values at a time ([`plane_vector_size`] of both):
/// `[c, segments]` each.
fn partial_sums<R: CubeRuntime, F: FloatElement>(
    first: &CubeTensor<R>,
    second: &CubeTensor<R>,
    centre: &CubeTensor<R>,
    gradient: bool,
    bounds: Option<(f64, f64)>,
    vector_size: VectorSize,
) -> (CubeTensor<R>, CubeTensor<R>) {
    let [low, high] = scalar_bounds::<F>(bounds);
    let [n, c, m] = first.meta.shape().dims::<3>();
    let segments = segment_count(n, m);
    let (u, v) = (empty_like::<R, F>(first, &[c, segments]), empty_like::<R, F>(first, &[c, segments]));
    let launch = match first.dtype == DType::BF16 {
        true => channel_partials_kernel::launch::<F, bf16, R>,
        false => channel_partials_kernel::launch::<F, F, R>,
    };
    if runs("batch norm partial sums", &[first, second, centre], (gradient, bounds.is_some(), vector_size)) {
        launch(
            &first.client,
            CubeCount::new_2d(segments as u32, c as u32),
            CubeDim::new_1d(BLOCK as u32),
            vector_size,
            first.clone().into_tensor_arg(),
            second.clone().into_tensor_arg(),
            centre.clone().into_tensor_arg(),
            u.clone().into_tensor_arg(),
            v.clone().into_tensor_arg(),
            low,
            high,
            gradient,
            bounds.is_some(),
        );
    }
    (u, v)
}

/// The clamp's bounds as kernel scalars (any, unread, without a clamp).
fn scalar_bounds<F: FloatElement>(bounds: Option<(f64, f64)>) -> [InputScalar; 2] {
    let (low, high) = bounds.unwrap_or((0.0, 0.0));
    [InputScalar::new(low, F::dtype()), InputScalar::new(high, F::dtype())]
}

/// The cubes of [`channel_stats_kernel`] and [`channel_grad_stats_kernel`]: one per active
/// channel of `active`, then one per `block` inactive channels of the parameters' `full` (a cube
/// each made a width-2/12 pass a third slower on lavapipe, where most channels are inactive).
fn one_cube_launch(active: usize, full: usize, block: usize) -> CubeCount {
    CubeCount::new_1d((active + (full - active).div_ceil(block)) as u32)
}

/// The threads of a cube of [`channel_stats_kernel`] and [`channel_grad_stats_kernel`]:
/// [`batch_norm_one_cube_threads`](crate::batch_norm_one_cube_threads), or the device's most
/// threads a cube if fewer (rounded down to a power of two, at least `LANES`).
fn one_cube_block<R: CubeRuntime>(like: &CubeTensor<R>) -> usize {
    let most = like.client.properties().hardware.max_units_per_cube as usize;
    let most = if most.is_power_of_two() { most } else { most.next_power_of_two() / 2 };
    crate::batch_norm_one_cube_threads().min(most).max(LANES)
}

/// A row of `LANES` threads per channel of a full parameter of `channels` values,
/// `FINISH_ROWS` rows a cube ([`stats_finish_kernel`], [`grad_finish_kernel`]).
fn finish_launch(channels: usize) -> (CubeCount, CubeDim) {
    (CubeCount::new_1d(channels.div_ceil(FINISH_ROWS) as u32), CubeDim::new_2d(LANES as u32, FINISH_ROWS as u32))
}

/// The running statistics BatchNorm folds a batch into: full-length mean and variance, and the
/// batch's weight.
pub(crate) struct Running<R: CubeRuntime> {
    pub(crate) mean: CubeTensor<R>,
    pub(crate) var: CubeTensor<R>,
    pub(crate) momentum: f64,
}

/// What [`batch_stats`] gives: `x` made contiguous, the statistics `[5, c]` (rows: mean, biased
/// variance, `1/σ`, the affine's scale `γ/σ` and shift `β − μγ/σ`), and the running statistics
/// after the batch when asked for.
pub(crate) struct BatchStats<R: CubeRuntime> {
    pub(crate) x: CubeTensor<R>,
    pub(crate) stats: CubeTensor<R>,
    pub(crate) running: Option<(CubeTensor<R>, CubeTensor<R>)>,
}

/// The batch statistics per channel of `x` `[n, c, m]` for the first `c` channels of `gamma` and
/// `beta` (full parameters, at least `c` long), and with `running`, the running statistics
/// after this batch (the inactive channels' unchanged). Two launches; one where a channel has at
/// most [`batch_norm_one_cube_max`](crate::batch_norm_one_cube_max) values.
pub(crate) fn batch_stats<R: CubeRuntime, F: FloatElement>(
    x: CubeTensor<R>,
    gamma: CubeTensor<R>,
    beta: CubeTensor<R>,
    epsilon: f64,
    running: Option<Running<R>>,
) -> BatchStats<R> {
    let x = into_contiguous(x);
    let [n, c, m] = x.meta.shape().dims::<3>();
    let (gamma, beta) = (into_contiguous(gamma), into_contiguous(beta));
    let full = gamma.meta.shape().num_elements();
    let stats = empty_like::<R, F>(&x, &[5, c]);
    let dtype = F::dtype();
    // Without running statistics the kernels neither read nor write them (comptime): any
    // tensors stand in.
    let (old, new, momentum) = match running {
        Some(r) => {
            let new = (empty_like::<R, F>(&x, &[full]), empty_like::<R, F>(&x, &[full]));
            ((into_contiguous(r.mean), into_contiguous(r.var)), Some(new), r.momentum)
        }
        None => ((gamma.clone(), gamma.clone()), None, 0.0),
    };
    let (new_mean, new_var) = new.clone().unwrap_or_else(|| (stats.clone(), stats.clone()));
    let [epsilon, momentum] = [epsilon, momentum].map(|value| InputScalar::new(value, dtype));
    let (one_cube, vector_size) = (n * m <= crate::batch_norm_one_cube_max(), plane_vector_size(&x));
    let run = runs("batch norm statistics", &[&x, &gamma], (new.is_some(), one_cube, vector_size));
    if one_cube {
        let block = one_cube_block(&x);
        let launch = match x.dtype == DType::BF16 {
            true => channel_stats_kernel::launch::<F, bf16, R>,
            false => channel_stats_kernel::launch::<F, F, R>,
        };
        if run {
            launch(
                &x.client, one_cube_launch(c, full, block), CubeDim::new_1d(block as u32), vector_size,
                x.clone().into_tensor_arg(), gamma.into_tensor_arg(), beta.into_tensor_arg(), old.0.into_tensor_arg(), old.1.into_tensor_arg(),
                stats.clone().into_tensor_arg(), new_mean.into_tensor_arg(), new_var.into_tensor_arg(), epsilon, momentum, new.is_some(), block,
            );
        }
        return BatchStats { x, stats, running: new };
    }
    let (sum_d, sum_d2) = partial_sums::<R, F>(&x, &x, &x, false, None, vector_size);
    let (count, dim) = finish_launch(full);
    let launch = match x.dtype == DType::BF16 {
        true => stats_finish_kernel::launch::<F, bf16, R>,
        false => stats_finish_kernel::launch::<F, F, R>,
    };
    if run {
        launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            sum_d.into_tensor_arg(),
            sum_d2.into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            old.0.into_tensor_arg(),
            old.1.into_tensor_arg(),
            stats.clone().into_tensor_arg(),
            new_mean.into_tensor_arg(),
            new_var.into_tensor_arg(),
            epsilon,
            momentum,
            new.is_some(),
        );
    }
    BatchStats { x, stats, running: new }
}

/// `x · scale[c] + shift[c]` for `x` `[n, c, m]` contiguous, with [`batch_stats`]'s statistics,
/// clamped to `bounds` when given (the activation after the BatchNorm).
pub(crate) fn channel_affine<R: CubeRuntime, F: FloatElement>(x: &CubeTensor<R>, stats: &CubeTensor<R>, bounds: Option<(f64, f64)>) -> CubeTensor<R> {
    let out = empty_of(x, &x.meta.shape().dims::<3>(), x.dtype);
    let vector_size = plane_vector_size(x);
    let (count, dim) = elementwise_launch(&out, vector_size);
    let [low, high] = scalar_bounds::<F>(bounds);
    let (input, stats_arg, out_arg) = (x.clone().into_tensor_arg(), stats.clone().into_tensor_arg(), out.clone().into_tensor_arg());
    let launch = match x.dtype == DType::BF16 {
        true => channel_affine_kernel::launch::<F, bf16, R>,
        false => channel_affine_kernel::launch::<F, F, R>,
    };
    if runs("batch norm affine", &[x, stats], (bounds.is_some(), vector_size)) {
        launch(&x.client, count, dim, vector_size, input, stats_arg, out_arg, low, high, bounds.is_some());
    }
    out
}

/// BatchNorm's gradients for the output gradient `dy` and the input `x` `[n, c, m]` (`x`
/// contiguous), with [`batch_stats`]'s statistics and the full `gamma`: `dx` `[n, c, m]`, and
/// `dγ`, `dβ` as long as `gamma` (zero beyond the first `c`). With `bounds`, `dy` is the
/// gradient after a clamp to them (the activation), passed back through it first. Three
/// launches; two where a channel has at most [`batch_norm_one_cube_max`](crate::batch_norm_one_cube_max) values.
pub(crate) fn batch_norm_grads<R: CubeRuntime, F: FloatElement>(
    dy: CubeTensor<R>,
    x: &CubeTensor<R>,
    stats: &CubeTensor<R>,
    gamma: CubeTensor<R>,
    bounds: Option<(f64, f64)>,
) -> [CubeTensor<R>; 3] {
    // In `x`'s type: the kernels read both as one.
    let dy = match dy.dtype == x.dtype {
        true => into_contiguous(dy),
        false => burn_cubecl::kernel::cast(into_contiguous(dy), x.dtype),
    };
    let [n, c, m] = dy.meta.shape().dims::<3>();
    let gamma = into_contiguous(gamma);
    let full = gamma.meta.shape().num_elements();
    // The first row of `stats` is the mean: the kernel reads `centre[c]`.
    // One vector size for both passes over `dy` and `x`.
    let vector_size = plane_vector_size(&dy).min(plane_vector_size(x));
    let coefficients = empty_like::<R, F>(&dy, &[3, c]);
    let (grad_gamma, grad_beta) = (empty_like::<R, F>(&dy, &[full]), empty_like::<R, F>(&dy, &[full]));
    let [low, high] = scalar_bounds::<F>(bounds);
    let one_cube = n * m <= crate::batch_norm_one_cube_max();
    let run = runs("batch norm gradients", &[&dy, x, &gamma], (bounds.is_some(), vector_size, one_cube));
    if one_cube {
        let block = one_cube_block(&dy);
        let launch = match x.dtype == DType::BF16 {
            true => channel_grad_stats_kernel::launch::<F, bf16, R>,
            false => channel_grad_stats_kernel::launch::<F, F, R>,
        };
        if run {
            launch(
                &dy.client, one_cube_launch(c, full, block), CubeDim::new_1d(block as u32), vector_size,
                dy.clone().into_tensor_arg(), x.clone().into_tensor_arg(), stats.clone().into_tensor_arg(), gamma.into_tensor_arg(),
                coefficients.clone().into_tensor_arg(), grad_gamma.clone().into_tensor_arg(), grad_beta.clone().into_tensor_arg(), low, high, bounds.is_some(), block,
            );
        }
    } else {
        let (sum_dy, sum_dy_xc) = partial_sums::<R, F>(&dy, x, stats, true, bounds, vector_size);
        let (count, dim) = finish_launch(full);
        if run {
            grad_finish_kernel::launch::<F, R>(
                &dy.client,
                count,
                dim,
                sum_dy.into_tensor_arg(),
                sum_dy_xc.into_tensor_arg(),
                stats.clone().into_tensor_arg(),
                gamma.into_tensor_arg(),
                coefficients.clone().into_tensor_arg(),
                grad_gamma.clone().into_tensor_arg(),
                grad_beta.clone().into_tensor_arg(),
                InputScalar::new((n * m) as f64, F::dtype()),
            );
        }
    }
    let out = empty_of(&dy, &[n, c, m], x.dtype);
    let (count, dim) = elementwise_launch(&out, vector_size);
    let launch = match x.dtype == DType::BF16 {
        true => channel_affine2_kernel::launch::<F, bf16, R>,
        false => channel_affine2_kernel::launch::<F, F, R>,
    };
    if run {
        launch(
            &dy.client,
            count,
            dim,
            vector_size,
            dy.clone().into_tensor_arg(),
            x.clone().into_tensor_arg(),
            coefficients.into_tensor_arg(),
            stats.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            low,
            high,
            bounds.is_some(),
        );
    }
    [out, grad_gamma, grad_beta]
}

#[cfg(test)]
mod tests {
    use super::{MAX_SEGMENTS, SEGMENT_MIN, segment_count as segments};

    #[test]
    fn segments_hold_enough_values_and_are_capped() {
        assert_eq!(segments(1, 1), 1);
        assert_eq!(segments(1, SEGMENT_MIN), 1);
        assert_eq!(segments(SEGMENT_MIN + 1, 1), 2);
        assert_eq!(segments(1024, 1024), MAX_SEGMENTS);
        assert_eq!(segments(128, 49), 4);
        // Whole images: two images of many values make two segments, not more.
        assert_eq!(segments(2, 224 * 224), 2);
    }
}
