//! Slimmable BatchNorm: [`SlimBatchNorm`] (one shared set of parameters, sliced) and
//! [`SwitchableBatchNorm`] (one set per fixed subnet).

use burn::config::Config;
use burn::module::{Initializer, Module, ModuleMapper, Param, RunningState};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::error::check_width;
use crate::{Activation, SlimError};

/// Which statistics a BatchNorm normalises with, chosen per forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NormMode {
    /// As burn's own BatchNorm: batch statistics (updating the running ones) on an autodiff
    /// backend, running statistics otherwise.
    #[default]
    Auto,
    /// Batch statistics, leaving the running statistics untouched (evaluating a subnet in
    /// "BN training mode", without recalibration).
    BatchStats,
    /// Batch statistics, folding this batch into the running statistics as a cumulative
    /// average: `step` is the 0-based index of the batch since the statistics were reset
    /// (recalibrating a subnet's statistics).
    Calibrate {
        /// Batches seen since the reset.
        step: usize,
    },
}

/// Configuration of a [`SlimBatchNorm`], built with [`SlimBatchNormConfig::init`].
#[derive(Config, Debug)]
pub struct SlimBatchNormConfig {
    /// Maximum number of channels.
    pub num_features: usize,
    /// Added to the variance for numerical stability.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Weight of the new batch statistic in the running statistics:
    /// `running = (1 - momentum) · running + momentum · batch`.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// BatchNorm over the first `c` channels of a layer built for `num_features`, for inputs of
/// any rank `[batch, c, ...]` (1d and 2d alike).
///
/// As burn's own [`BatchNorm`], it normalises with batch statistics on an autodiff backend
/// (training) and with the running statistics otherwise. In training, the running statistics
/// of the active channels update and those of the other channels stay exactly as they were.
#[derive(Module, Debug)]
pub struct SlimBatchNorm<B: Backend> {
    /// Scale, `[num_features]`.
    pub gamma: Param<Tensor<B, 1>>,
    /// Shift, `[num_features]`.
    pub beta: Param<Tensor<B, 1>>,
    /// Running mean, `[num_features]`.
    pub running_mean: RunningState<Tensor<B, 1>>,
    /// Running (biased) variance, `[num_features]`.
    pub running_var: RunningState<Tensor<B, 1>>,
    /// Momentum of the running statistics.
    pub momentum: f64,
    /// Added to the variance for numerical stability.
    pub epsilon: f64,
}

impl SlimBatchNormConfig {
    /// Builds the layer at its maximum width: γ = 1, β = 0, running mean 0 and variance 1.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SlimBatchNorm<B> {
        assert!(self.num_features > 0, "invalid layer config: BatchNorm needs at least one feature");
        SlimBatchNorm {
            gamma: Initializer::Ones.init([self.num_features], device),
            beta: Initializer::Zeros.init([self.num_features], device),
            running_mean: RunningState::new(Tensor::zeros([self.num_features], device)),
            running_var: RunningState::new(Tensor::ones([self.num_features], device)),
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }
}

impl<B: Backend> SlimBatchNorm<B> {
    /// Maximum number of channels.
    pub fn num_features(&self) -> usize {
        self.gamma.dims()[0]
    }

    /// Normalises the input's channels: batch statistics on an autodiff backend, running
    /// statistics otherwise.
    ///
    /// # Shapes
    /// - `input`: `[batch, channels, ...]` with `channels ≤ num_features`
    /// - output: same as the input
    pub fn try_forward<const D: usize>(&self, input: Tensor<B, D>) -> Result<Tensor<B, D>, SlimError> {
        self.try_forward_mode(input, NormMode::Auto)
    }

    /// Normalises the input's channels with the statistics `mode` names.
    pub fn try_forward_mode<const D: usize>(&self, input: Tensor<B, D>, mode: NormMode) -> Result<Tensor<B, D>, SlimError> {
        self.try_forward_activation(input, mode, Activation::Identity)
    }

    /// Normalises the input's channels with the statistics `mode` names, then applies
    /// `activation`: `activation.apply(self.try_forward_mode(input, mode)?)`, in the same pass
    /// where batch statistics are used on burn's cubecl backends ([`Activation`] says how).
    pub fn try_forward_activation<const D: usize>(&self, input: Tensor<B, D>, mode: NormMode, activation: Activation) -> Result<Tensor<B, D>, SlimError> {
        match mode {
            NormMode::Auto if B::ad_enabled(&input.device()) => self.batch_stats(input, Some(self.momentum), activation),
            NormMode::Auto => Ok(activation.apply(self.try_forward_running_stats(input)?)),
            NormMode::BatchStats => self.batch_stats(input, None, activation),
            NormMode::Calibrate { step } => self.batch_stats(input, Some(1.0 / (step as f64 + 1.0)), activation),
        }
    }

    /// [`try_forward_activation`](Self::try_forward_activation) that panics with the error's
    /// message.
    pub fn forward_activation<const D: usize>(&self, input: Tensor<B, D>, mode: NormMode, activation: Activation) -> Tensor<B, D> {
        self.try_forward_activation(input, mode, activation)
            .unwrap_or_else(|err| panic!("SlimBatchNorm: {err}"))
    }

    /// [`try_forward_mode`](Self::try_forward_mode) that panics with the error's message.
    pub fn forward_mode<const D: usize>(&self, input: Tensor<B, D>, mode: NormMode) -> Tensor<B, D> {
        self.try_forward_mode(input, mode)
            .unwrap_or_else(|err| panic!("SlimBatchNorm: {err}"))
    }

    /// [`try_forward`](Self::try_forward) that panics with the error's message.
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.try_forward(input)
            .unwrap_or_else(|err| panic!("SlimBatchNorm: {err}"))
    }

    /// Normalises with the batch's statistics, then applies `activation`; with a momentum, also
    /// folds them into the active channels' running statistics.
    fn batch_stats<const D: usize>(&self, input: Tensor<B, D>, momentum: Option<f64>, activation: Activation) -> Result<Tensor<B, D>, SlimError> {
        let channels = self.check_input(&input)?;
        // One op for the statistics, the normalisation and the running statistics, reading the
        // full parameters (their gradients are zero beyond the active channels).
        #[cfg(feature = "kernels")]
        let input = {
            let device = input.device();
            let running = momentum.map(|momentum| crate::batch_norm_op::RunningUpdate {
                mean: self.running_mean.value_sync().to_device(&device),
                var: self.running_var.value_sync().to_device(&device),
                momentum,
            });
            match crate::batch_norm_op::batch_norm_train(input, self.gamma.val(), self.beta.val(), self.epsilon, running, activation) {
                Ok(fused) => {
                    if let Some((mean, var)) = fused.running {
                        replace_running(&self.running_mean, mean.detach());
                        replace_running(&self.running_var, var.detach());
                    }
                    return Ok(fused.output);
                }
                Err(input) => input,
            }
        };
        // The tensor ops in the parameters' type (a bf16 activation cast back to f32).
        let input = crate::with_dtype(input, self.gamma.val().dtype());
        let dims = input.dims();
        let flat = dims[0] * dims[2..].iter().product::<usize>();
        let mut shape = [1; D];
        shape[1] = channels;

        let per_channel = |t: Tensor<B, D>| t.swap_dims(0, 1).reshape([channels, flat]).mean_dim(1).reshape(shape);
        let mean = per_channel(input.clone());
        let var = per_channel(input.clone().sub(mean.clone()).square());

        if let Some(momentum) = momentum {
            self.update_running(&self.running_mean, mean.clone().detach().reshape([channels]), momentum);
            self.update_running(&self.running_var, var.clone().detach().reshape([channels]), momentum);
        }
        Ok(activation.apply(self.normalize(input, mean, var)))
    }

    /// Normalises with the running statistics of the active channels (inference).
    pub fn try_forward_running_stats<const D: usize>(&self, input: Tensor<B, D>) -> Result<Tensor<B, D>, SlimError> {
        let channels = self.check_input(&input)?;
        // In the statistics' type (a bf16 activation cast back to f32).
        let input = crate::with_dtype(input, self.gamma.val().dtype());
        let device = input.device();
        let mut shape = [1; D];
        shape[1] = channels;
        let active = |state: &RunningState<Tensor<B, 1>>| {
            // `value_sync`: `value` would miss the latest update (a recalibration's last batch).
            let value = state.value_sync().to_device(&device);
            match channels == self.num_features() {
                true => value,
                false => value.slice(0..channels),
            }
            .reshape(shape)
        };
        let (mean, var) = (active(&self.running_mean), active(&self.running_var));
        Ok(self.normalize(input, mean, var))
    }

    /// A plain burn [`BatchNorm`] holding copies of the first `channels` channels' parameters
    /// and running statistics.
    pub fn to_plain(&self, channels: usize) -> Result<BatchNorm<B>, SlimError> {
        check_width("channels", channels, self.num_features())?;
        let prefix = |t: Tensor<B, 1>| t.slice(0..channels).detach();
        Ok(BatchNorm {
            gamma: Param::from_tensor(prefix(self.gamma.val())),
            beta: Param::from_tensor(prefix(self.beta.val())),
            running_mean: RunningState::new(prefix(self.running_mean.value_sync())),
            running_var: RunningState::new(prefix(self.running_var.value_sync())),
            momentum: self.momentum,
            epsilon: self.epsilon,
        })
    }

    /// Resets the running statistics (mean 0, variance 1), as before recalibrating a subnet.
    pub fn reset_running_stats(&mut self) {
        let device = self.gamma.device();
        let n = self.num_features();
        self.running_mean = RunningState::new(Tensor::zeros([n], &device));
        self.running_var = RunningState::new(Tensor::ones([n], &device));
    }

    fn check_input<const D: usize>(&self, input: &Tensor<B, D>) -> Result<usize, SlimError> {
        if D < 2 {
            return Err(SlimError::InvalidConfig(format!(
                "BatchNorm needs an input of rank ≥ 2, [batch, channels, ...]; got rank {D}"
            )));
        }
        let channels = input.dims()[1];
        check_width("channels", channels, self.num_features())?;
        Ok(channels)
    }

    fn normalize<const D: usize>(&self, x: Tensor<B, D>, mean: Tensor<B, D>, var: Tensor<B, D>) -> Tensor<B, D> {
        let channels = x.dims()[1];
        let mut shape = [1; D];
        shape[1] = channels;
        let affine = |param: &Param<Tensor<B, 1>>| self.active(param, channels).reshape(shape);
        x.sub(mean)
            .div(var.add_scalar(self.epsilon).sqrt())
            .mul(affine(&self.gamma))
            .add(affine(&self.beta))
    }

    /// The first `channels` values of a per-channel parameter.
    fn active(&self, param: &Param<Tensor<B, 1>>, channels: usize) -> Tensor<B, 1> {
        match channels == self.num_features() {
            true => param.val(),
            false => param.val().slice(0..channels),
        }
    }

    /// `running[0..c] = (1 - m) · running[0..c] + m · batch`; the other channels are untouched.
    fn update_running(&self, state: &RunningState<Tensor<B, 1>>, batch: Tensor<B, 1>, momentum: f64) {
        let channels = batch.dims()[0];
        let full = state.value_sync().to_device(&batch.device());
        let blend = |old: Tensor<B, 1>| old.mul_scalar(1.0 - momentum).add(batch.mul_scalar(momentum));
        let updated = match channels == self.num_features() {
            true => blend(full),
            false => {
                let active = blend(full.clone().slice(0..channels));
                full.slice_assign(0..channels, active)
            }
        };
        replace_running(state, updated.detach());
    }
}

/// Makes `value` the running statistic `state` holds.
///
/// burn's `RunningState::update` keeps each thread's update apart and averages them the next
/// time the value is read (`value_sync`), by a tensor division even when one thread updated it:
/// one more kernel launch per statistic and pass (104 of a MobileNetV2 pass's ~990 on CUDA;
/// docs/BENCHMARKS.md, session 25). A slimmable network's running statistics are updated by the
/// thread that runs its passes, so the value is set instead, through the module mapper (which
/// writes the state's value shared with every clone of it); where several threads trained one
/// module, the last one's update would stand rather than their average. On an H200 (session 26)
/// the steps ran at the same speed within their spread; the lower conv8 sandwich peak measured
/// then was nvidia-smi's, which varies between runs (session 27).
fn replace_running<B: Backend>(state: &RunningState<Tensor<B, 1>>, value: Tensor<B, 1>) {
    /// Maps the one float tensor of a running state to the value it holds.
    struct Replace<B: Backend>(Option<Tensor<B, 1>>);
    impl<B: Backend> ModuleMapper<B> for Replace<B> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, old, mapper) = param.consume();
            let value = self.0.take().expect("a running state maps one tensor");
            Param::from_mapped_value(id, value.reshape(old.shape()), mapper)
        }
    }
    let _ = state.clone().map(&mut Replace(Some(value)));
}

/// Configuration of a [`SwitchableBatchNorm`].
#[derive(Config, Debug)]
pub struct SwitchableBatchNormConfig {
    /// Maximum number of channels (each subnet uses a prefix).
    pub num_features: usize,
    /// Number of fixed subnets, each with its own BatchNorm.
    pub num_subnets: usize,
    /// Added to the variance for numerical stability.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Momentum of the running statistics.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// One BatchNorm per fixed subnet (switchable BN, as in Slimmable Networks and MMRazor's joint
/// retraining of several subnets): the subnet index picks the set of γ, β and statistics.
#[derive(Module, Debug)]
pub struct SwitchableBatchNorm<B: Backend> {
    /// One BatchNorm per subnet.
    pub norms: Vec<SlimBatchNorm<B>>,
}

impl SwitchableBatchNormConfig {
    /// Builds `num_subnets` BatchNorms of `num_features` channels.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SwitchableBatchNorm<B> {
        assert!(self.num_subnets > 0, "invalid layer config: a switchable BatchNorm needs at least one subnet");
        let one = SlimBatchNormConfig::new(self.num_features)
            .with_epsilon(self.epsilon)
            .with_momentum(self.momentum);
        SwitchableBatchNorm { norms: (0..self.num_subnets).map(|_| one.init(device)).collect() }
    }
}

impl<B: Backend> SwitchableBatchNorm<B> {
    /// The BatchNorm of subnet `index`.
    pub fn norm(&self, index: usize) -> Result<&SlimBatchNorm<B>, SlimError> {
        self.norms
            .get(index)
            .ok_or(SlimError::SubnetIndex { index, num_subnets: self.norms.len() })
    }

    /// Normalises with subnet `index`'s BatchNorm.
    pub fn try_forward<const D: usize>(&self, input: Tensor<B, D>, index: usize) -> Result<Tensor<B, D>, SlimError> {
        self.norm(index)?.try_forward(input)
    }

    /// Normalises with subnet `index`'s BatchNorm and the statistics `mode` names.
    pub fn try_forward_mode<const D: usize>(&self, input: Tensor<B, D>, index: usize, mode: NormMode) -> Result<Tensor<B, D>, SlimError> {
        self.norm(index)?.try_forward_mode(input, mode)
    }

    /// Normalises with subnet `index`'s BatchNorm and the statistics `mode` names, then applies
    /// `activation` ([`SlimBatchNorm::try_forward_activation`]).
    pub fn try_forward_activation<const D: usize>(
        &self,
        input: Tensor<B, D>,
        index: usize,
        mode: NormMode,
        activation: Activation,
    ) -> Result<Tensor<B, D>, SlimError> {
        self.norm(index)?.try_forward_activation(input, mode, activation)
    }

    /// [`try_forward_activation`](Self::try_forward_activation) that panics with the error's
    /// message.
    pub fn forward_activation<const D: usize>(&self, input: Tensor<B, D>, index: usize, mode: NormMode, activation: Activation) -> Tensor<B, D> {
        self.try_forward_activation(input, index, mode, activation)
            .unwrap_or_else(|err| panic!("SwitchableBatchNorm: {err}"))
    }

    /// [`try_forward`](Self::try_forward) that panics with the error's message.
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>, index: usize) -> Tensor<B, D> {
        self.try_forward(input, index)
            .unwrap_or_else(|err| panic!("SwitchableBatchNorm: {err}"))
    }

    /// [`try_forward_mode`](Self::try_forward_mode) that panics with the error's message.
    pub fn forward_mode<const D: usize>(&self, input: Tensor<B, D>, index: usize, mode: NormMode) -> Tensor<B, D> {
        self.try_forward_mode(input, index, mode)
            .unwrap_or_else(|err| panic!("SwitchableBatchNorm: {err}"))
    }

    /// Maximum number of channels.
    pub fn num_features(&self) -> usize {
        self.norms[0].num_features()
    }

    /// Number of BatchNorm sets (subnets).
    pub fn num_sets(&self) -> usize {
        self.norms.len()
    }

    /// A plain burn [`BatchNorm`] of set `index`'s first `channels` channels.
    pub fn to_plain(&self, index: usize, channels: usize) -> Result<BatchNorm<B>, SlimError> {
        self.norm(index)?.to_plain(channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_close, assert_inactive_zero, backend_tests, random};
    use burn::module::AutodiffModule;
    use burn::nn::BatchNormConfig;
    use burn::tensor::backend::AutodiffBackend;

    /// A layer whose parameters and statistics are not the trivial defaults.
    fn trained<B: Backend>(device: &B::Device) -> SlimBatchNorm<B> {
        let mut bn = SlimBatchNormConfig::new(16).init::<B>(device);
        bn.gamma = Param::from_tensor(random([16], device).add_scalar(1.0));
        bn.beta = Param::from_tensor(random([16], device));
        bn.running_mean = RunningState::new(random([16], device));
        bn.running_var = RunningState::new(random::<B, 1>([16], device).abs().add_scalar(0.5));
        bn
    }

    fn forward_matches_plain<B: AutodiffBackend>(device: &B::Device) {
        let bn = trained::<B>(device);
        for c in [16, 9, 1] {
            // Training (autodiff): batch statistics, and the same running statistics afterwards.
            let slim = bn.clone();
            let plain = slim.to_plain(c).unwrap();
            let x = random::<B, 4>([4, c, 3, 5], device).mul_scalar(3.0).add_scalar(1.0);
            assert_close(slim.forward(x.clone()), plain.forward(x.clone()), 1e-5);
            assert_close(
                slim.running_mean.value_sync().slice(0..c),
                plain.running_mean.value_sync(),
                1e-5,
            );
            assert_close(slim.running_var.value_sync().slice(0..c), plain.running_var.value_sync(), 1e-5);

            // Inference (inner backend): running statistics.
            let (slim, plain) = (bn.valid(), bn.to_plain(c).unwrap().valid());
            let x = x.inner();
            assert_close(slim.forward(x.clone()), plain.forward(x), 1e-5);
        }
        // Rank 2 (BatchNorm1d over features) and rank 3.
        let x = random::<B, 2>([8, 5], device);
        assert_close(bn.clone().forward(x.clone()), bn.to_plain(5).unwrap().forward(x), 1e-5);
        let x = random::<B, 3>([8, 5, 4], device);
        assert_close(bn.clone().forward(x.clone()), bn.to_plain(5).unwrap().forward(x), 1e-5);
    }

    fn running_stats_of_inactive_channels_stay<B: AutodiffBackend>(device: &B::Device) {
        let bn = trained::<B>(device);
        let before_mean = bn.running_mean.value_sync();
        let before_var = bn.running_var.value_sync();
        let _ = bn.forward(random::<B, 4>([4, 6, 3, 3], device).add_scalar(2.0));
        let after_mean = bn.running_mean.value_sync();
        let after_var = bn.running_var.value_sync();
        assert_inactive_zero(after_mean.sub(before_mean), &[0..6]);
        assert_inactive_zero(after_var.sub(before_var), &[0..6]);
    }

    /// A training pass sets the running statistics outright: their plain `value()` (which skips
    /// burn's averaging of pending updates) already holds what burn's BatchNorm reaches after
    /// `value_sync`, in this module and in its clones, over two passes in a row.
    fn running_stats_are_set_without_pending_updates<B: AutodiffBackend>(device: &B::Device) {
        let bn = trained::<B>(device);
        let plain = bn.to_plain(16).unwrap();
        let clone = bn.clone();
        for _ in 0..2 {
            let x = random::<B, 4>([4, 16, 3, 3], device).mul_scalar(2.0).add_scalar(1.0);
            let _ = (bn.forward(x.clone()), plain.forward(x));
            for held in [&bn, &clone] {
                assert_close(held.running_mean.value(), plain.running_mean.value_sync(), 1e-5);
                assert_close(held.running_var.value(), plain.running_var.value_sync(), 1e-5);
            }
        }
    }

    fn gradients_reach_only_the_active_slice<B: AutodiffBackend>(device: &B::Device) {
        let bn = trained::<B>(device);
        let x = random::<B, 4>([4, 7, 3, 3], device);
        let probe = random::<B, 4>([4, 7, 3, 3], device);
        let grads = bn.forward(x.clone()).mul(probe.clone()).sum().backward();
        let grad_gamma = bn.gamma.grad(&grads).unwrap();
        let grad_beta = bn.beta.grad(&grads).unwrap();
        assert_inactive_zero(grad_gamma.clone(), &[0..7]);
        assert_inactive_zero(grad_beta.clone(), &[0..7]);
        let plain = bn.to_plain(7).unwrap();
        let plain_grads = plain.forward(x).mul(probe).sum().backward();
        assert_close(grad_gamma.slice([0..7]), plain.gamma.grad(&plain_grads).unwrap(), 1e-5);
        assert_close(grad_beta.slice([0..7]), plain.beta.grad(&plain_grads).unwrap(), 1e-5);
    }

    /// BN then an activation in one call equals the plain BN followed by the activation:
    /// outputs, the input's and the parameters' gradients, the running statistics; and in
    /// inference.
    fn activation_equals_plain_then_activation<B: AutodiffBackend>(device: &B::Device) {
        use burn::tensor::activation::relu;
        for (activation, plain_act) in [(Activation::Relu, relu as fn(Tensor<B, 4>) -> Tensor<B, 4>), (Activation::Relu6, |x: Tensor<B, 4>| x.clamp(0.0, 6.0))] {
            let bn = trained::<B>(device);
            let plain = bn.to_plain(9).unwrap();
            // Scaled so that ReLU6's upper bound is met too.
            let x = random::<B, 4>([4, 9, 6, 5], device).mul_scalar(3.0).add_scalar(1.0).require_grad();
            let probe = random::<B, 4>([4, 9, 6, 5], device);
            let ours = bn.forward_activation(x.clone(), NormMode::Auto, activation);
            let theirs = plain_act(plain.forward(x.clone()));
            assert_close(ours.clone(), theirs.clone(), 1e-4);
            let clamped: f32 = burn::tensor::ElementConversion::elem(ours.clone().lower_equal_elem(0.0).float().sum().into_scalar());
            assert!(clamped > 0.0, "{activation:?}: some outputs are clamped");
            let (ours, theirs) = (ours.mul(probe.clone()).sum().backward(), theirs.mul(probe).sum().backward());
            assert_close(x.grad(&ours).unwrap(), x.grad(&theirs).unwrap(), 1e-4);
            assert_close(bn.gamma.grad(&ours).unwrap().slice([0..9]), plain.gamma.grad(&theirs).unwrap(), 1e-4);
            assert_close(bn.beta.grad(&ours).unwrap().slice([0..9]), plain.beta.grad(&theirs).unwrap(), 1e-4);
            assert_close(bn.running_mean.value_sync().slice(0..9), plain.running_mean.value_sync(), 1e-5);
            assert_close(bn.running_var.value_sync().slice(0..9), plain.running_var.value_sync(), 1e-5);
            // Inference: the running statistics, then the activation.
            let (slim, plain) = (bn.valid(), bn.to_plain(9).unwrap().valid());
            let x = x.inner();
            assert_close(slim.forward_activation(x.clone(), NormMode::Auto, activation), activation.apply(plain.forward(x)), 1e-5);
        }
    }

    fn bad_widths_are_clear_errors<B: AutodiffBackend>(device: &B::Device) {
        let bn = trained::<B>(device);
        let err = bn.try_forward(random::<B, 4>([2, 17, 2, 2], device)).unwrap_err();
        assert_eq!(err.to_string(), "17 channels requested, but the layer was built with at most 16");
        let err = bn.to_plain(0).unwrap_err();
        assert_eq!(err.to_string(), "a width of 0 channels leaves the layer with no channels");
        let switchable = SwitchableBatchNormConfig::new(16, 3).init::<B>(device);
        let err = switchable.try_forward(random::<B, 4>([2, 4, 2, 2], device), 3).unwrap_err();
        assert!(err.to_string().contains("subnet index 3 requested, but it holds 3 subnets"), "{err}");
    }

    fn switchable_keeps_one_set_per_subnet<B: AutodiffBackend>(device: &B::Device) {
        let switchable = SwitchableBatchNormConfig::new(16, 3).init::<B>(device);
        let x = random::<B, 4>([4, 8, 2, 2], device).add_scalar(5.0);
        let out = switchable.forward(x.clone(), 1);
        // Subnet 1 normalised like a plain BatchNorm of 8 channels, and only its statistics moved.
        let plain = BatchNormConfig::new(8).init::<B>(device);
        assert_close(out, plain.forward(x), 1e-5);
        let moved = |i: usize| switchable.norms[i].running_mean.value_sync().abs().sum().into_scalar();
        use burn::tensor::ElementConversion;
        assert_eq!(moved(0).elem::<f32>(), 0.0);
        assert!(moved(1).elem::<f32>() > 0.0);
        assert_eq!(moved(2).elem::<f32>(), 0.0);
    }

    fn calibration_is_a_cumulative_average<B: AutodiffBackend>(device: &B::Device) {
        let mut bn = trained::<B>(device).valid();
        bn.reset_running_stats();
        let batches: Vec<Tensor<B::InnerBackend, 2>> =
            (0..3).map(|i| random::<B, 2>([6, 16], device).add_scalar(i as f64).inner()).collect();
        for (step, batch) in batches.iter().enumerate() {
            let _ = bn.forward_mode(batch.clone().slice([0..6, 0..10]), NormMode::Calibrate { step });
        }
        // Inference right after calibrating already uses all three batches (burn's
        // `RunningState::value` lags one update behind until synchronised).
        let x = batches[0].clone().slice([0..6, 0..10]);
        let right_after = bn.forward_mode(x.clone(), NormMode::Auto);
        let _ = bn.running_mean.value_sync();
        let _ = bn.running_var.value_sync();
        assert_close(right_after, bn.forward_mode(x, NormMode::Auto), 1e-6);
        // The running mean of the first 10 channels is the mean of the three batch means.
        let expected = Tensor::cat(batches.clone(), 0).slice([0..18, 0..10]).mean_dim(0).reshape([10]);
        assert_close(bn.running_mean.value_sync().slice([0..10]), expected, 1e-5);
        assert_inactive_zero(bn.running_mean.value_sync(), &[0..10]);

        // BatchStats normalises like training but leaves the statistics alone.
        let before = bn.running_var.value_sync();
        let out = bn.forward_mode(batches[0].clone(), NormMode::BatchStats);
        assert_close(bn.running_var.value_sync(), before, 1e-12);
        let mean = batches[0].clone().mean_dim(0);
        let var = batches[0].clone().sub(mean.clone()).square().mean_dim(0);
        let manual = batches[0]
            .clone()
            .sub(mean)
            .div(var.add_scalar(bn.epsilon).sqrt())
            .mul(bn.gamma.val().reshape([1, 16]))
            .add(bn.beta.val().reshape([1, 16]));
        assert_close(out, manual, 1e-4);
    }

    backend_tests!(
        calibration_is_a_cumulative_average,
        forward_matches_plain,
        running_stats_of_inactive_channels_stay,
        running_stats_are_set_without_pending_updates,
        gradients_reach_only_the_active_slice,
        activation_equals_plain_then_activation,
        bad_widths_are_clear_errors,
        switchable_keeps_one_set_per_subnet,
    );
}
