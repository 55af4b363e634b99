//! [`SlimLinear`]: a fully connected layer whose input and output features are chosen per pass.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::linear;

use crate::SlimError;
use crate::error::check_width;

/// Configuration of a [`SlimLinear`], built with [`SlimLinearConfig::init`].
#[derive(Config, Debug)]
pub struct SlimLinearConfig {
    /// Maximum input features.
    pub d_input: usize,
    /// Maximum output features.
    pub d_output: usize,
    /// Whether the layer adds a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Initializer of the weight and bias (burn's default for `Linear`).
    #[config(default = "Initializer::KaimingUniform{gain: 0.5773502691896258, fan_out_only: false}")]
    pub initializer: Initializer,
}

/// A linear layer that runs on a prefix of its features: `y = x · W[0..d_in, 0..d_out] + b[0..d_out]`.
///
/// The weight uses burn's layout, `[d_input, d_output]` (PyTorch's transpose).
#[derive(Module, Debug)]
pub struct SlimLinear<B: Backend> {
    /// Weight of shape `[d_input_max, d_output_max]`.
    pub weight: Param<Tensor<B, 2>>,
    /// Bias of shape `[d_output_max]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
}

impl SlimLinearConfig {
    /// Builds the layer at its maximum width.
    ///
    /// # Panics
    /// If a dimension is zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SlimLinear<B> {
        assert!(
            self.d_input > 0 && self.d_output > 0,
            "invalid layer config: linear features [{}, {}] must be positive",
            self.d_input,
            self.d_output
        );
        let (fan_in, fan_out) = (Some(self.d_input), Some(self.d_output));
        let weight = self.initializer.init_with([self.d_input, self.d_output], fan_in, fan_out, device);
        let bias = self.bias.then(|| self.initializer.init_with([self.d_output], fan_in, fan_out, device));
        SlimLinear { weight, bias }
    }
}

impl<B: Backend> SlimLinear<B> {
    /// Maximum `[d_input, d_output]`.
    pub fn max_features(&self) -> [usize; 2] {
        self.weight.dims()
    }

    fn active_params(&self, d_input: usize, d_output: usize) -> Result<(Tensor<B, 2>, Option<Tensor<B, 1>>), SlimError> {
        let [in_max, out_max] = self.max_features();
        check_width("input features", d_input, in_max)?;
        check_width("output features", d_output, out_max)?;
        let weight = match d_input == in_max && d_output == out_max {
            true => self.weight.val(),
            false => self.weight.val().slice([0..d_input, 0..d_output]),
        };
        let bias = self.bias.as_ref().map(|bias| match d_output == out_max {
            true => bias.val(),
            false => bias.val().slice(0..d_output),
        });
        Ok((weight, bias))
    }

    /// Applies the layer with `d_output` outputs; the input width is the input's last dimension.
    ///
    /// # Shapes
    /// - `input`: `[..., d_input]`, `d_input ≤ max`
    /// - output: `[..., d_output]`
    pub fn try_forward<const D: usize>(&self, input: Tensor<B, D>, d_output: usize) -> Result<Tensor<B, D>, SlimError> {
        let d_input = input.dims()[D - 1];
        let (weight, bias) = self.active_params(d_input, d_output)?;
        // In the weight's type (a bf16 activation cast back: `ActivationPrecision`).
        let input = crate::with_dtype(input, weight.dtype());
        Ok(linear(input, weight, bias))
    }

    /// [`try_forward`](Self::try_forward) that panics with the error's message.
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>, d_output: usize) -> Tensor<B, D> {
        self.try_forward(input, d_output)
            .unwrap_or_else(|err| panic!("SlimLinear: {err}"))
    }

    /// A plain burn [`Linear`] holding copies of the active weights at a width.
    pub fn to_plain(&self, d_input: usize, d_output: usize) -> Result<Linear<B>, SlimError> {
        let (weight, bias) = self.active_params(d_input, d_output)?;
        Ok(Linear {
            weight: Param::from_tensor(weight.detach()),
            bias: bias.map(|bias| Param::from_tensor(bias.detach())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_close, assert_inactive_zero, backend_tests, random};
    use burn::tensor::backend::AutodiffBackend;

    fn forward_matches_plain<B: AutodiffBackend>(device: &B::Device) {
        let layer = SlimLinearConfig::new(24, 10).init::<B>(device);
        for (d_in, d_out) in [(24, 10), (7, 10), (24, 3), (1, 1), (13, 6)] {
            let x = random::<B, 2>([3, d_in], device);
            let plain = layer.to_plain(d_in, d_out).unwrap();
            assert_eq!(plain.weight.dims(), [d_in, d_out]);
            assert_close(layer.forward(x.clone(), d_out), plain.forward(x), 1e-5);
        }
        // Any rank: [batch, tokens, features].
        let x = random::<B, 3>([2, 4, 9], device);
        assert_close(layer.forward(x.clone(), 5), layer.to_plain(9, 5).unwrap().forward(x), 1e-5);
    }

    fn gradients_reach_only_the_active_slice<B: AutodiffBackend>(device: &B::Device) {
        let layer = SlimLinearConfig::new(24, 10).init::<B>(device);
        let (d_in, d_out) = (13, 6);
        let x = random::<B, 2>([3, d_in], device);
        let probe = random::<B, 2>([3, d_out], device);
        let grads = layer.forward(x.clone(), d_out).mul(probe.clone()).sum().backward();
        let grad_w = layer.weight.grad(&grads).unwrap();
        let grad_b = layer.bias.as_ref().unwrap().grad(&grads).unwrap();
        assert_inactive_zero(grad_w.clone(), &[0..d_in, 0..d_out]);
        assert_inactive_zero(grad_b.clone(), &[0..d_out]);

        let plain = layer.to_plain(d_in, d_out).unwrap();
        let plain_grads = plain.forward(x).mul(probe).sum().backward();
        assert_close(grad_w.slice([0..d_in, 0..d_out]), plain.weight.grad(&plain_grads).unwrap(), 1e-5);
        assert_close(grad_b.slice(0..d_out), plain.bias.unwrap().grad(&plain_grads).unwrap(), 1e-5);
    }

    fn bad_widths_are_clear_errors<B: AutodiffBackend>(device: &B::Device) {
        let layer = SlimLinearConfig::new(24, 10).init::<B>(device);
        let err = layer.try_forward(random::<B, 2>([2, 8], device), 0).unwrap_err();
        assert_eq!(err.to_string(), "a width of 0 output features leaves the layer with no channels");
        let err = layer.try_forward(random::<B, 2>([2, 25], device), 4).unwrap_err();
        assert_eq!(err.to_string(), "25 input features requested, but the layer was built with at most 24");
        let err = layer.try_forward(random::<B, 2>([2, 8], device), 11).unwrap_err();
        assert!(matches!(err, SlimError::AboveMaximum { requested: 11, maximum: 10, .. }));
    }

    backend_tests!(forward_matches_plain, gradients_reach_only_the_active_slice, bad_widths_are_clear_errors);
}
