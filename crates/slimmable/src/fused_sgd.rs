//! [`FusedSgd`]: stochastic gradient descent with momentum (optionally Nesterov's) and weight
//! decay, the update burn's `Sgd` makes, in one kernel launch per parameter on burn's CUDA and
//! wgpu backends.
//!
//! Why: burn's `Sgd` composes each parameter's update from tensor ops (the decay, the
//! velocity, Nesterov's look-ahead, the step: eight or nine launches per parameter), and a
//! network's parameters are many small tensors: the 8-layer bench net's step spent about 4 ms
//! of its 30 ms in some 210 such launches, `FusedSgd` 0.7 ms in 26 (docs/BENCHMARKS.md,
//! session 14). Here one kernel reads the parameter, its gradient and its velocity once and
//! writes the new parameter and velocity. Other backends (ndarray) take the same arithmetic as
//! tensor ops.
//!
//! The state is burn's in name and nesting (`momentum.velocity`), so an optimizer record
//! written by burn's `Sgd` loads into this one and back.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// Configuration of [`FusedSgd`]: the fields of burn's `SgdConfig` but gradient clipping.
#[derive(Config, Debug)]
pub struct FusedSgdConfig {
    /// Weight decay: `penalty · w` added to the gradient. Default none.
    pub weight_decay: Option<WeightDecayConfig>,
    /// Momentum, dampening and Nesterov's variant, as burn's `Sgd` reads them. Default none.
    pub momentum: Option<MomentumConfig>,
    /// One kernel per parameter where the backend has it; `false`: the same update in tensor
    /// ops everywhere, as burn's `Sgd` makes it (for comparisons). Default true.
    #[config(default = true)]
    pub kernel: bool,
}

impl FusedSgdConfig {
    /// The optimizer for module `M` on autodiff backend `B`.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<FusedSgd, M, B> {
        OptimizerAdaptor::from(self.build())
    }

    /// The update rule alone (what [`init`](Self::init) wraps).
    pub fn build(&self) -> FusedSgd {
        let momentum = self.momentum.as_ref();
        FusedSgd {
            weight_decay: self.weight_decay.as_ref().map(|decay| decay.penalty as f64),
            momentum: momentum.map(|m| m.momentum),
            dampening: momentum.map_or(0.0, |m| m.dampening),
            nesterov: momentum.is_some_and(|m| m.nesterov),
            kernel: self.kernel,
        }
    }
}

/// The update of burn's `Sgd`, per element `i` of a parameter `w` with gradient `g`:
///
/// - `g ← g + λ·w` with weight decay `λ`;
/// - with momentum `μ` and dampening `d`: `v ← g` at the first step, else `v ← (1 − d)·g + μ·v`;
///   then `g ← g + μ·v` (Nesterov) or `g ← v`;
/// - `w ← w − lr·g`.
#[derive(Clone, Debug)]
pub struct FusedSgd {
    weight_decay: Option<f64>,
    momentum: Option<f64>,
    dampening: f64,
    nesterov: bool,
    kernel: bool,
}

/// A parameter's state: its velocity when there is momentum (burn's `SgdState` layout).
#[derive(Record, Clone)]
pub struct FusedSgdState<B: Backend, const D: usize> {
    /// The velocity; none without momentum.
    pub momentum: Option<VelocityState<B, D>>,
}

/// The velocity of a parameter (burn's `MomentumState` layout).
#[derive(Record, Clone)]
pub struct VelocityState<B: Backend, const D: usize> {
    /// `v` of the update rule, shaped as the parameter.
    pub velocity: Tensor<B, D>,
}

impl<B: Backend> SimpleOptimizer<B> for FusedSgd {
    type State<const D: usize> = FusedSgdState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let velocity = state.and_then(|state| state.momentum).map(|m| m.velocity);
        let (tensor, velocity) = match self.kernel_step(lr, tensor, grad, velocity) {
            Ok(stepped) => stepped,
            Err((tensor, grad, velocity)) => self.tensor_op_step(lr, tensor, grad, velocity),
        };
        let state = FusedSgdState { momentum: velocity.map(|velocity| VelocityState { velocity }) };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        FusedSgdState { momentum: state.momentum.map(|m| VelocityState { velocity: m.velocity.to_device(device) }) }
    }
}

/// A parameter, its gradient and its velocity, handed back when the kernel cannot take them.
type Parts<B, const D: usize> = (Tensor<B, D>, Tensor<B, D>, Option<Tensor<B, D>>);

impl FusedSgd {
    /// The update as burn's `Sgd` writes it, in tensor ops: the new parameter and velocity.
    /// Written out rather than delegated to burn's `Sgd::step`: that one keeps the velocity in
    /// a `MomentumState` whose field is private, so its state could not become this one's.
    fn tensor_op_step<B: Backend, const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        velocity: Option<Tensor<B, D>>,
    ) -> (Tensor<B, D>, Option<Tensor<B, D>>) {
        let mut grad = match self.weight_decay {
            Some(penalty) => tensor.clone().mul_scalar(penalty).add(grad),
            None => grad,
        };
        let mut new_velocity = None;
        if let Some(momentum) = self.momentum {
            let v = match velocity {
                Some(v) => grad.clone().mul_scalar(1.0 - self.dampening).add(v.mul_scalar(momentum)),
                None => grad.clone(),
            };
            grad = match self.nesterov {
                true => v.clone().mul_scalar(momentum).add(grad),
                false => v.clone(),
            };
            new_velocity = Some(v);
        }
        (tensor - grad.mul_scalar(lr), new_velocity)
    }

    /// The update in one kernel launch on burn's CUDA and wgpu backends in f32, else the
    /// tensors back.
    #[allow(clippy::type_complexity)]
    fn kernel_step<B: Backend, const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        velocity: Option<Tensor<B, D>>,
    ) -> Result<(Tensor<B, D>, Option<Tensor<B, D>>), Parts<B, D>> {
        if !self.kernel {
            return Err((tensor, grad, velocity));
        }
        #[cfg(feature = "cube")]
        {
            use burn::tensor::DType;
            let f32_only = [Some(&tensor), Some(&grad), velocity.as_ref()].into_iter().flatten().all(|t| t.dtype() == DType::F32);
            if !f32_only {
                return Err((tensor, grad, velocity));
            }
            let op = cube::Step { rule: self.clone(), lr, tensor, grad, velocity };
            crate::type_match::on_cube(op).map_err(|op| (op.tensor, op.grad, op.velocity))
        }
        #[cfg(not(feature = "cube"))]
        {
            let _ = lr;
            Err((tensor, grad, velocity))
        }
    }
}

#[cfg(feature = "cube")]
mod cube {
    //! The kernel and its launch on `CubeBackend<R, f32, i32, BT>`.

    use burn::tensor::{Tensor as BurnTensor, TensorPrimitive};
    use burn::tensor::backend::Backend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime};
    use cubecl::prelude::*;

    use super::FusedSgd;
    use crate::cube_launch::{elementwise_launch, empty_like};
    use crate::type_match::{CubeOp, same_type};

    /// [`FusedSgd`]'s update of one element per thread: `param`, `grad` and `velocity` (unread
    /// at the first step, comptime `first`) in, the new parameter and velocity out (the
    /// velocity unwritten without `momentum`).
    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    fn sgd_step_kernel<F: Float>(
        param: &Tensor<F>,
        grad: &Tensor<F>,
        velocity: &Tensor<F>,
        param_out: &mut Tensor<F>,
        velocity_out: &mut Tensor<F>,
        lr: InputScalar,
        weight_decay: InputScalar,
        momentum: InputScalar,
        dampening: InputScalar,
        #[comptime] decay: bool,
        #[comptime] with_momentum: bool,
        #[comptime] first: bool,
        #[comptime] nesterov: bool,
    ) {
        if ABSOLUTE_POS >= param_out.len() {
            terminate!();
        }
        let w = param[ABSOLUTE_POS];
        let mut g = grad[ABSOLUTE_POS];
        if decay {
            g = w * weight_decay.get::<F>() + g;
        }
        if with_momentum {
            let mu = momentum.get::<F>();
            let mut v = g;
            if !first {
                v = g * (F::new(1.0) - dampening.get::<F>()) + velocity[ABSOLUTE_POS] * mu;
            }
            velocity_out[ABSOLUTE_POS] = v;
            if nesterov {
                g = v * mu + g;
            } else {
                g = v;
            }
        }
        param_out[ABSOLUTE_POS] = w - g * lr.get::<F>();
    }

    /// One parameter's step, for [`crate::type_match::on_cube`].
    pub(super) struct Step<B: Backend, const D: usize> {
        pub(super) rule: FusedSgd,
        pub(super) lr: f64,
        pub(super) tensor: BurnTensor<B, D>,
        pub(super) grad: BurnTensor<B, D>,
        pub(super) velocity: Option<BurnTensor<B, D>>,
    }

    impl<B: Backend, const D: usize> CubeOp<B> for Step<B, D> {
        type Output = (BurnTensor<B, D>, Option<BurnTensor<B, D>>);

        fn run<R: CubeRuntime, BT: BoolElement>(self) -> Self::Output {
            type K<R, BT> = CubeBackend<R, f32, i32, BT>;
            fn into<B: Backend, R: CubeRuntime, BT: BoolElement, const D: usize>(t: BurnTensor<B, D>) -> CubeTensor<R> {
                let t: BurnTensor<K<R, BT>, D> = same_type(t).unwrap_or_else(|_| unreachable!("run is called only when B is CubeBackend<R, f32, i32, BT>"));
                into_contiguous(t.into_primitive().tensor())
            }
            fn back<B: Backend, R: CubeRuntime, BT: BoolElement, const D: usize>(t: CubeTensor<R>) -> BurnTensor<B, D> {
                same_type(BurnTensor::<K<R, BT>, D>::from_primitive(TensorPrimitive::Float(t))).unwrap_or_else(|_| unreachable!("B is CubeBackend<R, f32, i32, BT>"))
            }
            let Step { rule, lr, tensor, grad, velocity } = self;
            let param = into::<B, R, BT, D>(tensor);
            let grad = into::<B, R, BT, D>(grad);
            let first = velocity.is_none();
            // Unread at the first step (comptime): any tensor stands in.
            let velocity = velocity.map_or_else(|| grad.clone(), into::<B, R, BT, D>);
            let dims = param.meta.shape().to_vec();
            let param_out = empty_like::<R, f32>(&param, &dims);
            let with_momentum = rule.momentum.is_some();
            // Unwritten without momentum: the parameter's own output stands in.
            let velocity_out = match with_momentum {
                true => empty_like::<R, f32>(&param, &dims),
                false => param_out.clone(),
            };
            let scalar = |value: f64| InputScalar::new(value, burn::tensor::DType::F32);
            let (count, dim) = elementwise_launch(&param_out, 1);
            sgd_step_kernel::launch::<f32, R>(
                &param.client,
                count,
                dim,
                param.clone().into_tensor_arg(),
                grad.into_tensor_arg(),
                velocity.into_tensor_arg(),
                param_out.clone().into_tensor_arg(),
                velocity_out.clone().into_tensor_arg(),
                scalar(lr),
                scalar(rule.weight_decay.unwrap_or(0.0)),
                scalar(rule.momentum.unwrap_or(0.0)),
                scalar(rule.dampening),
                rule.weight_decay.is_some(),
                with_momentum,
                first,
                rule.nesterov,
            );
            (back::<B, R, BT, D>(param_out), with_momentum.then(|| back::<B, R, BT, D>(velocity_out)))
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fused update against burn's `Sgd`, step by step, on ndarray (tensor ops) and on
    //! lavapipe or CUDA (the kernel); burn's optimizer record loading into this one.
    use super::*;
    use crate::test_support::{NdArrayAd, assert_close_named};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{GradientsParams, Optimizer, SgdConfig};
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    use burn::tensor::Distribution;

    /// The settings compared: plain SGD, decay alone, momentum with dampening, Nesterov with decay.
    fn settings() -> Vec<(&'static str, Option<WeightDecayConfig>, Option<MomentumConfig>)> {
        let momentum = |dampening: f64, nesterov: bool| MomentumConfig::new().with_momentum(0.9).with_dampening(dampening).with_nesterov(nesterov);
        vec![
            ("plain", None, None),
            ("decay", Some(WeightDecayConfig::new(5e-2)), None),
            ("momentum", None, Some(momentum(0.1, false))),
            ("nesterov+decay", Some(WeightDecayConfig::new(5e-2)), Some(momentum(0.0, true))),
        ]
    }

    fn loss<B: AutodiffBackend>(layer: &Linear<B>, x: &Tensor<B, 2>) -> Tensor<B, 1> {
        layer.forward(x.clone()).powi_scalar(2).sum()
    }

    /// Four steps of both optimizers from the same layer: the parameters agree after each,
    /// with the kernel and with the tensor-op update.
    fn agrees_with_burns_sgd<B: AutodiffBackend>(device: &B::Device) {
        for ((name, decay, momentum), kernel) in settings().into_iter().flat_map(|s| [(s.clone(), true), (s, false)]) {
            let layer: Linear<B> = LinearConfig::new(5, 3).init(device);
            // Parameters are initialised lazily: once here, so that both copies start equal.
            let _ = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
            let x = Tensor::<B, 2>::random([7, 5], Distribution::Normal(0.0, 1.0), device);
            let mut theirs = SgdConfig::new().with_weight_decay(decay.clone()).with_momentum(momentum.clone()).init::<B, Linear<B>>();
            let mut ours = FusedSgdConfig::new().with_weight_decay(decay).with_momentum(momentum).with_kernel(kernel).init::<B, Linear<B>>();
            let (mut a, mut b) = (layer.clone(), layer);
            for step in 0..4 {
                let grads_a = GradientsParams::from_grads(loss(&a, &x).backward(), &a);
                a = theirs.step(0.05, a, grads_a);
                let grads_b = GradientsParams::from_grads(loss(&b, &x).backward(), &b);
                b = ours.step(0.05, b, grads_b);
                let what = |p: &str| format!("{name} (kernel {kernel}), {p} after step {step}");
                // The kernel fuses the update's multiply-adds, so its rounding differs from the
                // tensor ops' (1.06e-5 seen on an H200 for weights of a few units); a wrong
                // term (decay 5e-2 at rate 0.05 moves a weight by 2.5e-3 of itself) is far larger.
                assert_close_named(b.weight.val(), a.weight.val(), 1e-4, &what("weight"));
                assert_close_named(b.bias.clone().unwrap().val(), a.bias.clone().unwrap().val(), 1e-4, &what("bias"));
            }
        }
    }

    #[test]
    fn agrees_with_burns_sgd_on_ndarray() {
        agrees_with_burns_sgd::<NdArrayAd>(&Default::default());
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn agrees_with_burns_sgd_on_wgpu() {
        let _settings = crate::test_support::using_settings();
        agrees_with_burns_sgd::<burn::backend::Autodiff<crate::type_match::WgpuCube>>(&Default::default());
    }

    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_agrees_with_burns_sgd() {
        let _settings = crate::test_support::using_settings();
        agrees_with_burns_sgd::<burn::backend::Autodiff<crate::type_match::CudaCube>>(&Default::default());
    }

    /// A record of burn's `Sgd` (with momentum) loads into [`FusedSgd`], which then continues
    /// as burn's would have: a checkpoint written before this optimizer existed resumes.
    #[test]
    fn burns_record_loads_and_continues() {
        type B = NdArrayAd;
        let device = Default::default();
        let momentum = || Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(true));
        let layer: Linear<B> = LinearConfig::new(4, 2).init(&device);
        let _ = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
        let x = Tensor::<B, 2>::random([6, 4], Distribution::Normal(0.0, 1.0), &device);
        let step = |optimizer: &mut dyn FnMut(Linear<B>, GradientsParams) -> Linear<B>, layer: &Linear<B>| {
            let grads = GradientsParams::from_grads(loss(layer, &x).backward(), layer);
            optimizer(layer.clone(), grads)
        };
        let mut theirs = SgdConfig::new().with_momentum(momentum()).init::<B, Linear<B>>();
        let layer = step(&mut |l, g| theirs.step(0.1, l, g), &layer);
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let bytes = recorder.record(theirs.to_record(), ()).expect("burn's record serialises");
        let record = recorder.load(bytes, &device).expect("burn's Sgd record loads as FusedSgd's");
        let mut ours = FusedSgdConfig::new().with_momentum(momentum()).init::<B, Linear<B>>().load_record(record);
        let expected = step(&mut |l, g| theirs.step(0.1, l, g), &layer);
        let resumed = step(&mut |l, g| ours.step(0.1, l, g), &layer);
        assert_close_named(resumed.weight.val(), expected.weight.val(), 1e-6, "the step after the loaded record");
        // The loaded velocity counts: a fresh optimizer's step from the same point differs.
        let mut fresh = FusedSgdConfig::new().with_momentum(momentum()).init::<B, Linear<B>>();
        let restarted = step(&mut |l, g| fresh.step(0.1, l, g), &layer);
        let gap: f32 = restarted.weight.val().sub(expected.weight.val()).abs().max().into_scalar();
        assert!(gap > 1e-4, "without the velocity the step should differ, by {gap}");
    }
}
