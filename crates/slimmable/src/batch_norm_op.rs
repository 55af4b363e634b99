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

/// The normalised output of [`batch_norm_train`], with the batch's statistics.
pub(crate) struct BatchNormOutput<B: Backend, const D: usize> {
    /// `γ · (x − mean) / sqrt(var + ε) + β`, the input's shape.
    pub output: Tensor<B, D>,
    /// The batch mean of each channel, `[c]`, detached.
    pub mean: Tensor<B, 1>,
    /// The biased batch variance of each channel, `[c]`, detached.
    pub var: Tensor<B, 1>,
}

/// BatchNorm of `x` `[n, c, ...]` with the batch's statistics, `gamma` and `beta` `[c]`, as one
/// autodiff op, when `B` is burn's autodiff over a backend this crate recognises and the
/// tensors are f32; otherwise the tensors back.
#[allow(clippy::type_complexity)]
pub(crate) fn batch_norm_train<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    epsilon: f64,
) -> Result<BatchNormOutput<B, D>, (Tensor<B, D>, Tensor<B, 1>, Tensor<B, 1>)> {
    if [x.dtype(), gamma.dtype(), beta.dtype()].iter().any(|&dtype| dtype != DType::F32) || D < 2 {
        return Err((x, gamma, beta));
    }
    let dims = x.dims();
    let [n, c, rest] = [dims[0], dims[1], dims[2..].iter().product()];
    let x3 = x.reshape([n, c, rest]).into_primitive().tensor();
    let (g, b) = (gamma.into_primitive().tensor(), beta.into_primitive().tensor());
    match crate::type_match::on_autodiff::<B, _>(FusedBatchNorm { x: x3, gamma: g, beta: b, epsilon }) {
        Ok((output, mean, var)) => Ok(BatchNormOutput {
            output: Tensor::<B, 3>::from_primitive(Float(output)).reshape(dims),
            mean: Tensor::from_primitive(Float(mean)),
            var: Tensor::from_primitive(Float(var)),
        }),
        Err(op) => Err((
            Tensor::<B, 3>::from_primitive(Float(op.x)).reshape(dims),
            Tensor::from_primitive(Float(op.gamma)),
            Tensor::from_primitive(Float(op.beta)),
        )),
    }
}

/// The op's inputs: `x` `[n, c, m]`, `gamma` and `beta` `[c]`.
pub(crate) struct FusedBatchNorm<B: Backend> {
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    epsilon: f64,
}

impl<B: Backend> crate::type_match::AutodiffOp<B> for FusedBatchNorm<B> {
    /// Output `[n, c, m]`, mean and variance `[c]`.
    type Output = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn run<I: Backend, C: CheckpointStrategy>(self) -> Self::Output {
        use crate::type_match::same_type;
        let cast = |t: FloatTensor<B>| same_type::<_, FloatTensor<Autodiff<I, C>>>(t).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
        let back = |t: FloatTensor<Autodiff<I, C>>| same_type::<_, FloatTensor<B>>(t).unwrap_or_else(|_| unreachable!("B is Autodiff<I, C>"));
        let (output, mean, var) = forward_autodiff::<I, C>(cast(self.x), cast(self.gamma), cast(self.beta), self.epsilon);
        (back(output), back(mean), back(var))
    }
}

/// What the backward pass keeps, on the wrapped backend.
#[derive(Debug, Clone)]
enum SavedForBackward<I: Backend> {
    /// The tensor-op path: x̂ `[n, c, m]`, γ `[c]` and 1/sqrt(var + ε) `[1, c, 1]`.
    TensorOps { x_hat: FloatTensor<I>, gamma: FloatTensor<I>, inv_std: FloatTensor<I> },
    /// The kernel path (`batch_norm_kernels`): x `[n, c, m]` contiguous, and the mean, γ and
    /// 1/sqrt(var + ε), `[c]` each.
    #[cfg(feature = "cube")]
    Kernels { x: FloatTensor<I>, mean: FloatTensor<I>, gamma: FloatTensor<I>, inv_std: FloatTensor<I> },
}

/// The statistics and output on the wrapped backend `I`; `x` `[n, c, m]`. On burn's cubecl
/// backends, by this crate's kernels; elsewhere, by tensor ops.
fn forward_inner<I: Backend>(
    x: Tensor<I, 3>,
    gamma: Tensor<I, 1>,
    beta: Tensor<I, 1>,
    epsilon: f64,
) -> (Tensor<I, 3>, Tensor<I, 1>, Tensor<I, 1>, SavedForBackward<I>) {
    #[cfg(feature = "cube")]
    let (x, gamma, beta) = {
        let op = on_cube::ForwardOnCube { x: x.into_primitive().tensor(), gamma: gamma.into_primitive().tensor(), beta: beta.into_primitive().tensor(), epsilon };
        match crate::type_match::on_cube::<I, _>(op) {
            Ok(done) => return done,
            Err(op) => (
                Tensor::<I, 3>::from_primitive(Float(op.x)),
                Tensor::<I, 1>::from_primitive(Float(op.gamma)),
                Tensor::<I, 1>::from_primitive(Float(op.beta)),
            ),
        }
    };
    let [n, c, m] = x.dims();
    let count = (n * m) as f64;
    // Per channel over the batch and positions: the contiguous axis first, then the batch.
    let per_channel_mean = |t: Tensor<I, 3>| t.sum_dim(2).sum_dim(0).div_scalar(count);
    let mean = per_channel_mean(x.clone());
    let centred = x.sub(mean.clone());
    let var = per_channel_mean(centred.clone().square());
    let inv_std = var.clone().add_scalar(epsilon).sqrt().recip();
    let x_hat = centred.mul(inv_std.clone());
    let output = x_hat.clone().mul(gamma.clone().reshape([1, c, 1])).add(beta.reshape([1, c, 1]));
    let saved = SavedForBackward::TensorOps {
        x_hat: x_hat.into_primitive().tensor(),
        gamma: gamma.into_primitive().tensor(),
        inv_std: inv_std.into_primitive().tensor(),
    };
    (output, mean.reshape([c]), var.reshape([c]), saved)
}

/// The gradients of `x`, `γ` and `β` for the output gradient `grad` `[n, c, m]`:
/// `dβ = Σ dy`, `dγ = Σ dy·x̂`, `dx = γ/σ · (dy − dβ/N − x̂ · dγ/N)`, sums over batch and
/// positions (N of them).
fn backward_inner<I: Backend>(grad: Tensor<I, 3>, saved: SavedForBackward<I>) -> (Tensor<I, 3>, Tensor<I, 1>, Tensor<I, 1>) {
    let (x_hat, gamma, inv_std) = match saved {
        SavedForBackward::TensorOps { x_hat, gamma, inv_std } => (x_hat, gamma, inv_std),
        #[cfg(feature = "cube")]
        saved @ SavedForBackward::Kernels { .. } => {
            let op = on_cube::BackwardOnCube { grad: grad.into_primitive().tensor(), saved };
            return crate::type_match::on_cube::<I, _>(op)
                .unwrap_or_else(|_| unreachable!("only a cubecl backend saves for the kernel path"));
        }
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
    (grad_x, grad_gamma.reshape([c]), grad_beta.reshape([c]))
}

/// Both passes on burn's cubecl backends, by `batch_norm_kernels`.
#[cfg(feature = "cube")]
mod on_cube {
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::FloatTensor;
    use burn::tensor::{Tensor, TensorPrimitive::Float};
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime};

    use super::SavedForBackward;
    use crate::batch_norm_kernels::{channel_affine, channel_affine2, channel_grad_sums, channel_stats};
    use crate::type_match::{CubeOp, same_type};

    type K<R, BT> = CubeBackend<R, f32, i32, BT>;

    /// A tensor of `I` as the `CubeTensor` it is (`run` is called only when `I` is `K<R, BT>`).
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
    }

    impl<I: Backend> CubeOp<I> for ForwardOnCube<I> {
        type Output = (Tensor<I, 3>, Tensor<I, 1>, Tensor<I, 1>, SavedForBackward<I>);

        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            let (x, mean, var) = channel_stats::<R, f32, i32, BT>(to_cube::<I, R>(self.x));
            let gamma = Tensor::<K<R, BT>, 1>::from_primitive(Float(to_cube::<I, R>(self.gamma)));
            let beta = Tensor::<K<R, BT>, 1>::from_primitive(Float(to_cube::<I, R>(self.beta)));
            let inv_std = var.clone().add_scalar(self.epsilon).sqrt().recip();
            let scale = gamma.clone().mul(inv_std.clone());
            let shift = beta.sub(mean.clone().mul(scale.clone()));
            let output = channel_affine::<R, f32>(&x, scale.into_primitive().tensor(), shift.into_primitive().tensor());
            let back = |t: Tensor<K<R, BT>, 1>| from_cube::<I, R>(t.into_primitive().tensor());
            let saved = SavedForBackward::Kernels {
                x: from_cube::<I, R>(x),
                mean: back(mean.clone()),
                gamma: back(gamma),
                inv_std: back(inv_std),
            };
            let vector = |t: Tensor<K<R, BT>, 1>| Tensor::<I, 1>::from_primitive(Float(back(t)));
            (Tensor::from_primitive(Float(from_cube::<I, R>(output))), vector(mean), vector(var), saved)
        }
    }

    pub(super) struct BackwardOnCube<I: Backend> {
        pub(super) grad: FloatTensor<I>,
        pub(super) saved: SavedForBackward<I>,
    }

    impl<I: Backend> CubeOp<I> for BackwardOnCube<I> {
        type Output = (Tensor<I, 3>, Tensor<I, 1>, Tensor<I, 1>);

        /// With `s = 1/σ`, `S = Σ dy·(x − μ)` and `N` values per channel:
        /// `dx = γs·dy − γs³·S/N·(x − μ) − γs·Σdy/N`, `dγ = s·S`, `dβ = Σ dy`.
        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            let SavedForBackward::Kernels { x, mean, gamma, inv_std } = self.saved else {
                unreachable!("the kernel path saves for the kernel path")
            };
            let vector = |t: FloatTensor<I>| Tensor::<K<R, BT>, 1>::from_primitive(Float(to_cube::<I, R>(t)));
            let x = to_cube::<I, R>(x);
            let [n, _, m] = x.meta.shape().dims::<3>();
            let count = (n * m) as f64;
            let (mean, gamma, s) = (vector(mean), vector(gamma), vector(inv_std));
            let (dy, sum_dy, sum_dy_xc) =
                channel_grad_sums::<R, f32, i32, BT>(to_cube::<I, R>(self.grad), &x, mean.clone().into_primitive().tensor());
            let a = gamma.mul(s.clone());
            let b = a.clone().mul(s.clone().square()).mul(sum_dy_xc.clone()).div_scalar(-count);
            let d = a.clone().mul(sum_dy.clone()).div_scalar(-count).sub(b.clone().mul(mean));
            let prims = [a, b, d].map(|t| t.into_primitive().tensor());
            let grad_x = channel_affine2::<R, f32>(&dy, &x, prims);
            let back = |t: Tensor<K<R, BT>, 1>| Tensor::<I, 1>::from_primitive(Float(from_cube::<I, R>(t.into_primitive().tensor())));
            (Tensor::from_primitive(Float(from_cube::<I, R>(grad_x))), back(sum_dy_xc.mul(s)), back(sum_dy))
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
        let (grad_x, grad_gamma, grad_beta) = backward_inner(grad, ops.state);
        for (node, grad) in [
            (x_node, grad_x.into_primitive().tensor()),
            (gamma_node, grad_gamma.into_primitive().tensor()),
            (beta_node, grad_beta.into_primitive().tensor()),
        ] {
            if let Some(node) = node {
                grads.register::<I>(node.id, grad);
            }
        }
    }
}

/// The op on `Autodiff<I, C>`: output tracked, statistics untracked.
fn forward_autodiff<I: Backend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<I, C>>,
    gamma: FloatTensor<Autodiff<I, C>>,
    beta: FloatTensor<Autodiff<I, C>>,
    epsilon: f64,
) -> (FloatTensor<Autodiff<I, C>>, FloatTensor<Autodiff<I, C>>, FloatTensor<Autodiff<I, C>>) {
    let inner = |t: FloatTensor<I>| Tensor::<I, 1>::from_primitive(Float(t));
    let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
    let (output, mean, var, saved) = forward_inner(
        Tensor::<I, 3>::from_primitive(Float(x.primitive)),
        inner(gamma.primitive),
        inner(beta.primitive),
        epsilon,
    );
    let untracked = |t: Tensor<I, 1>| <Autodiff<I, C> as AutodiffBackend>::from_inner(t.into_primitive().tensor());
    let output = output.into_primitive().tensor();
    let output = match BatchNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(saved, output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    (output, untracked(mean), untracked(var))
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

    fn matches_tensor_ops_with_gradients<B: AutodiffBackend, const D: usize>(shape: [usize; D], device: &B::Device) {
        let c = shape[1];
        // Not centred, not unit: the statistics matter.
        let x = random::<B, D>(shape, device).mul_scalar(3.0).add_scalar(1.5).require_grad();
        let gamma = random::<B, 1>([c], device).require_grad();
        let beta = random::<B, 1>([c], device).require_grad();
        let fused = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5).unwrap_or_else(|_| panic!("no fused op"));
        let expected = reference(x.clone(), gamma.clone(), beta.clone());
        assert_close(fused.output.clone(), expected.clone(), 1e-4);
        let dims = x.dims();
        let x3 = x.clone().detach().reshape([dims[0], c, dims[2..].iter().product::<usize>()]);
        assert_close(fused.mean.clone(), x3.clone().mean_dim(2).mean_dim(0).reshape([c]), 1e-4);
        assert_close(fused.var, x3.clone().sub(x3.mean_dim(2).mean_dim(0)).square().mean_dim(2).mean_dim(0).reshape([c]), 1e-3);
        let mask = random::<B, D>(shape, device);
        let ours = fused.output.mul(mask.clone()).sum().backward();
        let theirs = expected.mul(mask).sum().backward();
        assert_close(x.grad(&ours).unwrap(), x.grad(&theirs).unwrap(), 1e-4);
        assert_close(gamma.grad(&ours).unwrap(), gamma.grad(&theirs).unwrap(), 1e-3);
        assert_close(beta.grad(&ours).unwrap(), beta.grad(&theirs).unwrap(), 1e-3);
    }

    fn matches_tensor_ops<B: AutodiffBackend>(device: &B::Device) {
        matches_tensor_ops_with_gradients::<B, 4>([4, 6, 5, 3], device);
        matches_tensor_ops_with_gradients::<B, 2>([16, 5], device);
        matches_tensor_ops_with_gradients::<B, 3>([3, 4, 7], device);
        // Rows of 1 600 values: the kernels reduce them in 8 chunks of 200.
        matches_tensor_ops_with_gradients::<B, 4>([2, 3, 40, 40], device);
    }

    /// Sliced parameters (a slimmable BN's active channels): the gradients land in the slice.
    fn gradients_reach_the_sliced_parameters<B: AutodiffBackend>(device: &B::Device) {
        let x = random::<B, 4>([3, 4, 5, 5], device).require_grad();
        let gamma_full = random::<B, 1>([10], device).require_grad();
        let beta_full = random::<B, 1>([10], device).require_grad();
        let fused = batch_norm_train(x.clone(), gamma_full.clone().slice(0..4), beta_full.clone().slice(0..4), 1e-5)
            .unwrap_or_else(|_| panic!("no fused op"));
        let grads = fused.output.mul(random::<B, 4>([3, 4, 5, 5], device)).sum().backward();
        crate::test_support::assert_inactive_zero(gamma_full.grad(&grads).unwrap(), &[0..4]);
        crate::test_support::assert_inactive_zero(beta_full.grad(&grads).unwrap(), &[0..4]);
    }

    crate::test_support::backend_tests!(matches_tensor_ops, gradients_reach_the_sliced_parameters);

    #[test]
    fn other_backends_and_dtypes_get_their_tensors_back() {
        let device = Default::default();
        // Without autodiff there is nothing to fuse for.
        let x = random::<burn::backend::NdArray, 4>([2, 3, 2, 2], &device);
        let g = random::<burn::backend::NdArray, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5).is_err());
        // f64 is not recognised.
        type Ad64 = burn::backend::Autodiff<burn::backend::NdArray<f64>>;
        let x = random::<Ad64, 4>([2, 3, 2, 2], &device);
        let g = random::<Ad64, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5).is_err());
        // The recognised one runs.
        let x = random::<NdArrayAd, 4>([2, 3, 2, 2], &device);
        let g = random::<NdArrayAd, 1>([3], &device);
        assert!(batch_norm_train(x, g.clone(), g, 1e-5).is_ok());
    }
}
