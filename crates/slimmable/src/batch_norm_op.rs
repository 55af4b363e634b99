//! BatchNorm with batch statistics as one autodiff op: the forward pass computes the
//! statistics and the normalised output, and the backward pass is the closed form of BN's
//! gradient, instead of the gradients of the dozen tensor ops BN is written with.
//!
//! Why: written with tensor ops, each broadcast of a per-channel tensor (`x - mean`,
//! `/ std`, `· γ`, `+ β`) makes autodiff reduce the full-size gradient over the batch and
//! spatial axes, one axis at a time, and the statistics themselves went through a transposed
//! copy of the input. On an H200, a MobileNetV2 sandwich step spent 42 % of its GPU time in
//! 4 053 reduction launches, nearly all of them BN's (docs/BENCHMARKS.md, 2026-12-02). Here a
//! forward pass reduces twice (mean, then variance about it) and a backward pass twice (Σdy,
//! Σdy·x̂), each over the contiguous `[n, c, h·w]` layout, with no transposed copy.
//!
//! The op runs on burn's autodiff over ndarray, wgpu and CUDA (f32), the backends
//! [`crate::type_match`] recognises: on wgpu and CUDA its two passes are this crate's kernels
//! (`batch_norm_kernels.rs`), on ndarray the wrapped backend's own tensor ops. Any other backend
//! keeps the tensor-op path in `norm.rs`.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::tensor::TensorPrimitive::Float;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor};

use crate::activation::Activation;

/// The normalised output of [`batch_norm_train`], with the running statistics.
pub(crate) struct BatchNormOutput<B: Backend, const D: usize> {
    /// `γ · (x − mean) / sqrt(var + ε) + β`, the input's shape.
    pub output: Tensor<B, D>,
    /// The running mean and variance after this batch, full length, when asked for.
    pub running: Option<(Tensor<B, 1>, Tensor<B, 1>)>,
}

/// The running statistics a BatchNorm pass folds its batch into: `(1 − momentum) · old +
/// momentum · batch` on the active channels, the others unchanged.
pub(crate) struct RunningUpdate<B: Backend> {
    /// The running mean, full length.
    pub mean: Tensor<B, 1>,
    /// The running (biased) variance, full length.
    pub var: Tensor<B, 1>,
    /// The batch's weight.
    pub momentum: f64,
}

/// BatchNorm of `x` `[n, c, ...]` with the batch's statistics, then `activation`, as one
/// autodiff op, normalising with the first `c` values of `gamma` and `beta` (full parameters,
/// at least `c` long; their gradients are full length, zero beyond `c`), and with `running`,
/// giving the running statistics after this batch. When `B` is burn's autodiff over a backend
/// this crate recognises, `x` is f32 or bf16 (the output and `x`'s gradient are of `x`'s type:
/// [`ActivationPrecision`](crate::ActivationPrecision)) and the parameters f32; otherwise `x`
/// back.
pub(crate) fn batch_norm_train<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    epsilon: f64,
    running: Option<RunningUpdate<B>>,
    activation: Activation,
) -> Result<BatchNormOutput<B, D>, Tensor<B, D>> {
    if !matches!(x.dtype(), DType::F32 | DType::BF16) || [gamma.dtype(), beta.dtype()].iter().any(|&dtype| dtype != DType::F32) || D < 2 {
        return Err(x);
    }
    let dims = x.dims();
    let [n, c, rest] = [dims[0], dims[1], dims[2..].iter().product()];
    assert!(gamma.dims()[0] >= c && beta.dims()[0] >= c, "batch_norm_train: parameters shorter than the input's {c} channels");
    let prim = |t: Tensor<B, 1>| t.into_primitive().tensor();
    let op = FusedBatchNorm {
        x: x.reshape([n, c, rest]).into_primitive().tensor(),
        gamma: prim(gamma),
        beta: prim(beta),
        epsilon,
        running: running.map(|r| (prim(r.mean), prim(r.var), r.momentum)),
        bounds: activation.bounds(),
    };
    let vector = |t: FloatTensor<B>| Tensor::<B, 1>::from_primitive(Float(t));
    match crate::type_match::on_autodiff::<B, _>(op) {
        Ok((output, running)) => Ok(BatchNormOutput {
            output: Tensor::<B, 3>::from_primitive(Float(output)).reshape(dims),
            running: running.map(|(mean, var)| (vector(mean), vector(var))),
        }),
        Err(op) => Err(Tensor::<B, 3>::from_primitive(Float(op.x)).reshape(dims)),
    }
}

/// The op's inputs: `x` `[n, c, m]`, `gamma` and `beta` (full length), the running statistics,
/// and the activation's clamp.
pub(crate) struct FusedBatchNorm<B: Backend> {
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    epsilon: f64,
    running: Option<(FloatTensor<B>, FloatTensor<B>, f64)>,
    bounds: Option<(f64, f64)>,
}

impl<B: Backend> crate::type_match::AutodiffOp<B> for FusedBatchNorm<B> {
    /// Output `[n, c, m]`, running mean and variance.
    type Output = (FloatTensor<B>, Option<(FloatTensor<B>, FloatTensor<B>)>);

    fn run<I: Backend, C: CheckpointStrategy>(self) -> Self::Output {
        use crate::type_match::same_type;
        let cast = |t: FloatTensor<B>| same_type::<_, FloatTensor<Autodiff<I, C>>>(t).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
        let back = |t: FloatTensor<Autodiff<I, C>>| same_type::<_, FloatTensor<B>>(t).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
        let running = self.running.map(|(mean, var, momentum)| (cast(mean), cast(var), momentum));
        let (output, running) = forward_autodiff::<I, C>(cast(self.x), cast(self.gamma), cast(self.beta), self.epsilon, running, self.bounds);
        (back(output), running.map(|(mean, var)| (back(mean), back(var))))
    }
}

/// What the backward pass keeps, on the wrapped backend.
#[derive(Debug, Clone)]
enum SavedForBackward<I: Backend> {
    /// The tensor-op path: x̂ `[n, c, m]`, the active γ `[c]`, 1/sqrt(var + ε) `[1, c, 1]`, the
    /// parameters' full length, and with an activation, where its gradient passes (1, else 0).
    TensorOps { x_hat: FloatTensor<I>, gamma: FloatTensor<I>, inv_std: FloatTensor<I>, full: usize, passes: Option<FloatTensor<I>> },
    /// The kernel path (`batch_norm_kernels`): x `[n, c, m]` contiguous, the statistics
    /// `[5, c]`, the full γ and the activation's clamp.
    #[cfg(feature = "cube")]
    Kernels { x: FloatTensor<I>, stats: FloatTensor<I>, gamma: FloatTensor<I>, bounds: Option<(f64, f64)> },
}

/// The forward pass's results on the wrapped backend `I`: output `[n, c, m]`, the running
/// statistics after the batch, and what the backward pass keeps.
type Forward<I> = (Tensor<I, 3>, Option<(Tensor<I, 1>, Tensor<I, 1>)>, SavedForBackward<I>);

/// The statistics and output on the wrapped backend `I`; `x` `[n, c, m]`, `gamma` and `beta`
/// full length, the output clamped to `bounds` when given. On burn's cubecl backends, by this
/// crate's kernels; elsewhere, by tensor ops.
fn forward_inner<I: Backend>(
    x: Tensor<I, 3>,
    gamma: Tensor<I, 1>,
    beta: Tensor<I, 1>,
    epsilon: f64,
    running: Option<(Tensor<I, 1>, Tensor<I, 1>, f64)>,
    bounds: Option<(f64, f64)>,
) -> Forward<I> {
    #[cfg(feature = "cube")]
    let (x, gamma, beta, running) = {
        let prim = |t: Tensor<I, 1>| t.into_primitive().tensor();
        let op = on_cube::ForwardOnCube {
            x: x.into_primitive().tensor(),
            gamma: prim(gamma),
            beta: prim(beta),
            epsilon,
            running: running.map(|(mean, var, momentum)| (prim(mean), prim(var), momentum)),
            bounds,
        };
        match crate::type_match::on_cube::<I, _>(op) {
            Ok(done) => return done,
            Err(op) => {
                let vector = |t: FloatTensor<I>| Tensor::<I, 1>::from_primitive(Float(t));
                (
                    Tensor::<I, 3>::from_primitive(Float(op.x)),
                    vector(op.gamma),
                    vector(op.beta),
                    op.running.map(|(mean, var, momentum)| (vector(mean), vector(var), momentum)),
                )
            }
        }
    };
    // The tensor ops in the parameters' type (a bf16 input cast; its gradient comes back f32).
    let x = crate::with_dtype(x, gamma.dtype());
    let [n, c, m] = x.dims();
    let full = gamma.dims()[0];
    let (gamma, beta) = (gamma.slice(0..c), beta.slice(0..c));
    let count = (n * m) as f64;
    // Per channel over the batch and positions: the contiguous axis first, then the batch.
    let per_channel_mean = |t: Tensor<I, 3>| t.sum_dim(2).sum_dim(0).div_scalar(count);
    let mean = per_channel_mean(x.clone());
    let centred = x.sub(mean.clone());
    let var = per_channel_mean(centred.clone().square());
    let inv_std = var.clone().add_scalar(epsilon).sqrt().recip();
    let x_hat = centred.mul(inv_std.clone());
    let output = x_hat.clone().mul(gamma.clone().reshape([1, c, 1])).add(beta.reshape([1, c, 1]));
    let passes = bounds.map(|(low, high)| output.clone().greater_elem(low).bool_and(output.clone().lower_elem(high)).float().into_primitive().tensor());
    let output = match bounds {
        Some((low, high)) => output.clamp(low, high),
        None => output,
    };
    let (mean, var) = (mean.reshape([c]), var.reshape([c]));
    // (1 − w) · old + w · batch on the first c channels.
    let blend = |old: Tensor<I, 1>, batch: Tensor<I, 1>, w: f64| {
        let active = old.clone().slice(0..c).mul_scalar(1.0 - w).add(batch.mul_scalar(w));
        old.slice_assign(0..c, active)
    };
    let running = running.map(|(old_mean, old_var, w)| (blend(old_mean, mean, w), blend(old_var, var, w)));
    let saved = SavedForBackward::TensorOps {
        x_hat: x_hat.into_primitive().tensor(),
        gamma: gamma.into_primitive().tensor(),
        inv_std: inv_std.into_primitive().tensor(),
        full,
        passes,
    };
    (output, running, saved)
}

/// The gradients of `x`, `γ` and `β` for the output gradient `grad` `[n, c, m]`:
/// `dβ = Σ dy`, `dγ = Σ dy·x̂`, `dx = γ/σ · (dy − dβ/N − x̂ · dγ/N)`, sums over batch and
/// positions (N of them); `dγ` and `dβ` full length, zero beyond the active channels.
fn backward_inner<I: Backend>(grad: Tensor<I, 3>, saved: SavedForBackward<I>) -> [FloatTensor<I>; 3] {
    let (x_hat, gamma, inv_std, full, passes) = match saved {
        SavedForBackward::TensorOps { x_hat, gamma, inv_std, full, passes } => (x_hat, gamma, inv_std, full, passes),
        #[cfg(feature = "cube")]
        saved @ SavedForBackward::Kernels { .. } => {
            let op = on_cube::BackwardOnCube { grad: grad.into_primitive().tensor(), saved };
            return crate::type_match::on_cube::<I, _>(op)
                .unwrap_or_else(|_| unreachable!("only a cubecl backend saves for the kernel path"));
        }
    };
    // Through the activation first: zero where it was clamped.
    let grad = match passes {
        Some(passes) => grad.mul(Tensor::from_primitive(Float(passes))),
        None => grad,
    };
    let [n, c, m] = grad.dims();
    let count = (n * m) as f64;
    let x_hat = Tensor::<I, 3>::from_primitive(Float(x_hat));
    let gamma = Tensor::<I, 1>::from_primitive(Float(gamma)).reshape([1, c, 1]);
    let inv_std = Tensor::<I, 3>::from_primitive(Float(inv_std));
    let per_channel_sum = |t: Tensor<I, 3>| t.sum_dim(2).sum_dim(0);
    let grad_beta = per_channel_sum(grad.clone());
    let grad_gamma = per_channel_sum(grad.clone().mul(x_hat.clone()));
    let grad_x = grad
        .sub(grad_beta.clone().div_scalar(count))
        .sub(x_hat.mul(grad_gamma.clone().div_scalar(count)))
        .mul(gamma.mul(inv_std));
    let device = grad_x.device();
    let full_length = |t: Tensor<I, 3>| match c < full {
        true => Tensor::cat(vec![t.reshape([c]), Tensor::zeros([full - c], &device)], 0),
        false => t.reshape([c]),
    };
    [grad_x.into_primitive().tensor(), full_length(grad_gamma).into_primitive().tensor(), full_length(grad_beta).into_primitive().tensor()]
}

/// Both passes on burn's cubecl backends, by `batch_norm_kernels`.
#[cfg(feature = "cube")]
mod on_cube {
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::FloatTensor;
    use burn::tensor::{Tensor, TensorPrimitive::Float};
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeRuntime};

    use super::{Forward, SavedForBackward};
    use crate::batch_norm_kernels::{BatchStats, Running, batch_norm_grads, batch_stats, channel_affine};
    use crate::type_match::{CubeOp, same_type};

    /// A tensor of `I` as the `CubeTensor` it is (`run` is called only when `I` is a cubecl
    /// backend).
    fn to_cube<I: Backend, R: CubeRuntime>(t: FloatTensor<I>) -> CubeTensor<R> {
        same_type(t).unwrap_or_else(|_| unreachable!("I is a cubecl backend"))
    }

    fn from_cube<I: Backend, R: CubeRuntime>(t: CubeTensor<R>) -> FloatTensor<I> {
        same_type(t).unwrap_or_else(|_| unreachable!("I is a cubecl backend"))
    }

    pub(super) struct ForwardOnCube<I: Backend> {
        pub(super) x: FloatTensor<I>,
        pub(super) gamma: FloatTensor<I>,
        pub(super) beta: FloatTensor<I>,
        pub(super) epsilon: f64,
        pub(super) running: Option<(FloatTensor<I>, FloatTensor<I>, f64)>,
        pub(super) bounds: Option<(f64, f64)>,
    }

    impl<I: Backend> CubeOp<I> for ForwardOnCube<I> {
        type Output = Forward<I>;

        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            let running = self.running.map(|(mean, var, momentum)| Running { mean: to_cube::<I, R>(mean), var: to_cube::<I, R>(var), momentum });
            let gamma = to_cube::<I, R>(self.gamma);
            let BatchStats { x, stats, running } =
                batch_stats::<R, f32>(to_cube::<I, R>(self.x), gamma.clone(), to_cube::<I, R>(self.beta), self.epsilon, running);
            let output = channel_affine::<R, f32>(&x, &stats, self.bounds);
            let vector = |t: CubeTensor<R>| Tensor::<I, 1>::from_primitive(Float(from_cube::<I, R>(t)));
            let saved = SavedForBackward::Kernels { x: from_cube::<I, R>(x), stats: from_cube::<I, R>(stats), gamma: from_cube::<I, R>(gamma), bounds: self.bounds };
            let output = Tensor::<I, 3>::from_primitive(Float(from_cube::<I, R>(output)));
            (output, running.map(|(mean, var)| (vector(mean), vector(var))), saved)
        }
    }

    pub(super) struct BackwardOnCube<I: Backend> {
        pub(super) grad: FloatTensor<I>,
        pub(super) saved: SavedForBackward<I>,
    }

    impl<I: Backend> CubeOp<I> for BackwardOnCube<I> {
        type Output = [FloatTensor<I>; 3];

        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            let SavedForBackward::Kernels { x, stats, gamma, bounds } = self.saved else {
                unreachable!("the kernel path saves for the kernel path")
            };
            let [x, stats, gamma] = [x, stats, gamma].map(to_cube::<I, R>);
            batch_norm_grads::<R, f32>(to_cube::<I, R>(self.grad), &x, &stats, gamma, bounds).map(from_cube::<I, R>)
        }
    }
}

/// The backward step recorded in the autodiff graph.
#[derive(Debug)]
struct BatchNormBackward;

impl<I: Backend> Backward<I, 3> for BatchNormBackward {
    type State = SavedForBackward<I>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let grad = Tensor::<I, 3>::from_primitive(Float(grads.consume::<I>(&ops.node)));
        let [grad_x, grad_gamma, grad_beta] = backward_inner(grad, ops.state);
        for (node, grad) in [(x_node, grad_x), (gamma_node, grad_gamma), (beta_node, grad_beta)] {
            if let Some(node) = node {
                grads.register::<I>(node.id, grad);
            }
        }
    }
}

/// The op on `Autodiff<I, C>`: output tracked, running statistics untracked.
#[allow(clippy::type_complexity)]
fn forward_autodiff<I: Backend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<I, C>>,
    gamma: FloatTensor<Autodiff<I, C>>,
    beta: FloatTensor<Autodiff<I, C>>,
    epsilon: f64,
    running: Option<(FloatTensor<Autodiff<I, C>>, FloatTensor<Autodiff<I, C>>, f64)>,
    bounds: Option<(f64, f64)>,
) -> (FloatTensor<Autodiff<I, C>>, Option<(FloatTensor<Autodiff<I, C>>, FloatTensor<Autodiff<I, C>>)>) {
    let inner = |t: FloatTensor<I>| Tensor::<I, 1>::from_primitive(Float(t));
    let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
    let running = running.map(|(mean, var, momentum)| (inner(mean.primitive), inner(var.primitive), momentum));
    let (output, running, saved) =
        forward_inner(Tensor::<I, 3>::from_primitive(Float(x.primitive)), inner(gamma.primitive), inner(beta.primitive), epsilon, running, bounds);
    let untracked = |t: FloatTensor<I>| <Autodiff<I, C> as AutodiffBackend>::from_inner(t);
    let output = output.into_primitive().tensor();
    let output = match BatchNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(saved, output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    let running = running.map(|(mean, var)| (untracked(mean.into_primitive().tensor()), untracked(var.into_primitive().tensor())));
    (output, running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NdArrayAd, assert_close, random};

    /// BN written with tensor ops: what autodiff differentiates without this op.
    fn reference<B: Backend, const D: usize>(x: Tensor<B, D>, gamma: Tensor<B, 1>, beta: Tensor<B, 1>) -> Tensor<B, D> {
        let dims = x.dims();
        let [n, c] = [dims[0], dims[1]];
        let x3 = x.reshape([n, c, dims[2..].iter().product::<usize>()]);
        let mean = x3.clone().mean_dim(2).mean_dim(0);
        let var = x3.clone().sub(mean.clone()).square().mean_dim(2).mean_dim(0);
        let y = x3.sub(mean).div(var.add_scalar(1e-5).sqrt()).mul(gamma.reshape([1, c, 1])).add(beta.reshape([1, c, 1]));
        y.reshape(dims)
    }

    /// The op with parameters `full` channels long (the input has `shape[1] ≤ full`), an input
    /// shifted by `offset` and `activation` after it, against the tensor ops on the active
    /// slices: output, running statistics after the batch, and all three gradients (zero
    /// beyond the active channels).
    fn matches_tensor_ops_with_gradients<B: AutodiffBackend, const D: usize>(shape: [usize; D], full: usize, offset: f64, activation: Activation, device: &B::Device) {
        let c = shape[1];
        // Not centred, not unit: the statistics matter.
        let x = random::<B, D>(shape, device).mul_scalar(3.0).add_scalar(offset).require_grad();
        // γ of a few units: ReLU6's upper bound is met too.
        let gamma_full = random::<B, 1>([full], device).mul_scalar(3.0).require_grad();
        let beta_full = random::<B, 1>([full], device).require_grad();
        let (old_mean, old_var) = (random::<B, 1>([full], device), random::<B, 1>([full], device).abs());
        let running = RunningUpdate { mean: old_mean.clone(), var: old_var.clone(), momentum: 0.25 };
        let fused = batch_norm_train(x.clone(), gamma_full.clone(), beta_full.clone(), 1e-5, Some(running), activation).unwrap_or_else(|_| panic!("no fused op"));
        let expected = activation.apply(reference(x.clone(), gamma_full.clone().slice(0..c), beta_full.clone().slice(0..c)));
        assert_close(fused.output.clone(), expected.clone(), 1e-4);
        let dims = x.dims();
        let x3 = x.clone().detach().reshape([dims[0], c, dims[2..].iter().product::<usize>()]);
        let mean = x3.clone().mean_dim(2).mean_dim(0).reshape([c]);
        let var = x3.clone().sub(x3.mean_dim(2).mean_dim(0)).square().mean_dim(2).mean_dim(0).reshape([c]);
        // The batch statistics, through the running ones: a quarter of each in the blend.
        let (new_mean, new_var) = fused.running.expect("running statistics were asked for");
        let blend = |old: Tensor<B, 1>, batch: Tensor<B, 1>| old.clone().slice_assign(0..c, old.slice(0..c).mul_scalar(0.75).add(batch.mul_scalar(0.25)));
        assert_close(new_mean, blend(old_mean, mean), 1e-4);
        assert_close(new_var, blend(old_var, var), 1e-3);
        let mask = random::<B, D>(shape, device);
        let ours = fused.output.mul(mask.clone()).sum().backward();
        let theirs = expected.mul(mask).sum().backward();
        assert_close(x.grad(&ours).unwrap(), x.grad(&theirs).unwrap(), 1e-4);
        assert_close(gamma_full.grad(&ours).unwrap(), gamma_full.grad(&theirs).unwrap(), 1e-3);
        assert_close(beta_full.grad(&ours).unwrap(), beta_full.grad(&theirs).unwrap(), 1e-3);
        crate::test_support::assert_inactive_zero(gamma_full.grad(&ours).unwrap(), &[0..c]);
        crate::test_support::assert_inactive_zero(beta_full.grad(&ours).unwrap(), &[0..c]);
    }

    fn matches_tensor_ops<B: AutodiffBackend>(device: &B::Device) {
        let none = Activation::Identity;
        matches_tensor_ops_with_gradients::<B, 4>([4, 6, 5, 3], 6, 1.5, none, device);
        matches_tensor_ops_with_gradients::<B, 2>([16, 5], 5, 1.5, none, device);
        matches_tensor_ops_with_gradients::<B, 3>([3, 4, 7], 4, 1.5, none, device);
        // Planes of 1 600 values (six and a quarter cubes' worth): two segments of one image.
        matches_tensor_ops_with_gradients::<B, 4>([2, 3, 40, 40], 3, 1.5, none, device);
        // Six segments of two images.
        matches_tensor_ops_with_gradients::<B, 4>([12, 2, 32, 32], 2, 1.5, none, device);
        // Planes of 25 values, ten images side by side in a cube: four segments of 75 images,
        // the last group of each five images short.
        matches_tensor_ops_with_gradients::<B, 4>([300, 2, 5, 5], 2, 1.5, none, device);
        // One cube a channel, a thread taking four images at once then the rest one by one:
        // planes of 400 vectors, two images side by side, nine images; planes of 1 296 vectors
        // (more than a cube's threads: two strides), six images.
        matches_tensor_ops_with_gradients::<B, 4>([9, 2, 40, 40], 2, 1.5, none, device);
        matches_tensor_ops_with_gradients::<B, 4>([6, 2, 72, 72], 2, 1.5, none, device);
        // Far from zero: the sums are shifted, so the variance does not cancel away.
        matches_tensor_ops_with_gradients::<B, 4>([4, 3, 16, 16], 3, 200.0, none, device);
        // Over `DEFAULT_BATCH_NORM_ONE_CUBE_MAX` values a channel (the kernels' segments and
        // finishing launches; the shapes above are under it, one cube a channel): planes of 2 304 values, 20
        // segments of one image; and planes of 25 values, ten images side by side in a cube.
        for shape in [[20, 2, 48, 48], [1400, 2, 5, 5]] {
            assert!(shape[0] * shape[2] * shape[3] > crate::DEFAULT_BATCH_NORM_ONE_CUBE_MAX);
            matches_tensor_ops_with_gradients::<B, 4>(shape, 2, 1.5, none, device);
            matches_tensor_ops_with_gradients::<B, 4>(shape, 3, 1.5, Activation::Relu6, device);
        }
        // 85 segments of eight images (two runs of four at once) of 289 values, read one at a
        // time (an odd plane): two strides of a segment's cube.
        matches_tensor_ops_with_gradients::<B, 4>([600, 2, 17, 17], 2, 1.5, none, device);
        // 40 segments of one image (a channel's 32 threads finishing it take two each, some),
        // and 10 active channels of 19 (the finishing launch's two cubes of eight channels).
        // (No clamp: over 900 000 values, some pre-activation falls within rounding of the
        // clamp's bound, where the op and the tensor ops may pass or stop its gradient.)
        matches_tensor_ops_with_gradients::<B, 4>([40, 10, 48, 48], 19, 1.5, none, device);
    }

    /// A slimmable BN's active channels: the parameters and running statistics are longer than
    /// the input's channels, and only their first channels are read and updated.
    fn full_length_parameters<B: AutodiffBackend>(device: &B::Device) {
        matches_tensor_ops_with_gradients::<B, 4>([3, 4, 5, 5], 10, 1.5, Activation::Identity, device);
        matches_tensor_ops_with_gradients::<B, 2>([16, 7], 9, 1.5, Activation::Identity, device);
        // More inactive channels than a cube has threads: several cubes of them.
        matches_tensor_ops_with_gradients::<B, 4>([3, 4, 5, 5], 600, 1.5, Activation::Identity, device);
    }

    /// ReLU and ReLU6 in the op: outputs clamped, gradients zero where they were, the
    /// statistics' gradients through the masked output gradient.
    fn activations_in_the_same_pass<B: AutodiffBackend>(device: &B::Device) {
        for activation in [Activation::Relu, Activation::Relu6] {
            matches_tensor_ops_with_gradients::<B, 4>([4, 6, 5, 3], 8, 1.5, activation, device);
            matches_tensor_ops_with_gradients::<B, 4>([12, 2, 32, 32], 2, 1.5, activation, device);
        }
    }

    /// Without running statistics, none come back; sliced parameters get gradients in their
    /// slice only.
    fn without_running_statistics<B: AutodiffBackend>(device: &B::Device) {
        let x = random::<B, 4>([3, 4, 5, 5], device).require_grad();
        let gamma_full = random::<B, 1>([10], device).require_grad();
        let beta_full = random::<B, 1>([10], device).require_grad();
        let fused = batch_norm_train(x.clone(), gamma_full.clone().slice(0..4), beta_full.clone().slice(0..4), 1e-5, None, Activation::Identity)
            .unwrap_or_else(|_| panic!("no fused op"));
        assert!(fused.running.is_none());
        let grads = fused.output.mul(random::<B, 4>([3, 4, 5, 5], device)).sum().backward();
        crate::test_support::assert_inactive_zero(gamma_full.grad(&grads).unwrap(), &[0..4]);
        crate::test_support::assert_inactive_zero(beta_full.grad(&grads).unwrap(), &[0..4]);
    }

    /// Whichever way the kernels split a channel (`set_batch_norm_one_cube_max`: 0 never one
    /// cube a channel, `usize::MAX` always) and however many threads a one-cube cube has
    /// (`set_batch_norm_one_cube_threads`), the same results; then the defaults again. (On
    /// ndarray the settings change nothing.)
    fn any_one_cube_setting<B: AutodiffBackend>(device: &B::Device) {
        /// Puts the defaults back however the test ends (a failed assertion included), so
        /// that the tests after it run as written.
        struct Defaults;
        impl Drop for Defaults {
            fn drop(&mut self) {
                crate::set_batch_norm_one_cube_max(crate::DEFAULT_BATCH_NORM_ONE_CUBE_MAX);
                crate::set_batch_norm_one_cube_threads(crate::DEFAULT_BATCH_NORM_ONE_CUBE_THREADS).unwrap();
            }
        }
        let _defaults = Defaults;
        let settings = [(0, 1024), (usize::MAX, crate::MIN_BATCH_NORM_ONE_CUBE_THREADS), (usize::MAX, 256), (usize::MAX, 1024)];
        for (most, threads) in settings {
            crate::set_batch_norm_one_cube_max(most);
            crate::set_batch_norm_one_cube_threads(threads).unwrap();
            // Planes of 2 304 values, 20 images (over the default one-cube bound); planes of
            // 25 values side by side; more inactive channels than a cube of the fewest threads.
            matches_tensor_ops_with_gradients::<B, 4>([20, 2, 48, 48], 3, 1.5, Activation::Identity, device);
            matches_tensor_ops_with_gradients::<B, 4>([300, 2, 5, 5], 2, 1.5, Activation::Relu6, device);
            matches_tensor_ops_with_gradients::<B, 4>([3, 4, 5, 5], 600, 1.5, Activation::Identity, device);
        }
    }

    crate::test_support::backend_tests!(
        matches_tensor_ops, full_length_parameters, activations_in_the_same_pass, without_running_statistics;
        changing_settings: any_one_cube_setting
    );

    /// A bf16 input (a conv's output with bf16 activations, `ActivationPrecision`): the output
    /// and the input's gradient are bf16 and equal the f32 op's on the same values within
    /// bf16's rounding of what the kernels write (the statistics and arithmetic are f32 in
    /// both); γ's and β's gradients are f32 and agree closely.
    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_a_bf16_input_gives_a_bf16_output_and_gradient_equal_to_the_f32_ones() {
        let _settings = crate::test_support::using_settings();
        use crate::test_support::{CudaAd, assert_close_named};
        use burn::tensor::FloatDType;
        let device = Default::default();
        let max = |t: Tensor<CudaAd, 4>| -> f32 { t.abs().max().into_scalar() };
        for activation in [Activation::Identity, Activation::Relu] {
            // The last over `DEFAULT_BATCH_NORM_ONE_CUBE_MAX` values a channel: the segmented
            // kernels.
            for (shape, offset) in [([4, 6, 5, 3], 1.5), ([12, 2, 32, 32], 1.5), ([8, 16, 8, 8], 50.0), ([20, 2, 48, 48], 1.5)] {
                let x = random::<CudaAd, 4>(shape, &device).mul_scalar(3.0).add_scalar(offset).cast(FloatDType::BF16).detach();
                let (x16, x32) = (x.clone().require_grad(), x.cast(FloatDType::F32).require_grad());
                let params = |seed: f64| random::<CudaAd, 1>([shape[1] + 2], &device).add_scalar(seed);
                let (gamma, beta) = (params(1.0), params(0.0));
                let (g16, b16) = (gamma.clone().require_grad(), beta.clone().require_grad());
                let (g32, b32) = (gamma.require_grad(), beta.require_grad());
                // bf16 values: the bf16 output's gradient (the probe cast back) is exact.
                let probe = random::<CudaAd, 4>(shape, &device).cast(FloatDType::BF16).cast(FloatDType::F32);
                let out16 = batch_norm_train(x16.clone(), g16.clone(), b16.clone(), 1e-5, None, activation).unwrap_or_else(|_| panic!("no fused op for bf16"));
                let out32 = batch_norm_train(x32.clone(), g32.clone(), b32.clone(), 1e-5, None, activation).unwrap_or_else(|_| panic!("no fused op"));
                assert_eq!(out16.output.dtype(), DType::BF16, "{shape:?}");
                let out16 = out16.output.cast(FloatDType::F32);
                let what = format!("{activation:?} of {shape:?}");
                assert_close_named(out16.clone(), out32.output.clone(), 0.01 * max(out32.output.clone()), &format!("the output, {what}"));
                let grads16 = out16.mul(probe.clone()).sum().backward();
                let grads32 = out32.output.mul(probe).sum().backward();
                let dx16 = x16.grad(&grads16).expect("the bf16 input has a gradient");
                assert_eq!(dx16.dtype(), DType::BF16, "{what}");
                let dx32 = x32.grad(&grads32).unwrap();
                let scale = dx32.clone().abs().max().into_scalar();
                assert_close_named(dx16.cast(FloatDType::F32), dx32, 0.01 * scale, &format!("the input's gradient, {what}"));
                for (ours, theirs, name) in [(g16, g32, "γ"), (b16, b32, "β")] {
                    let (ours, theirs) = (ours.grad(&grads16).unwrap(), theirs.grad(&grads32).unwrap());
                    assert_eq!(ours.dtype(), DType::F32);
                    let scale: f32 = theirs.clone().abs().max().into_scalar();
                    assert_close_named(ours, theirs, 1e-3 * scale.max(1.0), &format!("{name}'s gradient, {what}"));
                }
            }
        }
    }

    #[test]
    fn other_backends_and_dtypes_get_their_tensors_back() {
        let _settings = crate::test_support::using_settings();
        let device = Default::default();
        // Without autodiff there is nothing to fuse for.
        let x = random::<burn::backend::NdArray, 4>([2, 3, 2, 2], &device);
        let g = random::<burn::backend::NdArray, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5, None, Activation::Identity).is_err());
        // f64 is not recognised.
        type Ad64 = burn::backend::Autodiff<burn::backend::NdArray<f64>>;
        let x = random::<Ad64, 4>([2, 3, 2, 2], &device);
        let g = random::<Ad64, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5, None, Activation::Identity).is_err());
        // The recognised one runs.
        let x = random::<NdArrayAd, 4>([2, 3, 2, 2], &device);
        let g = random::<NdArrayAd, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5, None, Activation::Identity).is_ok());
    }
}
